"""Routers (router, ext-gw-mode, extraroute, extraroute-atomic) through the openstack
CLI, with raw HTTP where the CLI cannot say it (another project, policy refusals, the
exact bodies), on every backend."""

from __future__ import annotations

import uuid

from tests.api.l3_support import (
    add_interface,
    error,
    external_net,
    network,
    ok,
    port,
    router,
    subnet,
)
from tests.support.addresses import unallocated
from tests.support.osc import Osc, as_json
from tests.support.server import Server, project_headers


def _ports_of(server: Server, router_id: str) -> list[dict]:
    return ok(server, "GET", f"/v2.0/ports?device_id={router_id}")["ports"]


def test_router_lifecycle_cli(osc: Osc, server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    ext, ext_sub = external_net(server, "198.51.100.0/24")
    net = as_json(osc("network", "create", f"net-{tag}", "-f", "json"))
    sub = as_json(osc("subnet", "create", "--network", net["id"], "--subnet-range",
                      "10.40.0.0/24", f"sub-{tag}", "-f", "json"))
    r = as_json(osc("router", "create", f"r-{tag}", "--external-gateway", ext["id"],
                    "-f", "json"))
    assert r["status"] == "ACTIVE" and r["admin_state_up"] is True
    gw = r["external_gateway_info"]
    assert gw["network_id"] == ext["id"] and gw["enable_snat"] is True
    [gw_ip] = gw["external_fixed_ips"]
    assert gw_ip["subnet_id"] == ext_sub["id"]
    assert r["routes"] == [] and r["revision_number"] >= 1

    osc("router", "add", "subnet", r["id"], sub["id"])
    ports = _ports_of(server, r["id"])
    iface = next(p for p in ports if p["device_owner"] == "network:router_interface")
    gw_port = next(p for p in ports if p["device_owner"] == "network:router_gateway")
    assert iface["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.40.0.1"}]
    assert iface["project_id"] == r["project_id"] and iface["device_id"] == r["id"]
    assert gw_port["project_id"] == "" and gw_port["fixed_ips"] == [gw_ip]

    # a port of the project as a second interface
    net2 = as_json(osc("network", "create", f"net2-{tag}", "-f", "json"))
    as_json(osc("subnet", "create", "--network", net2["id"], "--subnet-range",
                "10.41.0.0/24", f"sub2-{tag}", "-f", "json"))
    p = as_json(osc("port", "create", "--network", net2["id"], f"p-{tag}", "-f", "json"))
    osc("router", "add", "port", r["id"], p["id"])
    p = ok(server, "GET", f"/v2.0/ports/{p['id']}")["port"]
    assert (p["device_owner"], p["device_id"]) == ("network:router_interface", r["id"])

    # routes: set replaces, add/remove route are atomic and idempotent
    osc("router", "set", r["id"], "--route", "destination=192.168.50.0/24,gateway=10.40.0.9")
    shown = as_json(osc("router", "show", r["id"], "-f", "json"))
    assert shown["routes"] == [{"destination": "192.168.50.0/24", "nexthop": "10.40.0.9"}]
    osc("router", "add", "route", r["id"], "--route",
        "destination=192.168.51.0/24,gateway=10.41.0.9")
    osc("router", "add", "route", r["id"], "--route",
        "destination=192.168.51.0/24,gateway=10.41.0.9")
    osc("router", "remove", "route", r["id"], "--route",
        "destination=192.168.50.0/24,gateway=10.40.0.9")
    shown = ok(server, "GET", f"/v2.0/routers/{r['id']}")["router"]
    assert shown["routes"] == [{"destination": "192.168.51.0/24", "nexthop": "10.41.0.9"}]
    err = osc("router", "set", r["id"], "--route",
              "destination=192.168.52.0/24,gateway=172.16.0.1", ok=False).stderr
    assert "the nexthop is not connected with router" in err
    # an interface a route needs stays
    err = osc("router", "remove", "port", r["id"], p["id"], ok=False).stderr
    assert "required by one or more routes" in err
    osc("router", "set", r["id"], "--no-route")

    # SNAT off (admin), then the gateway removed
    osc("router", "set", r["id"], "--external-gateway", ext["id"], "--disable-snat")
    shown = ok(server, "GET", f"/v2.0/routers/{r['id']}")["router"]
    assert shown["external_gateway_info"]["enable_snat"] is False
    assert shown["external_gateway_info"]["external_fixed_ips"] == [gw_ip]

    # refusals
    err = osc("router", "delete", r["id"], ok=False).stderr
    assert f"Router {r['id']} still has ports" in err
    err = osc("router", "add", "subnet", r["id"], sub["id"], ok=False).stderr
    assert f"Router already has a port on subnet {sub['id']}" in err
    err = osc("port", "delete", iface["id"], ok=False).stderr
    assert "has owner network:router_interface and therefore cannot be deleted" in err

    osc("router", "unset", "--external-gateway", r["id"])
    assert ok(server, "GET", f"/v2.0/routers/{r['id']}")["router"][
        "external_gateway_info"] is None
    assert ok(server, "GET", f"/v2.0/ports/{gw_port['id']}", status=404)
    osc("router", "remove", "subnet", r["id"], sub["id"])
    osc("router", "remove", "port", r["id"], p["id"])
    assert _ports_of(server, r["id"]) == []
    osc("router", "delete", r["id"])
    assert server.request("GET", f"/v2.0/routers/{r['id']}")[0] == 404


