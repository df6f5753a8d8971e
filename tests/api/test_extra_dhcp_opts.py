"""extra_dhcp_opt over HTTP: ports' extra_dhcp_opts on create, update, show and list, their
validation, and what the DHCP agent is given and told (a DHCP agent simulated over a real
RabbitMQ, tests/support/agents_bus.py)."""

from __future__ import annotations

import uuid
from typing import Any

import openstack

from neutrino.bus import Bus
from tests.support.agents_bus import (
    DHCP,
    LINUXBRIDGE,
    BusEnv,
    disable_agents,
    lb_configurations,
    live_agents,
    wait_until,
)
from tests.support.neutron import Api, expect_error
from tests.support.server import Server

ENV = BusEnv("extra-dhcp")
SERVER_CONF = ENV.server_conf(agent_down_time=4)
EDO = "extra_dhcp_opts"


def opt(name: str, value: str | None, version: int = 4) -> dict[str, Any]:
    return {"opt_name": name, "opt_value": value, "ip_version": version}


def test_create_show_list_update(member: Api) -> None:
    net = member.network()
    member.subnet(net["id"], "10.77.0.0/24")
    plain = member.port(net["id"])
    assert plain[EDO] == []
    port = member.port(net["id"], **{EDO: [
        {"opt_name": "ntp-server", "opt_value": "10.77.0.9"},
        {"opt_name": "ntp-server", "opt_value": "fd00::9", "ip_version": 6},
        {"opt_name": "router", "opt_value": ""},
        {"opt_name": "bootfile-name", "opt_value": None},  # null on create: nothing
    ]})
    want = [opt("ntp-server", "10.77.0.9"), opt("router", ""), opt("ntp-server", "fd00::9", 6)]
    assert port[EDO] == want
    assert member.get("ports", port["id"])[1]["port"][EDO] == want
    listed = {p["id"]: p[EDO] for p in member.list("ports", f"network_id={net['id']}")}
    assert listed == {plain["id"]: [], port["id"]: want}
    assert member.list("ports", f"id={port['id']}&fields={EDO}") == [{EDO: want}]

    # update merges: a new value, a removal (null), an addition; the rest stays
    rev = port["revision_number"]
    updated = member.update("ports", port["id"], **{EDO: [
        {"opt_name": "ntp-server", "opt_value": "10.77.0.10"},
        {"opt_name": "router", "opt_value": None},
        {"opt_name": "42", "opt_value": "10.77.0.11", "ip_version": "4"},
    ]})
    want = [opt("42", "10.77.0.11"), opt("ntp-server", "10.77.0.10"),
            opt("ntp-server", "fd00::9", 6)]
    assert updated[EDO] == want
    assert updated["revision_number"] == rev + 1
    assert member.get("ports", port["id"])[1]["port"][EDO] == want
    # nothing new: no new revision; [] and null change nothing
    for same in ([opt("42", "10.77.0.11")], [], None):
        again = member.update("ports", port["id"], **{EDO: same})
        assert (again[EDO], again["revision_number"]) == (want, rev + 1)
    # removing an option that is not there is nothing either
    again = member.update("ports", port["id"], **{EDO: [opt("nope", None)]})
    assert again["revision_number"] == rev + 1
    # bulk create
    status, body = member.request("POST", "/v2.0/ports", {"ports": [
        {"network_id": net["id"], EDO: [opt("ntp-server", "10.77.0.9")]},
        {"network_id": net["id"]}]})
    assert status == 201, body
    assert [p[EDO] for p in body["ports"]] == [[opt("ntp-server", "10.77.0.9")], []]
    # they go with their port
    member.remove("ports", port["id"])


