# The uWSGI cache for supervise's uwsgi module: cache_get, cache_set,
# cache_update, cache_del, cache_exists, cache_clear, cache_keys,
# cache_inc/dec/mul/div and cache_num, with uWSGI 2.0's arguments,
# return values and behaviour when full (core/cache.c,
# plugins/python/uwsgi_pymodule.c).
#
# Each cache is a memfd the master made before any worker and keeps
# across respawns and reloads (ipc/cache.go has the layout; SUPERVISE_
# CACHES lists them). Every worker maps it and works on it directly under
# the cache's lock, a named semaphore (uwsgi_sem.py): no message to the
# master, so a cache_get costs about a microsecond. uwsgi_api.py loads
# this file with _sibling and exports its functions.
import json as _json
import mmap as _mmap
import os as _os
import sys as _sys
import struct as _struct
from time import time as _time
from zlib import crc32 as _crc32

# The contract: mirrors ipc/cache.go (contract_test.go checks it).
_ENV_CACHES = "SUPERVISE_CACHES"
_ENV_SEM_PREFIX = "SUPERVISE_SEM_PREFIX"
_CACHE_MAGIC = 0x3148434143565053
_H_MAGIC, _H_ITEMS, _H_BLOCKSIZE, _H_KEYSIZE, _H_HASHSIZE, _H_FLAGS, _H_MATH_INITIAL = 0, 1, 2, 3, 4, 5, 6
_H_ITEM_BYTES, _H_HASH_OFF, _H_STACK_OFF, _H_ITEMS_OFF, _H_DATA_OFF = 7, 8, 9, 10, 11
_H_NITEMS, _H_FREE, _H_LRU_HEAD, _H_LRU_TAIL, _H_NEXT_SCAN, _H_FULL, _H_OWNER = 12, 13, 14, 15, 16, 17, 18
_H_VERSION = 19
_F_PURGE_LRU, _F_CLEAR_ON_FULL, _F_IGNORE_FULL, _F_NO_EXPIRE = 1, 2, 4, 8
_I_KEYLEN, _I_VALLEN, _I_HASH, _I_EXPIRES, _I_NEXT, _I_PREV, _I_LRU_PREV, _I_LRU_NEXT = 0, 1, 2, 3, 4, 5, 6, 7
_ITEM_WORDS = 8
_KEY_AT = _ITEM_WORDS * 8  # the key's bytes follow an item's words
_head = _struct.Struct("<5Q").unpack_from  # keylen, vallen, hash, expires, next

# uwsgi_cache_set2's flags, as the Python functions pass them.
_UPDATE, _MATH, _FIXEXPIRE = 1 << 1, 1 << 2, 1 << 3
_INC, _DEC, _MUL, _DIV = 1 << 4, 1 << 5, 1 << 6, 1 << 7
_I64 = 1 << 64
_I63 = 1 << 63
_MIN64, _MASK64 = -_I63, _I64 - 1
_i64 = _struct.Struct("<q")
_LOCAL_MAX = 4096  # values one process remembers between changes
_MISSING = object()

_pid = _os.getpid()


def _forked():
    global _pid
    _pid = _os.getpid()


_os.register_at_fork(after_in_child=_forked)


def _now():
    return int(_time())


def _math(num, delta, flags):
    """uWSGI's int64 arithmetic: wrapping, division truncated toward zero,
    division by zero gives 0."""
    if flags & _INC:
        num += delta
    elif flags & _DEC:
        num -= delta
    elif flags & _MUL:
        num *= delta
    elif delta == 0:
        return 0
    else:
        q = abs(num) // abs(delta)
        num = -q if (num < 0) != (delta < 0) else q
    if -_I63 <= num < _I63:
        return num
    return (num + _I63) % _I64 - _I63  # uwsgi_now(): whole seconds


