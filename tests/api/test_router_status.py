"""A router whose port cannot be bound shows it (issue 13): its gateway on a physical
network its host's L2 agent does not map gets vif_type binding_failed, the router's own
status is ERROR (list, show and the status filter agree) and the server logs it at ERROR;
once the agent maps that network (its restart rebinds the host's failed ports) the
router is ACTIVE again. Agents simulated over a real RabbitMQ (tests/support/agents_bus)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from neutrino.bus import Bus
from tests.api.l3_support import ok, router, subnet
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
ENV = BusEnv("rstatus")
SERVER_CONF = ENV.server_conf(agent_down_time=4)
L3_CONF = {"agent_mode": "legacy", "routers": 0, "ex_gw_ports": 0, "interfaces": 0,
           "floating_ips": 0, "interface_driver": "linuxbridge"}


@pytest.fixture(scope="module")
def bus() -> Iterator[Bus]:
    require_rabbit()
    try:
        yield ENV.bus()
    finally:
        ENV.cleanup()


def _show(server: Server, router_id: str, headers: dict[str, str]) -> dict[str, Any]:
    return ok(server, "GET", f"/v2.0/routers/{router_id}", headers=headers)["router"]


def test_unbindable_gateway_makes_the_router_error(server: Server, bus: Bus) -> None:
    host = f"net-{uuid.uuid4().hex[:8]}"
    physnet = f"ph{uuid.uuid4().hex[:6]}"
    h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
    admin = Api(server, project_headers("admin-project", admin=True))
    ext = ok(server, "POST", "/v2.0/networks", {"network": {
        "name": "public", "router:external": True, "provider:network_type": "flat",
        "provider:physical_network": physnet}})["network"]
    subnet(server, ext, "198.18.0.0/24", enable_dhcp=False)
    # the host's L2 agent maps no physical network: the gateway cannot be bound there
    lb = SimAgent(bus, host, LINUXBRIDGE, lb_configurations("192.0.2.77"))
    l3 = SimAgent(bus, host, L3, dict(L3_CONF))
    made = [lb, l3]
    try:
        lb.start_heartbeat()
        l3.start_heartbeat()
        assert wait_until(lambda: len(admin.list("agents", f"host={host}")) == 2)
        r = router(server, h, external_gateway_info={"network_id": ext["id"]})

        def gateway() -> dict[str, Any]:
            [p] = ok(server, "GET", f"/v2.0/ports?device_id={r['id']}"
                                    "&device_owner=network:router_gateway")["ports"]
            return p

        assert wait_until(lambda: gateway()["binding:vif_type"] == "binding_failed"), gateway()
        assert gateway()["binding:host_id"] == host
        assert _show(server, r["id"], h)["status"] == "ERROR"
        listed = ok(server, "GET", "/v2.0/routers?status=ERROR", headers=h)["routers"]
        assert [x["id"] for x in listed] == [r["id"]]
        assert ok(server, "GET", "/v2.0/routers?status=ACTIVE", headers=h)["routers"] == []
        assert f"port {gateway()['id']} (network:router_gateway): no mechanism driver " \
               f"could bind it to host {host}" in server.log()

        # the agent now maps the network; its restart rebinds the failed port
        lb.configurations = lb_configurations("192.0.2.77", {physnet: "eth9"})
        lb.report(start_flag=True)
        assert wait_until(lambda: gateway()["binding:vif_type"] == "bridge"), gateway()
        assert _show(server, r["id"], h)["status"] == "ACTIVE"
        listed = ok(server, "GET", "/v2.0/routers?status=ACTIVE", headers=h)["routers"]
        assert [x["id"] for x in listed] == [r["id"]]
        ok(server, "PUT", f"/v2.0/routers/{r['id']}",
           {"router": {"external_gateway_info": None}}, h)
        ok(server, "DELETE", f"/v2.0/routers/{r['id']}", headers=h)
    finally:
        retire(admin, made)
