"""Quotas over HTTP: /v2.0/quotas routes, access rules, validation and enforcement on
create (single and bulk), against Neutron's observable behaviour."""

from __future__ import annotations

import uuid
from typing import Any

import openstack
import pytest

from tests.support.neutron import Api, expect_error, invalid_input
from tests.support.server import Server, project_headers

# Small limits, so that reaching them is cheap; default_quota for resources without an
# option of their own (subnetpool).
SERVER_CONF = {
    "QUOTAS": {"quota_network": 3, "quota_subnet": 3, "quota_port": 5,
               "quota_router": 4, "default_quota": 7},
}
DEFAULTS = {"network": 3, "subnet": 3, "subnetpool": 7, "port": 5, "router": 4,
            "floatingip": 50, "security_group": 10, "security_group_rule": 100,
            "rbac_policy": 10}


def _put(admin: Api, project: str, quota: Any) -> tuple[int, Any]:
    return admin.request("PUT", f"/v2.0/quotas/{project}", {"quota": quota})


def _set(admin: Api, project: str, **limits: Any) -> dict[str, Any]:
    status, body = _put(admin, project, limits)
    assert status == 200, body
    return body["quota"]


def _networks(api: Api, n: int) -> list[dict[str, Any]]:
    return [api.network(name=f"n{i}") for i in range(n)]


def _bulk(api: Api, collection: str, items: list[dict[str, Any]]) -> tuple[int, Any]:
    return api.request("POST", f"/v2.0/{collection}", {collection: items})


def _over(resource: str) -> str:
    return f"Quota exceeded for resources: ['{resource}']."


# --- reading ---------------------------------------------------------------------------------
def test_own_quota_shows_configured_defaults(api: Api, project: str) -> None:
    for path in (f"/v2.0/quotas/{project}", f"/v2.0/quotas/{project}.json"):
        status, body = api.request("GET", path)
        assert status == 200, body
        assert body == {"quota": DEFAULTS}


def test_default_route_ignores_overrides(api: Api, admin: Api, project: str) -> None:
    _set(admin, project, network=9)
    for path in (f"/v2.0/quotas/{project}/default", f"/v2.0/quotas/{project}/default.json"):
        status, body = api.request("GET", path)
        assert status == 200, body
        assert body == {"quota": DEFAULTS}
    status, body = api.request("GET", f"/v2.0/quotas/{project}")
    assert body["quota"] == {**DEFAULTS, "network": 9}


def test_unknown_project_gets_defaults(admin: Api) -> None:
    status, body = admin.request("GET", f"/v2.0/quotas/nobody-{uuid.uuid4().hex}")
    assert status == 200, body
    assert body == {"quota": DEFAULTS}


def test_other_projects_quota_needs_admin_or_manager(server: Server, api: Api,
                                                     admin: Api) -> None:
    other = f"p-{uuid.uuid4().hex[:12]}"
    for path in (f"/v2.0/quotas/{other}", f"/v2.0/quotas/{other}/default"):
        expect_error(api.request("GET", path), 403, "PolicyNotAuthorized",
                     "rule:get_quota is disallowed by policy")
        assert admin.request("GET", path)[0] == 200
        # Neutron's get_quota checks the manager role against the caller's own project,
        # so a manager reads any project's quotas
        manager = Api(server, {"X-Project-Id": "mgr", "X-User-Id": "m",
                               "X-Roles": "manager,member,reader"})
        status, body = manager.request("GET", path)
        assert status == 200, body


def test_list_shows_projects_with_overrides(api: Api, admin: Api, project: str) -> None:
    status, body = admin.request("GET", "/v2.0/quotas")
    assert status == 200, body
    assert project not in {q["project_id"] for q in body["quotas"]}
    _set(admin, project, port=4, subnetpool=2)
    status, body = admin.request("GET", "/v2.0/quotas.json")
    assert status == 200, body
    mine = [q for q in body["quotas"] if q["project_id"] == project]
    assert mine == [{**DEFAULTS, "port": 4, "subnetpool": 2, "project_id": project,
                     "tenant_id": project}]
    expect_error(api.request("GET", "/v2.0/quotas"), 403, "PolicyNotAuthorized",
                 "rule:get_quota is disallowed by policy")


