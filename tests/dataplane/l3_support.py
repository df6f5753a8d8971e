"""Packet checks of the L3 tests: who a TCP listener sees connecting (is it NATed, to
what), long-lived TCP connections through a router, conntrack's view of a floating IP."""

from __future__ import annotations

import itertools
import subprocess

from neutrino.agent.linux import namespaces
from tests.dataplane.agent_helpers import wait_for
from tests.dataplane.topology import spawn_listener

_ports = itertools.count(5100)


def next_port() -> int:
    return next(_ports)


def spawn(procs: list[subprocess.Popen[str]], cmd: list[str], ns: str,
          **kw: object) -> subprocess.Popen[str]:
    """Start ``cmd`` in ``ns``, recorded in ``procs`` for the test to stop by its Popen."""
    proc = spawn_listener(cmd, ns, text=True, **kw)
    procs.append(proc)
    return proc


def listen(procs: list[subprocess.Popen[str]], ns: str, *, echo: bool = False,
           answer: str | None = None, tcp_port: int | None = None) -> int:
    """A TCP listener in ``ns`` answering each connection with the peer address it sees,
    or with ``answer``, or echoing (``echo``); returns its port once it listens."""
    tcp_port = tcp_port or next_port()
    if echo:
        action = "EXEC:cat"
    elif answer is not None:
        action = f"SYSTEM:echo {answer}"
    else:
        action = "SYSTEM:echo $SOCAT_PEERADDR"
    spawn(procs, ["socat", f"TCP-LISTEN:{tcp_port},reuseaddr,fork", action], ns,
          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: f":{tcp_port} " in namespaces.execute(["ss", "-Hltn"], ns).stdout,
             timeout=5, what=f"listener on {tcp_port}")
    return tcp_port


def peer_seen(ns: str, target: str, tcp_port: int) -> str | None:
    """Connect from ``ns`` to ``target``: what the listener answered (the address it saw
    us as), None if no connection was made."""
    proc = namespaces.execute(["socat", "-u", f"TCP:{target}:{tcp_port},connect-timeout=2",
                               "STDOUT"], ns, check=False, timeout=10)
    return (proc.stdout.strip() or None) if proc.returncode == 0 else None


def nated_to(ns: str, floating: str, fixed: str) -> int:
    """Connections to ``floating`` that conntrack in ``ns`` DNATs to ``fixed``."""
    out = namespaces.execute(["conntrack", "-L", "-d", floating, "-r", fixed], ns,
                             check=False)
    return sum(1 for line in out.stdout.splitlines() if line.strip())


def ping_replies_from(ns: str, target: str) -> bool:
    """Whether ``target`` answers pings from ``ns`` with its own address as the source."""
    out = namespaces.execute(["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", target], ns,
                             check=False, timeout=15)
    return out.returncode == 0 and f"bytes from {target}:" in out.stdout


class EchoClient:
    """A long-lived TCP connection from ``ns`` (socat to an echo listener);
    ``roundtrip`` sends a line and reads it back."""

    def __init__(self, procs: list[subprocess.Popen[str]], ns: str, target: str,
                 tcp_port: int) -> None:
        self.proc = spawn(procs, ["socat", "-", f"TCP:{target}:{tcp_port}"], ns,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)

    def roundtrip(self, text: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()
