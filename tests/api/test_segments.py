"""Segments and routed networks over HTTP (the ``segments`` service plugin): /v2.0/segments
as Neutron's (attributes, admin-only policy, errors, type-driver allocation), subnets on
segments (all or none, subnet-segmentid-writable, SegmentInUse), peer-subnet host routes,
l2_adjacency, and ip_allocation: a routed network's port without a host gets no address
until its host is known, then one of the subnet of the segment its host's agent reaches
(reported over a real RabbitMQ, as agents do)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import openstack
import pytest

from neutrino.bus import Bus
from tests.support.agents_bus import LINUXBRIDGE, BusEnv, SimAgent, lb_configurations
from tests.support.neutron import Api, expect_error
from tests.support.server import Server
from tests.support.wait import wait_until

ENV = BusEnv("segments")
SERVER_CONF = ENV.server_conf(service_plugins="router,segments")
SERVER_CONF["ml2_type_vlan"] = {"network_vlan_ranges": "seg-vlan:100:102"}
SEGMENT_KEYS = {"id", "network_id", "name", "description", "physical_network",
                "network_type", "segmentation_id", "created_at", "updated_at",
                "revision_number", "tags"}


def _physnet() -> str:
    return f"seg-{uuid.uuid4().hex[:8]}"


def _flat_network(admin: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    """A network of one flat segment (its own physical network), and that segment."""
    net = admin.network(**{"provider:network_type": "flat",
                           "provider:physical_network": _physnet()})
    [seg] = admin.list("segments", f"network_id={net['id']}")
    return net, seg


def _routed(admin: Api) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A routed network: two flat segments, a subnet on each."""
    net, seg_a = _flat_network(admin)
    seg_b = admin.create("segments", network_id=net["id"], network_type="flat",
                         physical_network=_physnet())
    sub_a = admin.subnet(net["id"], "10.71.1.0/24", segment_id=seg_a["id"])
    sub_b = admin.subnet(net["id"], "10.71.2.0/24", segment_id=seg_b["id"])
    return net, [seg_a, seg_b], [sub_a, sub_b]


@pytest.fixture(autouse=True)
def _cleanup(admin: Api) -> Iterator[None]:
    """What a test creates goes after it: the VLAN range is small."""
    before = {n["id"] for n in admin.list("networks", "fields=id")}
    yield
    for net in admin.list("networks", "fields=id"):
        if net["id"] not in before:
            for port in admin.list("ports", f"network_id={net['id']}&fields=id"):
                admin.delete("ports", port["id"])
            admin.delete("networks", net["id"])


# --- /v2.0/segments -------------------------------------------------------------------------
def test_extensions_advertised(admin: Api) -> None:
    status, body = admin.request("GET", "/v2.0/extensions")
    assert status == 200
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"segment", "standard-attr-segment", "subnet-segmentid-writable",
            "segments-peer-subnet-host-routes", "ip_allocation", "l2_adjacency"} <= aliases


def test_segment_crud_and_network_view(admin: Api) -> None:
    net, first = _flat_network(admin)
    assert set(first) == SEGMENT_KEYS
    assert (first["network_type"], first["segmentation_id"]) == ("flat", None)
    assert first["name"] is None and first["description"] is None
    # no segmentation_id: the VLAN type driver allocates one of the range
    seg = admin.create("segments", network_id=net["id"], network_type="vlan",
                       physical_network="seg-vlan", name="s1", tenant_id="ignored")
    assert set(seg) == SEGMENT_KEYS
    assert seg["segmentation_id"] in (100, 101, 102)
    assert (seg["name"], seg["description"], seg["revision_number"]) == ("s1", None, 1)
    status, body = admin.get("segments", seg["id"])
    assert status == 200 and body["segment"] == seg
    # the network's multi-provider view is its segments, in order
    status, body = admin.get("networks", net["id"])
    assert [s["provider:network_type"] for s in body["network"]["segments"]] == ["flat", "vlan"]
    assert "provider:network_type" not in body["network"]
    assert body["network"]["l2_adjacency"] is True
    # only name and description change; a change is a revision
    updated = admin.update("segments", seg["id"], name="s2", description="d")
    assert (updated["name"], updated["description"], updated["revision_number"]) == \
        ("s2", "d", 2)
    status, body = admin.put("segments", seg["id"], {"segmentation_id": 101})
    assert status == 400, body
    assert {s["id"] for s in admin.list("segments", "network_type=vlan&name=s2")} == \
        {seg["id"]}
    # standard-attr-tag: segments carry tags, filtered on as any others'
    status, body = admin.request("PUT", f"/v2.0/segments/{seg['id']}/tags", {"tags": ["red"]})
    assert status == 200, body
    assert [s["id"] for s in admin.list("segments", "tags=red")] == [seg["id"]]
    assert admin.get("segments", seg["id"])[1]["segment"]["revision_number"] == 3
    # deleted: the VLAN id is free again, the network back to one segment
    admin.remove("segments", seg["id"])
    expect_error(admin.get("segments", seg["id"]), 404, "SegmentNotFound",
                 f"Segment {seg['id']} could not be found.")
    again = admin.create("segments", network_id=net["id"], network_type="vlan",
                         physical_network="seg-vlan", segmentation_id=seg["segmentation_id"])
    admin.remove("segments", again["id"])
    status, body = admin.get("networks", net["id"])
    assert body["network"]["provider:network_type"] == "flat"


