"""Floating IPs (router extension's floatingips, fip-port-details) through the openstack
CLI, with raw HTTP where the CLI cannot say it, on every backend."""

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
    topology,
)
from tests.support.addresses import unallocated
from tests.support.osc import Osc, as_json
from tests.support.server import Server, project_headers


def _fip(server: Server, headers: dict[str, str] | None = None, **body: object
         ) -> dict:
    return ok(server, "POST", "/v2.0/floatingips", {"floatingip": body},
              headers)["floatingip"]


def test_floating_ip_cli(osc: Osc, server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    ext = as_json(osc("network", "create", "--external", f"ext-{tag}", "-f", "json"))
    assert ext["router:external"] is True
    ext_sub = as_json(osc("subnet", "create", "--network", ext["id"], "--subnet-range",
                          "203.0.113.0/24", "--no-dhcp", f"ext-sub-{tag}", "-f", "json"))
    net = as_json(osc("network", "create", f"net-{tag}", "-f", "json"))
    sub = as_json(osc("subnet", "create", "--network", net["id"], "--subnet-range",
                      "10.70.0.0/24", f"sub-{tag}", "-f", "json"))
    r = as_json(osc("router", "create", f"r-{tag}", "-f", "json"))
    osc("router", "add", "subnet", r["id"], sub["id"])
    vm = as_json(osc("port", "create", "--network", net["id"], f"vm-{tag}", "-f", "json"))
    vm_ip = vm["fixed_ips"][0]["ip_address"]

    # no gateway yet: the external network is not reachable from the port's subnet
    err = osc("floating", "ip", "create", "--port", vm["id"], ext["id"], ok=False).stderr
    assert f"External network {ext['id']} is not reachable from subnet {sub['id']}" in err
    osc("router", "set", r["id"], "--external-gateway", ext["id"])

    fip = as_json(osc("floating", "ip", "create", "--port", vm["id"], ext["id"],
                      "-f", "json"))
    assert fip["floating_network_id"] == ext["id"] and fip["status"] == "DOWN"
    assert (fip["port_id"], fip["fixed_ip_address"], fip["router_id"]) == \
        (vm["id"], vm_ip, r["id"])
    details = fip["port_details"]
    assert details["network_id"] == net["id"] and details["mac_address"] == vm["mac_address"]
    assert fip["floating_ip_address"].startswith("203.0.113.")

    # one floating IP per fixed IP
    err = osc("floating", "ip", "create", "--port", vm["id"], ext["id"], ok=False).stderr
    assert "as that fixed IP already has a floating IP on external network" in err
    # a chosen address: taken -> 409, outside the network -> 400
    err = osc("floating", "ip", "create", "--floating-ip-address",
              fip["floating_ip_address"], ext["id"], ok=False).stderr
    assert "already allocated" in err
    err = osc("floating", "ip", "create", "--floating-ip-address", "192.0.2.77", ext["id"],
              ok=False).stderr
    assert "is not a valid IP for any of the subnets" in err
    # one the random allocations above (the floating IP's, the router gateway's) left free
    wanted = unallocated(server, ext_sub["id"], "203.0.113.200")
    chosen = as_json(osc("floating", "ip", "create", "--floating-ip-address", wanted,
                         "--subnet", ext_sub["id"], ext["id"], "-f", "json"))
    assert chosen["floating_ip_address"] == wanted and chosen["port_id"] is None
    assert chosen["port_details"] is None and chosen["router_id"] is None

    # disassociate / associate, the one interface and the gateway it needs stay
    osc("floating", "ip", "unset", "--port", fip["id"])
    shown = as_json(osc("floating", "ip", "show", fip["id"], "-f", "json"))
    assert (shown["port_id"], shown["router_id"], shown["fixed_ip_address"]) == \
        (None, None, None)
    osc("floating", "ip", "set", "--port", vm["id"], chosen["id"])
    shown = ok(server, "GET", f"/v2.0/floatingips/{chosen['id']}")["floatingip"]
    assert (shown["port_id"], shown["router_id"]) == (vm["id"], r["id"])
    err = osc("router", "remove", "subnet", r["id"], sub["id"], ok=False).stderr
    assert "required by one or more floating IPs" in err
    err = osc("router", "unset", "--external-gateway", r["id"], ok=False).stderr
    assert "is required by one or more floating IPs" in err
    listed = as_json(osc("floating", "ip", "list", "--port", vm["id"], "-f", "json"))
    assert [x["ID"] for x in listed] == [chosen["id"]]

    # its port cannot go through /ports; deleting the associated port disassociates
    fip_port = ok(server, "GET", f"/v2.0/ports?device_id={fip['id']}")["ports"][0]
    assert fip_port["device_owner"] == "network:floatingip" and fip_port["project_id"] == ""
    err = osc("port", "delete", fip_port["id"], ok=False).stderr
    assert "has owner network:floatingip" in err
    osc("port", "delete", vm["id"])
    shown = ok(server, "GET", f"/v2.0/floatingips/{chosen['id']}")["floatingip"]
    assert (shown["port_id"], shown["router_id"], shown["status"]) == (None, None, "DOWN")

    # an external network with floating IPs cannot go
    err = osc("network", "delete", ext["id"], ok=False).stderr
    assert "ConflictException: 409" in err
    osc("floating", "ip", "delete", fip["id"], chosen["id"])
    assert server.request("GET", f"/v2.0/ports/{fip_port['id']}")[0] == 404
    osc("router", "unset", "--external-gateway", r["id"])
    osc("router", "remove", "subnet", r["id"], sub["id"])
    osc("router", "delete", r["id"])
    osc("network", "delete", ext["id"])


def test_fixed_ip_choice_and_errors(server: Server) -> None:
    project = f"p-{uuid.uuid4().hex[:8]}"
    h = project_headers(project)
    topo = topology(server, h, "198.51.110.0/24", "10.80.0.0/24")
    ext, sub, net = topo["ext"], topo["sub"], topo["net"]
    # not external -> 400; unknown -> 404
    code, kind, msg = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": net["id"]}}, h)
    assert (code, kind) == (400, "BadRequest")
    assert msg == f"Bad floatingip request: Network {net['id']} is not a valid external " \
        "network."
    code, kind, _ = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": str(uuid.uuid4())}}, h)
    assert (code, kind) == (404, "NetworkNotFound")
    # choosing the floating address is the operator's
    code, kind, _ = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "floating_ip_address": "198.51.110.50"}}, h)
    assert (code, kind) == (403, "PolicyNotAuthorized")

    # a port with two IPv4 addresses needs fixed_ip_address, one of its own
    two = port(server, net, h, fixed_ips=[{"subnet_id": sub["id"]}, {"subnet_id": sub["id"]}])
    ips = [f["ip_address"] for f in two["fixed_ips"]]
    body = {"floating_network_id": ext["id"], "port_id": two["id"]}
    code, kind, msg = error(server, "POST", "/v2.0/floatingips", {"floatingip": body}, h)
    assert (code, kind) == (400, "BadRequest") and "multiple fixed IPv4 addresses" in msg
    # an address of the subnet that is not the port's (its two were allocated at random)
    foreign = next(a for a in (f"10.80.0.{n}" for n in range(250, 1, -1)) if a not in ips)
    code, kind, msg = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        **body, "fixed_ip_address": foreign}}, h)
    assert (code, kind) == (400, "BadRequest")
    assert f"Port {two['id']} does not have fixed ip {foreign}" in msg
    fip = _fip(server, h, **body, fixed_ip_address=ips[1])
    assert fip["fixed_ip_address"] == ips[1] and fip["router_id"] == topo["router"]["id"]
    # the other address gets its own; moving the first onto it is refused
    other = _fip(server, h, **body, fixed_ip_address=ips[0])
    code, kind, _ = error(server, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {
        "port_id": two["id"], "fixed_ip_address": ips[0]}}, h)
    assert (code, kind) == (409, "FloatingIPPortAlreadyAssociated")
    # a port without address; a port on a network no router reaches
    bare = port(server, net, h, fixed_ips=[])
    code, kind, msg = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "port_id": bare["id"]}}, h)
    assert (code, kind) == (400, "BadRequest") and "no fixed IPv4 addresses" in msg
    lone_net = network(server, headers=h)
    lone_sub = subnet(server, lone_net, "10.81.0.0/24", h)
    lone = port(server, lone_net, h)
    code, kind, msg = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "port_id": lone["id"]}}, h)
    assert (code, kind) == (404, "ExternalGatewayForFloatingIPNotFound")
    assert f"is not reachable from subnet {lone_sub['id']}" in msg
    # a port of another project
    stranger = project_headers(f"s-{uuid.uuid4().hex[:8]}")
    code, kind, _ = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "port_id": two["id"]}}, stranger)
    assert (code, kind) == (404, "PortNotFound")
    assert server.request("GET", f"/v2.0/floatingips/{fip['id']}", headers=stranger)[0] == 404
    # update: port_id null disassociates; description and revision
    upd = ok(server, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {
        "port_id": None, "description": "spare"}}, h)["floatingip"]
    assert (upd["port_id"], upd["fixed_ip_address"], upd["description"]) == \
        (None, None, "spare")
    assert upd["revision_number"] > fip["revision_number"]
    code, _, _ = error(server, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {
        "floating_ip_address": "198.51.110.9"}}, h)
    assert code == 400  # not updatable
    # listing, filters
    mine = ok(server, "GET", f"/v2.0/floatingips?port_id={two['id']}",
              headers=h)["floatingips"]
    assert [x["id"] for x in mine] == [other["id"]]
    listed = ok(server, "GET", f"/v2.0/floatingips?floating_network_id={ext['id']}",
                headers=h)["floatingips"]
    assert {x["id"] for x in listed} == {fip["id"], other["id"]}
    for f in (fip, other):
        ok(server, "DELETE", f"/v2.0/floatingips/{f['id']}", headers=h)
    assert error(server, "DELETE", f"/v2.0/floatingips/{fip['id']}", None, h)[:2] == \
        (404, "FloatingIPNotFound")


