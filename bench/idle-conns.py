#!/usr/bin/env python3
"""Memory per idle connection, and the time to serve a new request with them open.

Usage: bench/idle-conns.py URINGD_BIN N [--after-request] [serve args...]

Starts `URINGD_BIN serve` on a temporary root as its own process, opens N connections from
this process (with --after-request each first fetches /4k.bin and then stays open, idle, as a
keep-alive client leaves it; without, each sends nothing), and prints the growth of the
server's RSS per connection and how long one more connection takes to fetch /4k.bin.
"""
import os, resource, socket, subprocess, sys, tempfile, time

bin_, n = sys.argv[1], int(sys.argv[2])
after = "--after-request" in sys.argv[3:]
extra = [a for a in sys.argv[3:] if a != "--after-request"]
# The server keeps fds for its open-file caches beside its connections (netio's connCap).
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
fds = max(n + 1000, min(hard, n + 5000)) if hard != resource.RLIM_INFINITY else n + 5000
resource.setrlimit(resource.RLIMIT_NOFILE, (fds, max(fds, hard)))
root = tempfile.mkdtemp()
with open(os.path.join(root, "4k.bin"), "wb") as f:
    f.write(os.urandom(4096))
addr = ("127.0.0.1", 18501)
srv = subprocess.Popen([bin_, "serve", "--root", root, "--addr", "%s:%d" % addr] + extra,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def rss_kib():
    with open("/proc/%d/status" % srv.pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])

def fetch(s):
    s.sendall(b"GET /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += recv(s)
    head, _, body = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("the server answered %r (above --max-conns, or its RLIMIT_NOFILE of %d?)" % (head.split(b"\r\n")[0], fds))
    while len(body) < 4096:
        body += recv(s)

def recv(s):
    b = s.recv(65536)
    if not b:
        sys.exit("the server closed a connection")
    return b

try:
    for _ in range(50):
        try:
            socket.create_connection(addr).close()
            break
        except OSError:
            time.sleep(0.1)
    warm = [socket.create_connection(addr) for _ in range(50)]
    for s in warm:
        fetch(s)
    for s in warm:
        s.close()
    time.sleep(0.5)
    before, conns = rss_kib(), []
    for _ in range(n):
        s = socket.create_connection(addr)
        if after:
            fetch(s)
        conns.append(s)
    time.sleep(1)
    grown = rss_kib() - before
    t = time.monotonic()
    fetch(socket.create_connection(addr))
    took = time.monotonic() - t
    print("%d idle connections (%s): RSS +%d KiB, %.0f bytes each; a new request served in %.1f ms"
          % (n, "after a request" if after else "never used", grown, grown * 1024 / n, took * 1000))
finally:
    srv.terminate()
    srv.wait()