def test_details_report_limit_used_reserved(server: Server, api: Api, admin: Api,
                                            project: str) -> None:
    net = api.network()
    api.subnet(net["id"], "10.0.0.0/24")
    api.port(net["id"])
    api.port(net["id"])
    _set(admin, project, port=-1)
    for path in (f"/v2.0/quotas/{project}/details", f"/v2.0/quotas/{project}/details.json"):
        status, body = api.request("GET", path)
        assert status == 200, body
        q = body["quota"]
        assert set(q) == set(DEFAULTS)
        assert q["network"] == {"limit": 3, "used": 1, "reserved": 0}
        assert q["subnet"] == {"limit": 3, "used": 1, "reserved": 0}
        assert q["port"] == {"limit": -1, "used": 2, "reserved": 0}
        assert q["router"] == {"limit": 4, "used": 0, "reserved": 0}
    status, body = admin.request("GET", f"/v2.0/quotas/{project}/details")
    assert status == 200 and body["quota"]["port"]["used"] == 2
    # another project's details: a plain admin check, even for a manager
    for roles in ("member,reader", "manager,member,reader"):
        other = Api(server, {"X-Project-Id": "someone-else", "X-User-Id": "u",
                             "X-Roles": roles})
        expect_error(other.request("GET", f"/v2.0/quotas/{project}/details"), 403,
                     "AdminRequired",
                     "User does not have admin privileges: Only admin is authorized to "
                     "access quotas for another project.")


def test_tenant_and_project_say_who_asks(server: Server, api: Api, project: str) -> None:
    assert api.request("GET", "/v2.0/quotas/tenant") == (
        200, {"tenant": {"tenant_id": project}})
    assert api.request("GET", "/v2.0/quotas/project.json") == (
        200, {"project": {"project_id": project}})
    operator = Api(server, None)  # noauth operator: admin without a project
    for who in ("tenant", "project"):
        expect_error(operator.request("GET", f"/v2.0/quotas/{who}"), 400,
                     "QuotaMissingTenant", "Tenant-id was missing from quota request.")


def test_methods_and_paths(api: Api, admin: Api, project: str) -> None:
    expect_error(admin.request("POST", "/v2.0/quotas", {"quota": {"network": 1}}), 501,
                 "HTTPNotImplemented", "POST requests are not supported on this resource.")
    for method in ("PUT", "DELETE"):
        assert admin.request(method, "/v2.0/quotas")[0] == 405
    assert admin.request("POST", f"/v2.0/quotas/{project}", {"quota": {}})[0] == 405
    for method in ("PUT", "DELETE", "POST"):
        assert admin.request(method, f"/v2.0/quotas/{project}/default")[0] == 405
        assert admin.request(method, f"/v2.0/quotas/{project}/details")[0] == 405
    assert admin.request("GET", f"/v2.0/quotas/{project}/nothing")[0] == 404
    assert admin.request("GET", f"/v2.0/quotas/{project}/default/x")[0] == 404


def test_extensions_are_listed(api: Api) -> None:
    status, body = api.request("GET", "/v2.0/extensions")
    assert status == 200
    exts = {e["alias"]: e for e in body["extensions"]}
    assert exts["quotas"]["name"] == "Quota management support"
    assert exts["quotas"]["description"] == (
        "Expose functions for quotas management per project")
    assert exts["quota_details"]["updated"] == "2017-02-10T10:00:00-00:00"
    assert exts["quota-check-limit"]["name"] == "Quota engine limit check"
    assert "quota-check-limit-default" in exts
    status, body = api.request("GET", "/v2.0/extensions/quota_details")
    assert status == 200 and body["extension"]["name"] == "Quota details management support"


# --- updating ------------------------------------------------------------------------------
def test_update_returns_full_set_and_persists(api: Api, admin: Api, project: str) -> None:
    status, body = _put(admin, project, {"network": 10, "port": "7", "router": -1})
    assert status == 200, body
    want = {**DEFAULTS, "network": 10, "port": 7, "router": -1}
    assert body == {"quota": want}
    assert api.request("GET", f"/v2.0/quotas/{project}")[1] == {"quota": want}
    # the same again, and an empty change, are fine
    assert _set(admin, project, network=10) == want
    assert _set(admin, project) == want
    assert _set(admin, project, network=11, check_limit=True)["network"] == 11


def test_update_and_delete_need_admin(server: Server, api: Api, project: str) -> None:
    expect_error(_put(api, project, {"network": 50}), 403, "PolicyNotAuthorized",
                 "rule:update_quota is disallowed by policy")
    # policy comes before the body
    expect_error(api.request("PUT", f"/v2.0/quotas/{project}", {"quota": {"x": 1}}), 403,
                 "PolicyNotAuthorized")
    manager = Api(server, {"X-Project-Id": project, "X-User-Id": "m",
                           "X-Roles": "manager,member,reader"})
    expect_error(_put(manager, project, {"network": 50}), 403, "PolicyNotAuthorized")
    expect_error(api.request("DELETE", f"/v2.0/quotas/{project}"), 403,
                 "PolicyNotAuthorized", "rule:delete_quota is disallowed by policy")


