"""Behaviours upstream's API tests (tempest, neutron-tempest-plugin, openstacksdk) found
different from Neutron's (issue 11), each as Neutron answers, on every backend."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.api.l3_support import (
    error,
    external_net,
    network,
    ok,
    port,
    router,
    subnet,
    topology,
)
from tests.api.test_policy_overrides import policy_server
from tests.support.server import Server, project_headers


def _project() -> dict[str, str]:
    return project_headers(f"p-{uuid.uuid4().hex[:12]}")


def _fip(server: Server, net_id: str, headers: dict[str, str] | None = None,
         **extra: Any) -> dict[str, Any]:
    return ok(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": net_id, **extra}}, headers)["floatingip"]


# --- floating IPs, external networks, routers -------------------------------------------------
def test_deleting_external_network_deletes_unassociated_floating_ips(server: Server) -> None:
    """tempest test_delete_external_networks_with_floating_ip: the network goes, with
    its floating IPs that are not associated; an associated one makes it 409."""
    ext, _ = external_net(server, "198.51.100.0/24")
    tagged = _fip(server, ext["id"])
    plain = _fip(server, ext["id"])
    ok(server, "PUT", f"/v2.0/floatingips/{tagged['id']}/tags/t1", status=201)
    ok(server, "DELETE", f"/v2.0/networks/{ext['id']}")
    for fip in (tagged, plain):
        code, kind, _ = error(server, "GET", f"/v2.0/floatingips/{fip['id']}")
        assert (code, kind) == (404, "FloatingIPNotFound")
    ports = ok(server, "GET", f"/v2.0/ports?network_id={ext['id']}")["ports"]
    assert ports == []

    # associated: in use
    headers = _project()
    topo = topology(server, headers, "203.0.113.0/24", "10.41.0.0/24")
    fip = _fip(server, topo["ext"]["id"], headers, port_id=topo["port"]["id"])
    spare = _fip(server, topo["ext"]["id"], headers)
    code, kind, _ = error(server, "DELETE", f"/v2.0/networks/{topo['ext']['id']}")
    assert (code, kind) == (409, "NetworkInUse")
    # the refused deletion left everything as it was
    assert ok(server, "GET", f"/v2.0/floatingips/{spare['id']}")["floatingip"]["id"]
    assert ok(server, "GET", f"/v2.0/floatingips/{fip['id']}")["floatingip"][
        "port_id"] == topo["port"]["id"]


def test_empty_floating_ip_update_disassociates(server: Server) -> None:
    headers = _project()
    topo = topology(server, headers, "203.0.113.0/24", "10.42.0.0/24")
    fip = _fip(server, topo["ext"]["id"], headers, port_id=topo["port"]["id"])
    # an update of other attributes keeps the association
    kept = ok(server, "PUT", f"/v2.0/floatingips/{fip['id']}",
              {"floatingip": {"description": "d2"}}, headers)["floatingip"]
    assert (kept["description"], kept["port_id"]) == ("d2", topo["port"]["id"])
    # an empty one clears it, as {"port_id": null} does
    cleared = ok(server, "PUT", f"/v2.0/floatingips/{fip['id']}", {"floatingip": {}},
                 headers)["floatingip"]
    assert (cleared["port_id"], cleared["fixed_ip_address"], cleared["router_id"]) == (
        None, None, None)
    assert cleared["description"] == "d2"


def test_admin_associating_another_projects_port_is_400(server: Server) -> None:
    """neutron-tempest-plugin test_associate_floatingip_port_ext_net_unreachable's
    sibling: an admin sees both, so it is a bad request, not a missing port; a
    project that cannot see the port gets 404."""
    owner, other = _project(), _project()
    topo = topology(server, owner, "203.0.113.0/24", "10.43.0.0/24")
    theirs = _fip(server, topo["ext"]["id"], other)
    admin = project_headers("admin-project", admin=True)
    code, kind, msg = error(server, "PUT", f"/v2.0/floatingips/{theirs['id']}", {
        "floatingip": {"port_id": topo["port"]["id"]}}, admin)
    assert (code, kind) == (400, "BadRequest")
    assert "owned by a different tenant" in msg
    code, kind, msg = error(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": topo["ext"]["id"], "port_id": topo["port"]["id"],
        "project_id": other["X-Project-Id"]}}, admin)
    assert (code, kind) == (400, "BadRequest")
    code, kind, _ = error(server, "PUT", f"/v2.0/floatingips/{theirs['id']}", {
        "floatingip": {"port_id": topo["port"]["id"]}}, other)
    assert (code, kind) == (404, "PortNotFound")


def test_gateway_on_external_network_without_subnet(server: Server) -> None:
    """A gateway port with no addresses, as Neutron's (tempest
    test_create_router_with_default_snat_value on a subnet-less external network)."""
    ext = network(server, external=True)
    headers = _project()
    r = router(server, headers, external_gateway_info={"network_id": ext["id"]})
    gw = r["external_gateway_info"]
    assert (gw["network_id"], gw["external_fixed_ips"]) == (ext["id"], [])
    ports = ok(server, "GET", f"/v2.0/ports?device_id={r['id']}")["ports"]
    assert [(p["device_owner"], p["fixed_ips"]) for p in ports] == [
        ("network:router_gateway", [])]
    # and it goes with the gateway
    ok(server, "PUT", f"/v2.0/routers/{r['id']}", {"router": {
        "external_gateway_info": None}}, headers)
    assert ok(server, "GET", f"/v2.0/ports?device_id={r['id']}")["ports"] == []


def test_routers_say_they_are_not_ha(server: Server) -> None:
    """openstacksdk's router tests without l3-ha: is_ha is false (not absent)."""
    headers = _project()
    r = router(server, headers)
    assert r["ha"] is False
    assert ok(server, "GET", f"/v2.0/routers/{r['id']}", headers=headers)["router"][
        "ha"] is False
    listed = ok(server, "GET", "/v2.0/routers", headers=headers)["routers"]
    assert [x["ha"] for x in listed] == [False]
    aliases = {e["alias"] for e in ok(server, "GET", "/v2.0/extensions")["extensions"]}
    assert not aliases & {"l3-ha", "dvr", "network_ha"}
    code, _, _ = error(server, "POST", "/v2.0/routers", {"router": {"ha": True}}, headers)
    assert code == 400


