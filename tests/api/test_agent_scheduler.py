"""dhcp_agent_scheduler and l3_agent_scheduler over HTTP (/agents/{id}/dhcp-networks,
/networks/{id}/dhcp-agents, /agents/{id}/l3-routers, /routers/{id}/l3-agents), with
agents simulated over a real RabbitMQ and two API processes: Neutron's checks and errors,
and a manual move that really moves the network or router (the agents' hints and host
state, the DHCP port and router ports following), and stays so through heartbeats."""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import pytest

from neutrino.bus import Bus
from neutrino.services.dhcp_scheduler import dhcp_device_id
from tests.support.agents_bus import (
    DHCP,
    LINUXBRIDGE,
    BusEnv,
    SimAgent,
    disable_agents,
    lb_configurations,
    live_agents,
    wait_until,
)
from tests.support.clock import CLOCK_CONF, ServerClock
from tests.support.neutron import Api, expect_error

L3 = "L3 agent"
DOWN_TIME = 5
ENV = BusEnv("agent-scheduler")
SERVER_CONF = ENV.server_conf(agent_down_time=DOWN_TIME, api_workers=2,
                              dhcp_agents_per_network=1, **CLOCK_CONF)
HOST_ID, VIF_TYPE = "binding:host_id", "binding:vif_type"
L3_CONF = {"agent_mode": "legacy", "routers": 0, "interface_driver": "linuxbridge"}

Factory = Callable[..., SimAgent]


@pytest.fixture
def agents(bus: Bus, admin: Api) -> Iterator[Factory]:
    """Heartbeating simulated agents; earlier DHCP and L3 agents are disabled first, so
    that only the test's own are chosen."""
    disable_agents(admin, DHCP)
    disable_agents(admin, L3)

    def configure(agent_type: str, index: int) -> dict[str, Any]:
        return {DHCP: {"dhcp_driver": "dnsmasq"}, L3: dict(L3_CONF)}.get(
            agent_type, lb_configurations(f"192.0.2.{index + 10}", {}))

    with live_agents(bus, admin, configure, default_type=DHCP, interval=0.3) as make:
        yield make


def agent_id(admin: Api, a: SimAgent) -> str:
    [row] = admin.list("agents", f"host={a.host}&agent_type={quote(a.agent_type)}")
    return str(row["id"])


def served(a: SimAgent) -> set[str]:
    return {n["id"] for n in a.state()["networks"]}


def dhcp_ports(admin: Api, network_id: str) -> list[dict[str, Any]]:
    return admin.list("ports", f"network_id={network_id}&device_owner=network:dhcp")


def heartbeats_handled(admin: Api, *agents: SimAgent) -> None:
    """Returns once the server has handled two rounds of heartbeats of each of
    ``agents`` sent after the call (the server's clock moves a second each round, well
    within agent_down_time, so that a handled heartbeat shows in its timestamp)."""
    def beats() -> dict[str, str]:
        return {f"{r['host']}/{r['agent_type']}": r["heartbeat_timestamp"] for a in agents
                for r in admin.list("agents", f"host={a.host}&agent_type="
                                              f"{quote(a.agent_type)}")}

    for _ in range(2):
        before = beats()
        ServerClock(admin.server).advance(1)
        wait_until(lambda before=before: all(now > before[k] for k, now in beats().items()),
                   what="a heartbeat of each agent handled")


def sub_list(api: Api, path: str, key: str) -> list[dict[str, Any]]:
    status, body = api.request("GET", f"/v2.0/{path}")
    assert status == 200 and set(body) == {key}, body
    return list(body[key])


def ids(api: Api, path: str, key: str) -> list[str]:
    return [x["id"] for x in sub_list(api, path, key)]


def sub_path(kind: str, parent_id: str, item: str | None = None) -> str:
    return f"/v2.0/{kind}/{parent_id}" + (f"/{item}" if item else "")


