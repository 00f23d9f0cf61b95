package config

import (
	"fmt"
	"strconv"
	"strings"
)

// The uWSGI cache: cache2 = name=...,items=... (any number of caches) and
// the legacy cache = N (+ cache-blocksize), read as uWSGI's core/cache.c
// reads them. The master makes one shared-memory area per cache
// (ipc.CreateCache); the uwsgi Python module works on it.

// CacheSpec is one cache as configured.
type CacheSpec struct {
	Name        string
	Items       uint64 // max_items: holds Items-1 values (uWSGI never uses slot 0)
	Blocksize   uint64 // the largest value, bytes
	Keysize     uint64 // the longest key, bytes
	Hashsize    uint64
	MathInitial int64
	PurgeLRU    bool // a set into a full cache evicts the least recently used item
	ClearOnFull bool // a set into a full cache empties it first
	IgnoreFull  bool // no log line when full
	NoExpire    bool // expires is stored but items never expire
	// Store is a file that holds the cache across master restarts
	// (store=PATH); StoreDelete replaces one of another shape instead of
	// refusing to start (store_delete).
	Store       string
	StoreDelete bool
}

// CacheConfig is what the cache options set.
type CacheConfig struct {
	Caches          []CacheSpec // cache2, in order
	LegacyItems     uint64      // cache = N
	LegacyBlocksize uint64      // cache-blocksize
	LegacyStore     string      // cache-store: the legacy cache's store file
	NoExpire        bool        // cache-no-expire: for every cache
}

// uWSGI's defaults for a cache (core/cache.c, uwsgi_cache_create).
const (
	DefaultCacheBlocksize = 65536
	DefaultCacheKeysize   = 2048
	DefaultCacheHashsize  = 65536
)

var _ = addOptions(
	works("cache2", nil, List, "", "a shared cache for uwsgi.cache_*: name=NAME,items=N[,blocksize=BYTES,keysize=BYTES,hashsize=N,purge_lru=1,clear_on_full=1,ignore_full=1,math_initial=N,no_expire=1] (uWSGI's keys; nodes, sync, udp, bitmap and lastmod are ignored with a notice); shared by every worker, kept across respawns and reloads; store=PATH[,store_delete=1] keeps it in that file across master restarts", addCache2),
	works("cache", nil, Int, "0", "the legacy cache named default, N items (it holds N-1 values, as uWSGI) of cache-blocksize bytes; it is the default cache, before any cache2", setLegacyCache),
	works("cache-blocksize", nil, Int, "65536", "the legacy cache's largest value, bytes", setLegacyCacheBlocksize),
	works("cache-store", nil, String, "", "keep the legacy cache (cache = N) in this file across master restarts, as cache2's store=PATH", func(l *loader, v string) error {
		l.cfg.Cache.LegacyStore = strings.TrimSpace(v)
		return nil
	}),
	harmless("cache-store-sync", nil, Int, "the kernel writes the mapped store file back, and the master syncs it when it exits"),
	works("cache-no-expire", nil, Bool, "false", "no cache item ever expires (uWSGI: no sweeper thread), whatever expires it was set with", boolean(func(c *Config) *bool { return &c.Cache.NoExpire })),
	harmless("cache-expire-freq", nil, Int, "an expired cache item is never returned, so there is no sweeper to schedule"),
)

func setLegacyCache(l *loader, v string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return fmt.Errorf("not a number of items")
	}
	l.cfg.Cache.LegacyItems = n
	return nil
}

func setLegacyCacheBlocksize(l *loader, v string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil || n == 0 {
		return fmt.Errorf("not a size in bytes (more than 0)")
	}
	l.cfg.Cache.LegacyBlocksize = n
	return nil
}

// checkLegacyCache: cache-store without cache = N has no cache to keep,
// as in uWSGI; a notice says so.
func (l *loader) checkLegacyCache() {
	if l.cfg.Cache.LegacyStore != "" && l.cfg.Cache.LegacyItems == 0 {
		l.notice("cache-store", "cache-store: there is no legacy cache (cache = N) to keep; for a cache2, add store=PATH to it")
	}
}