def test_deleting_wildcard_external_policy_makes_network_internal(server: Server) -> None:
    net = network(server)
    policy = ok(server, "POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_external",
        "target_tenant": "*"}})["rbac_policy"]
    assert ok(server, "GET", f"/v2.0/networks/{net['id']}")["network"]["router:external"]
    ok(server, "DELETE", f"/v2.0/rbac-policies/{policy['id']}")
    assert not ok(server, "GET", f"/v2.0/networks/{net['id']}")["network"][
        "router:external"]

    # with another entry left it stays external; once that goes too, internal
    ext = network(server, external=True)
    wildcard = ok(server, "GET", f"/v2.0/rbac-policies?object_id={ext['id']}")[
        "rbac_policies"][0]
    one = ok(server, "POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": ext["id"], "action": "access_as_external",
        "target_tenant": uuid.uuid4().hex}})["rbac_policy"]
    ok(server, "DELETE", f"/v2.0/rbac-policies/{wildcard['id']}")
    assert ok(server, "GET", f"/v2.0/networks/{ext['id']}")["network"]["router:external"]
    # the owner's router has its gateway there: refused, still external
    r = router(server, external_gateway_info={"network_id": ext["id"]})
    code, kind, _ = error(server, "DELETE", f"/v2.0/rbac-policies/{one['id']}")
    assert (code, kind) == (409, "RbacPolicyInUse")
    assert ok(server, "GET", f"/v2.0/networks/{ext['id']}")["network"]["router:external"]
    ok(server, "DELETE", f"/v2.0/routers/{r['id']}")
    ok(server, "DELETE", f"/v2.0/rbac-policies/{one['id']}")
    assert not ok(server, "GET", f"/v2.0/networks/{ext['id']}")["network"][
        "router:external"]


# --- security groups -----------------------------------------------------------------------
def _group(server: Server, headers: dict[str, str]) -> dict[str, Any]:
    return ok(server, "POST", "/v2.0/security-groups", {"security_group": {
        "name": f"g-{uuid.uuid4().hex[:6]}"}}, headers)["security_group"]


def test_remote_group_id_not_a_uuid_is_404(server: Server) -> None:
    headers = _project()
    group = _group(server, headers)
    code, kind, _ = error(server, "POST", "/v2.0/security-group-rules", {
        "security_group_rule": {"security_group_id": group["id"], "direction": "ingress",
                                "remote_group_id": "not-a-uuid"}}, headers)
    assert (code, kind) == (404, "SecurityGroupNotFound")


