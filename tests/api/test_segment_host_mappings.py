"""Which hosts reach which segments (segmenthostmappings) over HTTP, with agents reporting
over a real RabbitMQ to two API processes: kept from the agents' reports (their mappings,
for agent types a mechanism driver binds with) and from segments created afterwards,
read by routed networks' IP allocation; and DHCP scheduled per segment of a routed
network, as Neutron's scheduler with segments: agents of the hosts of each segment, each
DHCP port and agent on its own segments' subnets."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from neutrino.bus import Bus
from tests.support.agents_bus import (
    DHCP,
    BusEnv,
    SimAgent,
    disable_agents,
    lb_configurations,
    live_agents,
)
from tests.support.neutron import Api, expect_error
from tests.support.wait import wait_until

ENV = BusEnv("seghost")
SERVER_CONF = ENV.server_conf(service_plugins="router,segments", api_workers=2,
                              dhcp_agents_per_network=1)
Factory = Callable[..., SimAgent]


@pytest.fixture
def agents(bus: Bus, admin: Api) -> Iterator[Factory]:
    """Heartbeating simulated agents (Linux bridge by default, mapping nothing); other
    tests' DHCP agents out of scheduling."""
    disable_agents(admin, DHCP)
    with live_agents(bus, admin, lambda _t, _i: lb_configurations(None, {}),
                     interval=0.3) as make:
        yield make


def _physnet() -> str:
    return f"sh-{uuid.uuid4().hex[:8]}"


def _routed(admin: Api, n: int = 2
            ) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A routed network of ``n`` flat segments (physical networks of their own), a
    subnet 10.9x.k.0/24 on each."""
    net = admin.network(**{"provider:network_type": "flat",
                           "provider:physical_network": _physnet()})
    [first] = admin.list("segments", f"network_id={net['id']}")
    segs = [first] + [admin.create("segments", network_id=net["id"], network_type="flat",
                                   physical_network=_physnet()) for _ in range(n - 1)]
    octet = 90 + uuid.uuid4().int % 9
    subs = [admin.subnet(net["id"], f"10.{octet}.{k}.0/24", segment_id=s["id"])
            for k, s in enumerate(segs)]
    return net, segs, subs


def _maps(*physnets: str) -> dict[str, Any]:
    return lb_configurations(None, {p: f"eth{k}" for k, p in enumerate(physnets)})


def _subnets_of_port_on(admin: Api, network_id: str, host: str) -> list[str]:
    port = admin.port(network_id, **{"binding:host_id": host})
    admin.delete("ports", port["id"])
    return [ip["subnet_id"] for ip in port["fixed_ips"]]


def _reconfigure(admin: Api, a: SimAgent, configurations: dict[str, Any]) -> None:
    """The agent reports other configurations (heartbeats, no start flag); returns once
    the server shows them."""
    a.configurations = configurations

    def shown() -> bool:
        [row] = admin.list("agents", f"host={a.host}&agent_type={quote(a.agent_type)}")
        return bool(row["configurations"] == configurations)

    wait_until(shown, what=f"{a.host}'s new configurations")


def _dhcp_hosts(admin: Api, network_id: str) -> set[str]:
    status, body = admin.request("GET", f"/v2.0/networks/{network_id}/dhcp-agents")
    assert status == 200, body
    return {a["host"] for a in body["agents"]}


# --- mappings from agents' reports ------------------------------------------------------------
def test_a_host_reaches_the_segments_its_agent_maps(admin: Api, agents: Factory) -> None:
    net, segs, subs = _routed(admin, 3)
    a = agents(configurations=_maps(segs[1]["physical_network"]))
    assert _subnets_of_port_on(admin, net["id"], a.host) == [subs[1]["id"]]
    # the agent maps other physical networks now: the host's segments follow
    _reconfigure(admin, a, _maps(segs[0]["physical_network"], segs[2]["physical_network"]))
    # (an IPv4 address of one of the host's subnets, as Neutron allocates)
    [got] = _subnets_of_port_on(admin, net["id"], a.host)
    assert got in (subs[0]["id"], subs[2]["id"])
    expect_error(admin.post("ports", {"network_id": net["id"], "binding:host_id": a.host,
                                      "fixed_ips": [{"subnet_id": subs[1]["id"]}]}),
                 400, "InvalidInput", contains="fixed_ips included invalid subnet")
    for sub in (subs[0], subs[2]):
        port = admin.port(net["id"], fixed_ips=[{"subnet_id": sub["id"]}],
                          **{"binding:host_id": a.host})
        admin.delete("ports", port["id"])
    _reconfigure(admin, a, _maps())
    expect_error(admin.post("ports", {"network_id": net["id"], "binding:host_id": a.host}),
                 409, "HostNotConnectedToAnySegment")


def test_only_agents_a_mechanism_driver_binds_with_map_segments(
        admin: Api, agents: Factory) -> None:
    """A DHCP agent (no mechanism driver binds through it) reporting bridge mappings gives
    its host no segment; the host's Linux bridge agent does."""
    net, segs, subs = _routed(admin)
    dhcp = agents(DHCP, {"bridge_mappings": {segs[0]["physical_network"]: "br-x"}})
    expect_error(admin.post("ports", {"network_id": net["id"], "binding:host_id": dhcp.host}),
                 409, "HostNotConnectedToAnySegment")
    agents(configurations=_maps(segs[0]["physical_network"]), host=dhcp.host)
    assert _subnets_of_port_on(admin, net["id"], dhcp.host) == [subs[0]["id"]]


