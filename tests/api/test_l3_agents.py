"""The server side of the L3 agent protocol (docs/agent-protocol.md, "L3"), with agents
simulated over a real RabbitMQ (tests/support/agents_bus.py): router scheduling on
create and on report_state, the router ports bound on the agent's host,
get_host_state for "L3 agent", the {"routers": [...]} hints and
update_floatingip_statuses."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from neutrino import protocol
from neutrino.bus import Bus
from tests.api.l3_support import add_interface, external_net, network, ok, port, router, subnet
from tests.support.agents_bus import (
    LINUXBRIDGE,
    BusEnv,
    SimAgent,
    lb_configurations,
    require_rabbit,
    retire,
    wait_until,
)
from tests.support.neutron import Api
from tests.support.server import Server, project_headers

L3 = "L3 agent"
ENV = BusEnv("l3")
SERVER_CONF = ENV.server_conf(agent_down_time=4)
L3_CONF = {"agent_mode": "legacy", "routers": 0, "ex_gw_ports": 0, "interfaces": 0,
           "floating_ips": 0, "interface_driver": "linuxbridge"}

Factory = Callable[..., SimAgent]


@pytest.fixture(scope="module")
def bus() -> Iterator[Bus]:
    require_rabbit()
    try:
        yield ENV.bus()
    finally:
        ENV.cleanup()


@pytest.fixture
def agents(bus: Bus, server: Server) -> Iterator[Factory]:
    made: list[SimAgent] = []

    def make(agent_type: str, host: str, *, beat: bool = True) -> SimAgent:
        conf = L3_CONF if agent_type == L3 else lb_configurations(
            f"192.0.2.{len(made) + 10}")
        a = SimAgent(bus, host, agent_type, dict(conf))
        made.append(a)
        if beat:
            a.start_heartbeat()
            assert wait_until(lambda: _agent_row(server, a)), f"{agent_type} not registered"
        return a

    yield make
    retire(Api(server, project_headers("admin-project", admin=True)), made)


def _agent_row(server: Server, a: SimAgent) -> dict[str, Any] | None:
    rows = ok(server, "GET", f"/v2.0/agents?host={a.host}&agent_type="
                             f"{quote(a.agent_type)}")["agents"]
    return rows[0] if rows and rows[0]["alive"] else None


def l3_state(a: SimAgent, router_ids: list[str] | None = None) -> dict[str, Any]:
    return a.bus.call("plugin", {"method": "get_host_state", "args": {
        "host": a.host, "agent_type": L3, "router_ids": router_ids}}, timeout=30)


def _router_ports(server: Server, router_id: str) -> list[dict[str, Any]]:
    return ok(server, "GET", f"/v2.0/ports?device_id={router_id}")["ports"]


def _hinted_routers(a: SimAgent) -> list[Any]:
    return [h["routers"] for h in a.take_hints() if "routers" in h]


def test_scheduling_binding_state_and_statuses(server: Server, agents: Factory) -> None:
    host = f"net-{uuid.uuid4().hex[:8]}"
    h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
    ext, ext_sub = external_net(server, "203.0.113.0/24", gateway_ip="203.0.113.1")
    net = network(server, headers=h)
    sub = subnet(server, net, "10.90.0.0/24", h)
    # created while no L3 agent lives: unscheduled, its ports unbound
    r = router(server, h, external_gateway_info={"network_id": ext["id"]})
    add_interface(server, r["id"], h, subnet_id=sub["id"])
    assert {p["binding:host_id"] for p in _router_ports(server, r["id"])} == {""}

    lb = agents(LINUXBRIDGE, host)
    l3 = agents(L3, host)  # its first report schedules the router here

    def bound() -> bool:
        ports = _router_ports(server, r["id"])
        return len(ports) == 2 and all(
            p["binding:host_id"] == host and p["binding:vif_type"] == "bridge"
            for p in ports)

    assert wait_until(bound), _router_ports(server, r["id"])
    assert wait_until(lambda: any(x is None or r["id"] in x for x in _hinted_routers(l3)))
    # the L2 agent of that host wires them like any port
    ports = {p["device_owner"]: p for p in _router_ports(server, r["id"])}
    lb_state = lb.state()
    wired = {p["id"] for n in lb_state["networks"] for p in n["ports"]}
    assert {p["id"] for p in ports.values()} <= wired
    lb.device_up(*[p["id"] for p in ports.values()])
    assert wait_until(lambda: all(p["status"] == "ACTIVE"
                                  for p in _router_ports(server, r["id"])))

    vm = port(server, net, h)
    fip = ok(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "port_id": vm["id"]}}, h)["floatingip"]
    spare = ok(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"]}}, h)["floatingip"]
    assert wait_until(lambda: [r["id"]] in _hinted_routers(l3))
    ok(server, "PUT", f"/v2.0/routers/{r['id']}", {"router": {"routes": [
        {"destination": "172.30.0.0/16", "nexthop": "10.90.0.254"}]}}, h)

    state = l3_state(l3)
    assert state["host"] == host
    [rs] = [x for x in state["routers"] if x["id"] == r["id"]]
    gw, iface = ports["network:router_gateway"], ports["network:router_interface"]
    assert rs["project_id"] == r["project_id"] and rs["admin_state_up"] is True
    assert rs["gateway"] == {
        "port_id": gw["id"], "mac_address": gw["mac_address"], "network_id": ext["id"],
        "mtu": ext["mtu"], "enable_snat": True,
        "fixed_ips": [{"subnet_id": ext_sub["id"],
                       "ip_address": gw["fixed_ips"][0]["ip_address"], "prefixlen": 24,
                       "cidr": "203.0.113.0/24"}],
        "gateway_ips": ["203.0.113.1"], "ipv4_address_scope": None}
    assert rs["interfaces"] == [{
        "port_id": iface["id"], "mac_address": iface["mac_address"], "network_id": net["id"],
        "mtu": net["mtu"], "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.90.0.1",
                                          "prefixlen": 24, "cidr": "10.90.0.0/24"}],
        "ipv4_address_scope": None}]
    assert rs["routes"] == [{"destination": "172.30.0.0/16", "nexthop": "10.90.0.254"}]
    # associated floating IPs only
    assert rs["floating_ips"] == [{
        "id": fip["id"], "floating_ip_address": fip["floating_ip_address"],
        "fixed_ip_address": vm["fixed_ips"][0]["ip_address"], "port_id": vm["id"]}]
    assert rs["port_forwardings"] == []
    assert l3_state(l3, [str(uuid.uuid4())])["routers"] == []
    assert [x["id"] for x in l3_state(l3, [r["id"]])["routers"]] == [r["id"]]

    # the agent reports the floating IP programmed
    l3.cast("update_floatingip_statuses", host=host, router_id=r["id"],
            statuses={fip["id"]: "ACTIVE", spare["id"]: "ACTIVE"})

    def fip_status(fid: str) -> str:
        return ok(server, "GET", f"/v2.0/floatingips/{fid}")["floatingip"]["status"]

    assert wait_until(lambda: fip_status(fip["id"]) == "ACTIVE")
    assert fip_status(spare["id"]) == "DOWN"  # not on that router: left alone
    # disassociated: DOWN at once, gone from the state, the agent told
    l3.take_hints()
    ok(server, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {"port_id": None}}, h)
    assert fip_status(fip["id"]) == "DOWN"
    assert l3_state(l3, [r["id"]])["routers"][0]["floating_ips"] == []
    assert wait_until(lambda: [r["id"]] in _hinted_routers(l3))

    # an admin-down router is listed admin-down
    ok(server, "PUT", f"/v2.0/routers/{r['id']}", {"router": {"admin_state_up": False}}, h)
    assert l3_state(l3, [r["id"]])["routers"][0]["admin_state_up"] is False

    # deleting the router: its agent is told
    for f in (fip, spare):
        ok(server, "DELETE", f"/v2.0/floatingips/{f['id']}", headers=h)
    ok(server, "PUT", f"/v2.0/routers/{r['id']}", {"router": {
        "external_gateway_info": None, "routes": []}}, h)
    ok(server, "PUT", f"/v2.0/routers/{r['id']}/remove_router_interface",
       {"subnet_id": sub["id"]}, h)
    l3.take_hints()
    ok(server, "DELETE", f"/v2.0/routers/{r['id']}", headers=h)
    assert wait_until(lambda: [r["id"]] in _hinted_routers(l3))
    assert l3_state(l3, [r["id"]])["routers"] == []


def test_scheduled_on_create_to_the_least_loaded(server: Server, agents: Factory) -> None:
    h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
    one = agents(L3, f"a-{uuid.uuid4().hex[:8]}")
    two = agents(L3, f"b-{uuid.uuid4().hex[:8]}")
    first = router(server, h)
    on_first = {x["id"] for x in l3_state(one)["routers"]} | {
        x["id"] for x in l3_state(two)["routers"]}
    assert first["id"] in on_first
    second = router(server, h)
    a_ids = {x["id"] for x in l3_state(one)["routers"]}
    b_ids = {x["id"] for x in l3_state(two)["routers"]}
    # one each: the second went to the agent without routers
    assert {first["id"], second["id"]} <= a_ids | b_ids
    assert len({first["id"], second["id"]} & a_ids) == 1
    # an interface added later is bound to the router's host, and its agent hinted
    owner = one if first["id"] in a_ids else two
    owner.take_hints()
    net = network(server, headers=h)
    sub = subnet(server, net, "10.91.0.0/24", h)
    info = add_interface(server, first["id"], h, subnet_id=sub["id"])
    p = ok(server, "GET", f"/v2.0/ports/{info['port_id']}")["port"]
    assert p["binding:host_id"] == owner.host
    assert wait_until(lambda: [first["id"]] in _hinted_routers(owner))
    ok(server, "PUT", f"/v2.0/routers/{first['id']}/remove_router_interface",
       {"port_id": info["port_id"]}, h)
    for r in (first, second):
        ok(server, "DELETE", f"/v2.0/routers/{r['id']}", headers=h)


def test_bad_status_reports_are_refused(server: Server, agents: Factory, bus: Bus) -> None:
    a = agents(L3, f"c-{uuid.uuid4().hex[:8]}")
    with pytest.raises(Exception):  # noqa: B017  (a RemoteError of the bus)
        bus.call("plugin", {"method": "update_floatingip_statuses", "args": {
            "host": a.host, "router_id": str(uuid.uuid4()),
            "statuses": {str(uuid.uuid4()): "BROKEN"}}}, timeout=30)
    reply = bus.call("plugin", {"method": "update_floatingip_statuses", "args": {
        "host": a.host, "router_id": str(uuid.uuid4()),
        "statuses": {str(uuid.uuid4()): "ACTIVE"}}}, timeout=30)
    assert reply == {"version": protocol.VERSION, "changed": []}
