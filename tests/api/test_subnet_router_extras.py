"""subnet-external-network, subnet-service-types and l3-port-ip-change-not-allowed over raw
HTTP, on every backend."""

from __future__ import annotations

from typing import Any

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
from tests.support.server import Server, project_headers


def _subnet_ids(server: Server, query: str, headers: dict[str, str]) -> set[str]:
    return {s["id"] for s in ok(server, "GET", f"/v2.0/subnets?{query}",
                                headers=headers)["subnets"]}


def test_subnet_external_network(server: Server, headers: dict[str, str],
                                 admin_headers: dict[str, str]) -> None:
    ext, ext_sub = external_net(server, "198.51.200.0/24")
    net = network(server, headers=headers)
    own = subnet(server, net, "10.200.0.0/24", headers=headers)
    assert own["router:external"] is False and ext_sub["router:external"] is True
    # a project reads the external network's subnet (Neutron's rule:external_network)
    shown = ok(server, "GET", f"/v2.0/subnets/{ext_sub['id']}", headers=headers)["subnet"]
    assert shown["router:external"] is True
    seen = _subnet_ids(server, "router:external=true", headers)
    assert ext_sub["id"] in seen and own["id"] not in seen
    seen = _subnet_ids(server, "router:external=false", headers)
    assert own["id"] in seen and ext_sub["id"] not in seen
    # it follows the network
    ok(server, "PUT", f"/v2.0/networks/{ext['id']}", {"network": {"router:external": False}},
       admin_headers)
    shown = ok(server, "GET", f"/v2.0/subnets/{ext_sub['id']}",
               headers=admin_headers)["subnet"]
    assert shown["router:external"] is False
    code, kind, _ = error(server, "PUT", f"/v2.0/subnets/{own['id']}",
                          {"subnet": {"router:external": True}}, headers)
    assert (code, kind) == (400, "HTTPBadRequest")


def test_service_types_input_and_policy(server: Server, headers: dict[str, str],
                                        admin_headers: dict[str, str]) -> None:
    """Neutron registers admin-only create_/update_subnet:service_types rules but never
    enforces them (neutron-lib's definition has no enforce_policy): the network's owner
    sets and changes them, each change a new revision (upstream's
    test_update_subnet_service_types_bumps_revisions, run as a member)."""
    net = network(server, headers=headers)
    for bad, kind in ((["foo:bar"], "InvalidSubnetServiceType"),
                      ([7], "InvalidInputSubnetServiceType"),
                      ("network:dhcp", "HTTPBadRequest")):
        code, got, _ = error(server, "POST", "/v2.0/subnets", {"subnet": {
            "network_id": net["id"], "cidr": "10.201.0.0/24", "ip_version": 4,
            "service_types": bad}}, headers)
        assert (code, got) == (400, kind), bad
    sub = subnet(server, net, "10.201.0.0/24", headers,
                 service_types=["compute:nova", "network:dhcp"])
    assert sorted(sub["service_types"]) == ["compute:nova", "network:dhcp"]
    plain = subnet(server, net, "10.202.0.0/24", headers)
    assert plain["service_types"] == []
    updated = ok(server, "PUT", f"/v2.0/subnets/{plain['id']}",
                 {"subnet": {"service_types": ["compute:"]}}, headers)["subnet"]
    assert updated["service_types"] == ["compute:"]
    assert updated["revision_number"] > plain["revision_number"]
    cleared = ok(server, "PUT", f"/v2.0/subnets/{plain['id']}",
                 {"subnet": {"service_types": []}}, headers)["subnet"]
    assert cleared["service_types"] == []
    assert cleared["revision_number"] > updated["revision_number"]
    updated = ok(server, "PUT", f"/v2.0/subnets/{sub['id']}",
                 {"subnet": {"service_types": ["network:router_interface"]}},
                 admin_headers)["subnet"]
    assert updated["service_types"] == ["network:router_interface"]
    # another project's member may still not write the subnet
    code, kind, _ = error(server, "PUT", f"/v2.0/subnets/{plain['id']}",
                          {"subnet": {"service_types": ["compute:nova"]}},
                          project_headers("someone-else"))
    assert code == 404, kind


