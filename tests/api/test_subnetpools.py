"""Subnet pools over HTTP and the openstack CLI, on every backend: defaults and bounds,
prefix compaction, subnets allocated by prefix length and by cidr inside the pool, pool
exhaustion, per-project prefix quotas, the default pool, add/remove_prefixes, in-use
pools, shared pools' visibility, tags and revisions."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

from tests.support.neutron import Api, expect_error
from tests.support.osc import as_json as _json
from tests.support.server import Server

POOL_KEYS = {"id", "name", "project_id", "tenant_id", "prefixes", "default_prefixlen",
             "min_prefixlen", "max_prefixlen", "default_quota", "ip_version", "shared",
             "is_default", "address_scope_id", "description", "created_at", "updated_at",
             "revision_number", "tags"}


def _pool(api: Api, prefixes: list[str], **attrs: Any) -> dict[str, Any]:
    return api.create("subnetpools", name=attrs.pop("name", f"sp-{uuid.uuid4().hex[:6]}"),
                      prefixes=prefixes, **attrs)


def _from_pool(api: Api, net_id: str, pool_id: str, version: int = 4, **attrs: Any
               ) -> tuple[int, Any]:
    return api.post("subnets", {"network_id": net_id, "ip_version": version,
                                "subnetpool_id": pool_id, **attrs})


def test_extensions_advertised(api: Api) -> None:
    _status, body = api.request("GET", "/v2.0/extensions")
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"subnet_allocation", "default-subnetpools", "subnetpool-prefix-ops",
            "address-scope"} <= aliases


def test_create_defaults_and_compaction(api: Api, project: str) -> None:
    pool = _pool(api, ["10.10.0.0/24", "10.10.1.0/24", "10.10.0.128/25"])
    assert set(pool) == POOL_KEYS
    assert pool["prefixes"] == ["10.10.0.0/23"]  # merged, as Neutron stores them
    assert (pool["ip_version"], pool["min_prefixlen"], pool["max_prefixlen"],
            pool["default_prefixlen"]) == (4, "8", "32", "8")
    assert (pool["shared"], pool["is_default"], pool["default_quota"],
            pool["address_scope_id"], pool["project_id"]) == (False, False, None, None,
                                                              project)
    assert pool["revision_number"] == 1
    v6 = _pool(api, ["2001:db8::/48"])
    assert (v6["ip_version"], v6["min_prefixlen"], v6["max_prefixlen"]) == (6, "64", "128")
    assert api.get("subnetpools", pool["id"])[1]["subnetpool"] == pool
    assert {p["id"] for p in api.list("subnetpools")} >= {pool["id"], v6["id"]}


def test_create_errors(api: Api) -> None:
    expect_error(api.post("subnetpools", {"name": "x", "prefixes": ["10.0.0.0/8",
                                                                    "2001:db8::/32"]}),
                 400, "PrefixVersionMismatch")
    expect_error(api.post("subnetpools", {"name": "x", "prefixes": ["10.0.0.0/8"],
                                          "min_prefixlen": 24, "max_prefixlen": 16}),
                 400, "IllegalSubnetPoolPrefixBounds",
                 "Illegal prefix bounds: min_prefixlen=24, max_prefixlen=16.")
    expect_error(api.post("subnetpools", {"name": "x", "prefixes": ["10.0.0.0/8"],
                                          "max_prefixlen": 33}),
                 400, "IllegalSubnetPoolPrefixBounds")
    expect_error(api.post("subnetpools", {"name": "x", "prefixes": ["10.0.0.0/8"],
                                          "min_prefixlen": 16, "default_prefixlen": 12}),
                 400, "IllegalSubnetPoolPrefixBounds")
    expect_error(api.post("subnetpools", {"prefixes": ["10.0.0.0/8"]}), 400, "HTTPBadRequest")
    expect_error(api.post("subnetpools", {"name": "x", "prefixes": ["10.0.0.0/8"],
                                          "shared": True}), 403, "PolicyNotAuthorized")


def test_allocate_by_prefixlen_and_cidr(api: Api) -> None:
    pool = _pool(api, ["10.20.0.0/16"], min_prefixlen=20, default_prefixlen=24,
                 max_prefixlen=28)
    net = api.network()
    status, body = _from_pool(api, net["id"], pool["id"])
    assert status == 201, body
    first = body["subnet"]
    assert (first["cidr"], first["subnetpool_id"], first["gateway_ip"]) == (
        "10.20.0.0/24", pool["id"], "10.20.0.1")
    second = _from_pool(api, net["id"], pool["id"], prefixlen=26)[1]["subnet"]
    assert second["cidr"] == "10.20.1.0/26"
    third = _from_pool(api, net["id"], pool["id"], cidr="10.20.8.0/24")[1]["subnet"]
    assert third["cidr"] == "10.20.8.0/24" and third["subnetpool_id"] == pool["id"]
    # taken, outside, or beyond the bounds
    expect_error(_from_pool(api, net["id"], pool["id"], cidr="10.20.0.0/25"), 409,
                 "SubnetAllocationError")
    expect_error(_from_pool(api, net["id"], pool["id"], cidr="10.99.0.0/24"), 409,
                 "SubnetAllocationError")
    expect_error(_from_pool(api, net["id"], pool["id"], prefixlen=16), 400,
                 "MinPrefixSubnetAllocationError",
                 "Unable to allocate subnet with prefix length 16, minimum allowed prefix "
                 "is 20.")
    expect_error(_from_pool(api, net["id"], pool["id"], prefixlen=30), 400,
                 "MaxPrefixSubnetAllocationError")
    expect_error(_from_pool(api, net["id"], pool["id"], cidr="10.20.9.0/24", prefixlen=24),
                 400, "BadRequest")
    # a freed prefix is allocated again
    api.remove("subnets", first["id"])
    again = _from_pool(api, net["id"], pool["id"])[1]["subnet"]
    assert again["cidr"] == "10.20.0.0/24"
    # the network's IPv4 subnets come from this pool only
    expect_error(api.post("subnets", {"network_id": net["id"], "ip_version": 4,
                                      "cidr": "192.168.7.0/24"}),
                 400, "NetworkSubnetPoolAffinityError")
    expect_error(_from_pool(api, net["id"], pool["id"], version=6), 400, "BadRequest")


def test_pool_exhausted(api: Api) -> None:
    pool = _pool(api, ["10.30.0.0/23"], default_prefixlen=24)
    net = api.network()
    cidrs = {_from_pool(api, net["id"], pool["id"])[1]["subnet"]["cidr"] for _ in range(2)}
    assert cidrs == {"10.30.0.0/24", "10.30.1.0/24"}
    expect_error(_from_pool(api, net["id"], pool["id"]), 409, "SubnetAllocationError",
                 "Failed to allocate subnet: Insufficient prefix space to allocate subnet "
                 "size /24.")


def test_default_quota(api: Api) -> None:
    pool = _pool(api, ["10.40.0.0/16"], default_prefixlen=24, default_quota=384)
    net = api.network()
    assert _from_pool(api, net["id"], pool["id"])[0] == 201
    expect_error(_from_pool(api, net["id"], pool["id"], prefixlen=23), 409,
                 "SubnetPoolQuotaExceeded", "Per-tenant subnet pool prefix quota exceeded.")
    assert _from_pool(api, net["id"], pool["id"], prefixlen=25)[0] == 201
    expect_error(_from_pool(api, net["id"], pool["id"], prefixlen=28), 409,
                 "SubnetPoolQuotaExceeded")


def test_default_pool(admin: Api, api: Api) -> None:
    net = api.network()
    # only admins mark a pool default
    expect_error(api.post("subnetpools", {"name": "d", "prefixes": ["2001:db8:77::/48"],
                                          "is_default": True}), 403, "PolicyNotAuthorized")
    pool = _pool(admin, ["2001:db8:77::/48"], is_default=True, shared=True)
    try:
        expect_error(admin.post("subnetpools", {"name": "d2", "prefixes": ["2001:db8:78::/48"],
                                                "is_default": True}), 400, "InvalidInput")
        status, body = api.post("subnets", {"network_id": net["id"], "ip_version": 6,
                                            "use_default_subnetpool": True})
        assert status == 201, body
        assert body["subnet"]["subnetpool_id"] == pool["id"]
        assert body["subnet"]["cidr"] == "2001:db8:77::/64"
        api.remove("subnets", body["subnet"]["id"])
    finally:
        admin.update("subnetpools", pool["id"], is_default=False)
        admin.remove("subnetpools", pool["id"])
    status, body = api.post("subnets", {"network_id": net["id"], "ip_version": 6,
                                        "use_default_subnetpool": True})
    expect_error((status, body), 400, "BadRequest", contains="No default subnetpool found")


def test_update_prefixes_and_bounds(api: Api) -> None:
    pool = _pool(api, ["10.50.0.0/24"], min_prefixlen=24)
    updated = api.update("subnetpools", pool["id"], prefixes=["10.50.0.0/24", "10.50.1.0/24"],
                         name="renamed", default_quota=1024)
    assert updated["prefixes"] == ["10.50.0.0/23"]
    assert (updated["name"], updated["default_quota"], updated["revision_number"]) == (
        "renamed", 1024, 2)
    expect_error(api.put("subnetpools", pool["id"], {"prefixes": ["10.50.1.0/24"]}), 400,
                 "IllegalSubnetPoolPrefixUpdate",
                 "Illegal update to prefixes: Existing prefixes must be a subset of the new "
                 "prefixes.")
    expect_error(api.put("subnetpools", pool["id"], {"max_prefixlen": 20}), 400,
                 "IllegalSubnetPoolPrefixBounds")
    assert api.update("subnetpools", pool["id"], name="renamed")["revision_number"] == 2


def test_add_and_remove_prefixes(api: Api, project: str) -> None:
    pool = _pool(api, ["10.60.0.0/24"], default_prefixlen=26)
    base = f"/v2.0/subnetpools/{pool['id']}"
    status, body = api.request("PUT", f"{base}/add_prefixes",
                               {"prefixes": ["10.60.1.0/24", "10.61.0.0/24"]})
    assert status == 200 and body == {"prefixes": ["10.60.0.0/23", "10.61.0.0/24"]}
    net = api.network()
    sub = _from_pool(api, net["id"], pool["id"])[1]["subnet"]
    assert sub["cidr"] == "10.60.0.0/26"
    expect_error(api.request("PUT", f"{base}/remove_prefixes", {"prefixes": ["10.60.0.0/24"]}),
                 400, "IllegalSubnetPoolPrefixUpdate")
    status, body = api.request("PUT", f"{base}/remove_prefixes",
                               {"prefixes": ["10.60.1.0/24", "10.61.0.0/24"]})
    assert status == 200 and body == {"prefixes": ["10.60.0.0/24"]}
    shown = api.get("subnetpools", pool["id"])[1]["subnetpool"]
    assert shown["prefixes"] == ["10.60.0.0/24"] and shown["revision_number"] == 3
    expect_error(api.request("PUT", f"{base}/add_prefixes", {"prefixes": ["2001:db8::/64"]}),
                 400, "PrefixVersionMismatch")
    expect_error(api.request("PUT", f"/v2.0/subnetpools/{uuid.uuid4()}/add_prefixes",
                             {"prefixes": ["10.9.0.0/24"]}), 404, "SubnetPoolNotFound")


def test_in_use_pool_not_deleted(api: Api) -> None:
    pool = _pool(api, ["10.70.0.0/16"], default_prefixlen=24)
    net = api.network()
    sub = _from_pool(api, net["id"], pool["id"])[1]["subnet"]
    expect_error(api.delete("subnetpools", pool["id"]), 400, "SubnetPoolDeleteError",
                 "Unable to delete subnet pool: Subnet pool has existing allocations.")
    api.remove("subnets", sub["id"])
    api.remove("subnetpools", pool["id"])
    expect_error(api.get("subnetpools", pool["id"]), 404, "SubnetPoolNotFound")


def test_visibility_and_shared(admin: Api, api: Api, server: Server) -> None:
    other = Api(server, {"X-Project-Id": f"p-{uuid.uuid4().hex[:12]}", "X-Roles": "member"})
    private = _pool(api, ["10.80.0.0/16"])
    shared = _pool(admin, ["10.81.0.0/16"], shared=True, default_prefixlen=24)
    try:
        expect_error(other.get("subnetpools", private["id"]), 404, "SubnetPoolNotFound")
        ids = {p["id"] for p in other.list("subnetpools")}
        assert shared["id"] in ids and private["id"] not in ids
        expect_error(other.put("subnetpools", shared["id"], {"name": "mine"}), 403,
                     "PolicyNotAuthorized")
        net = other.network()
        status, body = _from_pool(other, net["id"], shared["id"])
        assert status == 201, body
        expect_error(_from_pool(other, other.network()["id"], private["id"]), 404,
                     "SubnetPoolNotFound")
        other.remove("subnets", body["subnet"]["id"])
    finally:
        admin.remove("subnetpools", shared["id"])


def test_tags_and_filters(api: Api) -> None:
    pool = _pool(api, ["10.90.0.0/16"], name="tagged-pool")
    status, _ = api.request("PUT", f"/v2.0/subnetpools/{pool['id']}/tags/red")
    assert status == 201
    assert [p["id"] for p in api.list("subnetpools", "tags=red")] == [pool["id"]]
    assert [p["id"] for p in api.list("subnetpools", "name=tagged-pool")] == [pool["id"]]
    assert api.get("subnetpools", pool["id"])[1]["subnetpool"]["tags"] == ["red"]


def test_openstack_cli(osc: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    tag = uuid.uuid4().hex[:8]
    pool = _json(osc("subnet", "pool", "create", "--pool-prefix", "10.100.0.0/16",
                     "--default-prefix-length", "24", f"pool-{tag}", "-f", "json"))
    assert pool["prefixes"] in (["10.100.0.0/16"], "10.100.0.0/16")
    osc("network", "create", f"net-{tag}", "-f", "json")
    sub = _json(osc("subnet", "create", "--network", f"net-{tag}", "--subnet-pool",
                    f"pool-{tag}", f"sub-{tag}", "-f", "json"))
    assert sub["cidr"] == "10.100.0.0/24" and sub["subnetpool_id"] == pool["id"]
    sub2 = _json(osc("subnet", "create", "--network", f"net-{tag}", "--subnet-pool",
                     f"pool-{tag}", "--prefix-length", "26", f"sub2-{tag}", "-f", "json"))
    assert sub2["cidr"] == "10.100.1.0/26"
    osc("subnet", "pool", "set", "--pool-prefix", "10.101.0.0/16", f"pool-{tag}")
    shown = _json(osc("subnet", "pool", "show", f"pool-{tag}", "-f", "json"))
    assert "10.100.0.0/15" in str(shown["prefixes"])  # compacted
    osc("subnet", "delete", f"sub-{tag}", f"sub2-{tag}")
    osc("subnet", "pool", "delete", f"pool-{tag}")


def test_onboard_network_subnets(api: Api) -> None:
    pool = _pool(api, ["10.150.0.0/24"], default_prefixlen=26)
    net = api.network()
    v4 = api.subnet(net["id"], "10.151.0.0/24")
    v6 = api.subnet(net["id"], "2001:db8:151::/64")
    status, body = api.request("PUT", f"/v2.0/subnetpools/{pool['id']}/onboard_network_subnets",
                               {"network_id": net["id"]})
    assert status == 200, body
    assert body == [{"id": v4["id"], "cidr": "10.151.0.0/24"}]
    shown = api.get("subnetpools", pool["id"])[1]["subnetpool"]
    assert shown["prefixes"] == ["10.150.0.0/24", "10.151.0.0/24"]
    sub = api.get("subnets", v4["id"])[1]["subnet"]
    assert sub["subnetpool_id"] == pool["id"]
    assert sub["revision_number"] == v4["revision_number"] + 1
    assert api.get("subnets", v6["id"])[1]["subnet"]["subnetpool_id"] is None
    # now an allocation of the pool: the pool cannot be deleted
    expect_error(api.delete("subnetpools", pool["id"]), 400, "SubnetPoolDeleteError")
    # a second network whose subnet overlaps what the pool has allocated
    other = api.network()
    api.subnet(other["id"], "10.151.0.0/25")
    expect_error(api.request("PUT", f"/v2.0/subnetpools/{pool['id']}/onboard_network_subnets",
                             {"network_id": other["id"]}), 400, "IllegalSubnetPoolUpdate")
    expect_error(api.request("PUT", f"/v2.0/subnetpools/{pool['id']}/onboard_network_subnets",
                             {}), 400, "InvalidInput")
    expect_error(api.request("PUT", f"/v2.0/subnetpools/{pool['id']}/onboard_network_subnets",
                             {"network_id": str(uuid.uuid4())}), 404, "NetworkNotFound")


def test_rbac_shares_a_pool(api: Api, admin: Api, server: Server, project: str) -> None:
    other_project = uuid.uuid4().hex  # RBAC targets are UUID-like project ids
    other = Api(server, {"X-Project-Id": other_project, "X-Roles": "member"})
    pool = _pool(api, ["10.160.0.0/16"], default_prefixlen=24)
    expect_error(other.get("subnetpools", pool["id"]), 404, "SubnetPoolNotFound")
    status, body = api.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "subnetpool", "object_id": pool["id"], "action": "access_as_shared",
        "target_tenant": other_project}})
    assert status == 201, body
    entry = body["rbac_policy"]
    assert (entry["object_type"], entry["project_id"]) == ("subnetpool", project)
    assert api.request("GET", f"/v2.0/rbac-policies/{entry['id']}")[1]["rbac_policy"] == entry
    for kind, present in (("subnetpool", True), ("network", False)):
        status, listed = api.request("GET", f"/v2.0/rbac-policies?object_type={kind}")
        assert (entry["id"] in {e["id"] for e in listed["rbac_policies"]}) is present
    # the target sees the pool (shared, for it) and allocates from it
    shown = other.get("subnetpools", pool["id"])[1]["subnetpool"]
    assert shown["shared"] is True
    assert api.get("subnetpools", pool["id"])[1]["subnetpool"]["shared"] is False
    net = other.network()
    status, body = _from_pool(other, net["id"], pool["id"])
    assert status == 201, body
    # while it uses the pool, the entry stays
    expect_error(api.request("DELETE", f"/v2.0/rbac-policies/{entry['id']}"), 409,
                 "RbacPolicyInUse")
    expect_error(api.request("PUT", f"/v2.0/rbac-policies/{entry['id']}",
                             {"rbac_policy": {"target_tenant": uuid.uuid4().hex}}),
                 409, "RbacPolicyInUse")
    expect_error(api.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "subnetpool", "object_id": pool["id"], "action": "access_as_shared",
        "target_tenant": other_project}}), 409, "DuplicateRbacPolicy")
    expect_error(api.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "subnetpool", "object_id": pool["id"],
        "action": "access_as_external", "target_tenant": other_project}}),
        400, "InvalidActionForType")
    other.remove("subnets", body["subnet"]["id"])
    assert api.request("DELETE", f"/v2.0/rbac-policies/{entry['id']}")[0] == 204
    expect_error(other.get("subnetpools", pool["id"]), 404, "SubnetPoolNotFound")
    # "*" (admins only) is the pool's shared
    status, body = admin.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "subnetpool", "object_id": pool["id"], "action": "access_as_shared",
        "target_tenant": "*"}})
    assert status == 201, body
    assert other.get("subnetpools", pool["id"])[1]["subnetpool"]["shared"] is True
    assert admin.request("DELETE", f"/v2.0/rbac-policies/{body['rbac_policy']['id']}")[0] \
        == 204
    assert api.get("subnetpools", pool["id"])[1]["subnetpool"]["shared"] is False


def test_prefix_lengths_shown_as_strings(api: Api) -> None:
    """Neutron's _make_subnetpool_dict shows the three prefix lengths as strings (what
    upstream's tempest tests compare); stored as integers, they filter and sort as
    numbers ("8" < "16", not after it)."""
    wide = _pool(api, ["10.180.0.0/16"], min_prefixlen="8", default_prefixlen=16)
    narrow = _pool(api, ["10.181.0.0/16"], min_prefixlen=16)
    assert (wide["min_prefixlen"], wide["default_prefixlen"], wide["max_prefixlen"]) == \
        ("8", "16", "32")
    assert api.get("subnetpools", wide["id"])[1]["subnetpool"]["min_prefixlen"] == "8"
    updated = api.update("subnetpools", narrow["id"], min_prefixlen="20", max_prefixlen=30,
                         default_prefixlen=24)
    assert (updated["min_prefixlen"], updated["max_prefixlen"],
            updated["default_prefixlen"]) == ("20", "30", "24")
    mine = {wide["id"], narrow["id"]}
    assert [p["id"] for p in api.list("subnetpools", "min_prefixlen=8")
            if p["id"] in mine] == [wide["id"]]
    ordered = [p["id"] for p in api.list("subnetpools", "sort_key=min_prefixlen&sort_dir=asc")
               if p["id"] in mine]
    assert ordered == [wide["id"], narrow["id"]]
    # allocation reads the stored integers
    net = api.network()
    status, body = _from_pool(api, net["id"], narrow["id"])
    assert status == 201, body
    assert body["subnet"]["cidr"].endswith("/24")


def test_read_only_attribute_refused_before_not_found(admin: Api, api: Api) -> None:
    """As Neutron's (its body validation runs before the policy hook reads the item): a
    PUT of ``shared`` is a 400 even on a pool the caller cannot see."""
    pool = _pool(admin, ["10.182.0.0/16"])
    expect_error(api.put("subnetpools", pool["id"], {"shared": True}), 400,
                 "HTTPBadRequest", "Cannot update read-only attribute shared")
    expect_error(api.put("subnetpools", pool["id"], {"name": "x"}), 404,
                 "SubnetPoolNotFound")
    expect_error(api.put("subnetpools", str(uuid.uuid4()), {"min_prefixlen": "x"}), 400,
                 "InvalidInput")
    admin.remove("subnetpools", pool["id"])


def test_pool_in_anothers_shared_scope_changed_by_admin_only(admin: Api, api: Api) -> None:
    """Neutron's _check_subnetpool_update_allowed: a project's pool an admin put in a
    shared address scope the project does not own is changed only by an admin (or the
    scope's owner): updates, prefix actions and onboarding alike."""
    status, body = admin.request("POST", "/v2.0/address-scopes", {"address_scope": {
        "name": "shared-as", "ip_version": 4, "shared": True}})
    assert status == 201, body
    scope = body["address_scope"]
    pool = _pool(api, ["10.190.0.0/18", "10.191.0.0/18"])
    admin.update("subnetpools", pool["id"], address_scope_id=scope["id"])
    message = (f"Illegal subnetpool update : subnetpool {pool['id']} cannot be updated "
               f"when associated with shared address scope {scope['id']}.")
    expect_error(api.put("subnetpools", pool["id"], {"prefixes": [
        "10.190.0.0/18", "10.191.0.0/18", "10.192.0.0/18"]}), 400,
        "IllegalSubnetPoolUpdate", message)
    expect_error(api.put("subnetpools", pool["id"], {"name": "renamed"}), 400,
                 "IllegalSubnetPoolUpdate", message)
    expect_error(api.request("PUT", f"/v2.0/subnetpools/{pool['id']}/add_prefixes",
                             {"prefixes": ["10.193.0.0/18"]}), 400,
                 "IllegalSubnetPoolUpdate", message)
    net = api.network()
    expect_error(api.request("PUT", f"/v2.0/subnetpools/{pool['id']}/onboard_network_subnets",
                             {"network_id": net["id"]}), 400, "IllegalSubnetPoolUpdate")
    # nothing to add: no update, as Neutron's action answers at once
    status, body = api.request("PUT", f"/v2.0/subnetpools/{pool['id']}/add_prefixes",
                               {"prefixes": []})
    assert status == 200, body
    updated = admin.update("subnetpools", pool["id"], prefixes=[
        "10.190.0.0/18", "10.191.0.0/18", "10.192.0.0/18"])
    assert updated["prefixes"] == ["10.190.0.0/18", "10.191.0.0/18", "10.192.0.0/18"]
    admin.update("subnetpools", pool["id"], address_scope_id=None)
    assert api.update("subnetpools", pool["id"], name="mine again")["name"] == "mine again"
    api.remove("subnetpools", pool["id"])
    admin.request("DELETE", f"/v2.0/address-scopes/{scope['id']}")


def test_rbac_share_needs_the_targets_access_to_the_scope(admin: Api, server: Server
                                                           ) -> None:
    """Neutron's SubnetPool.validate_rbac_policy_create: a pool in an address scope is
    shared only with a project the scope is shared with (itself or "*")."""
    project = uuid.uuid4().hex  # RBAC targets are UUID-like project ids
    api = Api(server, {"X-Project-Id": project, "X-Roles": "member"})
    status, body = admin.request("POST", "/v2.0/address-scopes", {"address_scope": {
        "name": "as", "ip_version": 4}})
    assert status == 201, body
    scope = body["address_scope"]
    reached, unreached = uuid.uuid4().hex, uuid.uuid4().hex

    def share(caller: Api, object_type: str, object_id: str, target: str
              ) -> tuple[int, Any]:
        return caller.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": object_type, "object_id": object_id,
            "action": "access_as_shared", "target_tenant": target}})

    for target in (project, reached):
        status, body = share(admin, "address_scope", scope["id"], target)
        assert status == 201, body
    pool = _pool(api, ["10.200.0.0/16"], address_scope_id=scope["id"])
    # as Neutron's callback failure: InvalidInput naming the callback, its reason
    # ending in two full stops (its RbacPolicyInitError's and its reason's)
    expect_error(share(api, "subnetpool", pool["id"], unreached), 400, "InvalidInput",
                 contains=f'failed with "Failed to create RBAC policy on object '
                 f"{pool['id']} because target project doesn't have access to associated "
                 'address scope..".')
    assert share(api, "subnetpool", pool["id"], reached)[0] == 201
    # a pool in no scope: shared with anyone
    free = _pool(api, ["10.201.0.0/16"])
    assert share(api, "subnetpool", free["id"], unreached)[0] == 201
