"""Helpers of the agent data-plane tests: waiting, continuous pings, kernel inspection."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO, Any

import pytest

from neutrino import protocol
from neutrino.agent.linux import devices, namespaces, vxlan
from neutrino.agent.linux.fdb import FdbState
from tests.dataplane.topology import Host, Topology
from tests.support.wait import wait_until

# The one waiting helper, by the name the data-plane tests know it by.
wait_for = wait_until

RABBIT_URL = os.environ.get("NEUTRINO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")


def require_rabbit(missing: str | None = None) -> None:
    """A deployment over RabbitMQ needs it reachable (and nothing ``missing``): else a
    skip, or a failure under NEUTRINO_TEST_REQUIRE_DATAPLANE."""
    reason = missing
    if reason is None:
        try:
            with socket.create_connection(("127.0.0.1", 5672), timeout=2):
                pass
        except OSError as e:
            reason = f"RabbitMQ not reachable on 127.0.0.1:5672: {e}"
    if reason:
        if os.environ.get("NEUTRINO_TEST_REQUIRE_DATAPLANE"):
            pytest.fail(reason)
        pytest.skip(reason)


def reconcile(agent: Any, raw: dict[str, Any], ids: set[str] | None) -> None:
    """Converge ``agent`` to a get_host_state reply given as the bus carries it: decoded
    into its protocol type first, as the agent's own resync does."""
    state, invalid = protocol.decode_host_state(raw, agent.host_state_type)
    agent.reconcile(state, ids, invalid)


def ping(ns: str, target: str, *, count: int = 3, size: int | None = None,
         dont_fragment: bool = False, wait: float = 1.0) -> subprocess.CompletedProcess[str]:
    cmd = ["ping", "-n", "-c", str(count), "-i", "0.2", "-W", str(wait)]
    if size is not None:
        cmd += ["-s", str(size)]
    if dont_fragment:
        cmd += ["-M", "do"]
    return namespaces.execute([*cmd, target], ns, check=False, timeout=30)


def reaches(ns: str, target: str, **kwargs: Any) -> bool:
    return ping(ns, target, **kwargs).returncode == 0


def wait_reaches(ns: str, target: str, timeout: float = 20.0, **kwargs: Any) -> None:
    wait_for(lambda: reaches(ns, target, count=1, **kwargs), timeout,
             what=f"ping {target} from {ns}")


_STATS = re.compile(r"(\d+) packets transmitted, (\d+) received")
_SEQ = re.compile(r"icmp_seq=(\d+)")


@dataclass
class ContinuousPing:
    """``ping -i interval`` from ``ns`` to ``target`` in the background; ``stop()``
    returns (sent, received). Its output goes to a file, read while it runs: a test
    measures a window in pings (``wait_sent``), not in seconds, so that a slow machine
    does not shorten it."""

    ns: str
    target: str
    interval: float = 0.05
    proc: subprocess.Popen[str] | None = None
    out: IO[str] | None = None

    def start(self) -> ContinuousPing:
        # -O: an unanswered ping is reported too, so that the count goes on during loss.
        # Appending (O_APPEND), ping's writes land at the end whatever offset our reads
        # leave in the file description we share with it.
        self.out = tempfile.TemporaryFile("a+")  # noqa: SIM115 -- closed by stop()/kill()
        self.proc = namespaces.spawn(
            ["ping", "-n", "-O", "-i", str(self.interval), "-W", "1", self.target], self.ns,
            stdout=self.out, stderr=subprocess.STDOUT, text=True)
        return self

    def _output(self) -> str:
        assert self.out is not None
        self.out.seek(0)
        return self.out.read()

    def sent(self) -> int:
        """The highest sequence number reported so far (answered or not)."""
        return max((int(n) for n in _SEQ.findall(self._output())), default=0)

    def wait_sent(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` more pings than now have been reported."""
        target = self.sent() + count
        wait_for(lambda: self.sent() >= target, timeout, 0.02,
                 what=f"{count} more pings to {self.target}")

    def stop(self) -> tuple[int, int]:
        assert self.proc is not None
        self.proc.send_signal(subprocess.signal.SIGINT)  # type: ignore[attr-defined]
        self.proc.wait(timeout=10)
        out = self._output()
        self.kill()  # (it has exited: this closes the output file)
        m = _STATS.search(out)
        if not m:
            raise AssertionError(f"no ping statistics in: {out!r}")
        return int(m.group(1)), int(m.group(2))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.out is not None:
            self.out.close()
            self.out = None


def plug(topo: Topology, name: str, host_ns: str, port_id: str, mac: str, cidr: str,
         mtu: int) -> str:
    """What the compute side does, without a server: instance namespace ``name`` with eth0
    (``cidr``, ``mac``, ``mtu``) whose peer is tap<port-id[:11]> in ``host_ns``, not in any
    bridge (the agent's job). Returns the instance namespace."""
    from neutrino.agent.linux import names

    ns = topo.namespace(name)
    tap = names.tap_name(port_id)
    devices.ensure_veth(tap, "eth0", peer_netns=ns, mtu=mtu, netns=host_ns, up=False)
    devices.set_mac_address("eth0", mac, netns=ns)
    devices.add_address("eth0", cidr, netns=ns)
    devices.set_up("eth0", netns=ns)
    devices.set_up(tap, netns=host_ns)
    return ns


def provider_segment(topo: Topology, hosts: list[Host], iface: str = "eth1",
                     bridge: str = "br-phys") -> str:
    """A "physical" provider network: namespace ``phys`` with ``bridge``, and in each
    host an interface ``iface`` into it (what physical_interface_mappings points at)."""
    ns = topo.namespace("phys")
    devices.ensure_bridge(bridge, netns=ns)
    for host in hosts:
        port = f"ph-{host.name}"[:15]
        devices.ensure_veth(port, iface, peer_netns=host.ns, netns=ns)
        devices.set_master(port, bridge, netns=ns)
    return ns


def fdb_state(host_ns: str, vni: int) -> FdbState | None:
    from neutrino.agent.linux import names

    name = names.vxlan_name(vni)
    if not devices.device_exists(name, host_ns):
        return None
    return vxlan.get_fdb_state(name, host_ns)


def link_indexes(ns: str) -> dict[str, int]:
    """{device: ifindex}: a device deleted and re-created gets a new index."""
    return {d.name: d.index for d in devices.list_devices("", ns)}