def _subnet_of(p: dict[str, Any]) -> set[str]:
    return {ip["subnet_id"] for ip in p["fixed_ips"]}


def test_allocation_honours_device_owner(server: Server, headers: dict[str, str],
                                         admin_headers: dict[str, str]) -> None:
    net = network(server, headers=headers)
    typed = subnet(server, net, "10.203.0.0/24", admin_headers,
                   service_types=["compute:nova"])
    plain = subnet(server, net, "10.204.0.0/24", headers)
    # the owner's typed subnet first; others only from untyped subnets
    assert _subnet_of(port(server, net, headers, device_owner="compute:nova")) == \
        {typed["id"]}
    assert _subnet_of(port(server, net, headers)) == {plain["id"]}
    code, kind, msg = error(server, "POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": typed["id"]}]}}, headers)
    assert (code, kind) == (400, "InvalidInput") and "invalid subnet" in msg
    # only typed subnets, none for this owner: Neutron's 409
    only = network(server, headers=headers)
    subnet(server, only, "10.205.0.0/24", admin_headers, service_types=["compute:nova"])
    code, kind, _ = error(server, "POST", "/v2.0/ports", {"port": {
        "network_id": only["id"], "device_owner": "compute:other"}}, headers)
    assert (code, kind) == (409, "IpAddressGenerationFailureNoMatchingSubnet")
    assert _subnet_of(port(server, only, headers, device_owner="compute:nova"))
    # the DHCP port may use any subnet with DHCP
    dhcp = port(server, only, admin_headers, device_owner="network:dhcp")
    assert dhcp["fixed_ips"]


def test_floating_ips_from_their_service_subnet(server: Server, headers: dict[str, str],
                                                admin_headers: dict[str, str]) -> None:
    ext, gw_sub = external_net(server, "198.51.206.0/24",
                               service_types=["network:router_gateway"])
    fip_sub = subnet(server, ext, "198.51.207.0/24", admin_headers, enable_dhcp=False,
                     service_types=["network:floatingip"])
    r = router(server, headers, external_gateway_info={"network_id": ext["id"]})
    assert {ip["subnet_id"] for ip in r["external_gateway_info"]["external_fixed_ips"]} \
        == {gw_sub["id"]}
    fip = ok(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"]}}, headers)["floatingip"]
    assert fip["floating_ip_address"].startswith("198.51.207.")
    assert fip_sub["router:external"] is True


def test_router_interface_ip_change_not_allowed(server: Server,
                                                headers: dict[str, str]) -> None:
    net = network(server, headers=headers)
    sub = subnet(server, net, "10.208.0.0/24", headers)
    r = router(server, headers)
    iface = add_interface(server, r["id"], headers, subnet_id=sub["id"])
    code, kind, msg = error(server, "PUT", f"/v2.0/ports/{iface['port_id']}", {"port": {
        "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.208.0.99"}]}}, headers)
    assert (code, kind) == (400, "IPAddressChangeNotAllowed")
    assert msg == f"IP updates for port {iface['port_id']} are not allowed"
    shown = ok(server, "GET", f"/v2.0/ports/{iface['port_id']}", headers=headers)["port"]
    assert [ip["ip_address"] for ip in shown["fixed_ips"]] == ["10.208.0.1"]
    # other changes of the port, and other ports' addresses, still go through
    ok(server, "PUT", f"/v2.0/ports/{iface['port_id']}", {"port": {"name": "x"}}, headers)
    vm = port(server, net, headers)
    # an address the port does not hold already (its own was drawn at random)
    wanted = unallocated(server, sub["id"], "10.208.0.99")
    changed = ok(server, "PUT", f"/v2.0/ports/{vm['id']}", {"port": {"fixed_ips": [
        {"subnet_id": sub["id"], "ip_address": wanted}]}}, headers)["port"]
    assert [ip["ip_address"] for ip in changed["fixed_ips"]] == [wanted]


def test_extensions_advertised(server: Server) -> None:
    aliases = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    assert {"subnet-external-network", "subnet-service-types",
            "l3-port-ip-change-not-allowed"} <= aliases
