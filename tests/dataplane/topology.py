"""Multi-host test topologies built from network namespaces (see /work/shared/PLATFORM.md).

    underlay ns:  bridge br-ul  <- ul-h1, ul-h2, ...      (192.0.2.0/24, the "physical" net)
    host ns h1:   ul0 (192.0.2.11/24), the bridges/vxlan devices the code under test makes
    instance ns:  eth0 (10.99.x.y, fa:16:3e:..)  <-veth->  tap<port-id[:11]> in its host ns
    external ns:  like an instance, on a host's provider bridge, 203.0.113.0/24

Only namespace names are global, so only they carry the run prefix; device names inside a
namespace are free, which is why hosts can all call their underlay device ``ul0``. Every
namespace is recorded before it is created, so cleanup finds it even when creation fails
half-way.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import signal
import subprocess
import uuid
from dataclasses import dataclass, field

from neutrino.agent.linux import devices, names, namespaces

UNDERLAY = ipaddress.ip_network("192.0.2.0/24")
UNDERLAY_BRIDGE = "br-ul"
UNDERLAY_DEV = "ul0"
PING = ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "1"]


def spawn_listener(cmd: list[str], ns: str, **kw: object) -> subprocess.Popen:
    """Start ``cmd`` in ``ns`` as the leader of a process group of its own, so that
    ``stop_processes`` also ends what it forks: a ``socat ...,fork`` listener leaves one
    child per connection, and a child whose connection a test's firewall froze would
    otherwise outlive the test (and its namespace)."""
    proc = namespaces.spawn(cmd, ns, start_new_session=True, **kw)
    _GROUP_LEADERS.add(proc.pid)
    return proc


_GROUP_LEADERS: set[int] = set()  # pids spawn_listener made leaders of their own group


def stop_processes(procs: list[subprocess.Popen]) -> None:
    """Kill what a test started, by its Popen, with the children of group leaders."""
    for p in procs:
        if p.pid in _GROUP_LEADERS:
            # the group outlives its leader while a forked child lives, and its id is not
            # reused meanwhile: this reaches our children only
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.pid, signal.SIGKILL)
            _GROUP_LEADERS.discard(p.pid)
        if p.poll() is None:
            p.kill()
        p.wait(5)


def random_mac() -> str:
    # fa:16:3e is Neutron's default base_mac, so the addresses look like real ports.
    return "fa:16:3e:" + ":".join(f"{random.randrange(256):02x}" for _ in range(3))


@dataclass
class Host:
    name: str
    ns: str
    ip: str  # underlay address


@dataclass
class Instance:
    name: str
    ns: str
    host: Host
    cidr: str
    mac: str
    tap: str  # host end of the veth
    port_id: str
    dev: str = "eth0"

    @property
    def ip(self) -> str:
        return str(ipaddress.ip_interface(self.cidr).ip)

    def ping(self, target: str | Instance, *, size: int | None = None,
             dont_fragment: bool = False) -> subprocess.CompletedProcess[str]:
        dst = target.ip if isinstance(target, Instance) else target
        cmd = list(PING)
        if size is not None:
            cmd += ["-s", str(size)]
        if dont_fragment:
            cmd += ["-M", "do"]
        return namespaces.execute([*cmd, dst], self.ns, check=False, timeout=15)

    def can_reach(self, target: str | Instance, **kwargs: object) -> bool:
        return self.ping(target, **kwargs).returncode == 0  # type: ignore[arg-type]

    def forget_neighbours(self) -> None:
        """Flush the instance's ARP cache, so its next packet must resolve again."""
        namespaces.execute(["ip", "neigh", "flush", "dev", self.dev], self.ns)


@dataclass
class Topology:
    prefix: str  # unique per topology, e.g. "nd3fa2-0"
    created: list[str] = field(default_factory=list)  # recorded before creation
    hosts: dict[str, Host] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    _underlay: str | None = None

    def namespace(self, name: str) -> str:
        """A bare namespace ``<prefix><name>`` (lo up), removed at cleanup."""
        ns = self.prefix + name
        self.created.append(ns)
        namespaces.create_namespace(ns)
        return ns

    @property
    def underlay(self) -> str:
        if self._underlay is None:
            ns = self.namespace("ul")
            devices.ensure_bridge(UNDERLAY_BRIDGE, netns=ns)
            self._underlay = ns
        return self._underlay

    def host(self, name: str) -> Host:
        """Host namespace ``name`` with ``ul0`` on the underlay (192.0.2.11, .12, ...)."""
        if name in self.hosts:
            return self.hosts[name]
        ip = str(UNDERLAY.network_address + 11 + len(self.hosts))
        underlay = self.underlay
        ns = self.namespace(name)
        port = names.check_device_name(f"ul-{name}")
        devices.ensure_veth(port, UNDERLAY_DEV, peer_netns=ns, netns=underlay)
        devices.set_master(port, UNDERLAY_BRIDGE, netns=underlay)
        devices.add_address(UNDERLAY_DEV, f"{ip}/{UNDERLAY.prefixlen}", netns=ns)
        host = self.hosts[name] = Host(name=name, ns=ns, ip=ip)
        return host

    def instance(self, name: str, host: Host, bridge: str, cidr: str, *, mtu: int = 1500,
                 mac: str | None = None) -> Instance:
        """Instance namespace ``name`` whose eth0 (``cidr``, ``mtu``) is plugged into
        ``bridge`` (which must exist) of ``host`` through ``tap<port-id[:11]>``."""
        port_id = str(uuid.uuid4())
        tap = names.tap_name(port_id)
        mac = mac or random_mac()
        ns = self.namespace(name)
        devices.ensure_veth(tap, "eth0", peer_netns=ns, mtu=mtu, netns=host.ns, up=False)
        devices.set_mac_address("eth0", mac, netns=ns)
        devices.add_address("eth0", cidr, netns=ns)
        devices.set_up("eth0", netns=ns)
        devices.set_master(tap, bridge, netns=host.ns)
        devices.set_up(tap, netns=host.ns)
        inst = self.instances[name] = Instance(name=name, ns=ns, host=host, cidr=cidr, mac=mac,
                                               tap=tap, port_id=port_id)
        return inst

    def external(self, host: Host, bridge: str, cidr: str = "203.0.113.1/24",
                 name: str = "ext") -> Instance:
        """The "outside world" namespace on ``host``'s provider ``bridge``."""
        return self.instance(name, host, bridge, cidr)

    def cleanup(self) -> None:
        # Instances first, then hosts, then the underlay: veth peers die with the namespace
        # that holds either end, so nothing is left in the root namespace either way.
        errors = []
        for ns in reversed(self.created):
            try:
                namespaces.delete_namespace(ns)
            except Exception as e:  # keep deleting the rest; report at the end
                errors.append(f"{ns}: {e}")
        self.created.clear()
        if errors:
            raise RuntimeError("topology cleanup failed: " + "; ".join(errors))
