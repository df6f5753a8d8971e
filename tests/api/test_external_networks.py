"""External networks (external-net: ``router:external``) and the access_as_external RBAC
action, through the openstack CLI and raw HTTP, on every backend."""

from __future__ import annotations

import uuid

from tests.api.l3_support import (
    error,
    external_net,
    network,
    ok,
    router,
    subnet,
)
from tests.support.osc import Osc, as_json
from tests.support.server import Server, project_headers


def test_external_network_cli(osc: Osc, server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    ext = as_json(osc("network", "create", "--external", f"ext-{tag}", "-f", "json"))
    internal = as_json(osc("network", "create", f"int-{tag}", "-f", "json"))
    assert ext["router:external"] is True and internal["router:external"] is False
    listed = {n["ID"] for n in as_json(osc("network", "list", "--external", "-f", "json"))}
    assert ext["id"] in listed and internal["id"] not in listed
    listed = {n["ID"] for n in as_json(osc("network", "list", "--internal", "-f", "json"))}
    assert internal["id"] in listed and ext["id"] not in listed

    # every project sees it (a wildcard access_as_external entry), not as shared
    stranger = project_headers(f"s-{uuid.uuid4().hex[:8]}")
    seen = ok(server, "GET", f"/v2.0/networks/{ext['id']}", headers=stranger)["network"]
    assert seen["router:external"] is True and seen["shared"] is False
    code, kind, _ = error(server, "GET", f"/v2.0/networks/{internal['id']}", None, stranger)
    assert (code, kind) == (404, "NetworkNotFound")
    rbacs = ok(server, "GET", f"/v2.0/rbac-policies?object_id={ext['id']}")["rbac_policies"]
    assert [(r["action"], r["target_tenant"]) for r in rbacs] == [("access_as_external", "*")]
    # ... but cannot plug ports into it
    code, kind, _ = error(server, "POST", "/v2.0/ports", {"port": {
        "network_id": ext["id"]}}, stranger)
    assert code in (403, 404)

    as_json(osc("subnet", "create", "--network", ext["id"], "--subnet-range",
                "192.0.2.0/24", "--no-dhcp", f"ext-sub-{tag}", "-f", "json"))
    r = router(server, stranger, external_gateway_info={"network_id": ext["id"]})
    # in use as a gateway: neither made internal nor deleted
    err = osc("network", "set", "--internal", ext["id"], ok=False).stderr
    assert "cannot be updated to be made non-external, since it has existing gateway" in err
    err = osc("network", "delete", ext["id"], ok=False).stderr
    assert "ConflictException: 409" in err
    ok(server, "DELETE", f"/v2.0/routers/{r['id']}", headers=stranger)

    osc("network", "set", "--internal", ext["id"])
    shown = as_json(osc("network", "show", ext["id"], "-f", "json"))
    assert shown["router:external"] is False
    assert ok(server, "GET", f"/v2.0/rbac-policies?object_id={ext['id']}")[
        "rbac_policies"] == []
    assert server.request("GET", f"/v2.0/networks/{ext['id']}", headers=stranger)[0] == 404
    osc("network", "set", "--external", ext["id"])
    assert ok(server, "GET", f"/v2.0/networks/{ext['id']}", headers=stranger)
    osc("network", "delete", ext["id"], internal["id"])


def test_router_external_is_for_admins(server: Server) -> None:
    h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
    code, kind, msg = error(server, "POST", "/v2.0/networks", {"network": {
        "router:external": True}}, h)
    assert (code, kind) == (403, "PolicyNotAuthorized")
    assert "create_network:router:external" in msg
    net = network(server, headers=h)
    assert net["router:external"] is False
    code, kind, _ = error(server, "PUT", f"/v2.0/networks/{net['id']}", {"network": {
        "router:external": True}}, h)
    assert (code, kind) == (403, "PolicyNotAuthorized")
    code, kind, _ = error(server, "POST", "/v2.0/networks", {"network": {
        "router:external": "maybe"}})
    assert code == 400
    # filter values as Neutron reads them
    ext = network(server, external=True)
    ids = {n["id"] for n in ok(server, "GET", "/v2.0/networks?router:external=true")[
        "networks"]}
    assert ext["id"] in ids and net["id"] not in ids
    ok(server, "DELETE", f"/v2.0/networks/{ext['id']}")


def test_access_as_external_entries(server: Server) -> None:
    owner = project_headers(f"o-{uuid.uuid4().hex[:8]}")
    target_project = uuid.uuid4().hex
    target = project_headers(target_project)
    other = project_headers(uuid.uuid4().hex)
    net = network(server, headers=owner)
    sub = subnet(server, net, "198.18.0.0/24", owner, enable_dhcp=False)
    assert sub
    # the owner opens its network to one project as external: it becomes external
    policy = ok(server, "POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_external",
        "target_tenant": target_project}}, owner)["rbac_policy"]
    shown = ok(server, "GET", f"/v2.0/networks/{net['id']}", headers=target)["network"]
    assert shown["router:external"] is True and shown["shared"] is False
    assert server.request("GET", f"/v2.0/networks/{net['id']}", headers=other)[0] == 404
    # the target uses it as a gateway and for floating IPs; others cannot see it
    r = router(server, target, external_gateway_info={"network_id": net["id"]})
    fip = ok(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": net["id"]}}, target)["floatingip"]
    code, kind, _ = error(server, "POST", "/v2.0/routers", {"router": {
        "external_gateway_info": {"network_id": net["id"]}}}, other)
    assert (code, kind) == (404, "NetworkNotFound")
    # the entry cannot go while the target's router uses the network
    code, kind, _ = error(server, "DELETE", f"/v2.0/rbac-policies/{policy['id']}", None,
                          owner)
    assert (code, kind) == (409, "RbacPolicyInUse")
    ok(server, "DELETE", f"/v2.0/routers/{r['id']}", headers=target)
    ok(server, "DELETE", f"/v2.0/floatingips/{fip['id']}", headers=target)
    ok(server, "DELETE", f"/v2.0/rbac-policies/{policy['id']}", headers=owner)
    assert server.request("GET", f"/v2.0/networks/{net['id']}", headers=target)[0] == 404
    ok(server, "DELETE", f"/v2.0/networks/{net['id']}", headers=owner)


def test_external_network_deletion_with_floating_ips(server: Server) -> None:
    ext, _ = external_net(server, "198.18.10.0/24")
    h = project_headers(f"p-{uuid.uuid4().hex[:8]}")
    fip = ok(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"]}}, h)["floatingip"]
    # as Neutron: an unassociated floating IP goes with its network
    ok(server, "DELETE", f"/v2.0/networks/{ext['id']}")
    code, kind, _ = error(server, "GET", f"/v2.0/floatingips/{fip['id']}", headers=h)
    assert (code, kind) == (404, "FloatingIPNotFound")