def test_floatingip_quota_and_subnet_choice(server: Server) -> None:
    project = f"p-{uuid.uuid4().hex[:8]}"
    h = project_headers(project)
    ext, _first = external_net(server, "198.51.120.0/24")
    second = subnet(server, ext, "198.51.121.0/24", enable_dhcp=False)
    ok(server, "PUT", f"/v2.0/quotas/{project}", {"quota": {"floatingip": 2, "port": 1}})
    a = _fip(server, h, floating_network_id=ext["id"])
    assert a["floating_ip_address"].startswith(("198.51.120.", "198.51.121."))
    b = _fip(server, h, floating_network_id=ext["id"], subnet_id=second["id"])
    assert b["floating_ip_address"].startswith("198.51.121.")
    code, kind, _ = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"]}}, h)
    assert (code, kind) == (409, "OverQuota")
    # floating IP ports count against no project's port quota
    usage = ok(server, "GET", f"/v2.0/quotas/{project}/details.json")["quota"]
    assert usage["floatingip"]["used"] == 2 and usage["port"]["used"] == 0
    # a subnet of another network
    other_net = network(server)
    other_sub = subnet(server, other_net, "10.99.0.0/24")
    code, kind, _ = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "subnet_id": other_sub["id"]}})
    assert (code, kind) == (400, "BadRequest")
    # the admin chooses an address (one the random allocations above did not take)
    taken = {a["floating_ip_address"], b["floating_ip_address"]}
    chosen = next(f"198.51.120.{i}" for i in range(99, 120) if f"198.51.120.{i}" not in taken)
    c = _fip(server, None, floating_network_id=ext["id"], floating_ip_address=chosen)
    assert c["floating_ip_address"] == chosen
    for f in (a, b, c):
        ok(server, "DELETE", f"/v2.0/floatingips/{f['id']}", headers=h if f is not c else None)
    r = router(server, h, external_gateway_info={"network_id": ext["id"]})
    net = network(server, headers=h)
    sub = subnet(server, net, "10.82.0.0/24", h)
    add_interface(server, r["id"], h, subnet_id=sub["id"])
    ok(server, "PUT", f"/v2.0/routers/{r['id']}/remove_router_interface",
       {"subnet_id": sub["id"]}, h)
    ok(server, "DELETE", f"/v2.0/routers/{r['id']}", headers=h)