def test_dhcp_networks_move_by_hand(admin: Api, agents: Factory) -> None:
    l2_a, l2_b = agents(LINUXBRIDGE), agents(LINUXBRIDGE)
    first, second = agents(DHCP, host=l2_a.host), agents(DHCP, host=l2_b.host)
    net = admin.network(**{"provider:network_type": "vxlan"})
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.7.0/24")
    # scheduled by the server to one of them: a; the other is b
    [port] = wait_until(lambda: [p for p in dhcp_ports(admin, net["id"])
                                 if p[VIF_TYPE] != "unbound"])
    a, b = (first, second) if port[HOST_ID] == first.host else (second, first)
    l2_b = l2_b if b is second else l2_a
    a_id, b_id = agent_id(admin, a), agent_id(admin, b)
    assert port["device_id"] == dhcp_device_id(a.host, net["id"])
    assert served(a) == {net["id"]} and served(b) == set()
    assert ids(admin, f"agents/{a_id}/dhcp-networks", "networks") == [net["id"]]
    assert sub_list(admin, f"agents/{b_id}/dhcp-networks", "networks") == []
    shown = sub_list(admin, f"networks/{net['id']}/dhcp-agents", "agents")
    assert [(x["id"], x["host"], x["agent_type"]) for x in shown] == [(a_id, a.host, DHCP)]
    expect_error(admin.request("POST", sub_path("agents", a_id, "dhcp-networks"),
                               {"network_id": net["id"]}), 409, "NetworkHostedByDHCPAgent",
                 f"The network {net['id']} has been already hosted by the DHCP Agent {a_id}.")

    # off a: told, no longer served, its port kept reserved (as Neutron's)
    a.take_hints()
    assert admin.request("DELETE", sub_path("agents", a_id, f"dhcp-networks/{net['id']}")
                         ) == (204, None)
    assert wait_until(lambda: net["id"] in a.hinted_networks())
    assert served(a) == set()
    [reserved] = dhcp_ports(admin, net["id"])
    assert (reserved["id"], reserved["device_id"], reserved[HOST_ID]) == (
        port["id"], "reserved_dhcp_port", "")
    assert sub_list(admin, f"networks/{net['id']}/dhcp-agents", "agents") == []
    expect_error(admin.request("DELETE", sub_path("agents", a_id,
                                                  f"dhcp-networks/{net['id']}")),
                 409, "NetworkNotHostedByDhcpAgent",
                 f"The network {net['id']} is not hosted by the DHCP Agent {a_id}.")
    # heartbeats do not give it back (what an admin took off waits for an agent's restart)
    heartbeats_handled(admin, a, b)
    assert served(a) == served(b) == set()
    assert sub_list(admin, f"networks/{net['id']}/dhcp-agents", "agents") == []

    # onto b: the reserved port (same id, MAC, addresses) moves to b's host
    b.take_hints()
    assert admin.request("POST", sub_path("agents", b_id, "dhcp-networks"),
                         {"network_id": net["id"]}) == (201, None)
    assert wait_until(lambda: net["id"] in b.hinted_networks())
    assert served(b) == {net["id"]} and served(a) == set()
    [moved] = wait_until(lambda: [p for p in dhcp_ports(admin, net["id"])
                                  if p[HOST_ID] == b.host and p[VIF_TYPE] != "unbound"])
    assert (moved["id"], moved["mac_address"], moved["fixed_ips"]) == (
        port["id"], port["mac_address"], port["fixed_ips"])
    assert moved["device_id"] == dhcp_device_id(b.host, net["id"])
    [entry] = [p for n in l2_b.state([net["id"]])["networks"] for p in n["ports"]]
    assert entry["id"] == port["id"]  # b's L2 agent wires it

    # and to a as well, beyond dhcp_agents_per_network (Neutron's forced scheduling):
    # a new port for a, b keeps its own
    assert admin.request("POST", sub_path("agents", a_id, "dhcp-networks"),
                         {"network_id": net["id"]})[0] == 201
    assert served(a) == served(b) == {net["id"]}
    ports = wait_until(lambda: sorted((p["device_id"], p[HOST_ID]) for p in dhcp_ports(
        admin, net["id"])) if len(dhcp_ports(admin, net["id"])) == 2 else None)
    assert ports == sorted([(dhcp_device_id(a.host, net["id"]), a.host),
                            (dhcp_device_id(b.host, net["id"]), b.host)])
    assert set(ids(admin, f"networks/{net['id']}/dhcp-agents", "agents")) == {a_id, b_id}


