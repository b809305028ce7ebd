package netio

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/uringd/uringd/fileio"
	"github.com/uringd/uringd/netio/internal/http1"
)

// stdPaths keeps for the std engine, by path, what the uring engine keeps in its open-file
// cache entries besides the fd: which precompressed siblings exist and the header lines.
// The std engine opens each file per request; this spares it the siblings' opens too.
type stdPaths struct {
	mu sync.Mutex
	m  map[string]stdPath
}

type stdPath struct {
	sibs    uint8
	hdrs    []byte
	expires time.Time
}

// stdPathsMax bounds stdPaths; past it, any entry is dropped (map order is random).
const stdPathsMax = 4096

// pathInfo returns what is known of the file at name (opened as f, stat m), looking its
// siblings up when it is not known or no longer trusted (OpenFileCacheTTL).
func (ss *stdServer) pathInfo(name string, m *fileMeta, now time.Time) stdPath {
	s := ss.s
	if len(s.pre) == 0 && s.hdrRules == nil {
		return stdPath{}
	}
	ss.paths.mu.Lock()
	pi, ok := ss.paths.m[name]
	ss.paths.mu.Unlock()
	if ok && now.Before(pi.expires) {
		return pi
	}
	pi = stdPath{hdrs: s.hdrRules.lines("/" + name), expires: now.Add(s.cfg.OpenFileCacheTTL)}
	for i := range s.pre {
		if f, sm := ss.openSibling(name, i); f != nil {
			if fresh(sm.modtime, m.modtime) {
				pi.sibs |= 1 << i
			}
			f.Close()
		}
	}
	ss.paths.mu.Lock()
	if ss.paths.m == nil {
		ss.paths.m = make(map[string]stdPath)
	}
	if len(ss.paths.m) >= stdPathsMax {
		for k := range ss.paths.m {
			delete(ss.paths.m, k)
			break
		}
	}
	ss.paths.m[name] = pi
	ss.paths.mu.Unlock()
	return pi
}

// openSibling opens name's sibling in coding s.pre[i], if it is a regular file; one that
// cannot be opened for another reason than its absence is said, as the uring loop does.
func (ss *stdServer) openSibling(name string, i int) (*fileio.File, fileMeta) {
	sib := name + ss.s.pre[i].Ext()
	f, m, errno := ss.openRegular(sib)
	if f == nil && !missing(errno) && errno != syscall.EISDIR {
		ss.s.cfg.Logf("std: open /%s (precompressed sibling, not served): %v", sib, errno)
	}
	return f, m
}

// openRegular opens name beneath the root if it is a regular file.
func (ss *stdServer) openRegular(name string) (*fileio.File, fileMeta, syscall.Errno) {
	f, err := ss.s.fileEng.Open(context.Background(), ss.s.fileDir, name, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fileMeta{}, errnoOf(err)
	}
	st := f.Info()
	if !st.Mode.IsRegular() {
		f.Close()
		return nil, fileMeta{}, syscall.EISDIR
	}
	return f, newMeta(st.Size, st.ModTime, false, []byte(name)), 0
}

// planFile plans the regular file f at name (stat m): its precompressed sibling if one
// exists and the client prefers it, else f itself. It returns the file to send.
func (ss *stdServer) planFile(p *planner, rep *reply, req *http1.Request, now time.Time, name string, f *fileio.File, m *fileMeta) *fileio.File {
	pi := ss.pathInfo(name, m, now)
	if k := chooseSibling(ss.s.pre, pi.sibs, req.AcceptEncoding); k >= 0 {
		if sf, sm := ss.openSibling(name, k); sf != nil {
			if fresh(sm.modtime, m.modtime) {
				f.Close()
				v := p.codedView(&sm, m, ss.s.pre[k], pi.hdrs)
				p.planFile(rep, now, req, &sm, &v)
				return sf
			}
			sf.Close()
		}
	}
	v := p.plainView(m, pi.hdrs, pi.sibs != 0)
	p.planFile(rep, now, req, m, &v)
	return f
}

// special plans the answer to status for req as the uring loop's trySpecial does: the
// fallback file for a missing route, else the status's error page, else the plain answer.
// It returns the file to send, if any.
func (ss *stdServer) special(p *planner, rep *reply, req *http1.Request, now time.Time, status int, errno syscall.Errno) *fileio.File {
	cfg := &ss.s.cfg
	if status == 404 && cfg.Fallback != "" && missing(errno) && routeLike(req.Path) {
		f, m, ferr := ss.openRegular(cfg.Fallback[1:])
		if f != nil {
			return ss.planFile(p, rep, req, now, cfg.Fallback[1:], f, &m)
		}
		ss.specialMissing("fallback "+cfg.Fallback, ferr)
	}
	if pg := cfg.ErrorPages[status]; pg != "" {
		f, m, ferr := ss.openRegular(pg[1:])
		if f != nil {
			p.planPage(rep, now, req, &m, status)
			return f
		}
		ss.specialMissing("error page", ferr)
	}
	p.planError(rep, now, errorReply{Status: status, Head: req.Method == http1.MethodHEAD, Close: !req.KeepAlive})
	return nil
}

// specialMissing says, at most once a minute, that a configured page is missing.
func (ss *stdServer) specialMissing(what string, errno syscall.Errno) {
	now := time.Now().UnixNano()
	last := ss.specialLogged.Load()
	if last != 0 && now-last < int64(time.Minute) || !ss.specialLogged.CompareAndSwap(last, now) {
		return
	}
	ss.s.cfg.Logf("std: %s: %v (the plain answer is sent; said at most once a minute)", what, errno)
}
