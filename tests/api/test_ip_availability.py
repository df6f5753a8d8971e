"""network-ip-availability and network-ip-availability-details over HTTP and through
openstacksdk, on every backend (neutron-tempest-plugin's test_network_ip_availability:
totals from the pools, used from the allocations, filters, admin only)."""

from __future__ import annotations

import uuid
from typing import Any

import openstack

from tests.api.l3_support import add_interface, error, network, ok, port, router, subnet
from tests.support.server import Server, project_headers

PATH = "/v2.0/network-ip-availabilities"


def _project() -> dict[str, str]:
    return project_headers(f"p-{uuid.uuid4().hex[:12]}")


def _show(server: Server, net_id: str, query: str = "") -> dict[str, Any]:
    return ok(server, "GET", f"{PATH}/{net_id}{query}")["network_ip_availability"]


def test_counts_follow_ports_and_subnets(server: Server) -> None:
    headers = _project()
    net = network(server, headers=headers)
    empty = _show(server, net["id"])
    assert empty == {
        "network_id": net["id"], "network_name": net["name"],
        "project_id": headers["X-Project-Id"], "tenant_id": headers["X-Project-Id"],
        "total_ips": 0, "used_ips": 0, "subnet_ip_availability": [],
        "ip_availability_details": {
            "total_ips_in_subnet": 0, "total_ips_in_allocation_pool": 0,
            "used_ips_in_subnet": 0, "used_ips_in_allocation_pool": 0}}

    v4 = subnet(server, net, "10.60.0.0/24", headers, enable_dhcp=False,
                allocation_pools=[{"start": "10.60.0.10", "end": "10.60.0.19"},
                                  {"start": "10.60.0.100", "end": "10.60.0.104"}])
    v6 = subnet(server, net, "2001:db8:60::/64", headers, ip_version=6, enable_dhcp=False)
    got = _show(server, net["id"])
    by_subnet = {s["subnet_id"]: s for s in got["subnet_ip_availability"]}
    assert by_subnet[v4["id"]] == {
        "subnet_id": v4["id"], "subnet_name": v4["name"], "cidr": "10.60.0.0/24",
        "ip_version": 4, "total_ips": 15, "used_ips": 0,
        "ip_availability_details": {
            "total_ips_in_subnet": 254, "total_ips_in_allocation_pool": 15,
            "used_ips_in_subnet": 0, "used_ips_in_allocation_pool": 0}}
    # ::1 to the last address (:: the gateway): exact, beyond 32 bits
    v6_total = 2**64 - 1
    assert by_subnet[v6["id"]]["total_ips"] == v6_total
    assert by_subnet[v6["id"]]["ip_availability_details"]["total_ips_in_subnet"] == 2**64
    assert (got["total_ips"], got["used_ips"]) == (15 + v6_total, 0)

    # a port takes one address of each subnet; a router interface the v4 gateway
    # (outside the pools: used, not in a pool)
    p = port(server, net, headers)
    r = router(server, headers)
    add_interface(server, r["id"], headers, subnet_id=v4["id"])
    got = _show(server, net["id"])
    by_subnet = {s["subnet_id"]: s for s in got["subnet_ip_availability"]}
    assert by_subnet[v4["id"]]["used_ips"] == 2
    assert by_subnet[v4["id"]]["ip_availability_details"]["used_ips_in_allocation_pool"] == 1
    assert by_subnet[v6["id"]]["used_ips"] == 1
    assert got["used_ips"] == 3
    assert got["ip_availability_details"]["used_ips_in_subnet"] == 3
    assert got["ip_availability_details"]["total_ips_in_subnet"] == 254 + 2**64

    # sums beyond 64 bits are written exactly
    subnet(server, net, "2001:db8:61::/64", headers, ip_version=6, enable_dhcp=False)
    assert _show(server, net["id"])["total_ips"] == 15 + 2 * v6_total

    ok(server, "DELETE", f"/v2.0/ports/{p['id']}", headers=headers)
    assert _show(server, net["id"])["used_ips"] == 1


def test_filters_and_fields(server: Server) -> None:
    headers = _project()
    project = headers["X-Project-Id"]
    a = network(server, headers=headers)
    b = network(server, headers=headers)
    subnet(server, a, "10.61.0.0/28", headers, enable_dhcp=False)
    subnet(server, b, "2001:db8:62::/64", headers, ip_version=6, enable_dhcp=False)

    def ids(query: str) -> list[str]:
        items = ok(server, "GET", f"{PATH}?{query}")["network_ip_availabilities"]
        return sorted(i["network_id"] for i in items)

    assert ids(f"project_id={project}") == sorted([a["id"], b["id"]])
    assert ids(f"tenant_id={project}") == sorted([a["id"], b["id"]])
    assert ids(f"project_id={project}&ip_version=4") == [a["id"]]
    assert ids(f"project_id={project}&ip_version=6") == [b["id"]]
    assert ids(f"network_name={a['name']}") == [a["id"]]
    assert ids(f"network_id={a['id']}&network_id={b['id']}") == sorted([a["id"], b["id"]])
    # ip_version filters the subnets too
    only4 = ok(server, "GET", f"{PATH}?project_id={project}&ip_version=4"
               )["network_ip_availabilities"][0]
    assert [s["ip_version"] for s in only4["subnet_ip_availability"]] == [4]

    shown = _show(server, a["id"], "?fields=total_ips&fields=network_id")
    assert shown == {"network_id": a["id"], "total_ips": 13}
    code, _, _ = error(server, "GET", f"{PATH}?bogus=1")
    assert code == 400
    code, _, _ = error(server, "GET", f"{PATH}?ip_version=four")
    assert code == 400


def test_admin_only_and_read_only(server: Server) -> None:
    headers = _project()
    net = network(server, headers=headers)
    # the network's own project may not read it (Neutron's default policy): an empty
    # list, a show as of nothing
    assert ok(server, "GET", PATH, headers=headers)["network_ip_availabilities"] == []
    code, _, _ = error(server, "GET", f"{PATH}/{net['id']}", headers=headers)
    assert code == 404
    code, kind, _ = error(server, "GET", f"{PATH}/{uuid.uuid4()}")
    assert (code, kind) == (404, "NetworkNotFound")
    for method in ("POST", "PUT", "DELETE"):
        code, _, _ = error(server, method, f"{PATH}/{net['id']}" if method != "POST"
                           else PATH, {"network_ip_availability": {}})
        assert code in (404, 405)
    aliases = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    assert {"network-ip-availability", "network-ip-availability-details"} <= aliases


def test_openstacksdk(server: Server) -> None:
    headers = _project()
    net = network(server, headers=headers)
    subnet(server, net, "10.63.0.0/29", headers, enable_dhcp=False)
    conn = openstack.connection.Connection(auth_type="none",
                                           network_endpoint_override=f"{server.url}/")
    try:
        got = conn.network.get_network_ip_availability(net["id"])
        assert (got.network_id, got.total_ips, got.used_ips) == (net["id"], 5, 0)
        listed = [i.network_id for i in conn.network.network_ip_availabilities(
            project_id=headers["X-Project-Id"])]
        assert listed == [net["id"]]
    finally:
        conn.close()