class _Cache(object):
    """One cache's memfd, mapped. Methods that start with _ expect the
    lock held; the others take it."""

    def __init__(self, sem, name, fd, index, prefix):
        self.name, self.fd = name, fd
        self.mm = _mmap.mmap(fd, _os.fstat(fd).st_size, _mmap.MAP_SHARED, _mmap.PROT_READ | _mmap.PROT_WRITE)
        w = self.w = memoryview(self.mm).cast("Q")
        if w[_H_MAGIC] != _CACHE_MAGIC:
            raise OSError("cache %r: the master's memfd is not laid out (magic %#x)" % (name, w[_H_MAGIC]))
        self.items, self.blocksize, self.keysize = w[_H_ITEMS], w[_H_BLOCKSIZE], w[_H_KEYSIZE]
        self.hashsize, self.flags = w[_H_HASHSIZE], w[_H_FLAGS]
        self.lru = bool(self.flags & _F_PURGE_LRU)
        self.expire = not (self.flags & _F_NO_EXPIRE)
        self.ht = w[_H_HASH_OFF] // 8      # word index of the hash table
        self.stack = w[_H_STACK_OFF] // 8  # word index of the free stack
        self.iw = w[_H_ITEM_BYTES] // 8    # words per item
        self.i0 = w[_H_ITEMS_OFF] // 8     # word index of item 0
        self.d0 = w[_H_DATA_OFF]           # byte offset of item 0's block
        self.sem_mod = sem
        self.sem = sem.open_sem("%s-c%d" % (prefix, index))
        self.acquire, self.release = self.sem.acquire, self.sem.release
        self.what = "the lock of cache %r" % name
        # What this process read and wrote, valid while the cache's
        # version word (bumped by every change, under the lock) equals
        # seen (never for purge_lru caches, whose gets reorder the LRU
        # list): key -> None when missing, else the list [value, expires
        # for cache_get (0: never; 1: look again), item word, value
        # offset, value length, expires]. A repeated cache_get is then a
        # dict lookup, no lock; a repeated write skips the hash, the
        # chain walk and the reads, and updates the list in place.
        self.local, self.seen = {}, -1
        # Value blocks on 8-byte boundaries: cache_inc & co read and write
        # the int64 as one signed word.
        self.q = memoryview(self.mm).cast("q") if self.d0 % 8 == 0 and self.blocksize % 8 == 0 else None

    # -- the lock

    def lock(self):
        if not self.acquire(False):
            self.sem_mod.wait(self.sem, self.w, _H_OWNER, self.fd, self.what)
        self.w[_H_OWNER] = _pid

    def unlock(self):
        self.w[_H_OWNER] = 0
        self.release()

    # -- lookups

    def _find(self, key, h):
        """The item holding key, or 0; an expired item is deleted and not
        found (uWSGI's sweeper would have freed it)."""
        mm = self.mm
        slot = self.w[self.ht + h % self.hashsize]
        n = len(key)
        i0, iw = self.i0, self.iw
        while slot:
            b = (i0 + slot * iw) * 8
            kl, vl, hh, exp, nxt = _head(mm, b)
            if hh == h and kl == n and mm[b + _KEY_AT:b + _KEY_AT + n] == key:
                if exp and self.expire and exp <= _time():
                    self._delete(slot)
                    return 0
                return slot
            slot = nxt
        return 0

    def get(self, key):
        """A lookup under the lock, remembered in local."""
        h = _crc32(key)
        w, mm = self.w, self.mm
        if not self.acquire(False):
            self.sem_mod.wait(self.sem, w, _H_OWNER, self.fd, self.what)
        w[_H_OWNER] = _pid
        try:
            ver = w[_H_VERSION]
            local = self.local
            if ver != self.seen or len(local) >= _LOCAL_MAX:
                local.clear()
                self.seen = -1 if self.lru else ver
            slot = self._find(key, h)
            if not slot:
                local[key] = None
                return None
            if self.lru:
                self._lru_remove(slot)
                self._lru_add(slot)
            e = local[key] = self._entry(slot)
            e[0] = mm[e[3]:e[3] + e[4]]
            e[1] = e[5] if self.expire else 0
            return e[0]
        finally:
            w[_H_OWNER] = 0
            self.release()

    def _entry(self, slot):
        """A local entry for slot, its value not read yet (look again)."""
        w, b = self.w, self.i0 + slot * self.iw
        return [None, 1, b, self.d0 + slot * self.blocksize, w[b + _I_VALLEN], w[b + _I_EXPIRES]]

    def exists(self, key):
        h = _crc32(key)
        self.lock()
        try:
            return True if self._find(key, h) else None
        finally:
            self.unlock()

    def keys(self):
        self.lock()
        try:
            w, mm, out, now = self.w, self.mm, [], _now()
            for slot in range(1, self.items):
                b = self.i0 + slot * self.iw
                n = w[b + _I_KEYLEN]
                if n:
                    exp = w[b + _I_EXPIRES]
                    if exp and self.expire and exp <= now:
                        continue
                    k = (b + _ITEM_WORDS) * 8
                    out.append(mm[k:k + n])
            return out
        finally:
            self.unlock()

    # -- changes

    def set(self, key, value, expires, flags):
        """uwsgi_cache_set2: True when stored, None when not (an existing
        key without _UPDATE, an empty or too long key or value, a full
        cache). With _MATH, value is the int operand (the stored value is
        the 8-byte int64 result)."""
        vn = 8 if flags & _MATH else len(value)
        if not vn or vn > self.blocksize:
            return None
        w = self.w
        if not self.acquire(False):  # self.lock(), inlined as in get: a call costs more than the rest
            self.sem_mod.wait(self.sem, w, _H_OWNER, self.fd, self.what)
        w[_H_OWNER] = _pid
        try:
            ver = w[_H_VERSION]
            local = self.local
            if ver == self.seen:  # nothing changed since this process looked: its entries hold
                e = local.get(key)
                if e is not None and e[5] and self.expire and e[5] <= _time():
                    e = None  # _find deletes it
            else:
                local.clear()
                self.seen = -1 if self.lru else ver
                e = None
            if e is None:  # (a key in local is one the cache can hold)
                if not key or len(key) > self.keysize:
                    return None
                h = _crc32(key)
                slot = self._find(key, h)
                if not slot:
                    slot = self._insert(key, h, value, vn, expires, flags)
                    local.clear()  # a full cache may have lost other keys
                    if slot and not self.lru:
                        self.seen = w[_H_VERSION]
                    return True if slot else None
                if len(local) >= _LOCAL_MAX:
                    local.clear()
                e = local[key] = self._entry(slot)
                ver = w[_H_VERSION]
            if not flags & _UPDATE:
                return None  # cache_set never replaces: that is cache_update
            _, _, b, d, vl, exp = e
            if flags & _FIXEXPIRE:
                expires = exp
            else:
                if self.lru:
                    self._lru_remove((b - self.i0) // self.iw)
                    self._lru_add((b - self.i0) // self.iw)
                elif expires:
                    expires = self._expires(expires)
                if expires != exp:
                    w[b + _I_EXPIRES] = e[5] = expires
            if flags & _MATH:
                q = self.q
                if q is None:
                    _i64.pack_into(self.mm, d, _math(_i64.unpack_from(self.mm, d)[0], value, flags))
                else:
                    d >>= 3
                    cur = q[d]
                    r = cur + value if flags & _INC else cur - value if flags & _DEC else _math(cur, value, flags)
                    try:
                        q[d] = r
                    except ValueError:  # past int64: uWSGI's wraps
                        q[d] = _math(cur, value, flags)
                e[1] = 1  # cache_get reads the int's bytes
            else:
                self.mm[d:d + vn] = value
                e[0] = value
                e[1] = expires if self.expire else 0
            if vl != vn:
                w[b + _I_VALLEN] = e[4] = vn
            ver += 1
            w[_H_VERSION] = ver
            if self.seen != -1:
                self.seen = ver
            return True
        finally:
            w[_H_OWNER] = 0
            self.release()

    def _expires(self, expires):
        """A relative expires made absolute, and the sweep's next scan."""
        w = self.w
        expires = (expires + _now()) & (_I64 - 1)
        ns = w[_H_NEXT_SCAN]
        if not ns or ns > expires:
            w[_H_NEXT_SCAN] = expires
        return expires

    def _insert(self, key, h, value, vn, expires, flags):
        """A new item (the key is not there): its slot, 0 when full."""
        w, mm = self.w, self.mm
        if not w[_H_FREE]:
            self._full()
            if not w[_H_FREE]:
                return 0
        top = w[_H_FREE]
        slot = w[self.stack + top]
        w[_H_FREE] = top - 1
        b = self.i0 + slot * self.iw
        if self.lru:
            self._lru_add(slot)
        elif expires:
            expires = self._expires(expires)
        w[b + _I_EXPIRES] = expires
        w[b + _I_HASH] = h
        k = (b + _ITEM_WORDS) * 8
        mm[k:k + len(key)] = key
        d = self.d0 + slot * self.blocksize
        if flags & _MATH:
            _i64.pack_into(mm, d, _math(_i64.unpack_from(mm, _H_MATH_INITIAL * 8)[0], value, flags))
        else:
            mm[d:d + vn] = value
        w[b + _I_VALLEN] = vn
        w[b + _I_KEYLEN] = len(key)
        # into the hash chain, first (uWSGI appends; only cache_keys' order shows it)
        bucket = self.ht + h % self.hashsize
        first = w[bucket]
        w[b + _I_PREV] = 0
        w[b + _I_NEXT] = first
        if first:
            w[self.i0 + first * self.iw + _I_PREV] = slot
        w[bucket] = slot
        w[_H_NITEMS] += 1
        w[_H_VERSION] += 1
        return slot

    def delete(self, key):
        h = _crc32(key)
        self.lock()
        try:
            slot = self._find(key, h)
            if not slot:
                return None
            self._delete(slot)
            return True
        finally:
            self.unlock()

    def clear(self):
        self.lock()
        try:
            w = self.w
            for slot in range(1, self.items):
                if w[self.i0 + slot * self.iw + _I_KEYLEN]:
                    self._delete(slot)
            return True
        finally:
            self.unlock()

    def _delete(self, slot):
        """uwsgi_cache_del2: out of the hash chain and the LRU list, back
        on the free stack."""
        w = self.w
        b = self.i0 + slot * self.iw
        if not w[b + _I_KEYLEN]:
            return
        prev, nxt = w[b + _I_PREV], w[b + _I_NEXT]
        if prev:
            w[self.i0 + prev * self.iw + _I_NEXT] = nxt
        else:
            w[self.ht + w[b + _I_HASH] % self.hashsize] = nxt
        if nxt:
            w[self.i0 + nxt * self.iw + _I_PREV] = prev
        if self.lru:
            self._lru_remove(slot)
        top = w[_H_FREE] + 1
        w[self.stack + top] = slot
        w[_H_FREE] = top
        w[_H_NITEMS] -= 1
        w[_H_VERSION] += 1
        for i in (_I_KEYLEN, _I_VALLEN, _I_HASH, _I_EXPIRES, _I_NEXT, _I_PREV):
            w[b + i] = 0

    def _lru_add(self, slot):
        w = self.w
        b = self.i0 + slot * self.iw
        tail = w[_H_LRU_TAIL]
        if tail:
            w[self.i0 + tail * self.iw + _I_LRU_NEXT] = slot
        else:
            w[_H_LRU_HEAD] = slot
        w[b + _I_LRU_NEXT] = 0
        w[b + _I_LRU_PREV] = tail
        w[_H_LRU_TAIL] = slot

    def _lru_remove(self, slot):
        w = self.w
        b = self.i0 + slot * self.iw
        prev, nxt = w[b + _I_LRU_PREV], w[b + _I_LRU_NEXT]
        if nxt:
            w[self.i0 + nxt * self.iw + _I_LRU_PREV] = prev
        else:
            w[_H_LRU_TAIL] = prev
        if prev:
            w[self.i0 + prev * self.iw + _I_LRU_NEXT] = nxt
        else:
            w[_H_LRU_HEAD] = nxt

    def _sweep(self):
        """Frees the expired items (uWSGI's sweeper thread does it every
        cache-expire-freq seconds; here a set that finds the cache full
        does, when the earliest expiry has passed)."""
        w = self.w
        ns, now = w[_H_NEXT_SCAN], _now()
        if not self.expire or not ns or ns > now:
            return 0
        freed, nxt = 0, 0
        for slot in range(1, self.items):
            b = self.i0 + slot * self.iw
            exp = w[b + _I_EXPIRES]
            if exp and w[b + _I_KEYLEN]:
                if exp <= now:
                    self._delete(slot)
                    freed += 1
                elif not nxt or nxt > exp:
                    nxt = exp
        w[_H_NEXT_SCAN] = nxt
        return freed

    def _full(self):
        """cache_full(): no free item for a new key."""
        if self._sweep():
            return
        w = self.w
        if not self.flags & _F_IGNORE_FULL:
            if self.lru:
                _sys.stderr.write('LRU item will be purged from cache "%s"\n' % self.name)
            else:
                _sys.stderr.write('*** DANGER cache "%s" is FULL !!! ***\n' % self.name)
        w[_H_FULL] += 1
        if self.lru and w[_H_LRU_HEAD]:
            self._delete(w[_H_LRU_HEAD])
        elif self.flags & _F_CLEAR_ON_FULL:
            for slot in range(1, self.items):
                self._delete(slot)


# ------------------------------------------------- the caches, by name

_default = None  # the first cache: uwsgi.cache_get(key) without a name
_by_name = {}


def _init(sem):
    """Maps every cache the master passed (called by uwsgi_api.py)."""
    global _default, _hot_w
    prefix = _os.environ.get(_ENV_SEM_PREFIX, "")
    for i, (name, fd) in enumerate(_json.loads(_os.environ.get(_ENV_CACHES) or "[]")):
        c = _Cache(sem, name, fd, i, prefix)
        _by_name.setdefault(name, c)  # uWSGI finds the first of a name
        if _default is None:
            _default = c
            _hot_w = c.w


def _cache(cache):
    """The cache an optional name argument selects (uwsgi_cache_by_name:
    None or "" is the default); None for an unknown name or a remote
    one (name@server), for which uWSGI's functions return None too."""
    if cache is None or cache == "":
        return _default
    if cache.__class__ is not str:
        raise TypeError("argument must be str, not %s" % type(cache).__name__)
    return _by_name.get(cache)


def _bytes(v, fn, pos):
    """What PyArg_ParseTuple's s# takes: str (as UTF-8) or read-only bytes."""
    if v.__class__ is bytes:
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytes, memoryview)) and not (isinstance(v, memoryview) and not v.readonly):
        return bytes(v)
    raise TypeError("%s() argument %d must be str or read-only bytes-like object, not %s" % (fn, pos, type(v).__name__))


