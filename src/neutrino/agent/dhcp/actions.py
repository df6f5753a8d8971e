"""What the DHCP agent changes for one network, as actions (agent/actions.py) that apply
themselves in the network's qdhcp namespace: its dnsmasq's files, the process, the default
route. ``plan.plan_network`` decides them; the namespace and the port's veth are shared
actions (CreateNamespace, DeleteDevice, WireVeth, Add/RemoveAddress)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from neutrino.agent import base
from neutrino.agent.actions import Action, Target
from neutrino.agent.dhcp import dnsmasq, render
from neutrino.agent.linux import devices

LOG = logging.getLogger(__name__)


def write_file(path: str, content: str) -> None:
    """Replace ``path`` atomically (dnsmasq never reads half a file), mode 0644: dnsmasq
    re-reads it after dropping root."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, content.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_file(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class ReplaceDefaultRoute(Action):
    """The default route via ``gateway`` through ``device`` (None: no default route),
    after deleting the ``stale`` default routes there are."""

    device: str
    gateway: str | None
    stale: int

    def apply(self, target: Target) -> None:
        devices.replace_default_route(self.device, self.gateway, target.netns,
                                      stale=self.stale)


@dataclass(frozen=True)
class EnsureDirectories(Action):
    """The state directories, searchable by dnsmasq's user (it re-reads its files as
    "nobody")."""

    paths: tuple[str, ...]

    def apply(self, target: Target) -> None:
        for d in self.paths:
            os.makedirs(d, mode=0o755, exist_ok=True)
            if os.stat(d).st_mode & 0o777 != 0o755:
                os.chmod(d, 0o755)


@dataclass(frozen=True)
class WriteFile(Action):
    path: str
    content: str

    def apply(self, target: Target) -> None:
        write_file(self.path, self.content)


@dataclass(frozen=True)
class StopDnsmasq(Action):
    pid: int
    files: render.NetworkFiles
    why: str = ""

    def apply(self, target: Target) -> None:
        if self.why:
            LOG.warning("%s: dnsmasq %d %s; replacing it", target.netns, self.pid, self.why)
        dnsmasq.stop(self.pid, self.files)


@dataclass(frozen=True)
class StartDnsmasq(Action):
    """(Re)start the network's dnsmasq: the old one and any stray stopped, the lease file
    made from the leases still wanted (so clients keep theirs), then the ``loaded``
    marker with the new pid."""

    network_id: str
    argv: tuple[str, ...]
    files: render.NetworkFiles
    entries: tuple[render.HostEntry, ...]
    lease_duration: int
    digest: str
    old_pid: int | None = None
    reason: str = ""
    restart: bool = False

    def apply(self, target: Target) -> None:
        if self.old_pid is not None:
            dnsmasq.stop(self.old_pid, self.files)
        for stray in dnsmasq.find_strays(self.files):
            dnsmasq.stop(stray, self.files)
        write_file(self.files.leases, render.bootstrap_leases(
            read_file(self.files.leases) or "", self.entries, self.lease_duration,
            int(time.time())))
        started = time.monotonic()
        proc = dnsmasq.start(self.argv, target.netns, self.files)
        LOG.info("network %s: dnsmasq %s (%s), pid %d, in %.3f s", self.network_id,
                 "restarted" if self.restart else "started", self.reason, proc.pid,
                 time.monotonic() - started)
        write_file(self.files.loaded, f"{proc.pid} {self.digest}\n")


@dataclass(frozen=True)
class ReleaseLeases(Action):
    """dhcp_release the leases no host entry backs any more."""

    leases: tuple[render.Lease, ...]
    interface: str

    def apply(self, target: Target) -> None:
        for lease in self.leases:
            dnsmasq.release(lease, self.interface, target.netns)


@dataclass(frozen=True)
class ReloadDnsmasq(Action):
    network_id: str
    process: dnsmasq.Process
    files: render.NetworkFiles
    reason: str = ""

    def apply(self, target: Target) -> None:
        started = time.monotonic()
        if not dnsmasq.reload(self.process, self.files):
            raise base.ReconcileIncomplete(
                f"dnsmasq {self.process.pid} did not re-read {self.files.dir} after SIGHUP "
                "(dead, or user nobody cannot read the files)")
        LOG.info("network %s: dnsmasq %d reloaded (%s) in %.3f s", self.network_id,
                 self.process.pid, self.reason, time.monotonic() - started)