@pytest.mark.parametrize(("quota", "status", "type_", "message"), [
    ({"network": -2}, 400, "HTTPBadRequest",
     "Invalid input for network. Reason: '-2' is too small - must be at least '-1'."),
    ({"port": 2147483648}, 400, "HTTPBadRequest",
     "Invalid input for port. Reason: '2147483648' is too large - must be no larger than "
     "'2147483647'."),
    ({"subnet": "abc"}, 400, "InvalidInput", invalid_input("'abc' is not an integer")),
    ({"subnet": None}, 400, "InvalidInput", invalid_input("'None' is not an integer")),
    ({"foo": 1}, 400, "HTTPBadRequest", "Unrecognized attribute(s) 'foo'"),
    ({"network": 1, "project_id": "x"}, 400, "HTTPBadRequest",
     "Unrecognized attribute(s) 'project_id'"),
])
def test_update_validation(admin: Api, project: str, quota: dict[str, Any], status: int,
                           type_: str, message: str) -> None:
    expect_error(_put(admin, project, quota), status, type_, message)
    # nothing was stored
    assert admin.request("GET", f"/v2.0/quotas/{project}")[1] == {"quota": DEFAULTS}


def test_update_body_errors(admin: Api, project: str) -> None:
    path = f"/v2.0/quotas/{project}"
    expect_error(admin.request("PUT", path), 400, "HTTPBadRequest",
                 "Resource body required")
    expect_error(admin.request("PUT", path, {"quotas": {"network": 1}}), 400,
                 "HTTPBadRequest", "Unable to find 'quota' in request body")
    expect_error(admin.request("PUT", path, {"quota": [1]}), 400, "HTTPBadRequest")
    expect_error(admin.server.request("PUT", path, raw=b"{nope", headers=admin.headers),
                 400, "HTTPBadRequest")


def test_limit_below_usage_needs_force(api: Api, admin: Api, project: str) -> None:
    _networks(api, 2)
    msg = "Quota limit 1 for network must be greater than or equal to already used 2"
    expect_error(_put(admin, project, {"network": 1}), 400, "HTTPBadRequest", msg)
    # only JSON true forces
    for force in ("True", 1, False, None):
        expect_error(_put(admin, project, {"network": 1, "force": force}), 400,
                     "HTTPBadRequest", msg)
    assert api.request("GET", f"/v2.0/quotas/{project}")[1]["quota"]["network"] == 3
    # equal to usage, and unlimited, are fine
    assert _set(admin, project, network=2)["network"] == 2
    assert _set(admin, project, network=-1)["network"] == -1
    assert _set(admin, project, network=1, force=True)["network"] == 1
    expect_error(api.post("networks", {"name": "x"}), 409, "OverQuota", _over("network"))
    # the check covers every limit in the body: nothing stored if one is refused
    expect_error(_put(admin, project, {"port": 3, "network": 0}), 400, "HTTPBadRequest",
                 "Quota limit 0 for network must be greater than or equal to already used 2")
    assert api.request("GET", f"/v2.0/quotas/{project}")[1]["quota"]["port"] == 5


def test_delete_restores_defaults(api: Api, admin: Api, project: str) -> None:
    path = f"/v2.0/quotas/{project}"
    expect_error(admin.request("DELETE", path), 404, "TenantQuotaNotFound",
                 f"Quota for project {project} could not be found.")
    _set(admin, project, network=1, port=-1)
    _networks(api, 1)
    expect_error(api.post("networks", {}), 409, "OverQuota", _over("network"))
    assert admin.request("DELETE", path) == (204, None)
    assert api.request("GET", path)[1] == {"quota": DEFAULTS}
    _, body = admin.request("GET", "/v2.0/quotas")
    assert project not in {q["project_id"] for q in body["quotas"]}
    _networks(api, 2)  # back to 3
    expect_error(api.post("networks", {}), 409, "OverQuota", _over("network"))
    expect_error(admin.request("DELETE", path), 404, "TenantQuotaNotFound")


