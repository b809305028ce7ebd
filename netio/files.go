package netio

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/uringd/uringd/fileio"
)

// fileEntry is an open file (or a directory's metadata) in a loop's open-file cache. The
// cache holds fds and stat results, never file contents: every body is read from the file.
type fileEntry struct {
	key     string
	fd      int          // -1 for directories
	ff      *fileio.File // threadpool mode: the same file, opened by fileio (it owns fd)
	meta    fileMeta
	expires time.Time
	refs    int  // replies using fd right now
	dead    bool // out of the cache: close fd when refs drops to 0
	// uses counts the replies that used this entry; the second one on reads buffered, so a
	// file asked for again comes into the page cache (see loop.directFd).
	uses int
	// dfd is fd opened again with O_DIRECT, for uncached ranges (Config.ColdReads): direct
	// is 0 before the first try, 1 with dfd open, -1 without (the file system refused), -2
	// with dfd open but refused by a read (closed with the entry, as chains may hold it).
	dfd    int
	direct int8
	// cachedAll says a cachestat at cachedAt found all of the file in the page cache; for
	// cachedFor after it, sendfile calls of any reply trust that (loop.lookCached).
	cachedAll bool
	cachedAt  time.Time
	// sibs says which precompressed siblings exist (bit i: Config.Precompressed[i]), once
	// sibsKnown: they are looked up on the entry's first use (loop.sibling), so a file
	// without any costs no syscall per request.
	sibs      uint8
	sibsKnown bool
	// hdrs are the header rule and CORS lines of the entry's path, matched when it is made.
	hdrs []byte
}

// fileCacheSize bounds each loop's cache to its share of a quarter of the process's fd limit
// (at least 16): the cached fds must leave room for the connections. With 256 fds, a cache
// of 1024 per loop took every fd, and requests for new files failed.
func fileCacheSize(want, loops int) int {
	var rl unix.Rlimit
	if want <= 0 || unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil || rl.Cur == unix.RLIM_INFINITY {
		return want
	}
	return min(want, max(16, int(rl.Cur/4)/max(1, loops)))
}

// fileCache is a loop's bounded open-file cache. Entries are trusted for ttl, then looked up
// again, so a replaced or changed file is noticed within ttl.
type fileCache struct {
	m     map[string]*fileEntry
	max   int
	ttl   time.Duration
	rules *headerRules // fileEntry.hdrs come from them
}

func (fc *fileCache) init(max int, ttl time.Duration) {
	fc.max, fc.ttl = max, ttl
	if max > 0 {
		fc.m = make(map[string]*fileEntry, max)
	}
}

func (fc *fileCache) get(key []byte, now time.Time) *fileEntry {
	if e := fc.m[string(key)]; e != nil && now.Before(e.expires) {
		return e
	}
	return nil
}

// add makes an entry for a freshly opened and stat'ed file. Only regular files and
// directories are served (a FIFO, socket or device gives EACCES → 403).
func (fc *fileCache) add(key []byte, fd int, stx *unix.Statx_t, now time.Time) (*fileEntry, syscall.Errno) {
	mode := uint32(stx.Mode) & unix.S_IFMT
	switch mode {
	case unix.S_IFREG:
		// Opened O_NONBLOCK so a FIFO could not block the open; a regular file reads
		// through the page cache and must not carry it (io_uring would then fail rather
		// than wait for the disk). Of the flags F_SETFL sets, the open set only
		// O_NONBLOCK (loop.lookup's open_how), so 0 clears it without an F_GETFL.
		unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0)
	case unix.S_IFDIR:
		unix.Close(fd)
		fd = -1
	default:
		unix.Close(fd)
		return nil, syscall.EACCES
	}
	mtime := time.Unix(stx.Mtime.Sec, int64(stx.Mtime.Nsec))
	e := &fileEntry{key: string(key), fd: fd, meta: newMeta(int64(stx.Size), mtime, mode == unix.S_IFDIR, key), expires: now.Add(fc.ttl)}
	return fc.insert(e), 0
}

// addPool makes an entry for a file the threadpool engine opened.
func (fc *fileCache) addPool(key []byte, f *fileio.File, st fileio.Stat, now time.Time) (*fileEntry, syscall.Errno) {
	e := &fileEntry{key: string(key), fd: f.Fd(), ff: f, expires: now.Add(fc.ttl)}
	switch {
	case st.Mode.IsRegular():
	case st.Mode.IsDir():
		f.Close()
		e.fd, e.ff = -1, nil
	default:
		f.Close()
		return nil, syscall.EACCES
	}
	e.meta = newMeta(st.Size, st.ModTime, st.Mode.IsDir(), key)
	return fc.insert(e), 0
}

func (fc *fileCache) insert(e *fileEntry) *fileEntry {
	if !e.meta.isDir {
		e.hdrs = fc.rules.lines(e.key)
	}
	if fc.m == nil {
		e.dead = true // no cache: closed when the reply is done
		return e
	}
	if old := fc.m[e.key]; old != nil {
		fc.drop(old)
	}
	if len(fc.m) >= fc.max {
		for _, victim := range fc.m { // any entry: map order is random
			fc.drop(victim)
			break
		}
	}
	fc.m[e.key] = e
	return e
}

func (fc *fileCache) drop(e *fileEntry) {
	delete(fc.m, e.key)
	e.dead = true
	if e.refs == 0 {
		e.close()
	}
}

func (e *fileEntry) close() {
	if e.ff != nil {
		e.ff.Close()
		e.ff = nil
	} else if e.fd >= 0 {
		unix.Close(e.fd)
	}
	if e.direct == 1 || e.direct == -2 {
		unix.Close(e.dfd)
		e.direct = -1
	}
	e.fd = -1
}

// forget drops e if it is still the cached entry for its key (a reply found the file
// changed: the next request looks it up again instead of trusting it for the rest of ttl).
func (fc *fileCache) forget(e *fileEntry) {
	if e != nil && !e.dead && fc.m[e.key] == e {
		fc.drop(e)
	}
}

// unpin closes a dropped entry's fd once the last reply using it is done.
func (fc *fileCache) unpin(e *fileEntry, _ *loop) {
	if e.dead && e.refs == 0 {
		e.close()
	}
}

// expire drops entries past their time, so idle fds do not linger.
func (fc *fileCache) expire(now time.Time, _ *loop) {
	for _, e := range fc.m {
		if !now.Before(e.expires) {
			fc.drop(e)
		}
	}
}

// closeAll drops everything (loop shutdown).
func (fc *fileCache) closeAll() {
	for _, e := range fc.m {
		fc.drop(e)
	}
}
