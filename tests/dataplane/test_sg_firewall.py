"""Security groups on real packets: the agent's nftables firewall driven with desired-state
dicts shaped as get_host_state's security-group additions (docs/agent-protocol.md).

Each test builds a host namespace with Linux bridges and instance namespaces (topology.py),
programs the firewall through ``NftablesFirewall`` exactly as the Linux bridge agent does
(parse the state, converge), and checks what packets get through: pings, TCP through socat,
UDP with chosen source ports. Processes started here are ended by their pid.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.l2.firewall import model, render
from neutrino.agent.l2.firewall.nftables import NftablesFirewall, NoopFirewall
from neutrino.agent.linux import devices, names, namespaces
from neutrino.protocol import convert
from neutrino.protocol import linuxbridge as lb
from tests.dataplane.agent_helpers import reaches, wait_for
from tests.dataplane.conftest import Features
from tests.dataplane.topology import Host, Instance, Topology, spawn_listener, stop_processes

SG = "5e0c1a00-0000-4000-8000-000000000001"  # "default": members talk
OTHER = "5e0c1a00-0000-4000-8000-000000000002"  # egress only
WEB = "5e0c1a00-0000-4000-8000-000000000003"  # rules set by the test

EGRESS_ANY = [{"id": "e4", "direction": "egress", "ethertype": "IPv4"},
              {"id": "e6", "direction": "egress", "ethertype": "IPv6"}]
DEFAULT_RULES = [*EGRESS_ANY,
                 {"id": "i4", "direction": "ingress", "ethertype": "IPv4",
                  "remote_group_id": SG},
                 {"id": "i6", "direction": "ingress", "ethertype": "IPv6",
                  "remote_group_id": SG}]
TCP22_FROM = "tcp22"


def parse_host_state(raw: dict[str, Any]) -> model.FirewallState:
    """A get_host_state reply as the bus carries it, typed, then the firewall's model."""
    return model.parse_host_state(convert({"host": "h1", **raw}, lb.HostState))


def groups_reply(raw: dict[str, Any]) -> lb.SecurityGroupsState:
    return convert({"host": "h1", **raw}, lb.SecurityGroupsState)


@pytest.fixture(autouse=True)
def _need_tools(features: Features) -> None:
    features.require()
    for tool in ("nft", "socat", "conntrack"):
        if shutil.which(tool) is None:
            if os.environ.get("NEUTRINO_TEST_REQUIRE_DATAPLANE"):
                pytest.fail(f"data plane required but `{tool}` is missing")
            pytest.skip(f"`{tool}` not found")