def test_interface_bodies_and_errors(server: Server) -> None:
    h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
    net = network(server, headers=h)
    sub = subnet(server, net, "10.50.0.0/24", h)
    r = router(server, h)
    url = f"/v2.0/routers/{r['id']}"
    info = add_interface(server, r["id"], h, subnet_id=sub["id"])
    assert set(info) == {"id", "tenant_id", "project_id", "port_id", "subnet_id",
                         "subnet_ids", "network_id"}
    assert (info["id"], info["subnet_id"], info["subnet_ids"], info["network_id"]) == \
        (r["id"], sub["id"], [sub["id"]], net["id"])
    assert info["project_id"] == info["tenant_id"] == r["project_id"]

    # a subnet attached once; overlapping CIDRs refused
    code, kind, msg = error(server, "PUT", f"{url}/add_router_interface",
                            {"subnet_id": sub["id"]}, h)
    assert (code, kind) == (400, "BadRequest")
    assert msg == f"Bad router request: Router already has a port on subnet {sub['id']}."
    net2 = network(server, headers=h)
    overlap = subnet(server, net2, "10.50.0.0/25", h)
    code, kind, msg = error(server, "PUT", f"{url}/add_router_interface",
                            {"subnet_id": overlap["id"]}, h)
    assert (code, kind) == (400, "BadRequest") and "overlaps with cidr 10.50.0.0/24" in msg
    # a subnet without gateway, by subnet
    net3 = network(server, headers=h)
    nogw = subnet(server, net3, "10.52.0.0/24", h, gateway_ip=None)
    code, kind, msg = error(server, "PUT", f"{url}/add_router_interface",
                            {"subnet_id": nogw["id"]}, h)
    assert (code, kind) == (400, "BadRequest")
    assert "Subnet for router interface must have a gateway IP" in msg
    # ports: in use, without address
    used = port(server, net3, h, device_id="some-vm")
    code, kind, _ = error(server, "PUT", f"{url}/add_router_interface",
                          {"port_id": used["id"]}, h)
    assert (code, kind) == (409, "PortInUse")
    bare = port(server, net3, h, fixed_ips=[])
    code, kind, msg = error(server, "PUT", f"{url}/add_router_interface",
                            {"port_id": bare["id"]}, h)
    assert (code, kind) == (400, "BadRequest") and "at least one fixed IP" in msg
    code, kind, _ = error(server, "PUT", f"{url}/add_router_interface",
                          {"port_id": used["id"], "subnet_id": sub["id"]}, h)
    assert (code, kind) == (400, "BadRequest")
    code, kind, _ = error(server, "PUT", f"{url}/add_router_interface", {}, h)
    assert (code, kind) == (400, "BadRequest")
    second = subnet(server, net3, "10.53.0.0/24", h)
    two = port(server, net3, h, fixed_ips=[{"subnet_id": nogw["id"]},
                                           {"subnet_id": second["id"]}])
    code, kind, msg = error(server, "PUT", f"{url}/add_router_interface",
                            {"port_id": two["id"]}, h)
    assert (code, kind) == (400, "BadRequest") and "multiple IPv4 subnets" in msg
    ok(server, "DELETE", f"/v2.0/ports/{two['id']}", headers=h)
    # by port on a gateway-less subnet is fine
    byport = port(server, net3, h, fixed_ips=[{"subnet_id": nogw["id"]}])
    info = add_interface(server, r["id"], h, port_id=byport["id"])
    assert info["port_id"] == byport["id"] and info["subnet_ids"] == [nogw["id"]]

    # removing what is not there
    code, kind, msg = error(server, "PUT", f"{url}/remove_router_interface",
                            {"subnet_id": overlap["id"]}, h)
    assert (code, kind) == (404, "RouterInterfaceNotFoundForSubnet")
    assert msg == f"Router {r['id']} has no interface on subnet {overlap['id']}"
    code, kind, _ = error(server, "PUT", f"{url}/remove_router_interface",
                          {"port_id": used["id"]}, h)
    assert (code, kind) == (404, "RouterInterfaceNotFound")

    # deleting the router with interfaces
    code, kind, _ = error(server, "DELETE", url, None, h)
    assert (code, kind) == (409, "RouterInUse")
    removed = ok(server, "PUT", f"{url}/remove_router_interface", {"subnet_id": sub["id"]},
                 h)
    assert removed["port_id"] == info["port_id"] or removed["subnet_id"] == sub["id"]
    ok(server, "PUT", f"{url}/remove_router_interface", {"port_id": byport["id"]}, h)
    assert server.request("GET", f"/v2.0/ports/{byport['id']}")[0] == 404
    rev = ok(server, "GET", url, headers=h)["router"]["revision_number"]
    assert rev >= 5
    ok(server, "DELETE", url, headers=h)