def test_segment_errors(admin: Api) -> None:
    net, _ = _flat_network(admin)
    missing = str(uuid.uuid4())
    expect_error(admin.post("segments", {"network_id": missing, "network_type": "flat",
                                         "physical_network": _physnet()}),
                 404, "NetworkNotFound", f"Network {missing} could not be found.")
    status, body = admin.post("segments", {"network_id": net["id"]})
    assert status == 400, body  # network_type is required
    taken = admin.create("segments", network_id=net["id"], network_type="vlan",
                         physical_network="seg-vlan", segmentation_id=102)
    status, body = admin.post("segments", {"network_id": net["id"], "network_type": "vlan",
                                           "physical_network": "seg-vlan",
                                           "segmentation_id": 102})
    assert status == 409, body
    admin.remove("segments", taken["id"])
    expect_error(admin.delete("segments", missing), 404, "SegmentNotFound")


def test_segments_are_for_admins(admin: Api, member: Api) -> None:
    net = member.network()
    status, body = member.post("segments", {"network_id": net["id"], "network_type": "flat",
                                            "physical_network": _physnet()})
    assert status == 403, body
    assert member.list("segments") == []
    [seg] = admin.list("segments", f"network_id={net['id']}")
    assert member.get("segments", seg["id"])[0] == 404


def test_a_member_names_only_its_own_network_s_segments(admin: Api, member: Api) -> None:
    """create_subnet:segment_id is inert as in Neutron (no enforce_policy), so a member may
    put its subnet on a segment of its own network; another network's segment is not found
    for it (404), not NetworkIdsDontMatch, which would confirm that the id exists."""
    net = member.network()
    [seg] = admin.list("segments", f"network_id={net['id']}")
    _, other_seg = _flat_network(admin)
    expect_error(member.post("subnets", {"network_id": net["id"], "cidr": "10.72.1.0/24",
                                         "ip_version": 4, "segment_id": other_seg["id"]}),
                 404, "SegmentNotFound")
    sub = member.subnet(net["id"], "10.72.1.0/24", segment_id=seg["id"])
    assert admin.get("subnets", sub["id"])[1]["subnet"]["segment_id"] == seg["id"]


# --- subnets on segments ---------------------------------------------------------------------
def test_routed_network_subnets(admin: Api, member: Api) -> None:
    net, segs, subs = _routed(admin)
    assert [s["segment_id"] for s in subs] == [segs[0]["id"], segs[1]["id"]]
    # all or none of the network's subnets on segments
    expect_error(admin.post("subnets", {"network_id": net["id"], "cidr": "10.71.3.0/24",
                                        "ip_version": 4}),
                 400, "SubnetsNotAllAssociatedWithSegments")
    other, other_seg = _flat_network(admin)
    expect_error(admin.post("subnets", {"network_id": net["id"], "cidr": "10.71.3.0/24",
                                        "ip_version": 4, "segment_id": other_seg["id"]}),
                 400, "NetworkIdsDontMatch")
    missing = str(uuid.uuid4())
    expect_error(admin.post("subnets", {"network_id": net["id"], "cidr": "10.71.3.0/24",
                                        "ip_version": 4, "segment_id": missing}),
                 404, "SegmentNotFound")
    # a segment with subnets stays
    message = expect_error(admin.delete("segments", segs[1]["id"]), 409, "SegmentInUse")
    assert message == (f"Segment '{segs[1]['id']}' cannot be deleted: The segment is still "
                       f"associated with subnet(s) {subs[1]['id']}.")
    # routed: not L2-adjacent
    status, body = admin.get("networks", net["id"])
    assert body["network"]["l2_adjacency"] is False
    status, body = admin.get("networks", other["id"])
    assert body["network"]["l2_adjacency"] is True
    # segment_id is for admins to see (get_subnet:segment_id)
    status, body = member.get("subnets", subs[0]["id"])
    assert status == 404  # not the member's network