# --- enforcement ---------------------------------------------------------------------------
def test_networks_over_quota(api: Api, project: str) -> None:
    _networks(api, 3)
    expect_error(api.post("networks", {"name": "fourth"}), 409, "OverQuota",
                 _over("network"))
    assert len(api.list("networks")) == 3


def test_bulk_counts_every_item_and_is_atomic(api: Api, project: str) -> None:
    _networks(api, 1)
    expect_error(_bulk(api, "networks", [{"name": f"b{i}"} for i in range(3)]), 409,
                 "OverQuota", _over("network"))
    assert len(api.list("networks")) == 1
    status, body = _bulk(api, "networks", [{"name": f"b{i}"} for i in range(2)])
    assert status == 201, body
    assert len(api.list("networks")) == 3


def test_ports_and_subnets_over_quota(api: Api, project: str) -> None:
    net = api.network()
    expect_error(_bulk(api, "ports", [{"network_id": net["id"]}] * 6), 409, "OverQuota",
                 _over("port"))
    assert api.list("ports") == []
    status, body = _bulk(api, "ports", [{"network_id": net["id"]}] * 4)
    assert status == 201, body
    api.port(net["id"])
    expect_error(api.post("ports", {"network_id": net["id"]}), 409, "OverQuota",
                 _over("port"))
    assert len(api.list("ports")) == 5
    for i in range(3):
        api.subnet(net["id"], f"10.{i}.0.0/24")
    expect_error(api.post("subnets", {"network_id": net["id"], "cidr": "10.9.0.0/24",
                                      "ip_version": 4}), 409, "OverQuota", _over("subnet"))
    # deleting makes room again
    api.remove("ports", api.list("ports")[0]["id"])
    api.port(net["id"])


def test_quota_checked_before_the_request_is_looked_at(api: Api) -> None:
    """Neutron's quota hook runs before the plugin: at the limit even a create that would
    fail (unknown network) is an OverQuota."""
    net = api.network()
    _bulk(api, "ports", [{"network_id": net["id"]}] * 5)
    expect_error(api.post("ports", {"network_id": str(uuid.uuid4())}), 409, "OverQuota")


def test_unlimited_and_zero(api: Api, admin: Api, project: str) -> None:
    _set(admin, project, network=-1)
    _networks(api, 5)
    _set(admin, project, network=5)
    expect_error(api.post("networks", {}), 409, "OverQuota", _over("network"))
    _set(admin, project, port=0)
    net = api.list("networks")[0]
    expect_error(api.post("ports", {"network_id": net["id"]}), 409, "OverQuota",
                 _over("port"))


def test_usage_is_per_project(server: Server, api: Api, admin: Api, project: str) -> None:
    other = project_headers(f"p-{uuid.uuid4().hex[:12]}")
    _networks(Api(server, other), 3)
    _networks(api, 3)
    # an admin creating for several projects at once: each project counts its own items
    p2 = f"p-{uuid.uuid4().hex[:12]}"
    status, body = _bulk(admin, "networks", [{"project_id": p2}] * 2 + [{"project_id": p2}])
    assert status == 201, body
    expect_error(_bulk(admin, "networks", [{"project_id": project}, {"project_id": p2}]),
                 409, "OverQuota", _over("network"))
    p3 = f"p-{uuid.uuid4().hex[:12]}"
    status, body = _bulk(admin, "networks", [{"project_id": p3}] * 3)
    assert status == 201, body
    # ports on another project's shared network count for the port's project
    shared = admin.network(shared=True)
    expect_error(_bulk(api, "ports", [{"network_id": shared["id"]}] * 6), 409,
                 "OverQuota", _over("port"))
    status, body = _bulk(api, "ports", [{"network_id": shared["id"]}] * 5)
    assert status == 201, body


# --- a real client -------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_openstacksdk_quotas(server: Server, project: str) -> None:
    conn = openstack.connection.Connection(
        auth_type="none", network_endpoint_override=f"{server.url}/")
    try:
        q = conn.network.get_quota(project)
        assert (q.networks, q.ports, q.subnets, q.routers) == (3, 5, 3, 4)
        conn.network.update_quota(project, networks=8, ports=-1)
        q = conn.network.get_quota(project)
        assert (q.networks, q.ports) == (8, -1)
        d = conn.network.get_quota(project, details=True)
        assert d.networks == {"limit": 8, "used": 0, "reserved": 0}
        assert conn.network.get_quota_default(project).networks == 3
        assert project in {x.project_id for x in conn.network.quotas()}
        conn.network.delete_quota(project)
        assert conn.network.get_quota(project).networks == 3
    finally:
        conn.close()
