"""Security groups through the Linux bridge agent: hints, the narrowed get_host_state and
the firewall, on two simulated hosts, against a stub of the server (stub_server.py) that
also speaks the security-group additions of docs/agent-protocol.md."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neutrino.agent.l2.firewall import render
from neutrino.agent.l2.linuxbridge import LinuxBridgeAgent
from neutrino.agent.linux import names, namespaces
from neutrino.bus import make_bus
from neutrino.config import make_conf
from tests.dataplane.agent_helpers import reaches, wait_for, wait_reaches
from tests.dataplane.conftest import Features
from tests.dataplane.stub_server import Port, StubServer
from tests.dataplane.test_linuxbridge_agent import Cloud
from tests.dataplane.topology import Topology

SG = "5e0c1a00-0000-4000-8000-0000000000a1"
OTHER = "5e0c1a00-0000-4000-8000-0000000000a2"
OPEN = "5e0c1a00-0000-4000-8000-0000000000a3"  # ingress from anywhere
EGRESS_ANY = [{"id": "e4", "direction": "egress", "ethertype": "IPv4"},
              {"id": "e6", "direction": "egress", "ethertype": "IPv6"}]
RULES = {SG: [*EGRESS_ANY, {"id": "i4", "direction": "ingress", "ethertype": "IPv4",
                            "remote_group_id": SG}],
         OTHER: list(EGRESS_ANY),
         OPEN: [*EGRESS_ANY, {"id": "o4", "direction": "ingress", "ethertype": "IPv4"}]}


@pytest.fixture(autouse=True)
def _need_vxlan(features: Features) -> None:
    features.require("vxlan")


class SgStubServer(StubServer):
    """StubServer plus security groups: ports' groups, rules, remote-group members."""

    def __post_init__(self) -> None:
        self.groups_of: dict[str, list[str]] = {}
        self.network_delay = 0.0
        self.rules = {g: list(r) for g, r in RULES.items()}
        super().__post_init__()

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        args = req.get("args") or {}
        if req.get("method") == "get_host_state" and not args.get("security_group_ids"):
            time.sleep(self.network_delay)  # a slow server (outside the lock)
        if req.get("method") == "get_host_state" and args.get("security_group_ids"):
            with self.lock:
                self.calls.append(("get_security_groups", args))
                return {"host": args["host"],
                        **self._sg(args["host"], set(args["security_group_ids"]))}
        return super().handle(req)

    def _sg(self, host: str, only: set[str] | None) -> dict[str, Any]:
        local = {g for p in self.ports.values() if p.host == host
                 for g in self.groups_of.get(p.id, ())}
        groups = {g: {"rules": self.rules[g]} for g in local if only is None or g in only}
        referenced = {r["remote_group_id"] for g in local for r in self.rules[g]
                      if r.get("remote_group_id")}
        remote = {g: {"IPv4": sorted(p.ip for p in self.ports.values()
                                     if g in self.groups_of.get(p.id, ())), "IPv6": []}
                  for g in referenced if only is None or g in only}
        return {"security_groups": groups, "remote_groups": remote}

    def _host_state(self, host: str, network_ids: Any) -> dict[str, Any]:
        out = super()._host_state(host, network_ids)
        for net in out["networks"]:
            for p in net["ports"]:
                p["port_security_enabled"] = True
                p["security_groups"] = list(self.groups_of.get(p["id"], ()))
                p["allowed_address_pairs"] = []
        out.update(self._sg(host, None))
        return out


@pytest.fixture
def sg_cloud(topology: Callable[[], Topology]) -> Iterator[Cloud]:
    topo = topology()
    url = f"inprocess://sg-{uuid.uuid4().hex[:8]}"
    server_bus = make_bus(make_conf([], overrides={"DEFAULT": {"transport_url": url}}))
    c = Cloud(topo, SgStubServer(server_bus), url)
    for i in range(2):
        h = topo.host(f"h{i + 1}")
        c.hosts[h.name] = h
    try:
        yield c
    finally:
        for name in list(c.agents):
            c.stop_agent(name)
        c.server.close()
        c.server.bus.close()


def _server(c: Cloud) -> SgStubServer:
    assert isinstance(c.server, SgStubServer)
    return c.server


def _boot(c: Cloud, name: str, net: Any, host: str, ip: str, groups: list[str], *,
          hints: dict[str, Any] | None = None) -> tuple[str, Port]:
    # the groups must be known before the port's hint makes the agent wire it
    pid_groups = _server(c).groups_of
    orig = c.server.add_port

    def add_port(*a: Any, **kw: Any) -> Port:
        port = Port(str(uuid.uuid4()), a[0].id, a[1], a[2], a[3])
        pid_groups[port.id] = list(groups)
        with c.server.lock:
            c.server.ports[port.id] = port
        if hints is None:
            c.server.hint(port.network_id)
        else:  # the one message the real server sends for a port in groups
            c.server.bus.publish(f"host.{port.host}", hints)
        return port

    c.server.add_port = add_port  # type: ignore[method-assign]
    try:
        return c.boot(name, net, host, ip)
    finally:
        c.server.add_port = orig  # type: ignore[method-assign]