def test_validation(member: Api) -> None:
    net = member.network()
    for bad, reason in (
        ("x", "'x' is not a list"),
        ([{"opt_name": "a"}], "Validation of dictionary's keys failed"),
        ([{"opt_name": "", "opt_value": "x"}], "Blank strings are not permitted"),
        ([{"opt_name": "a", "opt_value": ""}], "Blank strings are not permitted"),
        ([{"opt_name": "a", "opt_value": "x\ndhcp-range=1"}], "Multi-line string"),
        ([{"opt_name": "a", "opt_value": "x", "ip_version": 5}], "not in valid_values"),
        ([opt("a", "x"), opt("a", "y")], "Duplicate option 'a' for IP version 4"),
    ):
        expect_error(member.post("ports", {"network_id": net["id"], EDO: bad}), 400,
                     "HTTPBadRequest", contains=f"Invalid input for {EDO}. Reason: ")
        msg = member.post("ports", {"network_id": net["id"], EDO: bad})[1]
        assert reason in msg["NeutronError"]["message"], (bad, msg)
    port = member.port(net["id"], **{EDO: [opt("a", "x")]})
    expect_error(member.put("ports", port["id"], {EDO: [opt("a", "")]}), 400,
                 "HTTPBadRequest", contains="Blank strings are not permitted")
    expect_error(member.request("GET", f"/v2.0/ports?{EDO}=x"), 400, "HTTPBadRequest",
                 f"['{EDO}'] is invalid attribute for filtering")
    assert member.get("ports", port["id"])[1]["port"][EDO] == [opt("a", "x")]


def test_openstacksdk(server: Server, admin: Api) -> None:
    net = admin.network()
    admin.subnet(net["id"], "10.78.0.0/24")
    conn = openstack.connection.Connection(auth_type="none",
                                           network_endpoint_override=f"{server.url}/")
    try:
        port = conn.network.create_port(network_id=net["id"], extra_dhcp_opts=[
            {"opt_name": "ntp-server", "opt_value": "10.78.0.9"}])
        assert port.extra_dhcp_opts == [opt("ntp-server", "10.78.0.9")]
        port = conn.network.update_port(port, extra_dhcp_opts=[
            {"opt_name": "ntp-server", "opt_value": None}])
        assert port.extra_dhcp_opts == []
        conn.network.delete_port(port)
    finally:
        conn.close()


# --- what the DHCP agent is given --------------------------------------------------------------
def test_dhcp_agent_is_given_and_told(admin: Api, bus: Bus) -> None:
    disable_agents(admin, DHCP)
    with live_agents(bus, admin, lambda *_: {"dhcp_driver": "dnsmasq"}) as agents:
        # on a host whose L2 agent can wire the (vxlan) network, where one is scheduled
        l2 = agents(LINUXBRIDGE, lb_configurations("192.0.2.79"))
        dhcp = agents(DHCP, host=l2.host)
        net = admin.network()
        admin.subnet(net["id"], "10.79.0.0/24")
        assert wait_until(lambda: admin.list(
            "ports", f"network_id={net['id']}&device_owner=network:dhcp"))
        port = admin.port(net["id"], **{EDO: [opt("ntp-server", "10.79.0.9")]})

        def entry() -> dict[str, Any]:
            [n] = dhcp.state([net["id"]])["networks"]
            return next(p for p in n["ports"] if p["id"] == port["id"])

        def hints_to_net_until_sentinel() -> list[dict[str, Any]]:
            """Hints of ``net`` sent until now, once they are all here: a new network
            (the sentinel) is scheduled to the agent, and its hint comes after them."""
            sentinel = admin.network()
            admin.subnet(sentinel["id"], f"10.{uuid.uuid4().int % 200}.0.0/24")
            return [h for h in dhcp.hints_before(sentinel["id"])
                    if net["id"] in (h.get("networks") or ())]

        assert entry()[EDO] == [opt("ntp-server", "10.79.0.9")]
        # a change of options alone is a hint to the network's DHCP agent
        hints_to_net_until_sentinel()
        admin.update("ports", port["id"], **{EDO: [opt("ntp-server", "10.79.0.10")]})
        assert hints_to_net_until_sentinel()
        assert entry()[EDO] == [opt("ntp-server", "10.79.0.10")]
        # a name change is not
        admin.update("ports", port["id"], name="renamed")
        assert hints_to_net_until_sentinel() == []