def test_other_projects_and_policy(server: Server) -> None:
    a = project_headers(f"a-{uuid.uuid4().hex[:8]}")
    b = project_headers(f"b-{uuid.uuid4().hex[:8]}")
    ext, ext_sub = external_net(server, "198.51.101.0/24")
    r = router(server, a, external_gateway_info={"network_id": ext["id"]})
    assert r["external_gateway_info"]["enable_snat"] is True
    url = f"/v2.0/routers/{r['id']}"
    assert server.request("GET", url, headers=b)[0] == 404
    assert error(server, "PUT", f"{url}/add_router_interface",
                 {"subnet_id": str(uuid.uuid4())}, b)[:2] == (404, "RouterNotFound")
    assert [x["id"] for x in ok(server, "GET", "/v2.0/routers", headers=b)["routers"]] == []
    # SNAT and gateway addresses are the operator's (Neutron's default policy)
    code, kind, msg = error(server, "POST", "/v2.0/routers", {"router": {
        "external_gateway_info": {"network_id": ext["id"], "enable_snat": False}}}, a)
    assert (code, kind) == (403, "PolicyNotAuthorized")
    assert "create_router:external_gateway_info:enable_snat" in msg
    code, kind, _ = error(server, "PUT", url, {"router": {"external_gateway_info": {
        "network_id": ext["id"], "external_fixed_ips": [{"ip_address": "198.51.101.9"}]}}},
        a)
    assert (code, kind) == (403, "PolicyNotAuthorized")
    # a gateway on a network that is not external
    own = network(server, headers=a)
    code, kind, msg = error(server, "PUT", url, {"router": {"external_gateway_info": {
        "network_id": own["id"]}}}, a)
    assert (code, kind) == (400, "BadRequest") and "is not an external network" in msg
    code, kind, _ = error(server, "PUT", url, {"router": {"external_gateway_info": {
        "network_id": str(uuid.uuid4())}}}, a)
    assert (code, kind) == (404, "NetworkNotFound")
    code, kind, _ = error(server, "PUT", url, {"router": {"external_gateway_info": {
        "enable_snat": True}}}, a)
    assert code == 400
    # the admin chooses the address (one the gateway's random one is not); taken -> 409
    chosen = unallocated(server, ext_sub["id"], "198.51.101.9")
    fixed = ok(server, "PUT", url, {"router": {"external_gateway_info": {
        "network_id": ext["id"], "external_fixed_ips": [{"ip_address": chosen}]}}}
    )["router"]["external_gateway_info"]["external_fixed_ips"]
    assert [f["ip_address"] for f in fixed] == [chosen]
    other = router(server, a)
    code, kind, _ = error(server, "PUT", f"/v2.0/routers/{other['id']}", {"router": {
        "external_gateway_info": {"network_id": ext["id"], "external_fixed_ips": [
            {"ip_address": chosen}]}}})
    assert (code, kind) == (409, "IpAddressAlreadyAllocated")
    ok(server, "DELETE", url, headers=a)
    ok(server, "DELETE", f"/v2.0/routers/{other['id']}", headers=a)