def test_peer_subnet_host_routes(admin: Api) -> None:
    _net, _segs, subs = _routed(admin)
    routes = {s["id"]: admin.get("subnets", s["id"])[1]["subnet"]["host_routes"]
              for s in subs}
    assert routes == {subs[0]["id"]: [{"destination": "10.71.2.0/24", "nexthop": "10.71.1.1"}],
                      subs[1]["id"]: [{"destination": "10.71.1.0/24", "nexthop": "10.71.2.1"}]}
    # the second subnet's own create answered with its routes
    assert subs[1]["host_routes"] == routes[subs[1]["id"]]
    # a new gateway: the routes follow it
    admin.update("subnets", subs[1]["id"], gateway_ip="10.71.2.254",
                 allocation_pools=[{"start": "10.71.2.2", "end": "10.71.2.200"}])
    assert admin.get("subnets", subs[1]["id"])[1]["subnet"]["host_routes"] == \
        [{"destination": "10.71.1.0/24", "nexthop": "10.71.2.254"}]
    # a subnet gone: the routes to it go
    admin.remove("subnets", subs[1]["id"])
    assert admin.get("subnets", subs[0]["id"])[1]["subnet"]["host_routes"] == []


def test_segment_id_writable(admin: Api) -> None:
    net, seg = _flat_network(admin)
    sub = admin.subnet(net["id"], "10.72.0.0/24")
    assert sub["segment_id"] is None
    moved = admin.update("subnets", sub["id"], segment_id=seg["id"])
    assert moved["segment_id"] == seg["id"]
    assert moved["revision_number"] == sub["revision_number"] + 1
    # once on a segment, it stays there
    other = admin.create("segments", network_id=net["id"], network_type="flat",
                         physical_network=_physnet())
    expect_error(admin.put("subnets", sub["id"], {"segment_id": other["id"]}), 400,
                 "SubnetSegmentAssociationChangeNotAllowed")
    # a network of several segments: an existing subnet joins none
    net2, seg2 = _flat_network(admin)
    admin.create("segments", network_id=net2["id"], network_type="flat",
                 physical_network=_physnet())
    sub2 = admin.subnet(net2["id"], "10.72.1.0/24")
    expect_error(admin.put("subnets", sub2["id"], {"segment_id": seg2["id"]}), 400,
                 "NoUpdateSubnetWhenMultipleSegmentsOnNetwork")


def test_network_delete_takes_its_segments(admin: Api) -> None:
    net, segs, _ = _routed(admin)
    admin.remove("networks", net["id"])
    for seg in segs:
        assert admin.get("segments", seg["id"])[0] == 404


# --- ip_allocation -----------------------------------------------------------------------------
@pytest.fixture
def agents(bus: Bus) -> Iterator[list[SimAgent]]:
    made: list[SimAgent] = []
    yield made
    for a in made:
        a.close()


def _agent_reaching(admin: Api, bus: Bus, made: list[SimAgent], physnet: str) -> str:
    """A host whose Linux bridge agent maps ``physnet``, registered by the server."""
    host = f"host-{uuid.uuid4().hex[:10]}"
    a = SimAgent(bus, host, LINUXBRIDGE, lb_configurations(None, {physnet: "eth1"}))
    made.append(a)
    a.report(start_flag=True)
    wait_until(lambda: admin.list("agents", f"host={host}&agent_type={quote(LINUXBRIDGE)}"),
               what=f"agent on {host} registered")
    return host