def test_new_segments_are_mapped_to_the_hosts_already_reporting(
        admin: Api, agents: Factory) -> None:
    physnet, other = _physnet(), _physnet()
    a = agents(configurations=_maps(physnet))
    # a network created on the physical network: its segment is the host's at once
    net = admin.network(**{"provider:network_type": "flat",
                           "provider:physical_network": physnet})
    [seg_a] = admin.list("segments", f"network_id={net['id']}")
    # a segment added on it and on another physical network (no host there)
    seg_b = admin.create("segments", network_id=net["id"], network_type="flat",
                         physical_network=other)
    sub_a = admin.subnet(net["id"], "10.99.1.0/24", segment_id=seg_a["id"])
    sub_b = admin.subnet(net["id"], "10.99.2.0/24", segment_id=seg_b["id"])
    assert _subnets_of_port_on(admin, net["id"], a.host) == [sub_a["id"]]
    b = agents(configurations=_maps(other))
    assert _subnets_of_port_on(admin, net["id"], b.host) == [sub_b["id"]]
    # a deleted segment's mappings go with it: a new one on the same physical network
    # is mapped afresh, the host keeps reaching it
    admin.remove("subnets", sub_b["id"])
    admin.remove("segments", seg_b["id"])
    seg_c = admin.create("segments", network_id=net["id"], network_type="flat",
                         physical_network=other)
    sub_c = admin.subnet(net["id"], "10.99.3.0/24", segment_id=seg_c["id"])
    assert _subnets_of_port_on(admin, net["id"], b.host) == [sub_c["id"]]


# --- DHCP per segment ---------------------------------------------------------------------------
def _dhcp_port(a: SimAgent, network_id: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        nets = [n for n in a.state()["networks"] if n["id"] == network_id]
        return nets[0] if nets and nets[0]["dhcp_port"] else None

    return wait_until(found, what=f"{a.host}'s DHCP port on {network_id}")


def test_dhcp_agents_are_scheduled_per_segment(admin: Api, agents: Factory) -> None:
    net, segs, subs = _routed(admin, 3)
    physnets = [s["physical_network"] for s in segs]
    hosts = []
    for physnet in physnets[:2]:
        l2 = agents(configurations=_maps(physnet))
        agents(DHCP, {"dhcp_driver": "dnsmasq"}, host=l2.host)
        hosts.append(l2.host)
    # a DHCP agent of a host that reaches none of the segments is never chosen
    agents(DHCP, {"dhcp_driver": "dnsmasq"})
    # one agent per segment (dhcp_agents_per_network 1), of that segment's hosts
    wait_until(lambda: _dhcp_hosts(admin, net["id"]) == set(hosts),
               what="a DHCP agent on each segment reached")
    # each one's port has an address on its own segment's subnet only
    def ports() -> dict[str, list[str]]:
        return {p["binding:host_id"]: [ip["subnet_id"] for ip in p["fixed_ips"]]
                for p in admin.list("ports", f"network_id={net['id']}"
                                             "&device_owner=network:dhcp")}

    wait_until(lambda: ports() == {hosts[0]: [subs[0]["id"]], hosts[1]: [subs[1]["id"]]},
               what="the DHCP ports on their segments")
    # the third segment: its first host's DHCP agent comes before the host's L2 agent
    late = agents(DHCP, {"dhcp_driver": "dnsmasq"})
    assert late.host not in _dhcp_hosts(admin, net["id"])
    agents(configurations=_maps(physnets[2]), host=late.host)
    wait_until(lambda: _dhcp_hosts(admin, net["id"]) == {*hosts, late.host},
               what="the DHCP agent of the host that now reaches the third segment")
    # it serves that segment's subnet alone, from an address there
    served = _dhcp_port(late, net["id"])
    assert [s["id"] for s in served["subnets"]] == [subs[2]["id"]]
    assert [ip["subnet_id"] for ip in served["dhcp_port"]["fixed_ips"]] == [subs[2]["id"]]
    # a subnet without DHCP on the third segment changes nothing of it
    admin.subnet(net["id"], "10.89.7.0/24", segment_id=segs[2]["id"], enable_dhcp=False)
    assert _dhcp_hosts(admin, net["id"]) == {*hosts, late.host}
