"""Abusive clients against a real neutrino server (issue #9), measured:

1. 500 idle and 200 slowloris connections held open, then 8 GETs of /v2.0/networks;
2. 40 uploads stalled after 100 KB plus 8 clients sending 50 MB bodies for 10 s, a GET
   meanwhile, and the RSS of the server's processes before, during and after.

    .venv/bin/python benchmarks/abusive_clients.py [--workers 2]
    PYTHONPATH=/tmp/orig/src .venv/bin/python benchmarks/abusive_clients.py   # another tree
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import resource
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import Server

UPLOAD = (b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: 52428800\r\n\r\n")


def rss_mb(session: int) -> int:
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.getsid(int(entry)) != session:
                continue
            with open(f"/proc/{entry}/status") as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return total // 1024


def timed_get(port: int, timeout: float = 60) -> str:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/v2.0/networks")
        resp = conn.getresponse()
        resp.read()
        return f"{resp.status} in {time.monotonic() - started:.3f}s"
    except OSError as e:
        return f"{type(e).__name__} after {time.monotonic() - started:.1f}s"
    finally:
        conn.close()


def send_big(port: int, seconds: float) -> None:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)) as s:
        s.settimeout(seconds)
        s.sendall(UPLOAD)
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            s.sendall(b" " * 65536)


def measure(port: int, session: int) -> None:
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(500)]
    for i in range(200):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow-%d: a" % i)
        held.append(s)
    print("GETs with 500 idle + 200 slowloris:", [timed_get(port) for _ in range(8)])
    for s in held:
        s.close()
    print("server RSS before uploads:", rss_mb(session), "MB")
    stalled = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(UPLOAD)
        s.setblocking(False)
        with contextlib.suppress(OSError):
            s.send(b"{" + b" " * 100_000)
        stalled.append(s)
    senders = [threading.Thread(target=send_big, args=(port, 10.0)) for _ in range(8)]
    for t in senders:
        t.start()
    time.sleep(3)
    print("GET during 40 stalled + 8 x 50 MB uploads:", timed_get(port),
          "- server RSS", rss_mb(session), "MB")
    for t in senders:
        t.join()
    print("server RSS after:", rss_mb(session), "MB")
    for s in stalled:
        s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(8192, hard)), hard))
    with tempfile.TemporaryDirectory() as tmp, \
            Server(f"sqlite:///{tmp}/n.sqlite", Path(tmp), workers=args.workers) as srv:
        assert srv.proc is not None
        measure(srv.port, srv.proc.pid)


if __name__ == "__main__":
    main()