@dataclass
class Site:
    """One host with networks, instances and the firewall, plus the desired state."""

    topo: Topology
    host: Host
    fw: NftablesFirewall
    procs: list[subprocess.Popen[Any]]
    tmp: Path
    networks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # id -> ports
    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)  # remote group -> IPv4

    def network(self) -> str:
        nid = str(uuid.uuid4())
        devices.ensure_bridge(names.bridge_name(nid), netns=self.host.ns)
        self.networks[nid] = []
        return nid

    def boot(self, name: str, net: str, ip: str, groups: list[str] | None = None, *,
             port_security: bool = True, pairs: list[str] = ()) -> Instance:  # type: ignore[assignment]
        inst = self.topo.instance(name, self.host, names.bridge_name(net), f"{ip}/24")
        # the instance's tap is named after a random port id; the port uses that id
        self.networks[net].append({
            "id": inst.port_id, "device": inst.tap, "mac_address": inst.mac,
            "fixed_ips": [{"subnet_id": "s", "ip_address": ip}],
            "device_owner": "compute:nova", "port_security_enabled": port_security,
            "security_groups": list(groups or []) if port_security else [],
            "allowed_address_pairs": [{"ip_address": p, "mac_address": None} for p in pairs]})
        return inst

    def port(self, inst: Instance) -> dict[str, Any]:
        return next(p for ports in self.networks.values() for p in ports
                    if p["id"] == inst.port_id)

    def state(self) -> dict[str, Any]:
        return {"host": self.host.name,
                "networks": [{"id": n, "ports": ps} for n, ps in self.networks.items()],
                "security_groups": {g: {"rules": r} for g, r in self.groups.items()},
                "remote_groups": {g: {"IPv4": m, "IPv6": []} for g, m in self.members.items()}}

    def apply(self, *, from_kernel: bool = True) -> Any:
        return self.fw.converge(parse_host_state(self.state()), from_kernel=from_kernel)

    # --- traffic -------------------------------------------------------------------------------
    def spawn(self, ns: str, cmd: list[str], **kw: Any) -> subprocess.Popen[Any]:
        proc = spawn_listener(cmd, ns, **kw)
        self.procs.append(proc)
        return proc

    def tcp_server(self, inst: Instance, port: int) -> None:
        self.spawn(inst.ns, ["socat", f"TCP-LISTEN:{port},reuseaddr,fork", "PIPE"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: f":{port} " in namespaces.execute(
            ["ss", "-ltnH"], inst.ns).stdout, 5, what=f"listener on {port}")

    def tcp_ok(self, src: Instance, dst: Instance, port: int) -> bool:
        proc = namespaces.execute(
            ["socat", "-t", "1", "-", f"TCP:{dst.ip}:{port},connect-timeout=1"], src.ns,
            check=False, input="hello\n", timeout=10)
        return "hello" in proc.stdout

    def connect(self, src: Instance, dst: Instance, port: int) -> Connection:
        proc = self.spawn(src.ns, ["socat", "-", f"TCP:{dst.ip}:{port}"],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        conn = Connection(proc)
        assert conn.echo("first"), "connection not established"
        return conn

    def udp_received(self, src: Instance, sport: int, dst: Instance, dport: int) -> bool:
        """One datagram src:sport -> dst:dport; did it arrive?"""
        out = self.tmp / f"udp-{dst.name}-{dport}-{time.monotonic_ns()}"
        out.touch()
        recv = self.spawn(dst.ns, ["socat", "-u", f"UDP-RECV:{dport},reuseaddr",
                                   f"OPEN:{out},append"])
        wait_for(lambda: namespaces.execute(["ss", "-Hunl", f"sport = :{dport}"], dst.ns,
                                            check=False).stdout.strip(), 5,
                 what=f"socat bound to udp port {dport}")
        namespaces.execute(["socat", "-u", "-",
                            f"UDP-SENDTO:{dst.ip}:{dport},sourceport={sport},reuseaddr"],
                           src.ns, input="datagram\n", check=False, timeout=10)
        try:
            wait_for(lambda: "datagram" in out.read_text(), 1.5, what="datagram")
            return True
        except AssertionError:
            return False
        finally:
            recv.kill()
            recv.wait(5)


@dataclass
class Connection:
    proc: subprocess.Popen[Any]

    def echo(self, text: str, timeout: float = 3.0) -> bool:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        return bool(ready) and self.proc.stdout.readline().strip() == text.encode()


@pytest.fixture
def site(topology: Callable[[], Topology], tmp_path: Path) -> Iterator[Site]:
    topo = topology()
    host = topo.host("h1")
    procs: list[subprocess.Popen[Any]] = []
    s = Site(topo, host, NftablesFirewall(host.ns), procs, tmp_path,
             groups={SG: list(DEFAULT_RULES), OTHER: list(EGRESS_ANY), WEB: list(EGRESS_ANY)})
    try:
        yield s
    finally:
        stop_processes(procs)  # ours only, by pid, with their forked children


def test_default_group_members_talk_and_the_outside_is_kept_out(site: Site) -> None:
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG])
    b = site.boot("b", net, "10.99.0.2", [SG])
    c = site.boot("c", net, "10.99.0.3", [OTHER])
    d = site.boot("d", net, "10.99.0.4", port_security=False)
    site.members = {SG: [a.ip, b.ip]}
    assert site.apply().full
    assert reaches(a.ns, b.ip) and reaches(b.ns, a.ip)
    assert not reaches(c.ns, a.ip, count=2)  # not a member: kept out
    assert not reaches(d.ns, b.ip, count=2)  # unfiltered, still not a member
    assert not reaches(a.ns, c.ip, count=2)  # c accepts nothing (egress-only group)
    assert reaches(a.ns, d.ip)  # egress any; d is not filtered


