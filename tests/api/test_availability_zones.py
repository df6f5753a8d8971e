"""Availability zones over HTTP (availability_zone, availability_zone_filter,
network_availability_zone, router_availability_zone), with agents simulated over a real
RabbitMQ reporting their zones: the zone list and its filters, networks' and routers'
hints (checked, stored, shown) and zones, and DHCP and L3 scheduling within the hints."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from neutrino.bus import Bus
from tests.support.agents_bus import (
    DHCP,
    LINUXBRIDGE,
    BusEnv,
    SimAgent,
    disable_agents,
    lb_configurations,
    retire,
    wait_until,
)
from tests.support.neutron import Api, expect_error

L3 = "L3 agent"
ENV = BusEnv("availability-zones")
SERVER_CONF = ENV.server_conf(agent_down_time=20, dhcp_agents_per_network=1)
CONF = {DHCP: {"dhcp_driver": "dnsmasq"}, L3: {"agent_mode": "legacy"}}


class Zones:
    """Heartbeating agents in zones of the test's own (unique names)."""

    def __init__(self, bus: Bus, admin: Api) -> None:
        self.bus, self.admin = bus, admin
        self.made: list[SimAgent] = []
        self.tag = uuid.uuid4().hex[:6]

    def zone(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def agent(self, agent_type: str, zone: str | None, host: str | None = None
              ) -> SimAgent:
        conf = CONF.get(agent_type) or lb_configurations(f"192.0.2.{len(self.made) + 10}")
        a = SimAgent(self.bus, host or f"h-{uuid.uuid4().hex[:10]}", agent_type, dict(conf),
                     availability_zone=zone)
        self.made.append(a)
        a.start_heartbeat(0.5)
        wait_until(lambda: self.row(a), what=f"{agent_type} on {a.host} registered")
        return a

    def row(self, a: SimAgent) -> dict[str, Any] | None:
        rows = self.admin.list("agents", f"host={a.host}&agent_type={quote(a.agent_type)}")
        return rows[0] if rows and rows[0]["alive"] else None


@pytest.fixture
def zones(bus: Bus, admin: Api) -> Iterator[Zones]:
    disable_agents(admin, DHCP)
    disable_agents(admin, L3)
    z = Zones(bus, admin)
    try:
        yield z
    finally:
        retire(admin, z.made)


def az_list(api: Api, query: str = "") -> list[dict[str, Any]]:
    status, body = api.request("GET", "/v2.0/availability_zones" + (f"?{query}" if query
                                                                      else ""))
    assert status == 200 and set(body) == {"availability_zones"}, body
    return list(body["availability_zones"])


def test_zones_of_agents_listed_and_filtered(admin: Api, member: Api, zones: Zones) -> None:
    az1, az2, az3 = zones.zone("az1"), zones.zone("az2"), zones.zone("az3")
    zones.agent(DHCP, az1)
    zones.agent(DHCP, az2)
    zones.agent(L3, az1)
    zones.agent(LINUXBRIDGE, az2)  # L2 agents make no zone
    down = zones.agent(DHCP, az3)
    admin.update("agents", zones.row(down)["id"], admin_state_up=False)  # type: ignore[index]
    ours = f"name={az1}&name={az2}&name={az3}"
    assert sorted(az_list(admin, ours), key=lambda z: (z["name"], z["resource"])) == [
        {"name": az1, "resource": "network", "state": "available"},
        {"name": az1, "resource": "router", "state": "available"},
        {"name": az2, "resource": "network", "state": "available"},
        {"name": az3, "resource": "network", "state": "unavailable"}]
    # anyone may read them (Neutron's role:reader)
    assert len(az_list(member, ours)) == 4
    assert {(z["name"], z["resource"]) for z in az_list(admin, f"{ours}&resource=router")
            } == {(az1, "router")}
    assert [z["name"] for z in az_list(admin, f"{ours}&state=unavailable")] == [az3]
    assert az_list(admin, f"name={az1}&resource=network") == [
        {"name": az1, "resource": "network", "state": "available"}]
    assert az_list(admin, f"{ours}&resource=nothing") == []
    assert az_list(admin, f"{ours}&fields=name&resource=router") == [{"name": az1}]
    names = [z["name"] for z in az_list(admin, f"{ours}&resource=network&sort_key=name"
                                                 f"&sort_dir=desc")]
    assert names == [az3, az2, az1]
    expect_error(admin.request("GET", "/v2.0/availability_zones?colour=red"), 400,
                 "HTTPBadRequest")
    assert admin.request("POST", "/v2.0/availability_zones", {})[0] == 405
    # the agents show their zone
    assert zones.row(down)["availability_zone"] == az3  # type: ignore[index]


def test_network_hints(admin: Api, zones: Zones) -> None:
    az1, az2, l3_only = zones.zone("n1"), zones.zone("n2"), zones.zone("l3")
    l2_1, l2_2 = zones.agent(LINUXBRIDGE, None), zones.agent(LINUXBRIDGE, None)
    zones.agent(DHCP, az1, host=l2_1.host)
    in_2 = zones.agent(DHCP, az2, host=l2_2.host)
    zones.agent(L3, l3_only)

    net = admin.network(availability_zone_hints=[az2])
    assert (net["availability_zone_hints"], net["availability_zones"]) == ([az2], [])
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.3.0/24")
    # scheduled in its zone only, whichever agent is less loaded
    assert wait_until(lambda: admin.get("networks", net["id"])[1]["network"][
        "availability_zones"] == [az2])
    assert {n["id"] for n in in_2.state()["networks"]} >= {net["id"]}
    plain = admin.network()
    assert (plain["availability_zone_hints"], plain["availability_zones"]) == ([], [])
    shown = admin.list("networks", f"id={net['id']}&id={plain['id']}"
                                   "&sort_key=availability_zone_hints&sort_dir=asc")
    assert [n["id"] for n in shown] == [plain["id"], net["id"]]
    # hints sorted, as Neutron stores them
    both = admin.network(availability_zone_hints=[az2, az1])
    assert both["availability_zone_hints"] == sorted([az1, az2])

    before = len(admin.list("networks"))
    for bad, status, type_ in (
            ([str(uuid.uuid4())], 404, "AvailabilityZoneNotFound"),
            ([l3_only], 404, "AvailabilityZoneNotFound"),  # a zone of routers only
            ("nova", 400, "HTTPBadRequest"),
            ([az1, az1], 400, "HTTPBadRequest"),
            ([1], 400, "HTTPBadRequest"),
            ([f"z{i:03}" for i in range(60)], 400, "InvalidInput")):
        expect_error(admin.post("networks", {"availability_zone_hints": bad}), status, type_)
    assert len(admin.list("networks")) == before  # nothing half-made
    expect_error(admin.post("networks", {"availability_zone_hints": [str(uuid.uuid4())]}),
                 404, "AvailabilityZoneNotFound", contains="could not be found")
    expect_error(admin.put("networks", net["id"], {"availability_zone_hints": [az1]}), 400,
                 "HTTPBadRequest")
    expect_error(admin.request("GET", "/v2.0/networks?availability_zones=x"), 400,
                 "HTTPBadRequest")


def test_a_network_hinted_where_no_agent_lives_waits(admin: Api, zones: Zones) -> None:
    az_off = zones.zone("off")
    l2_off, l2_elsewhere = zones.agent(LINUXBRIDGE, None), zones.agent(LINUXBRIDGE, None)
    off = zones.agent(DHCP, az_off, host=l2_off.host)
    zones.agent(DHCP, zones.zone("elsewhere"), host=l2_elsewhere.host)
    off_id = zones.row(off)["id"]  # type: ignore[index]
    admin.update("agents", off_id, admin_state_up=False)
    net = admin.network(availability_zone_hints=[az_off])
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.4.0/24")
    # the agent of another zone does not take it (Neutron: unscheduled)
    status, body = admin.request("GET", f"/v2.0/networks/{net['id']}/dhcp-agents")
    assert (status, body) == (200, {"agents": []})
    admin.update("agents", off_id, admin_state_up=True)  # until one there is enabled
    assert wait_until(lambda: admin.get("networks", net["id"])[1]["network"][
        "availability_zones"] == [az_off])


def test_router_hints(admin: Api, zones: Zones) -> None:
    az1, az2, dhcp_only = zones.zone("r1"), zones.zone("r2"), zones.zone("dhcp")
    zones.agent(L3, az1)
    in_2 = zones.agent(L3, az2)
    zones.agent(DHCP, dhcp_only)
    in_2_id = zones.row(in_2)["id"]  # type: ignore[index]

    router = admin.create("routers", name="r", availability_zone_hints=[az2])
    assert (router["availability_zone_hints"], router["availability_zones"]) == ([az2], [az2])
    status, body = admin.request("GET", f"/v2.0/routers/{router['id']}/l3-agents")
    assert status == 200, body
    assert [a["id"] for a in body["agents"]] == [in_2_id]
    plain = admin.create("routers", name="p")
    assert plain["availability_zone_hints"] == []
    expect_error(admin.post("routers", {"name": "x", "availability_zone_hints": [dhcp_only]}),
                 404, "AvailabilityZoneNotFound",
                 f"AvailabilityZone {dhcp_only} could not be found.")
    expect_error(admin.put("routers", router["id"], {"availability_zone_hints": [az1]}),
                 400, "HTTPBadRequest")

    # with its zone's only agent disabled, a router waits; enabled, it gets it
    admin.update("agents", in_2_id, admin_state_up=False)
    waiting = admin.create("routers", name="w", availability_zone_hints=[az2])
    assert waiting["availability_zones"] == []
    admin.update("agents", in_2_id, admin_state_up=True)
    assert wait_until(lambda: admin.get("routers", waiting["id"])[1]["router"][
        "availability_zones"] == [az2])
