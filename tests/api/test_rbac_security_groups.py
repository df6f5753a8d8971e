"""Security groups shared by RBAC entries (rbac-security-groups) and the ``shared``
attribute and filter (security-groups-shared-filtering) over HTTP on every backend, as
neutron-tempest-plugin's RbacSharedSecurityGroupTest expects: a group shared with a
project is visible to it (``shared: true``) and usable by its ports, not changeable by
it; the entry cannot go while that project's ports use the group; "*" shares with all."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.neutron import expect_error
from tests.support.secgroups import SgApi as Api
from tests.support.server import Server, project_headers

RBAC = "rbac-policies"


@pytest.fixture
def api_class() -> type[Api]:
    return Api


def _project(server: Server) -> tuple[str, Api]:
    # target_tenant must look like a UUID (Neutron's validation)
    project = uuid.uuid4().hex
    return project, Api(server, project_headers(project))


def _post(api: Api, attrs: dict[str, Any]) -> tuple[int, Any]:
    return api.request("POST", f"/v2.0/{RBAC}", {"rbac_policy": attrs})


def _show(api: Api, entry_id: str) -> dict[str, Any]:
    status, body = api.get(RBAC, entry_id)
    assert status == 200, body
    return body["rbac_policy"]


def _share(owner: Api, group_id: str, target: str) -> dict[str, Any]:
    status, body = _post(owner, {"object_type": "security_group", "object_id": group_id,
                                 "action": "access_as_shared", "target_tenant": target})
    assert status == 201, body
    return body["rbac_policy"]


def test_share_with_a_project(server: Server, admin: Api) -> None:
    owner_project, owner = _project(server)
    other_project, other = _project(server)
    _, third = _project(server)
    group = owner.create("security-groups", name="shared-web")
    assert group["shared"] is False
    expect_error(other.get("security-groups", group["id"]), 404, "SecurityGroupNotFound")
    assert group["id"] not in {g["id"] for g in other.list("security-groups")}

    entry = _share(owner, group["id"], other_project)
    assert {k: entry[k] for k in ("object_type", "object_id", "action", "target_tenant",
                                  "project_id")} == {
        "object_type": "security_group", "object_id": group["id"],
        "action": "access_as_shared", "target_tenant": other_project,
        "project_id": owner_project}
    assert _show(owner, entry["id"]) == entry
    assert entry["id"] in {e["id"] for e in owner.list(RBAC, "object_type=security_group")}
    assert entry["id"] not in {e["id"] for e in owner.list(RBAC, "object_type=network")}
    expect_error(_post(owner, {"object_type": "security_group", "object_id": group["id"],
                                   "action": "access_as_shared",
                                   "target_tenant": other_project}),
                 409, "DuplicateRbacPolicy")
    expect_error(_post(owner, {"object_type": "security_group", "object_id": group["id"],
                                   "action": "access_as_external",
                                   "target_tenant": other_project}),
                 400, "InvalidActionForType")

    # the target sees it, shared; the owner's own view is not "shared"
    seen = other.show("security-groups", group["id"])
    assert seen["shared"] is True and len(seen["security_group_rules"]) == 2
    assert group["id"] in {g["id"] for g in other.list("security-groups", "shared=true")}
    assert group["id"] not in {g["id"] for g in other.list("security-groups", "shared=false")}
    assert owner.show("security-groups", group["id"])["shared"] is False
    assert group["id"] in {g["id"] for g in owner.list("security-groups", "shared=false")}
    # a third project sees nothing; the target may not change it nor share it on
    expect_error(third.get("security-groups", group["id"]), 404, "SecurityGroupNotFound")
    status, _ = other.put("security-groups", group["id"], {"name": "mine"})
    assert status in (403, 404)
    status, _ = other.delete("security-groups", group["id"])
    assert status in (403, 404)
    status, _ = _post(other, {"object_type": "security_group", "object_id": group["id"],
                                  "action": "access_as_shared", "target_tenant": "*"})
    assert status in (400, 403, 404)

    # the target's port uses the group; the entry cannot go meanwhile
    net = other.network()
    other.subnet(net["id"], "10.7.0.0/24")
    port = other.port(net["id"], security_groups=[group["id"]])
    assert port["security_groups"] == [group["id"]]
    assert [p["id"] for p in other.list("ports", f"security_groups={group['id']}")] == [
        port["id"]]
    expect_error(owner.delete(RBAC, entry["id"]), 409, "RbacPolicyInUse")
    expect_error(owner.request("PUT", f"/v2.0/{RBAC}/{entry['id']}",
                               {"rbac_policy": {"target_tenant": uuid.uuid4().hex}}), 409,
                 "RbacPolicyInUse")
    # ... and a third project's port cannot
    net3 = third.network()
    third.subnet(net3["id"], "10.8.0.0/24")
    expect_error(third.post("ports", {"network_id": net3["id"],
                                      "security_groups": [group["id"]]}),
                 404, "SecurityGroupNotFound")
    other.remove("ports", port["id"])
    owner.remove(RBAC, entry["id"])
    expect_error(other.get("security-groups", group["id"]), 404, "SecurityGroupNotFound")
    expect_error(other.post("ports", {"network_id": net["id"],
                                      "security_groups": [group["id"]]}),
                 404, "SecurityGroupNotFound")


def test_share_with_everyone_and_delete(server: Server, admin: Api) -> None:
    _, owner = _project(server)
    _, other = _project(server)
    group = owner.create("security-groups", name="everyone")
    # "*" is an admin's to grant (Neutron's restrict_wildcard)
    expect_error(_post(owner, {"object_type": "security_group", "object_id": group["id"],
                               "action": "access_as_shared", "target_tenant": "*"}),
                 403, "PolicyNotAuthorized")
    entry = _share(admin, group["id"], "*")
    assert other.show("security-groups", group["id"])["shared"] is True
    assert _show(admin, entry["id"])["target_tenant"] == "*"
    # deleting the group takes its entries with it
    owner.remove("security-groups", group["id"])
    expect_error(owner.get(RBAC, entry["id"]), 404, "RbacPolicyNotFound")


def test_extensions_advertised(api: Api) -> None:
    status, body = api.request("GET", "/v2.0/extensions")
    assert status == 200
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"rbac-security-groups", "security-groups-shared-filtering"} <= aliases
