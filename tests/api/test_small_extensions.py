"""Small API extensions over HTTP on every backend: floating-ip-router-writable (a floating
IP hosted by a router the caller names, as neutron-tempest-plugin's
IndirectFloatingIPsNegativeTestJSON and Neutron's _validate_requested_floatingip_router)
and port-mac-override (a direct-physical port takes the MAC of its binding profile's
device_mac_address when its binding is committed, as ML2's _commit_port_binding)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.api.l3_support import add_interface, error, external_net, network, ok, port, router
from tests.api.l3_support import subnet as make_subnet
from tests.api.test_policy_overrides import policy_server
from tests.support.server import Server, project_headers

FIPS = "/v2.0/floatingips"


def _indirect(server: Server, h: dict[str, str], ext_id: str | None, n: int
              ) -> dict[str, Any]:
    """tempest's indirect topology: a project subnet behind an inner router, which reaches
    an outer router (gateway on ``ext_id``) over a transit network; no router has both an
    interface on the project subnet and a gateway."""
    project = network(server, headers=h)
    sub = make_subnet(server, project, f"10.{n}.1.0/24", h)
    transit = network(server, headers=h)
    make_subnet(server, transit, f"10.{n}.2.0/24", h)
    inner = router(server, h)
    gw = {"external_gateway_info": {"network_id": ext_id}} if ext_id else {}
    outer = router(server, h, **gw)
    add_interface(server, inner["id"], h, subnet_id=sub["id"])
    add_interface(server, inner["id"], h, port_id=port(server, transit, h)["id"])
    add_interface(server, outer["id"], h, port_id=port(server, transit, h)["id"])
    return {"port": port(server, project, h), "inner": inner, "outer": outer}


def _body(**attrs: Any) -> dict[str, Any]:
    return {"floatingip": attrs}


def test_floatingip_router_writable(server: Server) -> None:
    ok(server, "GET", "/v2.0/extensions/floating-ip-router-writable")
    h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
    ext, _ = external_net(server, "198.51.120.0/24")
    other_ext, _ = external_net(server, "198.51.121.0/24")
    topo = _indirect(server, h, ext["id"], 91)
    vm, outer = topo["port"], topo["outer"]

    # not named: no router reaches the subnet directly (as before)
    code, kind, _ = error(server, "POST", FIPS, _body(
        floating_network_id=ext["id"], port_id=vm["id"]), h)
    assert (code, kind) == (404, "ExternalGatewayForFloatingIPNotFound")
    # named: a router without a gateway on the floating IP's network is Neutron's bare
    # Conflict (its message is the default one: Neutron passes msg to a class without
    # a message format)
    for wrong in (topo["inner"]["id"],
                  router(server, h, external_gateway_info={
                      "network_id": other_ext["id"]})["id"]):
        code, data = server.request("POST", FIPS, _body(
            floating_network_id=ext["id"], port_id=vm["id"], router_id=wrong), headers=h)
        assert code == 409, data
        assert data["NeutronError"]["type"] == "Conflict"
        assert data["NeutronError"]["message"] == "An unknown exception occurred."
    # a router the caller cannot see (another project's, or none): 404; not a UUID: 400
    foreign = router(server, project_headers(f"q-{uuid.uuid4().hex[:8]}"),
                     external_gateway_info={"network_id": ext["id"]})
    for hidden in (foreign["id"], str(uuid.uuid4())):
        code, kind, msg = error(server, "POST", FIPS, _body(
            floating_network_id=ext["id"], port_id=vm["id"], router_id=hidden), h)
        assert (code, kind, msg) == (404, "RouterNotFound",
                                     f"Router {hidden} could not be found.")
    code, kind, _ = error(server, "POST", FIPS, _body(
        floating_network_id=ext["id"], port_id=vm["id"], router_id="nope"), h)
    assert (code, kind) == (400, "HTTPBadRequest")

    fip = ok(server, "POST", FIPS, _body(floating_network_id=ext["id"], port_id=vm["id"],
                                         router_id=outer["id"]), h)["floatingip"]
    assert (fip["router_id"], fip["port_id"], fip["fixed_ip_address"]) == (
        outer["id"], vm["id"], vm["fixed_ips"][0]["ip_address"])
    assert ok(server, "GET", f"{FIPS}?router_id={outer['id']}", headers=h)[
        "floatingips"][0]["id"] == fip["id"]
    # its router keeps its gateway while it hosts the floating IP
    code, kind, _ = error(server, "PUT", f"/v2.0/routers/{outer['id']}", {
        "router": {"external_gateway_info": {}}}, h)
    assert (code, kind) == (409, "RouterExternalGatewayInUseByFloatingIp")
    # an update naming nothing of the association keeps it
    same = ok(server, "PUT", f"{FIPS}/{fip['id']}", _body(description="d"),
              h)["floatingip"]
    assert (same["router_id"], same["port_id"]) == (outer["id"], vm["id"])
    # router_id alone moves the association to another router (with a gateway there)
    second = router(server, h, external_gateway_info={"network_id": ext["id"]})
    moved = ok(server, "PUT", f"{FIPS}/{fip['id']}", _body(router_id=second["id"]),
               h)["floatingip"]
    assert (moved["router_id"], moved["port_id"]) == (second["id"], vm["id"])
    assert moved["revision_number"] > same["revision_number"]
    # ... and null asks for the router found, of which there is none
    code, kind, _ = error(server, "PUT", f"{FIPS}/{fip['id']}", _body(router_id=None), h)
    assert (code, kind) == (404, "ExternalGatewayForFloatingIPNotFound")
    code, kind, _ = error(server, "PUT", f"{FIPS}/{fip['id']}", _body(
        router_id=topo["inner"]["id"]), h)
    assert code == 409
    # disassociated: a router_id without a port is ignored, as Neutron's
    free = ok(server, "PUT", f"{FIPS}/{fip['id']}", _body(port_id=None), h)["floatingip"]
    assert (free["router_id"], free["port_id"]) == (None, None)
    ignored = ok(server, "PUT", f"{FIPS}/{fip['id']}", _body(router_id=outer["id"]),
                 h)["floatingip"]
    assert ignored["router_id"] is None
    unbound = ok(server, "POST", FIPS, _body(floating_network_id=ext["id"],
                                             router_id=outer["id"]), h)["floatingip"]
    assert unbound["router_id"] is None
    back = ok(server, "PUT", f"{FIPS}/{fip['id']}", _body(
        port_id=vm["id"], router_id=outer["id"]), h)["floatingip"]
    assert back["router_id"] == outer["id"]
    # the port reaches no router at all: naming one is enough (routing is the operator's)
    lone_net = network(server, headers=h)
    make_subnet(server, lone_net, "10.93.0.0/24", h)
    lone = port(server, lone_net, h)
    code, kind, _ = error(server, "PUT", f"{FIPS}/{unbound['id']}", _body(port_id=lone["id"]),
                          h)
    assert (code, kind) == (404, "ExternalGatewayForFloatingIPNotFound")
    hosted = ok(server, "PUT", f"{FIPS}/{unbound['id']}", _body(
        port_id=lone["id"], router_id=second["id"]), h)["floatingip"]
    assert hosted["router_id"] == second["id"]
    for f in (fip, unbound):
        ok(server, "DELETE", f"{FIPS}/{f['id']}", headers=h)
    ok(server, "PUT", f"/v2.0/routers/{outer['id']}", {
        "router": {"external_gateway_info": {}}}, h)


def test_floatingip_router_id_policy(tmp_path: Path) -> None:
    """create_floatingip:router_id / update_floatingip:router_id are Neutron's rules for
    an attribute that is not enforce_policy (floating-ip-router-writable): never
    consulted, so an operator closing them changes nothing, as in Neutron."""
    closed = {"create_floatingip:router_id": "role:admin",
              "update_floatingip:router_id": "role:admin"}
    with policy_server(tmp_path, closed) as (srv, _):
        h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
        ext, _ = external_net(srv, "198.51.122.0/24")
        topo = _indirect(srv, h, ext["id"], 92)
        named = {"floating_network_id": ext["id"], "port_id": topo["port"]["id"],
                 "router_id": topo["outer"]["id"]}
        fip = ok(srv, "POST", FIPS, _body(**named), h)["floatingip"]
        assert fip["router_id"] == topo["outer"]["id"]
        done = ok(srv, "PUT", f"{FIPS}/{fip['id']}", _body(port_id=None, router_id=None),
                  h)["floatingip"]
        assert (done["port_id"], done["router_id"]) == (None, None)
        again = ok(srv, "PUT", f"{FIPS}/{fip['id']}", _body(
            port_id=topo["port"]["id"], router_id=topo["outer"]["id"]), h)["floatingip"]
        assert again["router_id"] == topo["outer"]["id"]


def test_port_mac_override(server: Server) -> None:
    """A direct-physical port takes its binding profile's device_mac_address whenever a
    binding of it is committed (here: binding_failed, no driver binds direct-physical,
    which ML2 commits the same way); without one, a new random MAC."""
    ok(server, "GET", "/v2.0/extensions/port-mac-override")
    # binding:profile is the service role's (Nova's) to write
    admin = {**project_headers("admin-project", admin=True),
             "X-Roles": "admin,member,reader,service"}
    net = network(server, headers=admin)
    make_subnet(server, net, "10.94.0.0/24", admin)

    def put(port_id: str, **attrs: Any) -> dict[str, Any]:
        return ok(server, "PUT", f"/v2.0/ports/{port_id}", {"port": attrs}, admin)["port"]

    device = "FA:16:3E:0A:0B:0C"
    p = port(server, net, admin, **{
        "binding:vnic_type": "direct-physical", "binding:host_id": "host-a",
        "binding:profile": {"device_mac_address": device}})
    assert p["binding:vif_type"] == "binding_failed"
    assert p["mac_address"] == device.lower()
    assert ok(server, "GET", f"/v2.0/ports/{p['id']}", headers=admin)["port"][
        "mac_address"] == device.lower()
    # another device: its MAC
    moved = put(p["id"], **{"binding:profile": {"device_mac_address": "fa:16:3e:0a:0b:0d"}})
    assert moved["mac_address"] == "fa:16:3e:0a:0b:0d"
    # the MAC taken out of the profile: a fresh one, not the device's any more
    plain = put(p["id"], **{"binding:profile": {}})
    assert plain["mac_address"] not in (device.lower(), "fa:16:3e:0a:0b:0d")
    # a device MAC another port of the network has: 409, the binding not committed
    other = port(server, net, admin)
    code, kind, _ = error(server, "PUT", f"/v2.0/ports/{p['id']}", {"port": {
        "binding:profile": {"device_mac_address": other["mac_address"]}}}, admin)
    assert (code, kind) == (409, "MacAddressInUse")
    # any other vnic_type keeps its own MAC whatever the profile says
    normal = port(server, net, admin, **{
        "binding:host_id": "host-a", "binding:profile": {"device_mac_address": device}})
    assert normal["binding:vif_type"] == "binding_failed"
    assert normal["mac_address"] != device.lower()
    # no host: nothing is bound, nothing committed, the MAC stays the port's
    unbound = port(server, net, admin, **{
        "binding:vnic_type": "direct-physical",
        "binding:profile": {"device_mac_address": "fa:16:3e:0a:0b:0e"}})
    assert unbound["binding:vif_type"] == "unbound"
    assert unbound["mac_address"] != "fa:16:3e:0a:0b:0e"
