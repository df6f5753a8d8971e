"""Pure parts of routed networks: the host routes a subnet gets to its peers on other
segments (Neutron's _calculate_routed_network_host_routes), and the physical networks
an agent's configurations map (what ties a host to segments)."""

from __future__ import annotations

import json

from neutrino.core.ipam.routed import physnets_of
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
            "device_mappings": {}, "tunnel_types": ["vxlan"]}
    assert physnets_of(json.dumps(conf)) == {"physnet1", "p2"}
    assert physnets_of(None) == set()
    assert physnets_of("not json") == set()
    assert physnets_of(json.dumps({"bridge_mappings": ["physnet1"]})) == set()
