"""/v2.0/agents over HTTP, with agents simulated over a real RabbitMQ: report_state creates
and refreshes them, the API shows (admins only), updates and deletes them, ``alive``
follows the heartbeat and [DEFAULT] agent_down_time."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import openstack
import pytest

from neutrino.bus import Bus
from tests.support.agents_bus import (
    DHCP,
    LINUXBRIDGE,
    BusEnv,
    SimAgent,
    lb_configurations,
    wait_until,
)
from tests.support.clock import CLOCK_CONF, ServerClock
from tests.support.neutron import Api, expect_error
from tests.support.server import Server

DOWN_TIME = 3
ENV = BusEnv("agents")
SERVER_CONF = ENV.server_conf(agent_down_time=DOWN_TIME, **CLOCK_CONF)
AGENT_KEYS = {"id", "agent_type", "binary", "topic", "host", "admin_state_up", "created_at",
              "started_at", "heartbeat_timestamp", "alive", "configurations",
              "availability_zone", "description", "resources_synced"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.fixture
def made(bus: Bus) -> Iterator[list[SimAgent]]:
    agents: list[SimAgent] = []
    yield agents
    for a in agents:
        a.close()


def _host() -> str:
    return f"host-{uuid.uuid4().hex[:10]}"


def _agent(bus: Bus, made: list[SimAgent], agent_type: str = LINUXBRIDGE,
           configurations: dict[str, Any] | None = None, host: str | None = None
           ) -> SimAgent:
    a = SimAgent(bus, host or _host(), agent_type,
                 configurations if configurations is not None
                 else lb_configurations("192.0.2.10", {"physnet1": "eth1"}))
    made.append(a)
    return a


def _registered(admin: Api, a: SimAgent, **match: Any) -> dict[str, Any]:
    """The agent's row once the server has it (and it matches ``match``)."""
    def found() -> dict[str, Any] | None:
        rows = admin.list("agents", f"host={a.host}&agent_type={quote(a.agent_type)}")
        if len(rows) == 1 and all(rows[0][k] == v for k, v in match.items()):
            return rows[0]
        return None

    return wait_until(found, what=f"agent {a.agent_type} on {a.host} registered with {match}")


def test_report_state_registers_an_agent(admin: Api, bus: Bus, made: list[SimAgent]) -> None:
    conf = lb_configurations("192.0.2.10", {"physnet1": "eth1"})
    a = _agent(bus, made, configurations=conf)
    a.report(start_flag=True)
    agent = _registered(admin, a)
    assert set(agent) == AGENT_KEYS
    assert (agent["agent_type"], agent["binary"], agent["topic"], agent["host"]) == (
        LINUXBRIDGE, "neutrino-test-agent", "N/A", a.host)
    assert agent["admin_state_up"] is True
    assert agent["alive"] is True
    assert agent["configurations"] == conf
    assert agent["availability_zone"] == "nova"
    assert agent["description"] is None
    for key in ("created_at", "started_at", "heartbeat_timestamp"):
        assert TIMESTAMP.match(agent[key]), agent[key]
    assert agent["created_at"] == agent["started_at"]

    status, body = admin.get("agents", agent["id"])
    assert status == 200 and body == {"agent": agent}
    expect_error(admin.get("agents", str(uuid.uuid4())), 404, "AgentNotFound",
                 contains="could not be found")

    # another agent type on the same host is another agent
    d = _agent(bus, made, DHCP, {"dhcp_driver": "dnsmasq"}, host=a.host)
    d.report(start_flag=True)
    dhcp = _registered(admin, d)
    assert dhcp["id"] != agent["id"]
    assert {x["id"] for x in admin.list("agents", f"host={a.host}")} == {agent["id"], dhcp["id"]}
    assert [x["id"] for x in admin.list("agents", f"host={a.host}&agent_type=DHCP%20agent")
            ] == [dhcp["id"]]


def test_heartbeats_refresh_the_row(admin: Api, bus: Bus, made: list[SimAgent]) -> None:
    a = _agent(bus, made)
    a.report(start_flag=True)
    first = _registered(admin, a)
    ServerClock(admin.server).advance(1.1)  # timestamps have a resolution of a second
    a.configurations = {**a.configurations, "devices": 3}
    a.report()
    second = _registered(admin, a, configurations=a.configurations)
    assert second["id"] == first["id"]
    assert second["heartbeat_timestamp"] > first["heartbeat_timestamp"]
    assert second["started_at"] == first["started_at"]  # no start_flag
    a.report(start_flag=True)
    third = wait_until(lambda: (r := _registered(admin, a))["started_at"]
                       > first["started_at"] and r)
    assert third and third["created_at"] == first["created_at"]