def test_membership_hint_updates_only_the_set_and_port_removal_drops_its_chains(
        sg_cloud: Cloud) -> None:
    c = sg_cloud
    server = _server(c)
    for h in c.hosts:
        c.start_agent(h)
    net = c.server.add_network("vxlan", segmentation_id=1201)
    a_ns, a = _boot(c, "a", net, "h1", "10.99.0.1", [SG])
    b_ns, b = _boot(c, "b", net, "h2", "10.99.0.2", [SG])
    c_ns, cp = _boot(c, "c", net, "h2", "10.99.0.3", [OTHER])
    c.wait_active(a, b, cp)
    c.settle()
    wait_reaches(b_ns, "10.99.0.1")  # members of the group, across hosts
    assert reaches(a_ns, "10.99.0.2")
    assert not reaches(c_ns, "10.99.0.1", count=2)  # outside the group

    agent: LinuxBridgeAgent = c.agents["h1"]
    bridge_calls = len([m for m, _ in server.calls if m == "get_host_state"])
    # c joins SG: h1 hears only {"security_groups": [SG]}
    with server.lock:
        server.groups_of[cp.id] = [OTHER, SG]
    server.bus.publish("host.h1", {"security_groups": [SG]})
    wait_for(lambda: "10.99.0.3" in namespaces.execute(
        ["nft", "list", "set", "inet", render.TABLE, f"rg4-{SG}"], c.hosts["h1"].ns).stdout,
        5, what="member in the set")
    c.settle()
    assert agent.firewall.last_script.strip() == \
        f"add element inet {render.TABLE} rg4-{SG} {{ 10.99.0.3 }}"
    assert len([m for m, _ in server.calls if m == "get_host_state"]) == bridge_calls
    assert any(m == "get_security_groups" and a["security_group_ids"] == [SG]
               for m, a in server.calls)
    assert reaches(c_ns, "10.99.0.1")

    with server.lock:
        server.groups_of[cp.id] = [OTHER]
    server.bus.publish("host.h1", {"security_groups": [SG]})
    wait_for(lambda: "10.99.0.3" not in namespaces.execute(
        ["nft", "list", "set", "inet", render.TABLE, f"rg4-{SG}"], c.hosts["h1"].ns).stdout,
        5, what="member gone from the set")
    assert not reaches(c_ns, "10.99.0.1", count=2)

    # a restarted agent finds its firewall converged and sends nothing to nft
    c.stop_agent("h1")
    agent = c.start_agent("h1")
    wait_for(lambda: agent.full_resync_count >= 1, 10, what="first resync")
    assert agent.firewall.last_script == ""
    assert reaches(b_ns, "10.99.0.1")

    # the port goes: its chains go with it
    tap = names.tap_name(a.id)
    assert f"sp-{tap}" in namespaces.execute(["nft", "list", "ruleset"],
                                             c.hosts["h1"].ns).stdout
    c.server.delete_port(a)
    wait_for(lambda: f"sp-{tap}" not in namespaces.execute(
        ["nft", "list", "ruleset"], c.hosts["h1"].ns).stdout, 10, what="chains removed")


def test_a_port_in_a_new_group_gets_its_rules_at_once(sg_cloud: Cloud) -> None:
    """The server hints {"networks": [..], "security_groups": [..]} for a new port; the
    security-group thread may fetch before the network resync has the port (and then
    drops the group as unused): the network resync's rules for it must still count."""
    c = sg_cloud
    server = _server(c)
    c.start_agent("h1")
    net = c.server.add_network("vxlan", segmentation_id=1202)
    _boot(c, "a", net, "h1", "10.99.0.1", [OTHER])
    c.settle()
    # network replies slower than security-group ones: the group's fetch starts later
    # and returns first, before the agent knows the port
    server.network_delay = 0.5
    port = Port(str(uuid.uuid4()), net.id, "h1", "fa:16:3e:00:0a:03", "10.99.0.3")
    with server.lock:
        server.groups_of[port.id] = [OPEN]
        server.ports[port.id] = port
    server.bus.publish("host.h1", {"networks": [net.id], "security_groups": [OPEN]})

    def rules_in_place() -> bool:
        out = namespaces.execute(["nft", "list", "chain", "inet", render.TABLE,
                                  f"sgi-{OPEN}"], c.hosts["h1"].ns, check=False).stdout
        return "meta nfproto ipv4 accept" in out

    wait_for(rules_in_place, 5, what="the new group's rules")  # not the 30 s resync