def test_routes_atomic_and_validated(server: Server) -> None:
    h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
    net = network(server, headers=h)
    sub = subnet(server, net, "10.60.0.0/24", h)
    r = router(server, h)
    url = f"/v2.0/routers/{r['id']}"
    # routes are not set on create (extraroute: allow_post false)
    code, _, _ = error(server, "POST", "/v2.0/routers", {"router": {"routes": []}}, h)
    assert code == 400
    route = {"destination": "172.20.0.0/16", "nexthop": "10.60.0.20"}
    code, kind, msg = error(server, "PUT", url, {"router": {"routes": [route]}}, h)
    assert (code, kind) == (400, "InvalidRoutes") and "not connected" in msg
    add_interface(server, r["id"], h, subnet_id=sub["id"])
    code, kind, msg = error(server, "PUT", url, {"router": {"routes": [
        {"destination": "172.21.0.0/16", "nexthop": "10.60.0.1"}]}}, h)
    assert (code, kind) == (400, "InvalidRoutes") and "used by router" in msg
    body = ok(server, "PUT", f"{url}/add_extraroutes", {"router": {"routes": [route]}}, h)
    assert body["router"]["routes"] == [route] and body["router"]["id"] == r["id"]
    rev = body["router"]["revision_number"]
    again = ok(server, "PUT", f"{url}/add_extraroutes", {"router": {"routes": [route]}}, h)
    assert again["router"]["revision_number"] == rev  # nothing changed
    second = {"destination": "172.22.0.0/16", "nexthop": "10.60.0.21"}
    bad = {"destination": "172.23.0.0/16", "nexthop": "10.99.0.1"}
    code, kind, _ = error(server, "PUT", f"{url}/add_extraroutes",
                          {"router": {"routes": [second, bad]}}, h)
    assert (code, kind) == (400, "InvalidRoutes")
    assert ok(server, "GET", url, headers=h)["router"]["routes"] == [route]  # all or nothing
    ok(server, "PUT", f"{url}/add_extraroutes", {"router": {"routes": [second]}}, h)
    out = ok(server, "PUT", f"{url}/remove_extraroutes",
             {"router": {"routes": [route, bad]}}, h)
    assert out["router"]["routes"] == [second]
    code, _, _ = error(server, "PUT", f"{url}/add_extraroutes", {"routes": [route]}, h)
    assert code == 400
    ok(server, "PUT", url, {"router": {"routes": None}}, h)
    ok(server, "PUT", f"{url}/remove_router_interface", {"subnet_id": sub["id"]}, h)
    ok(server, "DELETE", url, headers=h)


def test_router_quota_tags_and_filters(server: Server) -> None:
    project = f"p-{uuid.uuid4().hex[:8]}"
    h = project_headers(project)
    ok(server, "PUT", f"/v2.0/quotas/{project}", {"quota": {"router": 1}})
    r = router(server, h, admin_state_up=False, description="d")
    code, kind, _ = error(server, "POST", "/v2.0/routers", {"router": {}}, h)
    assert (code, kind) == (409, "OverQuota")
    ok(server, "PUT", f"/v2.0/routers/{r['id']}/tags/blue", headers=h, status=201)
    listed = ok(server, "GET", "/v2.0/routers?tags=blue&admin_state_up=false",
                headers=h)["routers"]
    assert [x["id"] for x in listed] == [r["id"]] and listed[0]["tags"] == ["blue"]
    assert listed[0]["description"] == "d"
    usage = ok(server, "GET", f"/v2.0/quotas/{project}/details.json")["quota"]["router"]
    assert usage["used"] == 1
    ok(server, "DELETE", f"/v2.0/routers/{r['id']}", headers=h)
    exts = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    assert {"router", "ext-gw-mode", "extraroute", "extraroute-atomic", "external-net",
            "fip-port-details"} <= exts