def test_alive_follows_the_heartbeat(admin: Api, bus: Bus, made: list[SimAgent]) -> None:
    a = _agent(bus, made)
    a.report(start_flag=True)
    agent = _registered(admin, a)
    assert agent["alive"] is True
    assert agent["id"] in {x["id"] for x in admin.list("agents", "alive=true")}
    assert agent["id"] not in {x["id"] for x in admin.list("agents", "alive=False")}
    ServerClock(admin.server).advance(DOWN_TIME + 1)
    dead = admin.get("agents", agent["id"])[1]["agent"]
    assert dead["alive"] is False
    assert agent["id"] in {x["id"] for x in admin.list("agents", "alive=false")}
    assert agent["id"] not in {x["id"] for x in admin.list("agents", "alive=true")}
    a.report()
    assert _registered(admin, a, alive=True)["id"] == agent["id"]
    expect_error(admin.request("GET", "/v2.0/agents?alive=maybe"), 400, "InvalidInput")


def test_update_and_delete(admin: Api, bus: Bus, made: list[SimAgent]) -> None:
    a = _agent(bus, made)
    a.report(start_flag=True)
    agent = _registered(admin, a)
    updated = admin.update("agents", agent["id"], admin_state_up=False,
                           description="maintenance")
    assert (updated["admin_state_up"], updated["description"]) == (False, "maintenance")
    assert updated["heartbeat_timestamp"] == agent["heartbeat_timestamp"]
    assert [x["id"] for x in admin.list("agents", f"host={a.host}&admin_state_up=false")
            ] == [agent["id"]]
    # a heartbeat keeps what the admin set (it is seen: it brings new configurations)
    a.configurations = {**a.configurations, "devices": 7}
    a.report()
    again = _registered(admin, a, configurations=a.configurations)
    assert (again["admin_state_up"], again["description"]) == (False, "maintenance")
    assert admin.update("agents", agent["id"], description=None)["description"] is None

    expect_error(admin.put("agents", agent["id"], {"host": "elsewhere"}), 400,
                 "HTTPBadRequest", "Cannot update read-only attribute host")
    expect_error(admin.put("agents", agent["id"], {"admin_state_up": "sometimes"}), 400,
                 "InvalidInput")
    expect_error(admin.post("agents", {}), 405, "HTTPMethodNotAllowed")

    admin.remove("agents", agent["id"])
    expect_error(admin.get("agents", agent["id"]), 404, "AgentNotFound")
    expect_error(admin.delete("agents", agent["id"]), 404, "AgentNotFound")
    # an agent that is still running comes back with its next report, as a new row
    a.report()
    back = _registered(admin, a)
    assert back["id"] != agent["id"]


def test_agents_are_for_admins_only(admin: Api, member: Api, bus: Bus,
                                    made: list[SimAgent]) -> None:
    a = _agent(bus, made)
    a.report(start_flag=True)
    agent = _registered(admin, a)
    assert member.list("agents") == []
    expect_error(member.get("agents", agent["id"]), 404, "HTTPNotFound")
    expect_error(member.put("agents", agent["id"], {"admin_state_up": False}), 404,
                 "HTTPNotFound")
    expect_error(member.delete("agents", agent["id"]), 404, "HTTPNotFound")
    assert admin.get("agents", agent["id"])[1]["agent"]["admin_state_up"] is True


def test_agent_extension_listed(admin: Api) -> None:
    status, body = admin.request("GET", "/v2.0/extensions/agent")
    assert status == 200
    assert body["extension"]["name"] == "agent"
    assert body["extension"]["description"] == "The agent management extension."


def test_openstacksdk(server: Server, admin: Api, bus: Bus, made: list[SimAgent]) -> None:
    a = _agent(bus, made)
    a.report(start_flag=True)
    agent = _registered(admin, a)
    conn = openstack.connection.Connection(auth_type="none",
                                           network_endpoint_override=f"{server.url}/")
    try:
        [found] = list(conn.network.agents(host=a.host))
        assert (found.id, found.agent_type, found.is_alive, found.is_admin_state_up) == (
            agent["id"], LINUXBRIDGE, True, True)
        assert found.configuration == a.configurations
        got = conn.network.update_agent(found, is_admin_state_up=False,
                                        description="drained")
        assert (got.is_admin_state_up, got.description) == (False, "drained")
        conn.network.delete_agent(found)
        assert list(conn.network.agents(host=a.host)) == []
    finally:
        conn.close()
