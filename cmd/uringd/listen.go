package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/uringd/uringd/netio"
)

// listenConfig fills cfg's listeners from the flags: the sockets systemd handed over
// (socket activation) if any, else every --addr, with --unix-mode for the unix ones.
func listenConfig(c *cli.Context, cfg *netio.Config, logf func(string, ...any)) error {
	if m := c.String("unix-mode"); m != "" {
		mode, err := strconv.ParseUint(m, 8, 32)
		if err != nil || mode > 0o777 || mode == 0 {
			return fmt.Errorf("--unix-mode %s: want an octal permission mode such as 0660", m)
		}
		cfg.UnixMode = os.FileMode(mode)
	}
	files, err := netio.SocketActivation()
	if err != nil {
		return err
	}
	if len(files) > 0 {
		names := make([]string, len(files))
		for i, f := range files {
			names[i] = f.Name()
		}
		if c.IsSet("addr") {
			logf("socket activation: serving the %d sockets systemd passed (%s), not --addr", len(files), strings.Join(names, ", "))
		}
		cfg.ListenFiles = files
		return nil
	}
	addrs := c.StringSlice("addr")
	if len(addrs) == 0 {
		return errors.New("--addr: give at least one listen address")
	}
	for _, a := range addrs {
		if strings.TrimSpace(a) == "" {
			return errors.New(`--addr "": an empty listen address (give HOST:PORT or unix:PATH)`)
		}
	}
	cfg.Addr, cfg.Addrs = addrs[0], addrs[1:]
	return nil
}

// listenerName is how the startup line shows a listener: a URL for TCP, unix:PATH.
func listenerName(a net.Addr) string {
	if u, ok := a.(*net.UnixAddr); ok {
		return "unix:" + u.Name
	}
	return "http://" + a.String()
}

// servingLine is the startup line's "on ...": the first listener, then the others.
func servingLine(srv *netio.Server) string {
	lns := srv.Listeners()
	if len(lns) == 0 {
		return "nothing"
	}
	s := listenerName(lns[0])
	if len(lns) > 1 {
		more := make([]string, len(lns)-1)
		for i, a := range lns[1:] {
			more[i] = listenerName(a)
		}
		s += " (also on " + strings.Join(more, ", ") + ")"
	}
	return s
}

// runAs is --user: the account the server drops to once its sockets are bound, before the
// loops start (as nginx's workers do): the rings, their io-wq workers and every file the
// server opens for a request then have that account's permissions, not root's.
type runAs struct {
	name     string
	uid, gid int
	groups   []int
}

// lookupUser checks --user before anything is bound: the account exists, and this
// process is root (only root can become another user).
func lookupUser(name string) (*runAs, error) {
	u, err := user.Lookup(name)
	if _, numeric := strconv.Atoi(name); err != nil && numeric == nil {
		u, err = user.LookupId(name)
	}
	if err != nil {
		var unknown user.UnknownUserError
		var unknownID user.UnknownUserIdError
		if errors.As(err, &unknown) || errors.As(err, &unknownID) {
			return nil, fmt.Errorf("--user %s: unknown user", name)
		}
		return nil, fmt.Errorf("--user %s: %w", name, err)
	}
	if euid := os.Geteuid(); euid != 0 {
		return nil, fmt.Errorf("--user %s: dropping privileges needs root, and uringd runs as uid %d (leave --user out)", name, euid)
	}
	r := &runAs{name: name}
	if r.uid, err = strconv.Atoi(u.Uid); err == nil {
		r.gid, err = strconv.Atoi(u.Gid)
	}
	if err != nil {
		return nil, fmt.Errorf("--user %s: uid %q, gid %q: %w", name, u.Uid, u.Gid, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("--user %s: its groups: %w", name, err)
	}
	for _, g := range gids {
		id, err := strconv.Atoi(g)
		if err != nil {
			return nil, fmt.Errorf("--user %s: group id %q: %w", name, g, err)
		}
		r.groups = append(r.groups, id)
	}
	return r, nil
}

// drop sets the groups, then the gid, then the uid (the last takes the right to change the
// others). Go applies each to every thread of the process (1.16+).
func (r *runAs) drop() error {
	if err := syscall.Setgroups(r.groups); err != nil {
		return fmt.Errorf("--user %s: setgroups: %w", r.name, err)
	}
	if err := syscall.Setgid(r.gid); err != nil {
		return fmt.Errorf("--user %s: setgid %d: %w", r.name, r.gid, err)
	}
	if err := syscall.Setuid(r.uid); err != nil {
		return fmt.Errorf("--user %s: setuid %d: %w", r.name, r.uid, err)
	}
	if os.Getuid() != r.uid || os.Geteuid() != r.uid || os.Getgid() != r.gid || os.Getegid() != r.gid {
		return fmt.Errorf("--user %s: still uid %d/%d gid %d/%d after the drop", r.name, os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	}
	if r.uid != 0 && syscall.Setuid(0) == nil {
		return fmt.Errorf("--user %s: root could be taken back after the drop", r.name)
	}
	return nil
}