def test_same_security_group_twice_on_a_port_is_400(server: Server) -> None:
    headers = _project()
    group = _group(server, headers)
    net = network(server, headers=headers)
    code, kind, msg = error(server, "POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "security_groups": [group["id"], group["id"]]}}, headers)
    assert (code, kind) == (400, "HTTPBadRequest")
    assert "Duplicate items in the list" in msg
    p = port(server, net, headers, security_groups=[group["id"]])
    code, _, _ = error(server, "PUT", f"/v2.0/ports/{p['id']}", {"port": {
        "security_groups": [group["id"], group["id"]]}}, headers)
    assert code == 400


def test_group_whose_default_rules_exceed_rule_quota_is_409(server: Server) -> None:
    headers = _project()
    project = headers["X-Project-Id"]
    _group(server, headers)  # the default group (4 rules) and this one (2)
    ok(server, "PUT", f"/v2.0/quotas/{project}", {"quota": {"security_group_rule": 7}})
    code, kind, _ = error(server, "POST", "/v2.0/security-groups", {"security_group": {
        "name": "over"}}, headers)
    assert (code, kind) == (409, "OverQuota")
    groups = ok(server, "GET", "/v2.0/security-groups?name=over", headers=headers)
    assert groups["security_groups"] == []
    ok(server, "PUT", f"/v2.0/quotas/{project}", {"quota": {"security_group_rule": 8}})
    _group(server, headers)


def test_remote_ip_prefix_as_given(server: Server) -> None:
    """security-groups-normalized-cidr: remote_ip_prefix as given, normalized_cidr the
    network; rules equal once normalized are duplicates."""
    headers = _project()
    group = _group(server, headers)
    rule = ok(server, "POST", "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": group["id"], "direction": "ingress",
        "remote_ip_prefix": "10.0.0.7/24"}}, headers)["security_group_rule"]
    assert (rule["remote_ip_prefix"], rule["normalized_cidr"]) == (
        "10.0.0.7/24", "10.0.0.0/24")
    shown = ok(server, "GET", f"/v2.0/security-group-rules/{rule['id']}",
               headers=headers)["security_group_rule"]
    assert (shown["remote_ip_prefix"], shown["normalized_cidr"]) == (
        "10.0.0.7/24", "10.0.0.0/24")
    code, kind, _ = error(server, "POST", "/v2.0/security-group-rules", {
        "security_group_rule": {"security_group_id": group["id"], "direction": "ingress",
                                "remote_ip_prefix": "10.0.0.0/24"}}, headers)
    assert (code, kind) == (409, "SecurityGroupRuleExists")


# --- pagination under a policy that reads less than the query finds ---------------------------
def test_subnet_pages_filled_after_policy(tmp_path: Path) -> None:
    rules = {"get_subnet": "not 'hidden':%(description)s"}
    with policy_server(tmp_path, rules) as (srv, _):
        headers = _project()
        net = network(srv, headers=headers)
        hidden = {1, 2, 3, 6}
        for i in range(8):
            subnet(srv, net, f"10.50.{i}.0/24", headers, name=f"s{i}",
                   description="hidden" if i in hidden else "")

        def page(query: str) -> tuple[list[str], dict[str, str]]:
            body = ok(srv, "GET", f"/v2.0/subnets?sort_key=name&sort_dir=asc&{query}",
                      headers=headers)
            links = {link["rel"]: link["href"] for link in body.get("subnets_links", [])}
            return [s["name"] for s in body["subnets"]], links

        names, links = page("limit=2")
        assert names == ["s0", "s4"]
        assert "next" in links
        names, links = page(f"limit=2&marker={_id(srv, headers, 's4')}")
        assert names == ["s5", "s7"]
        names, links = page(f"limit=2&marker={_id(srv, headers, 's7')}")
        assert (names, "next" in links) == ([], False)
        # backwards from s5: s0 and s4
        names, _ = page(f"limit=2&page_reverse=True&marker={_id(srv, headers, 's5')}")
        assert names == ["s0", "s4"]
        names, _ = page("")
        assert names == ["s0", "s4", "s5", "s7"]


def _id(server: Server, headers: dict[str, str], name: str) -> str:
    found = ok(server, "GET", f"/v2.0/subnets?name={name}", headers=headers)["subnets"]
    assert len(found) == 1
    return found[0]["id"]

