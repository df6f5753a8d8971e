"""More behaviours upstream's API tests found different from Neutron's (issue 11), each
as Neutron answers, on every backend, through the real HTTP server."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any

from tests.api.l3_support import error, external_net, ok, router
from tests.support.server import Server, project_headers


def _unlabelled(server: Server, method: str, path: str, body: dict[str, Any],
                headers: dict[str, str]) -> tuple[int, Any]:
    """A request whose body carries no Content-Type header at all, as tempest's network
    clients send their PUTs (only X-Auth-Token)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        data = json.dumps(body).encode()
        conn.putrequest(method, path)
        for name, value in {**headers, "Content-Length": str(len(data))}.items():
            conn.putheader(name, value)
        conn.endheaders(data)
        resp = conn.getresponse()
        payload = resp.read()
        return resp.status, json.loads(payload) if payload else None
    finally:
        conn.close()


def test_body_without_content_type_is_json_when_a_token_is_sent(server: Server) -> None:
    """tempest's PUTs (ports' MACs, shared networks, RBAC targets, address scopes, port
    security) send no Content-Type; Neutron parses them as JSON. A request with an
    X-Auth-Token header cannot be forged cross-site without a preflight, so it is taken
    as JSON; one without any token stays refused (415)."""
    headers = project_headers(f"p-{uuid.uuid4().hex[:12]}")
    status, created = server.request("POST", "/v2.0/networks",
                                     {"network": {"name": "before"}}, headers=headers)
    assert status == 201, created
    net = created["network"]
    path = f"/v2.0/networks/{net['id']}"

    status, err = _unlabelled(server, "PUT", path, {"network": {"name": "forged"}}, headers)
    assert status == 415, err
    assert err["NeutronError"]["type"] == "HTTPUnsupportedMediaType"
    status, shown = server.request("GET", path, headers=headers)
    assert shown["network"]["name"] == "before"

    tokened = {**headers, "X-Auth-Token": "tempest-style"}
    status, updated = _unlabelled(server, "PUT", path, {"network": {"name": "after"}},
                                  tokened)
    assert status == 200, updated
    assert updated["network"]["name"] == "after"
    status, shown = server.request("GET", path, headers=headers)
    assert shown["network"]["name"] == "after"

    # a POST likewise; a body that is not JSON is still Neutron's 400
    status, made = _unlabelled(server, "POST", "/v2.0/networks",
                               {"network": {"name": "posted"}}, tokened)
    assert status == 201, made
    assert made["network"]["name"] == "posted"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest("PUT", path)
        for name, value in {**tokened, "Content-Length": "5"}.items():
            conn.putheader(name, value)
        conn.endheaders(b"name=")
        resp = conn.getresponse()
        assert resp.status == 400, resp.read()
        resp.read()
    finally:
        conn.close()


def test_external_wildcard_retargeted_to_the_project_whose_router_uses_it(
        server: Server) -> None:
    """neutron-tempest-plugin ExternalNetworksRBACTestJSON
    test_external_update_policy_from_wildcard_to_specific_project: the wildcard
    access_as_external entry may become one for the only project with a router there
    (the new target keeps its access), not one for another project."""
    ext, _ = external_net(server, "203.0.113.0/24")
    user, other = uuid.uuid4().hex, uuid.uuid4().hex
    found = ok(server, "GET", f"/v2.0/rbac-policies?object_id={ext['id']}"
               "&action=access_as_external&target_tenant=*")["rbac_policies"]
    assert len(found) == 1
    wildcard = found[0]["id"]
    r = router(server, project_headers(user), external_gateway_info={"network_id": ext["id"]})

    status, kind, _msg = error(server, "PUT", f"/v2.0/rbac-policies/{wildcard}",
                               {"rbac_policy": {"target_tenant": other}})
    assert (status, kind) == (409, "RbacPolicyInUse")
    updated = ok(server, "PUT", f"/v2.0/rbac-policies/{wildcard}",
                 {"rbac_policy": {"target_tenant": user}})["rbac_policy"]
    assert updated["target_tenant"] == user
    # now the router depends on this very entry: moving it elsewhere is refused
    status, kind, _msg = error(server, "PUT", f"/v2.0/rbac-policies/{wildcard}",
                               {"rbac_policy": {"target_tenant": other}})
    assert (status, kind) == (409, "RbacPolicyInUse")
    shown = ok(server, "GET", f"/v2.0/rbac-policies/{wildcard}")["rbac_policy"]
    assert shown["target_tenant"] == user
    ok(server, "DELETE", f"/v2.0/routers/{r['id']}", headers=project_headers(user))


def test_collections_by_dashed_or_underscored_name(server: Server) -> None:
    """neutron-tempest-plugin test_create_floatingip_from_specific_pool lists
    /v2.0/floatingip-pools (its client writes every collection with dashes); Neutron
    finds a collection by either spelling."""
    ext, sub = external_net(server, "192.0.2.0/24")
    for path in ("/v2.0/floatingip-pools", "/v2.0/floatingip_pools"):
        pools = ok(server, "GET", path)["floatingip_pools"]
        assert sub["id"] in {p["subnet_id"] for p in pools}, path
    headers = project_headers(f"p-{uuid.uuid4().hex[:12]}")
    scope = ok(server, "POST", "/v2.0/address_scopes",
               {"address_scope": {"name": "s", "ip_version": 4}}, headers)["address_scope"]
    shown = ok(server, "GET", f"/v2.0/address-scopes/{scope['id']}", headers=headers)
    assert shown["address_scope"]["name"] == "s"
    ok(server, "PUT", f"/v2.0/address_scopes/{scope['id']}",
       {"address_scope": {"name": "t"}}, headers)
    ok(server, "DELETE", f"/v2.0/address_scopes/{scope['id']}", headers=headers)
    code, _body = server.request("GET", "/v2.0/no_such-thing")
    assert code == 404
    ok(server, "DELETE", f"/v2.0/networks/{ext['id']}")


def test_wildcard_external_entry_of_the_default_external_network_stays(
        server: Server) -> None:
    """neutron-tempest-plugin ExternalNetworksRBACTestJSON
    test_wildcard_policy_delete_blocked_on_default_ext: the default external network's
    wildcard access_as_external entry can be neither deleted nor retargeted (409
    RbacPolicyInUse); once the network is no longer the default, it can."""
    ext, _ = external_net(server, "198.51.100.0/24")
    ok(server, "PUT", f"/v2.0/networks/{ext['id']}", {"network": {"is_default": True}})
    found = ok(server, "GET", f"/v2.0/rbac-policies?object_id={ext['id']}"
               "&action=access_as_external&target_tenant=*")["rbac_policies"]
    wildcard = found[0]["id"]
    status, kind, msg = error(server, "DELETE", f"/v2.0/rbac-policies/{wildcard}")
    assert (status, kind) == (409, "RbacPolicyInUse")
    assert "Default external networks must be shared to everyone" in msg
    status, kind, _msg = error(server, "PUT", f"/v2.0/rbac-policies/{wildcard}",
                               {"rbac_policy": {"target_tenant": uuid.uuid4().hex}})
    assert (status, kind) == (409, "RbacPolicyInUse")
    shown = ok(server, "GET", f"/v2.0/networks/{ext['id']}")["network"]
    assert shown["router:external"] is True and shown["is_default"] is True

    ok(server, "PUT", f"/v2.0/networks/{ext['id']}", {"network": {"is_default": False}})
    ok(server, "DELETE", f"/v2.0/rbac-policies/{wildcard}")
    assert ok(server, "GET", f"/v2.0/networks/{ext['id']}")["network"]["router:external"] \
        is False