_enc = {}  # str key -> its UTF-8 bytes: a dict lookup costs less than encode()


def _key(key, fn):
    """The bytes of a key argument (argument 1 of fn), remembered for a str."""
    b = _bytes(key, fn, 1)
    if key.__class__ is str:
        if len(_enc) >= _LOCAL_MAX:
            _enc.clear()
        _enc[key] = b
    return b


def _int(v, fn, pos):
    if v.__class__ is int and -(1 << 63) <= v < (1 << 63):
        return v
    if isinstance(v, int):
        if not -(1 << 63) <= v < (1 << 63):
            raise OverflowError("Python int too large to convert to C long")
        return int(v)
    raise TypeError("%s() argument %d must be int, not %s" % (fn, pos, type(v).__name__))


# The default cache's values that never expire (and its misses, as None)
# by the caller's own key, str or bytes, as this process last read them;
# good while the cache's version word (it moves with every change, under
# the lock) is _hot_ver. A repeated uwsgi.cache_get(key) is then one
# word read and one dict lookup: no key encoding, no attribute walk, no
# expiry check (docs/benchmarks.md). Not kept for an LRU cache (a read
# moves the item) nor with expiry.
_hot = {}
_hot_ver = -1
_hot_w = memoryview(bytearray(8 * (_H_VERSION + 1))).cast("q")  # the default cache's words once mapped


