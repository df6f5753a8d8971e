"""dnsmasq processes: find the one serving a network, start, reload, stop, release leases.

A dnsmasq daemonizes (its parent exits once it serves, with an error status if it cannot),
so it outlives the agent that started it: an agent restart adopts it instead of restarting
it, and clients' leases are never disturbed. The process of a network is found from its pid
file and trusted only if ``/proc/<pid>/cmdline`` is dnsmasq's with that very pid file (so a
recycled pid is never signalled) and it runs in the network's namespace (a namespace deleted
and re-created under the same name leaves the old dnsmasq serving nothing).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

from neutrino.agent.dhcp.inotify import DirectoryWatch
from neutrino.agent.dhcp.render import DNSMASQ, Lease, NetworkFiles
from neutrino.agent.linux import namespaces
from neutrino.agent.linux.errors import CommandError
from neutrino.agent.linux.netlink import NETNS_RUN_DIR

LOG = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
_warned_no_release = False
RELOAD_TIMEOUT = 5.0


@dataclass(frozen=True)
class Process:
    pid: int
    argv: tuple[str, ...]
    in_namespace: bool  # runs in the network's namespace (not a dead one of the same name)


def read_pid(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def cmdline(pid: int) -> tuple[str, ...] | None:
    """The argv of a live process (None if it is gone or a zombie)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    if not raw:
        return None  # zombie or kernel thread
    return tuple(a.decode(errors="surrogateescape") for a in raw.rstrip(b"\0").split(b"\0"))


def is_dnsmasq_for(argv: Sequence[str] | None, files: NetworkFiles) -> bool:
    return bool(argv) and os.path.basename(argv[0]) == DNSMASQ and (
        f"--pid-file={files.pid}" in argv)


def _same_netns(pid: int, netns: str | None) -> bool:
    try:
        mine = os.stat(f"/proc/{pid}/ns/net")
        if netns is None:
            want = os.stat("/proc/self/ns/net")
        else:
            want = os.stat(os.path.join(NETNS_RUN_DIR, netns))
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (want.st_dev, want.st_ino)


def find(files: NetworkFiles, netns: str | None) -> Process | None:
    """The dnsmasq of this network, by its pid file (see the module docstring)."""
    pid = read_pid(files.pid)
    if pid is None:
        return None
    argv = cmdline(pid)
    if not is_dnsmasq_for(argv, files):
        return None
    assert argv is not None
    return Process(pid, argv, _same_netns(pid, netns))


def find_strays(files: NetworkFiles, exclude: int | None = None) -> list[int]:
    """Pids of every dnsmasq started with this network's pid file, wherever the pid file
    now points (it may be gone or overwritten): what must be stopped before starting one
    anew or when the network goes away. One pass over /proc, only on those paths."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == exclude:
            continue
        if is_dnsmasq_for(cmdline(int(entry)), files):
            found.append(int(entry))
    return sorted(found)


def start(argv: Sequence[str], netns: str | None, files: NetworkFiles) -> Process:
    """Start dnsmasq in ``netns``; returns once it serves (dnsmasq's parent waits for the
    daemon to be up and exits non-zero, with the reason on stderr, if it cannot start)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(files.pid)
    namespaces.execute(list(argv), netns, timeout=30)
    proc = find(files, netns)
    if proc is None:
        raise CommandError(argv, 0, f"dnsmasq started but {files.pid} names no dnsmasq of "
                           "this network", netns=netns)
    return proc


def reload(proc: Process, files: NetworkFiles, timeout: float = RELOAD_TIMEOUT) -> bool:
    """SIGHUP: dnsmasq re-reads the hosts, options and extra hosts files (never its command
    line). True once it has read them all; False if it did not within ``timeout`` (it died,
    or cannot read them: dnsmasq drops root for user nobody, which must be able to reach
    the files)."""
    with DirectoryWatch(files.dir) as watch:
        try:
            os.kill(proc.pid, signal.SIGHUP)
        except ProcessLookupError:
            return False
        return watch.wait_for(os.path.basename(files.opts), timeout)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def stop(pid: int, files: NetworkFiles, timeout: float = STOP_TIMEOUT) -> None:
    """Stop the dnsmasq ``pid`` of this network (re-checked, so nothing else is killed):
    SIGTERM, then SIGKILL if it is still there after ``timeout`` seconds."""
    if not is_dnsmasq_for(cmdline(pid), files):
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.01)
    LOG.error("dnsmasq %d (%s) did not exit after SIGKILL", pid, files.dir)


def release(lease: Lease, interface: str, netns: str | None) -> bool:
    """Tell dnsmasq to forget an IPv4 lease (``dhcp_release``, package dnsmasq-utils), so
    the address can go to another port at once. False (logged) if that is not possible."""
    global _warned_no_release
    if shutil.which("dhcp_release") is None:
        if not _warned_no_release:
            _warned_no_release = True
            LOG.warning("dhcp_release not found (apt: dnsmasq-utils): leases of deleted "
                        "ports stay until they expire, and their addresses cannot be "
                        "handed to new ports before")
        return False
    cmd = ["dhcp_release", interface, lease.ip, lease.mac]
    if lease.client_id and lease.client_id != "*":
        cmd.append(lease.client_id)
    try:
        namespaces.execute(cmd, netns, timeout=10)
    except CommandError as e:
        LOG.warning("cannot release lease of %s (%s): %s", lease.ip, lease.mac, e)
        return False
    return True
