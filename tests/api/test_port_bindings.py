"""binding-extended (/v2.0/ports/{id}/bindings) over HTTP, with L2 agents simulated over a
real RabbitMQ (tests/support/agents_bus.py): bindings on other hosts are made by the real
mechanism drivers from what those agents reported, and activation moves the port."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import openstack
import pytest

from neutrino.bus import Bus
from tests.support.agents_bus import (
    BusEnv,
    SimAgent,
    live_agents,
    numbered_lb,
    wait_until,
)
from tests.support.neutron import Api, expect_error
from tests.support.server import Server

ENV = BusEnv("bindings-ext")
SERVER_CONF = ENV.server_conf(agent_down_time=4)
HOST_ID, VNIC, PROFILE = "binding:host_id", "binding:vnic_type", "binding:profile"
VIF_TYPE, VIF_DETAILS = "binding:vif_type", "binding:vif_details"
LB_DETAILS = {"port_filter": True, "connectivity": "l2"}
NOVA = {"X-Project-Id": "service", "X-User-Id": "nova", "X-Roles": "admin,service,member,reader"}

Factory = Callable[..., SimAgent]


@pytest.fixture
def agents(bus: Bus, admin: Api) -> Iterator[Factory]:
    """Heartbeating simulated Linux bridge agents on physnet1."""
    with live_agents(bus, admin, numbered_lb(30, {"physnet1": "eth1"})) as make:
        yield make


def bindings(api: Api, port_id: str, rest: str = "") -> str:
    return f"/v2.0/ports/{port_id}/bindings{rest}"


def listing(api: Api, port_id: str, query: str = "") -> list[dict[str, Any]]:
    status, body = api.request("GET", bindings(api, port_id, f"?{query}" if query else ""))
    assert status == 200, body
    return body["bindings"]


def vm_port(admin: Api, host: str | None = None, **attrs: Any) -> dict[str, Any]:
    net = admin.network(**{"provider:network_type": "vxlan"})
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.{uuid.uuid4().int % 250}.0/24",
                 enable_dhcp=False)
    if host is not None:
        attrs[HOST_ID] = host
    return admin.create("ports", network_id=net["id"], device_owner="compute:nova",
                        device_id=str(uuid.uuid4()), **attrs)


def create_binding(api: Api, port_id: str, **attrs: Any) -> tuple[int, Any]:
    return api.request("POST", bindings(api, port_id), {"binding": attrs})


def test_live_migration_flow(admin: Api, agents: Factory) -> None:
    src, dst = agents(), agents()
    port = vm_port(admin, src.host)
    assert (port[HOST_ID], port[VIF_TYPE]) == (src.host, "bridge")
    src.device_up(port["id"])
    wait_until(lambda: admin.get("ports", port["id"])[1]["port"]["status"] == "ACTIVE")

    # the active binding is listed as the port has it
    status, body = admin.request("GET", bindings(admin, port["id"]))
    assert status == 200
    assert body == {"bindings": [{"host": src.host, "vnic_type": "normal", "profile": {},
                                  "vif_type": "bridge", "vif_details": LB_DETAILS,
                                  "status": "ACTIVE"}]}

    # Nova binds the port on the target host: INACTIVE, bound by the real driver there
    nova = Api(admin.server, NOVA)
    status, body = create_binding(nova, port["id"], host=dst.host,
                                  profile={"migrating_to": dst.host})
    assert status == 201, body
    assert body == {"binding": {"host": dst.host, "vnic_type": "normal",
                                "profile": {"migrating_to": dst.host}, "vif_type": "bridge",
                                "vif_details": LB_DETAILS, "status": "INACTIVE"}}
    status, one = admin.request("GET", bindings(admin, port["id"], f"/{dst.host}"))
    assert (status, one) == (200, body)
    # nothing about the port itself changed
    still = admin.get("ports", port["id"])[1]["port"]
    assert (still[HOST_ID], still["status"]) == (src.host, "ACTIVE")
    listed = listing(admin, port["id"])
    assert [(b["host"], b["status"]) for b in listed] == sorted(
        [(src.host, "ACTIVE"), (dst.host, "INACTIVE")], key=lambda x: x[1] != "ACTIVE")
    # filters and fields
    assert [b["host"] for b in listing(admin, port["id"], "status=INACTIVE")] == [dst.host]
    assert listing(admin, port["id"], f"host={dst.host}&fields=status") == [{"status": "INACTIVE"}]
    expect_error(admin.request("GET", bindings(admin, port["id"], "?bogus=1")), 400,
                 "HTTPBadRequest", "['bogus'] is invalid attribute for filtering")

    # activation: the port moves, DOWN until the new host's L2 agent wires it; both hosts
    # are told
    src.take_hints()
    dst.take_hints()
    status, body = nova.request("PUT", bindings(nova, port["id"], f"/{dst.host}/activate"))
    assert status == 200, body
    assert body["binding"] == {"host": dst.host, "vnic_type": "normal",
                               "profile": {"migrating_to": dst.host}, "vif_type": "bridge",
                               "vif_details": LB_DETAILS, "status": "ACTIVE"}
    moved = admin.get("ports", port["id"])[1]["port"]
    assert (moved[HOST_ID], moved[PROFILE], moved[VIF_TYPE], moved["status"]) == (
        dst.host, {"migrating_to": dst.host}, "bridge", "DOWN")
    assert moved["revision_number"] > still["revision_number"]
    net_id = port["network_id"]
    assert wait_until(lambda: net_id in src.hinted_networks())
    assert wait_until(lambda: net_id in dst.hinted_networks())
    # the host state follows: the port is the new host's to wire, not the old one's
    assert [p["id"] for n in dst.state([net_id])["networks"] for p in n["ports"]] == [
        port["id"]]
    assert [p["id"] for n in src.state([net_id])["networks"] for p in n["ports"]] == []
    # a report from the old host changes nothing any more (its own port, reported in the
    # same message, does: the message was handled); the new host's makes it ACTIVE
    own = admin.create("ports", network_id=net_id, **{HOST_ID: src.host})
    src.device_up(port["id"], own["id"])
    assert wait_until(lambda: admin.get("ports", own["id"])[1]["port"]["status"] == "ACTIVE")
    assert admin.get("ports", port["id"])[1]["port"]["status"] == "DOWN"
    admin.remove("ports", own["id"])
    dst.device_up(port["id"])
    assert wait_until(
        lambda: admin.get("ports", port["id"])[1]["port"]["status"] == "ACTIVE")
    # the old binding is the inactive one now
    listed = {b["host"]: b for b in listing(admin, port["id"])}
    assert (listed[src.host]["status"], listed[src.host]["vif_type"]) == ("INACTIVE",
                                                                          "bridge")
    assert listed[dst.host]["status"] == "ACTIVE"

    # activating the active one again / one that is gone
    expect_error(nova.request("PUT", bindings(nova, port["id"], f"/{dst.host}/activate")),
                 409, "PortBindingAlreadyActive",
                 f"Binding for port {port['id']} on host {dst.host} is already active.")
    # Nova removes the source binding once the migration is done
    status, _ = nova.request("DELETE", bindings(nova, port["id"], f"/{src.host}"))
    assert status == 204
    expect_error(nova.request("DELETE", bindings(nova, port["id"], f"/{src.host}")), 404,
                 "PortBindingNotFound",
                 f"Binding for port {port['id']} for host {src.host} could not be found.")
    expect_error(nova.request("PUT", bindings(nova, port["id"], f"/{src.host}/activate")),
                 404, "PortBindingNotFound")
    assert [b["host"] for b in listing(admin, port["id"])] == [dst.host]


def test_errors(admin: Api, agents: Factory, server: Server, headers: dict[str, str]
                ) -> None:
    h1, h2 = agents(), agents()
    port = vm_port(admin, h1.host)
    pid = port["id"]
    # one binding per host: the active one's host, then an inactive one's
    expect_error(create_binding(admin, pid, host=h1.host), 409, "PortBindingAlreadyExists",
                 f"Binding for port {pid} on host {h1.host} already exists.")
    assert create_binding(admin, pid, host=h2.host)[0] == 201
    expect_error(create_binding(admin, pid, host=h2.host), 409, "PortBindingAlreadyExists")
    # no agent there: nothing can bind it (a 500, as Neutron's), nothing is stored
    nowhere = f"h-{uuid.uuid4().hex[:8]}"
    expect_error(create_binding(admin, pid, host=nowhere), 500, "PortBindingError",
                 f"Binding for port {pid} on host {nowhere} could not be created or updated.")
    expect_error(admin.request("GET", bindings(admin, pid, f"/{nowhere}")), 404,
                 "PortBindingNotFound")
    # a vnic_type the Linux bridge cannot plug
    h3 = agents()
    expect_error(create_binding(admin, pid, host=h3.host, vnic_type="direct"), 500,
                 "PortBindingError")
    # bad bodies
    expect_error(create_binding(admin, pid), 400, "HTTPBadRequest",
                 contains="Required attribute 'host' not specified")
    expect_error(create_binding(admin, pid, host=h3.host, vnic_type="bogus"), 400,
                 "HTTPBadRequest", contains="bogus is not in valid_values")
    expect_error(create_binding(admin, pid, host=h3.host, profile="x"), 400,
                 "HTTPBadRequest", contains="is not a dictionary")
    expect_error(create_binding(admin, pid, host=h3.host, vif_type="bridge"), 400,
                 "HTTPBadRequest", "Attribute 'vif_type' not allowed in POST")
    expect_error(create_binding(admin, pid, host=h3.host, color="red"), 400,
                 "HTTPBadRequest", "Unrecognized attribute(s) 'color'")
    expect_error(admin.request("POST", bindings(admin, pid), {"host": h3.host}), 400,
                 "HTTPBadRequest")
    # unknown port, unknown route, wrong method
    missing = str(uuid.uuid4())
    expect_error(create_binding(admin, missing, host=h3.host), 404, "PortNotFound")
    expect_error(admin.request("GET", bindings(admin, missing)), 404, "PortNotFound")
    expect_error(admin.request("GET", bindings(admin, pid, f"/{h2.host}/bogus")), 404,
                 "HTTPNotFound")
    expect_error(admin.request("GET", bindings(admin, pid, f"/{h2.host}/activate")), 405,
                 "HTTPMethodNotAllowed")
    expect_error(admin.request("GET", f"/v2.0/networks/{port['network_id']}/bindings"),
                 404, "HTTPNotFound")
    # only compute ports have bindings per host (400 BadRequest, as Neutron's)
    other = admin.create("ports", network_id=port["network_id"])
    expect_error(create_binding(admin, other["id"], host=h2.host), 400, "BadRequest",
                 contains="Operation only valid on compute and shared filesystem ports")
    expect_error(admin.request("GET", bindings(admin, other["id"])), 400, "BadRequest")

    # policy: the port's own project sees its port but no bindings, changes none
    member = Api(server, headers)
    net = member.network()
    mine = member.create("ports", network_id=net["id"], device_owner="compute:nova")
    assert admin.request("GET", bindings(admin, mine["id"]))[0] == 200
    assert member.request("GET", bindings(member, mine["id"])) == (200, {"bindings": []})
    expect_error(member.request("GET", bindings(member, mine["id"], "/x")), 404,
                 "HTTPNotFound")
    expect_error(create_binding(member, mine["id"], host=h2.host), 403,
                 "PolicyNotAuthorized", "rule:create_port_binding is disallowed by policy")
    expect_error(member.request("PUT", bindings(member, mine["id"], f"/{h2.host}/activate")),
                 403, "PolicyNotAuthorized", "rule:activate is disallowed by policy")
    expect_error(member.request("DELETE", bindings(member, mine["id"], f"/{h2.host}")), 403,
                 "PolicyNotAuthorized")
    # another project's port does not exist for it
    expect_error(create_binding(member, pid, host=h2.host), 404, "PortNotFound")


def test_update_and_port_moves(admin: Api, agents: Factory) -> None:
    h1, h2 = agents(), agents()
    port = vm_port(admin, h1.host)
    pid = port["id"]
    assert create_binding(admin, pid, host=h2.host)[0] == 201
    # PUT changes an inactive binding's profile (bound anew)
    status, body = admin.request("PUT", bindings(admin, pid, f"/{h2.host}"),
                                 {"binding": {"profile": {"a": 1}}})
    assert status == 200, body
    assert (body["binding"]["profile"], body["binding"]["status"]) == ({"a": 1}, "INACTIVE")
    # one the drivers cannot bind leaves it as it was
    expect_error(admin.request("PUT", bindings(admin, pid, f"/{h2.host}"),
                               {"binding": {"vnic_type": "direct"}}), 500, "PortBindingError")
    status, body = admin.request("GET", bindings(admin, pid, f"/{h2.host}"))
    assert (body["binding"]["vnic_type"], body["binding"]["profile"]) == ("normal", {"a": 1})
    expect_error(admin.request("PUT", bindings(admin, pid, f"/{h2.host}"),
                               {"binding": {"host": "elsewhere"}}), 400, "HTTPBadRequest")
    # the active binding's PUT is the port's own binding attributes
    status, body = admin.request("PUT", bindings(admin, pid, f"/{h1.host}"),
                                 {"binding": {"profile": {"b": 2}}})
    assert status == 200, body
    assert admin.get("ports", pid)[1]["port"][PROFILE] == {"b": 2}

    # moving the port to h2 by binding:host_id makes h2's inactive binding pointless
    admin.update("ports", pid, **{HOST_ID: h2.host})
    assert [(b["host"], b["status"]) for b in listing(admin, pid)] == [
        (h2.host, "ACTIVE")]
    # deleting the active binding unbinds the port
    status, _ = admin.request("DELETE", bindings(admin, pid, f"/{h2.host}"))
    assert status == 204
    unbound = admin.get("ports", pid)[1]["port"]
    assert (unbound[HOST_ID], unbound[VIF_TYPE]) == ("", "unbound")
    # a port without a host: a binding is INACTIVE, activating it binds the port there
    assert create_binding(admin, pid, host=h1.host)[0] == 201
    status, body = admin.request("PUT", bindings(admin, pid, f"/{h1.host}/activate"))
    assert (status, body["binding"]["status"]) == (200, "ACTIVE")
    assert admin.get("ports", pid)[1]["port"][HOST_ID] == h1.host
    assert [b["host"] for b in listing(admin, pid)] == [h1.host]
    # bindings go with their port
    assert create_binding(admin, pid, host=h2.host)[0] == 201
    admin.remove("ports", pid)
    expect_error(admin.request("GET", bindings(admin, pid)), 404, "PortNotFound")


def test_concurrent_creates_on_one_host(admin: Api, agents: Factory) -> None:
    """Several API calls binding one port to one host at once: exactly one wins."""
    from concurrent.futures import ThreadPoolExecutor

    h1, h2 = agents(), agents()
    port = vm_port(admin, h1.host)
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: create_binding(admin, port["id"], host=h2.host)[0],
                                range(6)))
    assert sorted(results) == [201] + [409] * 5


def test_extension_listed_and_openstacksdk(server: Server, admin: Api,
                                           agents: Factory) -> None:
    status, body = admin.request("GET", "/v2.0/extensions/binding-extended")
    assert status == 200 and body["extension"]["name"] == "Port Bindings Extended"
    h1, h2 = agents(), agents()
    port = vm_port(admin, h1.host)
    conn = openstack.connection.Connection(auth_type="none",
                                           network_endpoint_override=f"{server.url}/")
    try:
        created = conn.network.create_port_binding(port["id"], host=h2.host)
        assert (created.host, created.status, created.vif_type) == (h2.host, "INACTIVE",
                                                                    "bridge")
        found = list(conn.network.port_bindings(port["id"], host=h2.host))
        assert [(b.host, b.status) for b in found] == [(h2.host, "INACTIVE")]
        activated = conn.network.activate_port_binding(port["id"], host=h2.host)
        assert activated is not None
        assert admin.get("ports", port["id"])[1]["port"][HOST_ID] == h2.host
        conn.network.delete_port_binding(port["id"], host=h1.host)
        assert [b.host for b in conn.network.port_bindings(port["id"])] == [h2.host]
    finally:
        conn.close()


def test_activation_needs_the_target_to_bind_still(admin: Api, agents: Factory) -> None:
    """The target host's agent died after the binding was made: activating fails with
    PortBindingError and changes nothing."""
    h1, h2 = agents(), agents()
    port = vm_port(admin, h1.host)
    assert create_binding(admin, port["id"], host=h2.host)[0] == 201
    h2.stop_heartbeat()
    assert wait_until(lambda: not [a for a in admin.list("agents", f"host={h2.host}")
                                   if a["alive"]], timeout=15)
    before = admin.get("ports", port["id"])[1]["port"]
    expect_error(admin.request("PUT", bindings(admin, port["id"], f"/{h2.host}/activate")),
                 500, "PortBindingError")
    after = admin.get("ports", port["id"])[1]["port"]
    assert after == before
    assert {b["host"]: b["status"] for b in listing(admin, port["id"])} == {
        h1.host: "ACTIVE", h2.host: "INACTIVE"}