def cache_get(key, cache=None):
    """The value (bytes), or None when missing, expired, or no such cache."""
    if cache is None and _hot_w[_H_VERSION] == _hot_ver:
        try:
            if key in _hot:  # two dict opcodes cost less than a call of _hot.get
                return _hot[key]
        except (TypeError, KeyError):  # an unhashable key (the full path says what is wrong with it), or another thread cleared _hot
            pass
    return _cache_get(key, cache)


def _cache_get(key, cache):
    c = _default if cache is None else _cache(cache)
    given = key
    if key.__class__ is not bytes:
        key = _enc[key] if key.__class__ is str and key in _enc else _key(key, "cache_get")
    if c is None:
        return None
    v = _MISSING
    if c.w[_H_VERSION] == c.seen:  # nothing changed since this process looked
        e = c.local.get(key, _MISSING)
        if e is None:
            v = None
        elif e is not _MISSING:
            if not e[1]:
                v = e[0]
            elif e[1] > _time():
                return e[0]  # it expires: never kept in _hot
    if v is _MISSING:
        v = c.get(key)
    if c is _default and not cache:
        _keep_hot(c, given, key)
    return v


def _keep_hot(c, given, key):
    """Puts what c.local holds for key into _hot under given (the caller's
    str or bytes) when it is good for as long as the version word holds."""
    global _hot_ver
    if given.__class__ is not str and given.__class__ is not bytes:
        return
    seen = c.seen  # -1 for an LRU cache
    e = c.local.get(key, _MISSING)
    if seen == -1 or c.seen != seen or c.w[_H_VERSION] != seen:
        return  # changed meanwhile (another thread of this process, or another process)
    if e is not None and (e is _MISSING or e[1]):
        return  # not looked up, or it expires (or is still to be read)
    if _hot_ver != seen:
        _hot.clear()
        _hot_ver = seen
    if len(_hot) < _LOCAL_MAX:
        _hot[given] = None if e is None else e[0]