// cacheKeyIgnored are cache2 keys uWSGI knows that supervise does not
// implement: what the notice says.
var cacheKeyIgnored = map[string]string{
	"store_sync": "harmless: the kernel writes the mapped store file back, and the master syncs it when it exits",
	"storesync":  "harmless: the kernel writes the mapped store file back, and the master syncs it when it exits",
	"node":       "no cache replication over UDP", "nodes": "no cache replication over UDP", "sync": "no cache sync from another server",
	"udp": "no cache UDP server", "udp_servers": "no cache UDP server", "udp_server": "no cache UDP server",
	"udpservers": "no cache UDP server", "udpserver": "no cache UDP server",
	"bitmap":        "no block bitmap: each item has one block, so a value larger than blocksize is refused (uwsgi.cache_set returns None)",
	"lastmod":       "no last-modified time is kept",
	"hash":          "harmless: supervise hashes keys with crc32 (only the order of uwsgi.cache_keys() shows it)",
	"lazy_expire":   "harmless: an expired item is never returned, and its room is taken back when a set needs it",
	"lazy":          "harmless: an expired item is never returned, and its room is taken back when a set needs it",
	"sweep_on_full": "harmless: a set into a full cache always frees the expired items first",
	"blocks":        "harmless: each item has one block of blocksize bytes",
}

// addCache2 reads one cache2 definition (uWSGI's kvlist: key=value pairs
// separated by commas).
func addCache2(l *loader, v string) error {
	spec := CacheSpec{Blocksize: DefaultCacheBlocksize, Keysize: DefaultCacheKeysize, Hashsize: DefaultCacheHashsize}
	var haveItems bool
	num := func(key, val string) (uint64, error) {
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s=%s: not a whole number", key, val)
		}
		return n, nil
	}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return fmt.Errorf("%q is not key=value (uWSGI: unable to parse cache definition)", part)
		}
		var err error
		switch key {
		case "name":
			spec.Name = val
		case "items", "max_items", "maxitems":
			spec.Items, err = num(key, val)
			haveItems = true
		case "blocksize":
			spec.Blocksize, err = num(key, val)
			if err == nil && spec.Blocksize == 0 {
				err = fmt.Errorf("blocksize=0: a block must hold at least one byte")
			}
		case "keysize", "key_size":
			spec.Keysize, err = num(key, val)
			if err == nil && (spec.Keysize == 0 || spec.Keysize >= 65535) {
				err = fmt.Errorf("%s=%s: must be 1..65534 (uWSGI's limit)", key, val)
			}
		case "hashsize", "hash_size":
			spec.Hashsize, err = num(key, val)
			if err == nil && spec.Hashsize == 0 {
				err = fmt.Errorf("%s=0: the hash table needs at least one bucket", key)
			}
		case "math_initial":
			spec.MathInitial, err = strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		case "purge_lru", "lru":
			spec.PurgeLRU = true
		case "clear_on_full":
			spec.ClearOnFull = true
		case "ignore_full":
			spec.IgnoreFull = true
		case "no_expire":
			spec.NoExpire = true
		case "store":
			spec.Store = val
		case "store_delete", "storedelete":
			spec.StoreDelete = true
		default:
			why, known := cacheKeyIgnored[key]
			if !known {
				why = "not a cache2 key uWSGI knows"
			}
			l.notice("cache2 "+key, fmt.Sprintf("cache2 %s=%s: ignored (%s)", key, val, why))
		}
		if err != nil {
			return err
		}
	}
	if spec.Name == "" {
		return fmt.Errorf("no name=: you have to specify a cache name (uWSGI's rule)")
	}
	if !haveItems || spec.Items == 0 {
		return fmt.Errorf("cache %q: you have to specify the maximum number of cache items (items=N)", spec.Name)
	}
	if spec.PurgeLRU {
		// uWSGI keeps a purge_lru cache's expires relative and its sweeper
		// skips such caches: their items never expire.
		spec.NoExpire = true
	}
	l.cfg.Cache.Caches = append(l.cfg.Cache.Caches, spec)
	return nil
}

// CacheSpecs is every cache in uWSGI's order: the legacy cache (named
// default) first when cache = N is set, then each cache2. The first is
// the default cache, the one uwsgi.cache_get(key) uses without a name.
func (c *Config) CacheSpecs() []CacheSpec {
	var out []CacheSpec
	if c.Cache.LegacyItems > 0 {
		bs := c.Cache.LegacyBlocksize
		if bs == 0 {
			bs = DefaultCacheBlocksize
		}
		out = append(out, CacheSpec{Name: "default", Items: c.Cache.LegacyItems, Blocksize: bs,
			Keysize: DefaultCacheKeysize, Hashsize: DefaultCacheHashsize, Store: c.Cache.LegacyStore})
	}
	out = append(out, c.Cache.Caches...)
	if c.Cache.NoExpire {
		for i := range out {
			out[i].NoExpire = true
		}
	}
	return out
}