def test_ip_allocation_deferred_until_bound(admin: Api, bus: Bus,
                                            agents: list[SimAgent]) -> None:
    net, segs, subs = _routed(admin)
    host = _agent_reaching(admin, bus, agents, segs[1]["physical_network"])
    # no host: no address yet
    port = admin.port(net["id"])
    assert (port["fixed_ips"], port["ip_allocation"]) == ([], "deferred")
    assert admin.get("ports", port["id"])[1]["port"]["ip_allocation"] == "deferred"
    # bound: an address of the subnet on the segment the host reaches
    bound = admin.update("ports", port["id"], **{"binding:host_id": host})
    assert [ip["subnet_id"] for ip in bound["fixed_ips"]] == [subs[1]["id"]]
    assert bound["fixed_ips"][0]["ip_address"].startswith("10.71.2.")
    # a host reaching none of the segments
    expect_error(admin.post("ports", {"network_id": net["id"], "binding:host_id": "nowhere"}),
                 409, "HostNotConnectedToAnySegment")
    # created on the host: its address at once
    now = admin.port(net["id"], **{"binding:host_id": host})
    assert now["ip_allocation"] == "immediate"
    assert [ip["subnet_id"] for ip in now["fixed_ips"]] == [subs[1]["id"]]
    # moving a port to a host that does not reach its address's segment
    other_host = _agent_reaching(admin, bus, agents, segs[0]["physical_network"])
    expect_error(admin.put("ports", now["id"], {"binding:host_id": other_host}), 409,
                 "HostNotCompatibleWithFixedIps")
    # fixed_ips [] asked: none
    bare = admin.port(net["id"], fixed_ips=[])
    assert (bare["fixed_ips"], bare["ip_allocation"]) == ([], "none")
    assert admin.list("ports", f"ip_allocation=none&network_id={net['id']}")[0]["id"] == \
        bare["id"]


def test_ip_allocation_immediate_on_plain_networks(admin: Api) -> None:
    net = admin.network()
    admin.subnet(net["id"], "10.73.0.0/24")
    port = admin.port(net["id"])
    assert port["ip_allocation"] == "immediate" and len(port["fixed_ips"]) == 1


def test_openstacksdk_segments(server: Server, admin: Api) -> None:
    """What openstacksdk's functional TestSegment does, through the SDK itself."""
    net = admin.network()
    conn = openstack.connection.Connection(auth_type="none",
                                           network_endpoint_override=f"{server.url}/")
    try:
        assert conn.network.find_extension("segment") is not None
        [seg] = [s for s in conn.network.segments() if s.network_id == net["id"]]
        got = conn.network.get_segment(seg.id)
        assert (got.name, got.network_type, got.segmentation_id) == \
            (None, net["provider:network_type"], net["provider:segmentation_id"])
        assert seg.id in [s.id for s in conn.network.segments(name=None)]
        assert conn.network.update_segment(seg.id, description="update").description == \
            "update"
        made = conn.network.create_segment(description="test description", name="test name",
                                           network_id=net["id"], network_type="geneve",
                                           segmentation_id=2055)
        assert (made.description, made.name, made.network_type, made.physical_network,
                made.segmentation_id) == ("test description", "test name", "geneve", None,
                                          2055)
        assert conn.network.delete_segment(made.id) is None
    finally:
        conn.close()


def test_slaac_subnet_on_a_segment_serves_that_segment_s_ports(
        admin: Api, bus: Bus, agents: list[SimAgent]) -> None:
    net, segs, subs = _routed(admin)
    host = _agent_reaching(admin, bus, agents, segs[1]["physical_network"])
    bound = admin.port(net["id"], **{"binding:host_id": host})
    deferred = admin.port(net["id"])
    slaac = {"ip_version": 6, "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}
    # on the other segment: neither port gets an address there
    admin.subnet(net["id"], "2001:db8:71:1::/64", segment_id=segs[0]["id"], **slaac)
    # on the host's segment: the bound port gets its EUI-64 address, not the waiting one
    on_b = admin.subnet(net["id"], "2001:db8:71:2::/64", segment_id=segs[1]["id"], **slaac)
    got = {ip["subnet_id"] for ip in admin.get("ports", bound["id"])[1]["port"]["fixed_ips"]}
    assert got == {subs[1]["id"], on_b["id"]}
    assert admin.get("ports", deferred["id"])[1]["port"]["fixed_ips"] == []