def cache_exists(key, cache=None):
    c = _default if cache is None else _cache(cache)
    if key.__class__ is not bytes:
        key = _enc[key] if key.__class__ is str and key in _enc else _key(key, "cache_exists")
    return None if c is None else c.exists(key)


def _set_fn(fn, flags, doc):
    def store(key, value, expires=0, cache=None):
        c = _default if cache is None else _cache(cache)
        if key.__class__ is not bytes:
            key = _enc[key] if key.__class__ is str and key in _enc else _key(key, fn)
        if value.__class__ is not bytes:
            value = value.encode() if value.__class__ is str else _bytes(value, fn, 2)
        if expires.__class__ is not int or not _MIN64 <= expires < _I63:
            expires = _int(expires, fn, 3)
        return None if c is None else c.set(key, value, expires & _MASK64, flags)
    store.__name__, store.__doc__ = fn, doc
    return store


cache_set = _set_fn("cache_set", 0, """Stores a new key: True, or None when the key exists (cache_update
    replaces), the value is empty or larger than blocksize, the key longer
    than keysize, or the cache is full (see docs/python-api.md).""")
cache_update = _set_fn("cache_update", _UPDATE, "Stores key whether it exists or not: True, or None as cache_set.")


def cache_del(key, cache=None):
    c = _default if cache is None else _cache(cache)
    if key.__class__ is not bytes:
        key = _enc[key] if key.__class__ is str and key in _enc else _key(key, "cache_del")
    return None if c is None else c.delete(key)