def test_an_agent_enabled_takes_what_waits(admin: Api, agents: Factory) -> None:
    l2 = agents(LINUXBRIDGE)
    d = agents(DHCP, host=l2.host)
    d_id = agent_id(admin, d)
    admin.update("agents", d_id, admin_state_up=False)
    net = admin.network(**{"provider:network_type": "vxlan"})
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.6.0/24")
    heartbeats_handled(admin, d)
    # none could take it
    assert sub_list(admin, f"networks/{net['id']}/dhcp-agents", "agents") == []
    admin.update("agents", d_id, admin_state_up=True)  # Neutron's agent resyncs now
    assert wait_until(lambda: net["id"] in served(d))
    [port] = wait_until(lambda: dhcp_ports(admin, net["id"]))
    assert port["device_id"] == dhcp_device_id(d.host, net["id"])


def raw_post(api: Api, path: str, body: Any) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", api.server.port, timeout=60)
    try:
        conn.request("POST", path, body=json.dumps(body).encode(),
                     headers={"Content-Type": "application/json", **(api.headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_a_network_without_subnets_stays_with_its_agent(admin: Api, agents: Factory) -> None:
    l2 = agents(LINUXBRIDGE)
    d = agents(DHCP, host=l2.host)
    d_id = agent_id(admin, d)
    net = admin.network(**{"provider:network_type": "vxlan"})
    # Neutron's answer is the JSON null (clients such as tempest's decode it)
    assert raw_post(admin, sub_path("agents", d_id, "dhcp-networks"),
                    {"network_id": net["id"]}) == (201, b"null")
    heartbeats_handled(admin, d)
    # (networks of earlier tests, whose agents are gone, came to it too)
    assert net["id"] in {x["id"] for x in sub_list(admin, f"agents/{d_id}/dhcp-networks",
                                                 "networks")}
    assert dhcp_ports(admin, net["id"]) == []  # nothing to serve yet
    # its first subnet: the agent it has gets its port
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.8.0/24")
    [port] = wait_until(lambda: dhcp_ports(admin, net["id"]))
    assert port["device_id"] == dhcp_device_id(d.host, net["id"])


def test_dhcp_scheduler_errors(admin: Api, member: Api, agents: Factory) -> None:
    l2 = agents(LINUXBRIDGE)
    d = agents(DHCP, host=l2.host)
    l2_id, d_id = agent_id(admin, l2), agent_id(admin, d)
    net = admin.network()
    missing = str(uuid.uuid4())
    post = sub_path("agents", d_id, "dhcp-networks")
    expect_error(admin.request("POST", sub_path("agents", l2_id, "dhcp-networks"),
                               {"network_id": net["id"]}), 404, "InvalidDHCPAgent",
                 f"Agent {l2_id} is not a valid DHCP Agent or has been disabled.")
    expect_error(admin.request("POST", post, {"network_id": missing}), 404,
                 "NetworkNotFound")
    expect_error(admin.request("POST", sub_path("agents", missing, "dhcp-networks"),
                               {"network_id": net["id"]}), 404, "AgentNotFound")
    expect_error(admin.request("POST", post, {}), 400, "HTTPBadRequest")
    expect_error(admin.request("GET", sub_path("agents", missing, "dhcp-networks")), 404,
                 "AgentNotFound")
    expect_error(admin.request("DELETE", sub_path("agents", missing,
                                                  f"dhcp-networks/{net['id']}")),
                 404, "AgentNotFound")
    assert sub_list(admin, f"networks/{missing}/dhcp-agents", "agents") == []  # as Neutron
    assert sub_list(admin, f"agents/{l2_id}/dhcp-networks", "networks") == []
    admin.update("agents", d_id, admin_state_up=False)
    expect_error(admin.request("POST", post, {"network_id": net["id"]}), 404,
                 "InvalidDHCPAgent")
    # admins only (Neutron's rules): 403 whatever the ids
    own = member.network()
    for method, path, body in (
            ("GET", sub_path("agents", d_id, "dhcp-networks"), None),
            ("POST", post, {"network_id": own["id"]}),
            ("DELETE", sub_path("agents", d_id, f"dhcp-networks/{own['id']}"), None),
            ("GET", sub_path("networks", own["id"], "dhcp-agents"), None)):
        expect_error(member.request(method, path, body), 403, "PolicyNotAuthorized")
    assert sub_list(admin, f"networks/{own['id']}/dhcp-agents", "agents") == []
    assert admin.request("PUT", post, {})[0] == 405


def _router_with_interface(admin: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    net = admin.network(**{"provider:network_type": "vxlan"})
    sub = admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.9.0/24", enable_dhcp=False)
    router = admin.create("routers", name="r")
    status, body = admin.request("PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
                                 {"subnet_id": sub["id"]})
    assert status == 200, body
    return router, body


def l3_state(a: SimAgent, router_ids: list[str] | None = None) -> list[str]:
    state = a.bus.call("plugin", {"method": "get_host_state", "args": {
        "host": a.host, "agent_type": L3, "router_ids": router_ids}}, timeout=30)
    return [r["id"] for r in state["routers"]]


def hinted_routers(a: SimAgent) -> list[Any]:
    return [h["routers"] for h in a.take_hints() if "routers" in h]


def test_l3_routers_move_by_hand(admin: Api, agents: Factory) -> None:
    l2_a, l2_b = agents(LINUXBRIDGE), agents(LINUXBRIDGE)
    a, b = agents(L3, host=l2_a.host), agents(L3, host=l2_b.host)
    a_id, b_id = agent_id(admin, a), agent_id(admin, b)
    admin.update("agents", b_id, admin_state_up=False)  # the router goes to a
    router, iface = _router_with_interface(admin)
    rid = router["id"]
    assert ids(admin, f"routers/{rid}/l3-agents", "agents") == [a_id]
    assert rid in l3_state(a, [rid])
    assert ids(admin, f"agents/{a_id}/l3-routers", "routers") == [rid]
    admin.update("agents", b_id, admin_state_up=True)

    # hosted by a: b may not take it, a again is nothing
    expect_error(admin.request("POST", sub_path("agents", b_id, "l3-routers"),
                               {"router_id": rid}), 409, "RouterHostedByL3Agent",
                 f"The router {rid} has been already hosted by the L3 Agent {a_id}.")
    assert admin.request("POST", sub_path("agents", a_id, "l3-routers"),
                         {"router_id": rid}) == (201, None)

    # off a: a told, and its state has it no more; heartbeats do not give it back
    a.take_hints()
    assert admin.request("DELETE", sub_path("agents", a_id, f"l3-routers/{rid}")
                         ) == (204, None)
    assert wait_until(lambda: [rid] in hinted_routers(a))
    assert l3_state(a, [rid]) == []
    heartbeats_handled(admin, a, b)
    assert sub_list(admin, f"routers/{rid}/l3-agents", "agents") == []
    assert sub_list(admin, f"agents/{a_id}/l3-routers", "routers") == []
    # again: no binding, still 204 (as Neutron)
    assert admin.request("DELETE", sub_path("agents", a_id, f"l3-routers/{rid}"))[0] == 204

    # onto b: told, it has the router, and the router's port is bound on its host
    b.take_hints()
    assert admin.request("POST", sub_path("agents", b_id, "l3-routers"),
                         {"router_id": rid})[0] == 201
    assert wait_until(lambda: [rid] in hinted_routers(b))
    assert l3_state(b, [rid]) == [rid] and l3_state(a, [rid]) == []
    assert wait_until(lambda: admin.get("ports", iface["port_id"])[1]["port"][HOST_ID]
                      == b.host)
    shown = sub_list(admin, f"routers/{rid}/l3-agents", "agents")
    assert [(x["id"], x["agent_type"], x["host"]) for x in shown] == [(b_id, L3, b.host)]
    [listed] = sub_list(admin, f"agents/{b_id}/l3-routers", "routers")
    assert listed == admin.get("routers", rid)[1]["router"]


def test_l3_scheduler_errors(admin: Api, member: Api, agents: Factory) -> None:
    l2 = agents(LINUXBRIDGE)
    dvr = agents(L3, configurations={**L3_CONF, "agent_mode": "dvr"})
    l2_id, dvr_id = agent_id(admin, l2), agent_id(admin, dvr)
    router = admin.create("routers", name="r")
    missing = str(uuid.uuid4())
    expect_error(admin.request("POST", sub_path("agents", l2_id, "l3-routers"),
                               {"router_id": router["id"]}), 404, "InvalidL3Agent",
                 f"Agent {l2_id} is not a L3 Agent or has been disabled")
    expect_error(admin.request("POST", sub_path("agents", dvr_id, "l3-routers"),
                               {"router_id": router["id"]}), 409,
                 "DVRL3CannotAssignToDvrAgent")
    expect_error(admin.request("DELETE", sub_path("agents", dvr_id,
                                                  f"l3-routers/{router['id']}")),
                 409, "DVRL3CannotRemoveFromDvrAgent")
    expect_error(admin.request("POST", sub_path("agents", l2_id, "l3-routers"),
                               {"router_id": missing}), 404, "RouterNotFound")
    expect_error(admin.request("DELETE", sub_path("agents", l2_id, f"l3-routers/{missing}")),
                 404, "RouterNotFound")
    expect_error(admin.request("GET", sub_path("agents", missing, "l3-routers")), 404,
                 "AgentNotFound")
    assert sub_list(admin, f"routers/{missing}/l3-agents", "agents") == []
    own = member.create("routers", name="mine")
    for method, path, body in (
            ("GET", sub_path("agents", dvr_id, "l3-routers"), None),
            ("POST", sub_path("agents", dvr_id, "l3-routers"), {"router_id": own["id"]}),
            ("DELETE", sub_path("agents", dvr_id, f"l3-routers/{own['id']}"), None),
            ("GET", sub_path("routers", own["id"], "l3-agents"), None)):
        expect_error(member.request(method, path, body), 403, "PolicyNotAuthorized")


def test_agents_resources_synced_and_sort_keys(admin: Api, agents: Factory) -> None:
    made = [agents(LINUXBRIDGE) for _ in range(3)]
    hosts = sorted(a.host for a in made)
    query = "&".join(f"host={h}" for h in hosts)
    rows = admin.list("agents", f"{query}&sort_key=host&sort_dir=desc")
    assert [r["host"] for r in rows] == hosts[::-1]
    assert all(r["resources_synced"] is None for r in rows)  # no Placement sync yet
    for key in ("agent_type", "binary", "topic", "admin_state_up", "created_at",
                "started_at", "heartbeat_timestamp", "alive", "availability_zone",
                "description", "id"):
        assert len(admin.list("agents", f"{query}&sort_key={key}&sort_dir=asc")) == 3
    expect_error(admin.request("GET", f"/v2.0/agents?{query}&sort_key=configurations"),
                 400, "HTTPBadRequest")
    made[1].stop_heartbeat()
    clock = ServerClock(admin.server)
    clock.advance(DOWN_TIME + 1)

    def by_alive(direction: str, want: list[bool]) -> list[dict[str, Any]] | None:
        rows = admin.list("agents", f"{query}&sort_key=alive&sort_dir={direction}")
        if any(r["alive"] and r["host"] == made[1].host for r in rows):
            # a report cast before the stop was handled after the jump: jump again
            clock.advance(DOWN_TIME + 1)
            return None
        return rows if [r["alive"] for r in rows] == want else None

    # (once the two others' heartbeats are seen after the jump)
    rows = wait_until(lambda: by_alive("asc", [False, True, True]))
    assert rows[0]["host"] == made[1].host
    assert wait_until(lambda: by_alive("desc", [True, True, False]))[2]["host"] == made[1].host


def test_concurrent_manual_scheduling(admin: Api, agents: Factory) -> None:
    """Two API processes, requests at once: one network is added to an agent once (the
    others 409), one router ends on one agent (the requests for the other 409)."""
    d = agents(DHCP)
    l3_a, l3_b = agents(L3), agents(L3)
    d_id, a_id, b_id = agent_id(admin, d), agent_id(admin, l3_a), agent_id(admin, l3_b)
    net = admin.network()
    for x in (a_id, b_id):
        admin.update("agents", x, admin_state_up=False)
    router = admin.create("routers", name="contended")  # unscheduled: no L3 agent up
    for x in (a_id, b_id):
        admin.update("agents", x, admin_state_up=True)
    # (enabling them may have scheduled it: then take it off first)
    for x in ids(admin, f"routers/{router['id']}/l3-agents", "agents"):
        admin.remove(f"agents/{x}/l3-routers", router["id"])

    def add_net(_: int) -> int:
        return admin.request("POST", sub_path("agents", d_id, "dhcp-networks"),
                             {"network_id": net["id"]})[0]

    def add_router(i: int) -> tuple[str, int]:
        target = (a_id, b_id)[i % 2]
        return target, admin.request("POST", sub_path("agents", target, "l3-routers"),
                                     {"router_id": router["id"]})[0]

    with ThreadPoolExecutor(8) as pool:
        net_codes = list(pool.map(add_net, range(8)))
        router_codes = list(pool.map(add_router, range(8)))
    assert sorted(net_codes) == [201] + [409] * 7, net_codes
    assert ids(admin, f"networks/{net['id']}/dhcp-agents", "agents") == [d_id]
    [winner] = ids(admin, f"routers/{router['id']}/l3-agents", "agents")
    assert all(code == (201 if target == winner else 409) for target, code in router_codes)


def test_what_a_deleted_agent_served_goes_to_the_others(admin: Api, agents: Factory
                                                       ) -> None:
    l2_a, l2_b = agents(LINUXBRIDGE), agents(LINUXBRIDGE)
    dhcp_a, l3_a = agents(DHCP, host=l2_a.host), agents(L3, host=l2_a.host)
    net = admin.network(**{"provider:network_type": "vxlan"})
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.5.0/24")
    router, iface = _router_with_interface(admin)
    [port] = wait_until(lambda: dhcp_ports(admin, net["id"]))
    assert port[HOST_ID] == l2_a.host
    assert ids(admin, f"routers/{router['id']}/l3-agents", "agents") == [agent_id(admin, l3_a)]
    dhcp_b, l3_b = agents(DHCP, host=l2_b.host), agents(L3, host=l2_b.host)
    for gone in (dhcp_a, l3_a):
        gone.stop_heartbeat()
        admin.remove("agents", agent_id(admin, gone))
    assert ids(admin, f"networks/{net['id']}/dhcp-agents", "agents") == [
        agent_id(admin, dhcp_b)]
    assert ids(admin, f"routers/{router['id']}/l3-agents", "agents") == [
        agent_id(admin, l3_b)]
    assert wait_until(lambda: net["id"] in served(dhcp_b))
    assert l3_state(l3_b, [router["id"]]) == [router["id"]]
    assert wait_until(lambda: admin.get("ports", iface["port_id"])[1]["port"][HOST_ID]
                      == l2_b.host)
    [moved] = wait_until(lambda: [p for p in dhcp_ports(admin, net["id"])
                                  if p[HOST_ID] == l2_b.host])
    assert moved["id"] == port["id"]
