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
			if !sm.modtime.Before(m.modtime) {
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

// openSibling opens name's sibling in coding s.pre[i], if it is a regular file.
func (ss *stdServer) openSibling(name string, i int) (*fileio.File, fileMeta) {
	sib := name + ss.s.pre[i].Ext()
	f, err := ss.s.fileEng.Open(context.Background(), ss.s.fileDir, sib, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fileMeta{}
	}
	st := f.Info()
	if !st.Mode.IsRegular() {
		f.Close()
		return nil, fileMeta{}
	}
	return f, newMeta(st.Size, st.ModTime, false, []byte(sib))
}

// planFile plans the regular file f at name (stat m): its precompressed sibling if one
// exists and the client prefers it, else f itself. It returns the file to send.
func (ss *stdServer) planFile(p *planner, rep *reply, req *http1.Request, now time.Time, name string, f *fileio.File, m *fileMeta) *fileio.File {
	pi := ss.pathInfo(name, m, now)
	if k := chooseSibling(ss.s.pre, pi.sibs, req.AcceptEncoding); k >= 0 {
		if sf, sm := ss.openSibling(name, k); sf != nil {
			if !sm.modtime.Before(m.modtime) {
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