def cache_clear(cache=None):
    c = _default if cache is None else _cache(cache)
    return None if c is None else c.clear()


def cache_keys(cache=None):
    """Every key (bytes), in slot order (uWSGI: hash-table order)."""
    c = _default if cache is None else _cache(cache)
    if c is None:
        raise ValueError("no local uWSGI cache available")
    return c.keys()


def cache_num(key, cache=None):
    """The int64 a cache_inc & co stored, 0 when missing or not 8 bytes."""
    c = _default if cache is None else _cache(cache)
    if key.__class__ is not bytes:
        key = _enc[key] if key.__class__ is str and key in _enc else _key(key, "cache_num")
    v = None if c is None else cache_get(key, cache)
    if v is None or len(v) != 8:
        return 0
    return int.from_bytes(v, "little", signed=True)


def _math_fn(fn, op, default):
    flags = _UPDATE | _MATH | _FIXEXPIRE | op
    def math(key, value=default, expires=0, cache=None):
        c = _default if cache is None else _cache(cache)
        if key.__class__ is not bytes:
            key = _enc[key] if key.__class__ is str and key in _enc else _key(key, fn)
        if value.__class__ is not int or not _MIN64 <= value < _I63:
            value = _int(value, fn, 2)
        if expires.__class__ is not int or not _MIN64 <= expires < _I63:
            expires = _int(expires, fn, 3)
        if c is None:
            return None
        return c.set(key, value, expires & _MASK64, flags)
    math.__name__ = fn
    math.__doc__ = "uWSGI's %s: True, or None when the cache has no room (see cache_set)." % fn
    return math


cache_inc = _math_fn("cache_inc", _INC, 1)
cache_dec = _math_fn("cache_dec", _DEC, 1)
cache_mul = _math_fn("cache_mul", _MUL, 2)
cache_div = _math_fn("cache_div", _DIV, 2)
