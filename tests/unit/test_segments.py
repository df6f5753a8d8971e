"""Pure parts of routed networks: the host routes a subnet gets to its peers on other
segments (Neutron's _calculate_routed_network_host_routes), and the physical networks
an agent's configurations map and which segments a mechanism driver wires through an
agent (what ties a host to segments: Neutron's check_segment_for_agent)."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.config import make_conf
from neutrino.core.mech.linuxbridge import LinuxbridgeMechanismDriver
from neutrino.core.mech.manager import MechanismManager
from neutrino.core.mech.openvswitch import OpenvswitchMechanismDriver
from neutrino.services.segments.host_mappings import HostMappings, _configurations, physnets_of
from neutrino.services.segments.peer_routes import Peer, with_peer_routes

OWN = Peer("a", "seg-a", 4, "10.0.1.0/24")
PEERS = [OWN, Peer("b", "seg-b", 4, "10.0.2.0/24"), Peer("c", "seg-a", 4, "10.0.3.0/24"),
         Peer("d", "seg-c", 6, "2001:db8::/64"), Peer("e", "seg-c", 4, "10.0.4.0/24")]


def route(dest: str, hop: str) -> dict[str, str]:
    return {"destination": dest, "nexthop": hop}


def test_routes_to_peers_on_other_segments_of_the_same_version() -> None:
    assert with_peer_routes([], OWN, "10.0.1.1", PEERS) == [
        route("10.0.2.0/24", "10.0.1.1"), route("10.0.4.0/24", "10.0.1.1")]


def test_a_covering_route_is_kept_and_nothing_added_for_it() -> None:
    given = [route("10.0.0.0/16", "10.0.1.254")]
    assert with_peer_routes(given, OWN, "10.0.1.1", PEERS) == given


def test_no_gateway_no_routes() -> None:
    assert with_peer_routes([], OWN, None, PEERS) == []


def test_a_new_gateway_replaces_the_old_one() -> None:
    old = [route("10.0.2.0/24", "10.0.1.1"), route("10.0.4.0/24", "10.0.1.1"),
           route("192.0.2.0/24", "10.0.1.1")]
    assert with_peer_routes(old, OWN, "10.0.1.2", PEERS, old_gateway="10.0.1.1") == [
        route("192.0.2.0/24", "10.0.1.1"), route("10.0.2.0/24", "10.0.1.2"),
        route("10.0.4.0/24", "10.0.1.2")]


def test_the_route_to_a_deleted_subnet_goes() -> None:
    old = [route("10.0.2.0/24", "10.0.1.1"), route("10.0.9.0/24", "10.0.1.1")]
    peers = [p for p in PEERS if p.id != "e"]
    assert with_peer_routes(old, OWN, "10.0.1.1", peers, deleted_cidr="10.0.9.0/24") == [
        route("10.0.2.0/24", "10.0.1.1")]


def test_physnets_of_agent_configurations() -> None:
    conf = {"bridge_mappings": {"physnet1": "br-ex"}, "interface_mappings": {"p2": "eth1"},
            "device_mappings": {"p3": ["ens1"]}, "tunnel_types": ["vxlan"]}
    assert physnets_of(conf) == {"physnet1", "p2", "p3"}
    assert physnets_of({}) == set()
    assert physnets_of({"bridge_mappings": ["physnet1"]}) == set()
    assert _configurations(None) == {} and _configurations("not json") == {}
    assert _configurations("[1]") == {}


def _agent(agent_type: str, **conf: Any) -> dict[str, Any]:
    return {"agent_type": agent_type, "host": "h", "configurations": conf}


def _segment(network_type: str, physnet: str | None = None) -> dict[str, Any]:
    return {"id": "s", "network_id": "n", "network_type": network_type,
            "physical_network": physnet, "segmentation_id": None}


LB, OVS = "Linux bridge agent", "Open vSwitch agent"


@pytest.mark.parametrize(("segment", "agent", "wired"), [
    (_segment("flat", "p1"), _agent(LB, interface_mappings={"p1": "eth1"}), True),
    (_segment("vlan", "p1"), _agent(LB, bridge_mappings={"p1": "br1"}), True),
    (_segment("vlan", "p2"), _agent(LB, interface_mappings={"p1": "eth1"}), False),
    (_segment("vxlan"), _agent(LB, tunnel_types=["vxlan"]), True),
    (_segment("gre"), _agent(LB, tunnel_types=["vxlan"]), False),
    (_segment("local"), _agent(LB), True),
    (_segment("vlan", "p1"), _agent(OVS, bridge_mappings={"p1": "br-p1"}), True),
    (_segment("geneve"), _agent(OVS, tunnel_types=["geneve"]), True),
    # no driver binds through a DHCP agent, whatever it reports
    (_segment("flat", "p1"), _agent("DHCP agent", bridge_mappings={"p1": "br1"}), False),
])
def test_check_segment_for_agent(segment: dict[str, Any], agent: dict[str, Any],
                                 wired: bool) -> None:
    conf = make_conf()
    manager = MechanismManager(conf, [LinuxbridgeMechanismDriver(conf),
                                      OpenvswitchMechanismDriver(conf)])
    assert manager.check_segment_for_agent(segment, agent) is wired
    assert manager.agent_types() == {LB, OVS}


def test_a_driver_checks_only_its_own_agents() -> None:
    only_lb = MechanismManager(make_conf(), [LinuxbridgeMechanismDriver(make_conf())])
    agent = _agent(OVS, bridge_mappings={"p1": "br-p1"})
    assert not only_lb.check_segment_for_agent(_segment("flat", "p1"), agent)


def test_a_report_syncs_its_host_only_when_what_it_reaches_may_change() -> None:
    conf = make_conf()
    mappings = HostMappings(MechanismManager(conf, [LinuxbridgeMechanismDriver(conf)]))
    before = _agent(LB, interface_mappings={"p1": "eth1"}, tunnel_types=[], devices=3)
    mappings.synced.add("h")
    assert not mappings.needs_sync(before, {**before}, False)
    # a Linux bridge agent's device count changes with every port: no sync
    assert not mappings.needs_sync(before, _agent(LB, interface_mappings={"p1": "eth1"},
                                                  tunnel_types=[], devices=4), False)
    assert mappings.needs_sync(before, _agent(LB, interface_mappings={"p2": "eth1"},
                                              tunnel_types=[], devices=3), False)
    assert mappings.needs_sync(before, _agent(LB, interface_mappings={"p1": "eth1"},
                                              tunnel_types=["vxlan"], devices=3), False)
    assert mappings.needs_sync(before, before, True)  # restarted
    assert mappings.needs_sync(None, before, False)  # new
    # a host this process has not synced yet
    assert mappings.needs_sync(before, {**before, "host": "other"}, False)
    # agents no driver binds with never sync
    dhcp = _agent("DHCP agent", bridge_mappings={"p1": "br"})
    assert not mappings.needs_sync(None, dhcp, True)