def test_tcp_22_from_a_prefix_opens_exactly_that(site: Site) -> None:
    net = site.network()
    srv = site.boot("srv", net, "10.99.0.10", [WEB])
    inside = site.boot("in", net, "10.99.0.20", [OTHER])
    outside = site.boot("out", net, "10.99.0.40", [OTHER])
    rule = {"id": TCP22_FROM, "direction": "ingress", "ethertype": "IPv4",
            "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
            "remote_ip_prefix": "10.99.0.16/29"}
    site.groups[WEB] = [*EGRESS_ANY, rule]
    site.apply()
    site.tcp_server(srv, 22)
    site.tcp_server(srv, 23)
    assert site.tcp_ok(inside, srv, 22)
    assert not site.tcp_ok(inside, srv, 23)
    assert not site.tcp_ok(outside, srv, 22)
    assert not reaches(inside.ns, srv.ip, count=2)
    conn = site.connect(inside, srv, 22)
    site.groups[WEB] = list(EGRESS_ANY)  # the rule removed
    result = site.apply()
    assert result.changed and not result.full  # only the group's chains were rewritten
    assert site.fw.last_script.startswith(f"flush chain inet {render.TABLE} sgi-{WEB}")
    # the digest moved with it: a restarted agent finds the kernel right
    assert not NftablesFirewall(site.host.ns).converge(
        parse_host_state(site.state()), from_kernel=True).changed
    assert not site.tcp_ok(inside, srv, 22)  # no new connection
    assert conn.echo("still there")  # the established one goes on, as in Neutron


def test_remote_group_membership_is_a_set_update(site: Site) -> None:
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG])
    c = site.boot("c", net, "10.99.0.3", [OTHER])
    site.members = {SG: [a.ip]}
    site.apply()
    assert not reaches(c.ns, a.ip, count=2)
    # c joins SG's membership (as a port of another host would): elements only
    state = parse_host_state(site.state())
    joined = state.merge_groups(groups_reply({"security_groups": {SG: {"rules": DEFAULT_RULES}},
                                 "remote_groups": {SG: {"IPv4": [a.ip, c.ip]}}}), [SG])
    result = site.fw.converge(joined, from_kernel=False)
    assert result.changed and not result.full
    assert site.fw.last_script.strip() == \
        f"add element inet {render.TABLE} rg4-{SG} {{ {c.ip} }}"
    assert reaches(c.ns, a.ip)
    site.tcp_server(a, 22)
    conn = site.connect(c, a, 22)  # a connection c may have as a member
    left = joined.merge_groups(groups_reply({"security_groups": {SG: {"rules": DEFAULT_RULES}},
                                "remote_groups": {SG: {"IPv4": [a.ip]}}}), [SG])
    result = site.fw.converge(left, from_kernel=False)
    assert not result.full
    assert not reaches(c.ns, a.ip, count=2)
    # no longer a member: its connection ends too (as in Neutron), not just new ones
    assert not conn.echo("after leaving", timeout=2)


def test_spoofed_source_ip_and_mac_are_dropped(site: Site) -> None:
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG], pairs=["10.99.0.100"])
    b = site.boot("b", net, "10.99.0.2", port_security=False)
    site.members = {SG: [a.ip, b.ip]}
    site.apply()
    assert reaches(a.ns, b.ip)
    namespaces.execute(["ip", "addr", "add", "10.99.0.77/24", "dev", "eth0"], a.ns)
    namespaces.execute(["ip", "addr", "add", "10.99.0.100/24", "dev", "eth0"], a.ns)
    ping_from = ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "-I"]
    assert namespaces.execute([*ping_from, "10.99.0.77", b.ip], a.ns,
                              check=False).returncode != 0
    # an allowed address pair is not spoofing
    assert namespaces.execute([*ping_from, "10.99.0.100", b.ip], a.ns,
                              check=False).returncode == 0
    namespaces.execute(["ip", "link", "set", "eth0", "address", "fa:16:3e:aa:bb:cc"], a.ns)
    namespaces.execute(["ip", "neigh", "flush", "all"], b.ns)
    assert not reaches(a.ns, b.ip, count=2)
    # port security off: the same packets pass
    site.port(a)["port_security_enabled"] = False
    site.port(a)["security_groups"] = []
    site.apply()
    assert reaches(a.ns, b.ip)
    assert namespaces.execute([*ping_from, "10.99.0.77", b.ip], a.ns,
                              check=False).returncode == 0


