"""Address scopes over HTTP and the openstack CLI, on every backend: CRUD, shared scopes
(admin only, never unshared), a pool's address_scope_id (ip_version, ownership, unique
prefixes within a scope), in-use scopes, the network's ipv4/ipv6_address_scope, tags."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

from tests.support.neutron import Api, expect_error
from tests.support.osc import as_json as _json
from tests.support.server import Server

SCOPE_KEYS = {"id", "name", "project_id", "tenant_id", "shared", "ip_version",
              "description", "created_at", "updated_at", "revision_number", "tags"}
PATH = "/v2.0/address-scopes"


def _post(api: Api, **attrs: Any) -> tuple[int, Any]:
    return api.request("POST", PATH, {"address_scope": attrs})


def _list(api: Api, query: str = "") -> list[dict[str, Any]]:
    status, body = api.request("GET", f"{PATH}?{query}")
    assert status == 200, body
    return body["address_scopes"]


def _scope(api: Api, version: int = 4, **attrs: Any) -> dict[str, Any]:
    status, body = _post(api, name=attrs.pop("name", f"as-{uuid.uuid4().hex[:6]}"),
                         ip_version=version, **attrs)
    assert status == 201, body
    return body["address_scope"]


def test_crud(api: Api, project: str) -> None:
    scope = _scope(api, 6, name="mine")
    assert set(scope) == SCOPE_KEYS
    assert (scope["name"], scope["ip_version"], scope["shared"], scope["project_id"],
            scope["revision_number"]) == ("mine", 6, False, project, 1)
    status, body = api.request("GET", f"{PATH}/{scope['id']}")
    assert status == 200 and body["address_scope"] == scope
    assert scope["id"] in {s["id"] for s in _list(api, "ip_version=6")}
    status, body = api.request("PUT", f"{PATH}/{scope['id']}",
                               {"address_scope": {"name": "renamed"}})
    assert status == 200 and body["address_scope"]["name"] == "renamed"
    assert body["address_scope"]["revision_number"] == 2
    expect_error(api.request("PUT", f"{PATH}/{scope['id']}",
                             {"address_scope": {"ip_version": 4}}), 400, "HTTPBadRequest")
    status, _ = api.request("PUT", f"{PATH}/{scope['id']}/tags/blue")
    assert status == 201
    assert [s["id"] for s in _list(api, "tags=blue")] == [scope["id"]]
    assert api.request("DELETE", f"{PATH}/{scope['id']}")[0] == 204
    expect_error(api.request("GET", f"{PATH}/{scope['id']}"), 404, "AddressScopeNotFound")
    expect_error(_post(api, name="x", ip_version=5), 400, "HTTPBadRequest")
    expect_error(_post(api, name="x", ip_version=4, shared=True), 403, "PolicyNotAuthorized")


def test_shared_scope(admin: Api, api: Api) -> None:
    scope = _scope(admin, 4, shared=True)
    private = _scope(admin, 4)
    try:
        assert api.request("GET", f"{PATH}/{scope['id']}")[0] == 200
        expect_error(api.request("GET", f"{PATH}/{private['id']}"), 404,
                     "AddressScopeNotFound")
        expect_error(admin.request("PUT", f"{PATH}/{scope['id']}",
                                   {"address_scope": {"shared": False}}),
                     400, "AddressScopeUpdateError",
                     f"Unable to update address scope {scope['id']} : Shared address scope "
                     "can't be unshared.")
        # a member's pool may join a shared scope, not another project's private one
        pool = api.create("subnetpools", name="p", prefixes=["10.120.0.0/16"],
                          address_scope_id=scope["id"])
        assert pool["address_scope_id"] == scope["id"]
        expect_error(api.post("subnetpools", {"name": "q", "prefixes": ["10.121.0.0/16"],
                                              "address_scope_id": private["id"]}),
                     404, "AddressScopeNotFound")
        api.remove("subnetpools", pool["id"])
    finally:
        admin.request("DELETE", f"{PATH}/{scope['id']}")
        admin.request("DELETE", f"{PATH}/{private['id']}")


def test_pools_in_scope(api: Api) -> None:
    scope = _scope(api, 4)
    v6 = _scope(api, 6)
    pool = api.create("subnetpools", name="a", prefixes=["10.130.0.0/16"],
                      address_scope_id=scope["id"], default_prefixlen=24)
    expect_error(api.post("subnetpools", {"name": "b", "prefixes": ["10.130.128.0/17"],
                                          "address_scope_id": scope["id"]}),
                 409, "AddressScopePrefixConflict")
    expect_error(api.post("subnetpools", {"name": "c", "prefixes": ["10.131.0.0/16"],
                                          "address_scope_id": v6["id"]}),
                 400, "IllegalSubnetPoolIpVersionAssociationToAddressScope")
    other = api.create("subnetpools", name="d", prefixes=["10.130.0.0/24"])
    expect_error(api.put("subnetpools", other["id"], {"address_scope_id": scope["id"]}),
                 409, "AddressScopePrefixConflict")
    second = api.create("subnetpools", name="e", prefixes=["10.140.0.0/16"],
                        address_scope_id=scope["id"])
    expect_error(api.request("PUT", f"/v2.0/subnetpools/{second['id']}/add_prefixes",
                             {"prefixes": ["10.130.5.0/24"]}), 409, "AddressScopePrefixConflict")
    api.remove("subnetpools", second["id"])
    # the network shows the scope of its subnets' pool
    net = api.network()
    assert (net["ipv4_address_scope"], net["ipv6_address_scope"]) == (None, None)
    status, body = api.post("subnets", {"network_id": net["id"], "ip_version": 4,
                                        "subnetpool_id": pool["id"]})
    assert status == 201, body
    shown = api.get("networks", net["id"])[1]["network"]
    assert (shown["ipv4_address_scope"], shown["ipv6_address_scope"]) == (scope["id"], None)
    expect_error(api.request("DELETE", f"{PATH}/{scope['id']}"), 409, "AddressScopeInUse")
    api.remove("subnets", body["subnet"]["id"])
    api.update("subnetpools", pool["id"], address_scope_id=None)
    assert api.request("DELETE", f"{PATH}/{scope['id']}")[0] == 204


def test_openstack_cli(osc: Callable[..., subprocess.CompletedProcess[str]],
                       server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    scope = _json(osc("address", "scope", "create", "--ip-version", "6", f"as-{tag}",
                      "-f", "json"))
    assert scope["ip_version"] == 6
    pool = _json(osc("subnet", "pool", "create", "--pool-prefix", "2001:db8:99::/48",
                     "--address-scope", f"as-{tag}", f"sp-{tag}", "-f", "json"))
    assert pool["address_scope_id"] == scope["id"]
    osc("address", "scope", "set", "--name", f"as2-{tag}", f"as-{tag}")
    listed = _json(osc("address", "scope", "list", "-f", "json"))
    assert any(s["Name"] == f"as2-{tag}" for s in listed)
    osc("subnet", "pool", "delete", f"sp-{tag}")
    osc("address", "scope", "delete", f"as2-{tag}")


def test_rbac_shares_a_scope(api: Api, server: Server) -> None:
    other_project = uuid.uuid4().hex
    other = Api(server, {"X-Project-Id": other_project, "X-Roles": "member"})
    scope = _scope(api, 4)
    status, body = api.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "address_scope", "object_id": scope["id"],
        "action": "access_as_shared", "target_tenant": other_project}})
    assert status == 201, body
    entry = body["rbac_policy"]
    assert other.request("GET", f"{PATH}/{scope['id']}")[0] == 200
    pool = other.create("subnetpools", name="in-scope", prefixes=["10.170.0.0/16"],
                        address_scope_id=scope["id"])
    expect_error(api.request("DELETE", f"/v2.0/rbac-policies/{entry['id']}"), 409,
                 "RbacPolicyInUse")
    other.remove("subnetpools", pool["id"])
    assert api.request("DELETE", f"/v2.0/rbac-policies/{entry['id']}")[0] == 204
    expect_error(other.request("GET", f"{PATH}/{scope['id']}"), 404, "AddressScopeNotFound")
    # a project that cannot see the scope gets the callback's InvalidInput
    expect_error(other.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "address_scope", "object_id": scope["id"],
        "action": "access_as_shared", "target_tenant": other_project}}), 400, "InvalidInput")
