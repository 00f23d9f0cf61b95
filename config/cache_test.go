package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestCacheOptions(t *testing.T) {
	c := mustLoad(t, []string{"--module", "app",
		"--cache2", "name=a,items=10,blocksize=100,keysize=16,hashsize=7,math_initial=-5,ignore_full=1",
		"--cache2", "name=b,maxitems=3,lru=1,clear_on_full=1,no_expire=1,store=/tmp/x,store_delete=1,store_sync=5,bitmap=1,frobnicate=2",
		"--cache", "5", "--cache-blocksize", "32"})
	got := fmt.Sprintf("%+v", c.CacheSpecs())
	want := "[{Name:default Items:5 Blocksize:32 Keysize:2048 Hashsize:65536 MathInitial:0 PurgeLRU:false ClearOnFull:false IgnoreFull:false NoExpire:false Store: StoreDelete:false} " +
		"{Name:a Items:10 Blocksize:100 Keysize:16 Hashsize:7 MathInitial:-5 PurgeLRU:false ClearOnFull:false IgnoreFull:true NoExpire:false Store: StoreDelete:false} " +
		"{Name:b Items:3 Blocksize:65536 Keysize:2048 Hashsize:65536 MathInitial:0 PurgeLRU:true ClearOnFull:true IgnoreFull:false NoExpire:true Store:/tmp/x StoreDelete:true}]"
	if got != want {
		t.Fatalf("caches\n got %s\nwant %s", got, want)
	}
	notices := strings.Join(c.Notices, "\n")
	for _, key := range []string{"cache2 store_sync=5: ignored (harmless: the kernel writes the mapped store file back", "cache2 bitmap=1: ignored (no block bitmap",
		"cache2 frobnicate=2: ignored (not a cache2 key uWSGI knows)"} {
		if !strings.Contains(notices, key) {
			t.Errorf("no notice %q in\n%s", key, notices)
		}
	}
	// purge_lru alone: uWSGI never expires such a cache's items
	if s := mustLoad(t, []string{"--module", "app", "--cache2", "name=l,items=2,purge_lru=true"}).CacheSpecs(); !s[0].NoExpire || !s[0].PurgeLRU {
		t.Errorf("purge_lru: %+v", s)
	}
	if s := mustLoad(t, []string{"--module", "app", "--cache", "3", "--cache2", "name=x,items=2", "--cache-no-expire"}).CacheSpecs(); !s[0].NoExpire || !s[1].NoExpire {
		t.Errorf("cache-no-expire: %+v", s)
	}
	legacy := mustLoad(t, []string{"--module", "app", "--cache", "4", "--cache-store", "/tmp/legacy.cache", "--cache-store-sync", "3"})
	if s := legacy.CacheSpecs(); len(s) != 1 || s[0].Store != "/tmp/legacy.cache" || s[0].Name != "default" {
		t.Errorf("cache-store: %+v", s)
	}
	if n := strings.Join(legacy.Notices, "\n"); !strings.Contains(n, "cache-store-sync") {
		t.Errorf("no notice for cache-store-sync in\n%s", n)
	}
	alone := mustLoad(t, []string{"--module", "app", "--cache-store", "/tmp/legacy.cache"})
	if n := strings.Join(alone.Notices, "\n"); len(alone.CacheSpecs()) != 0 || !strings.Contains(n, "cache-store: there is no legacy cache") {
		t.Errorf("cache-store without cache: %+v\n%s", alone.CacheSpecs(), n)
	}
	if s := mustLoad(t, []string{"--module", "app"}).CacheSpecs(); len(s) != 0 {
		t.Errorf("no cache options, caches %+v", s)
	}
}

func TestCacheOptionErrors(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"items=10", "you have to specify a cache name"},
		{"name=x", "you have to specify the maximum number of cache items"},
		{"name=x,items=0", "you have to specify the maximum number of cache items"},
		{"name=x,items=ten", "items=ten: not a whole number"},
		{"name=x,items=2,blocksize=0", "blocksize=0"},
		{"name=x,items=2,keysize=65535", "keysize=65535: must be 1..65534"},
		{"name=x,items=2,hashsize=0", "hashsize=0"},
		{"name=x,items", `"items" is not key=value`},
	} {
		_, err := Load([]string{"--module", "app", "--cache2", tc.arg}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("cache2 = %s: %v, want %q", tc.arg, err, tc.want)
		}
	}
	if _, err := Load([]string{"--module", "app", "--cache", "many"}, nil); err == nil {
		t.Error("cache = many loaded")
	}
}