def test_an_instance_cannot_be_a_dhcp_server(site: Site) -> None:
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG])
    client = site.boot("client", net, "10.99.0.2", port_security=False)
    site.members = {SG: [a.ip]}
    site.apply()
    assert site.udp_received(a, 1067, client, 68)  # the path is open...
    assert not site.udp_received(a, 67, client, 68)  # ...but not as a DHCP server
    site.port(a)["port_security_enabled"] = False
    site.apply()
    assert site.udp_received(a, 67, client, 68)


def test_port_security_disabled_removes_filtering(site: Site) -> None:
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG])
    c = site.boot("c", net, "10.99.0.3", [OTHER])
    site.members = {SG: [a.ip]}
    site.apply()
    assert not reaches(c.ns, a.ip, count=2)
    site.port(a)["port_security_enabled"] = False
    site.port(a)["security_groups"] = []
    site.apply()
    assert reaches(c.ns, a.ip)
    assert f"sp-{a.tap}" not in namespaces.execute(
        ["nft", "list", "ruleset"], site.host.ns).stdout


def test_two_networks_with_the_same_addresses_keep_separate_connection_state(
        site: Site) -> None:
    """Without zones, a datagram from b2 would match a1's flow on the other network as its
    reply and pass a2's firewall, which accepts nothing."""
    net1, net2 = site.network(), site.network()
    a1 = site.boot("a1", net1, "10.99.0.1", [OTHER])
    b1 = site.boot("b1", net1, "10.99.0.2", port_security=False)
    a2 = site.boot("a2", net2, "10.99.0.1", [OTHER])
    b2 = site.boot("b2", net2, "10.99.0.2", port_security=False)
    site.apply()
    assert site.udp_received(a1, 5000, b1, 6000)  # a1's flow: 10.99.0.1:5000 -> .2:6000
    assert not site.udp_received(b2, 6000, a2, 5000)  # its "reply", on the other network
    assert site.udp_received(b1, 6000, a1, 5000)  # the real reply passes
    assert site.udp_received(a2, 5000, b2, 6000)  # the same flow on net2: its own entry
    zones = render.allocate_zones([names.bridge_name(net1), names.bridge_name(net2)],
                                  site.fw.read_kernel().zones)  # type: ignore[union-attr]
    listed = namespaces.execute(["conntrack", "-L", "-p", "udp"], site.host.ns).stdout
    flow = "src=10.99.0.1 dst=10.99.0.2 sport=5000 dport=6000"
    entries = [ln for ln in listed.splitlines() if flow in ln]
    assert sorted(ln.split("zone=")[1].split()[0] for ln in entries) == sorted(
        str(zones[names.bridge_name(n)]) for n in (net1, net2)), listed


def test_reload_and_restart_keep_an_established_connection(site: Site) -> None:
    net = site.network()
    srv = site.boot("srv", net, "10.99.0.10", [SG])
    cli = site.boot("cli", net, "10.99.0.20", [SG])
    site.members = {SG: [srv.ip, cli.ip]}
    site.apply()
    site.tcp_server(srv, 22)
    conn = site.connect(cli, srv, 22)
    # a rule change rewrites the group's chains (one transaction)
    site.groups[SG] = [*DEFAULT_RULES, {"id": "x", "direction": "ingress",
                                        "ethertype": "IPv4", "protocol": "udp",
                                        "port_range_min": 53, "port_range_max": 53}]
    result = site.apply()
    assert result.changed and not result.full
    assert conn.echo("after a rule change")
    # a new port changes the structure: both tables replaced (one transaction)
    site.boot("other", net, "10.99.0.30", [SG])
    assert site.apply().full
    assert conn.echo("after reload")
    # a restarted agent (a new firewall object) finds the kernel right and changes nothing
    fresh = NftablesFirewall(site.host.ns)
    result = fresh.converge(parse_host_state(site.state()), from_kernel=True)
    assert not result.changed
    assert conn.echo("after restart")
    # even the tables recreated from scratch (zones read back) keep it
    namespaces.execute(["nft", "delete", "table", "bridge", render.TABLE], site.host.ns)
    assert NftablesFirewall(site.host.ns).converge(
        parse_host_state(site.state()), from_kernel=True).full
    assert conn.echo("after recreate")


def test_address_pair_with_its_own_mac_is_checked_as_a_pair(site: Site) -> None:
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG])
    b = site.boot("b", net, "10.99.0.2", port_security=False)
    pair_mac = "fa:16:3e:77:77:77"
    site.port(a)["allowed_address_pairs"] = [{"ip_address": "10.99.0.100",
                                              "mac_address": pair_mac}]
    site.members = {SG: [a.ip]}
    site.apply()
    assert reaches(a.ns, b.ip)
    # the pair's MAC with the pair's address: allowed
    namespaces.execute(["ip", "link", "set", "eth0", "address", pair_mac], a.ns)
    namespaces.execute(["ip", "addr", "add", "10.99.0.100/24", "dev", "eth0"], a.ns)
    namespaces.execute(["ip", "neigh", "flush", "all"], b.ns)
    ping_from = ["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", "-I"]
    assert namespaces.execute([*ping_from, "10.99.0.100", b.ip], a.ns,
                              check=False).returncode == 0
    # the pair's MAC with the port's own address: not a pair
    namespaces.execute(["conntrack", "-F"], site.host.ns, check=False)
    assert namespaces.execute([*ping_from, a.ip, b.ip], a.ns, check=False).returncode != 0


def test_noop_driver_removes_the_tables(site: Site) -> None:
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG])
    c = site.boot("c", net, "10.99.0.3", [OTHER])
    site.members = {SG: [a.ip]}
    site.apply()
    assert not reaches(c.ns, a.ip, count=2)
    NoopFirewall(site.host.ns).converge(parse_host_state(site.state()),
                                        from_kernel=True)
    assert render.TABLE not in namespaces.execute(["nft", "list", "tables"],
                                                  site.host.ns).stdout
    assert reaches(c.ns, a.ip)


def test_ipv6_members_talk_and_spoofed_ipv6_sources_are_dropped(site: Site) -> None:
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG])
    b = site.boot("b", net, "10.99.0.2", [SG])
    c = site.boot("c", net, "10.99.0.3", [OTHER])
    v6 = {"a": "fd00:99::1", "b": "fd00:99::2", "c": "fd00:99::3"}
    for inst in (a, b, c):
        namespaces.execute(["ip", "addr", "add", f"{v6[inst.name]}/64", "dev", "eth0",
                            "nodad"], inst.ns)
        site.port(inst)["fixed_ips"].append({"subnet_id": "s6",
                                             "ip_address": v6[inst.name]})
    site.apply()
    state = site.state()
    state["remote_groups"] = {SG: {"IPv4": [a.ip, b.ip], "IPv6": [v6["a"], v6["b"]]}}
    site.fw.converge(parse_host_state(state), from_kernel=False)
    ping6 = ["ping", "-6", "-n", "-c", "2", "-i", "0.2", "-W", "1"]

    def ok(src: Instance, dst: str, *extra: str) -> bool:
        return namespaces.execute([*ping6, *extra, dst], src.ns, check=False).returncode == 0

    assert ok(a, v6["b"]) and ok(b, v6["a"])
    assert not ok(c, v6["a"])  # not a member
    namespaces.execute(["ip", "addr", "add", "fd00:99::77/64", "dev", "eth0", "nodad"], a.ns)
    assert not ok(a, v6["b"], "-I", "fd00:99::77")  # not a's address


def test_arp_with_a_spoofed_sender_is_dropped(site: Site) -> None:
    if shutil.which("arping") is None:
        pytest.skip("`arping` not found (apt: iputils-arping)")
    net = site.network()
    a = site.boot("a", net, "10.99.0.1", [SG])
    b = site.boot("b", net, "10.99.0.2", port_security=False)
    site.members = {SG: [a.ip]}
    site.apply()

    def arping(source: str) -> bool:
        return namespaces.execute(["arping", "-c", "2", "-w", "2", "-I", "eth0", "-s", source,
                                   b.ip], a.ns, check=False).returncode == 0

    assert arping(a.ip)
    namespaces.execute(["ip", "addr", "add", "10.99.0.66/24", "dev", "eth0"], a.ns)
    assert not arping("10.99.0.66")
    # port security off: anything goes
    site.port(a)["port_security_enabled"] = False
    site.apply()
    assert arping("10.99.0.66")
