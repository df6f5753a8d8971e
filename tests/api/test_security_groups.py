"""Security groups over HTTP and through the openstack CLI, on every backend: the
project's default group (made on first need, its rules, not deletable nor renamable),
CRUD, "default" reserved, in-use groups, stateful, visibility, quotas, tags."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.neutron import expect_error
from tests.support.osc import as_json as _json
from tests.support.secgroups import SgApi as Api
from tests.support.server import Server

SERVER_CONF = {"QUOTAS": {"quota_security_group": 4}}
GROUP_KEYS = {"id", "name", "stateful", "shared", "project_id", "tenant_id", "security_group_rules",
              "description", "created_at", "updated_at", "revision_number", "tags"}
RULE_KEYS = {"id", "project_id", "tenant_id", "security_group_id", "direction", "ethertype",
             "protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
             "normalized_cidr", "remote_group_id", "remote_address_group_id",
             "belongs_to_default_sg", "description",
             "created_at", "updated_at", "revision_number"}


@pytest.fixture
def api_class() -> type[Api]:
    return Api  # SgApi: api and admin (tests/api/conftest.py) are SgApis


def _shape(rule: dict[str, Any]) -> tuple[Any, ...]:
    return (rule["direction"], rule["ethertype"], rule["protocol"], rule["remote_ip_prefix"],
            rule["remote_group_id"] is not None)


def _default(api: Api) -> dict[str, Any]:
    [group] = [g for g in api.list("security-groups") if g["name"] == "default"]
    return group


def test_default_group_made_on_first_list(api: Api, project: str) -> None:
    groups = api.list("security-groups")
    assert len(groups) == 1
    group = groups[0]
    assert set(group) == GROUP_KEYS
    assert (group["name"], group["description"], group["project_id"], group["stateful"]) == (
        "default", "Default security group", project, True)
    rules = group["security_group_rules"]
    assert all(set(r) == RULE_KEYS for r in rules)
    assert sorted(_shape(r) for r in rules) == [
        ("egress", "IPv4", None, None, False), ("egress", "IPv6", None, None, False),
        ("ingress", "IPv4", None, None, True), ("ingress", "IPv6", None, None, True)]
    assert {r["remote_group_id"] for r in rules} == {None, group["id"]}
    assert all(r["belongs_to_default_sg"] is True and r["project_id"] == project
               for r in rules)
    # once only, whatever asks
    assert api.list("security-groups") == groups
    assert len(api.list("security-group-rules")) == 4
    status, body = api.get("security-groups", group["id"])
    assert status == 200 and body["security_group"] == group


def test_default_group_made_by_first_port(api: Api) -> None:
    net = api.network(name="n")
    port = api.port(net["id"])
    default = _default(api)
    assert port["security_groups"] == [default["id"]]
    assert len(api.list("security-groups")) == 1


def test_create_show_update_delete(api: Api, project: str) -> None:
    group = api.create("security-groups", name="web", description="http")
    assert set(group) == GROUP_KEYS
    assert (group["name"], group["description"], group["stateful"], group["project_id"],
            group["revision_number"]) == ("web", "http", True, project, 1)
    # a new group lets everything out and nothing in
    assert sorted(_shape(r) for r in group["security_group_rules"]) == [
        ("egress", "IPv4", None, None, False), ("egress", "IPv6", None, None, False)]
    assert all(r["belongs_to_default_sg"] is False for r in group["security_group_rules"])
    # the default group came with it
    assert {g["name"] for g in api.list("security-groups")} == {"default", "web"}

    updated = api.update("security-groups", group["id"], name="www", description="")
    assert (updated["name"], updated["description"], updated["revision_number"]) == (
        "www", "", 2)
    assert api.update("security-groups", group["id"], name="www")["revision_number"] == 2
    assert [g["id"] for g in api.list("security-groups", "name=www")] == [group["id"]]
    api.remove("security-groups", group["id"])
    expect_error(api.get("security-groups", group["id"]), 404, "SecurityGroupNotFound",
                 f"Security group {group['id']} does not exist")
    expect_error(api.delete("security-groups", group["id"]), 404, "SecurityGroupNotFound")
    # its rules went with it
    assert not api.list("security-group-rules", f"security_group_id={group['id']}")


def test_stateless_group(api: Api) -> None:
    group = api.create("security-groups", name="sl", stateful=False)
    assert group["stateful"] is False
    assert [g["id"] for g in api.list("security-groups", "stateful=false")] == [group["id"]]
    assert api.update("security-groups", group["id"], stateful=True)["stateful"] is True


def test_default_name_reserved(api: Api) -> None:
    for name in ("default", "Default", "DEFAULT"):
        expect_error(api.post("security-groups", {"name": name}), 409,
                     "SecurityGroupDefaultAlreadyExists",
                     "Default security group already exists.")
    group = api.create("security-groups", name="x")
    expect_error(api.put("security-groups", group["id"], {"name": "default"}), 409,
                 "SecurityGroupDefaultAlreadyExists")


def test_default_group_protected(api: Api, admin: Api) -> None:
    default = _default(api)
    expect_error(api.delete("security-groups", default["id"]), 409,
                 "SecurityGroupCannotRemoveDefault",
                 "Insufficient rights for removing default security group.")
    expect_error(api.put("security-groups", default["id"], {"name": "other"}), 409,
                 "SecurityGroupCannotUpdateDefault",
                 "Updating default security group not allowed.")
    # its description is the project's to change
    assert api.update("security-groups", default["id"], description="d")["description"] == "d"
    assert _default(api)["id"] == default["id"]


def test_group_in_use(api: Api) -> None:
    net = api.network(name="n")
    group = api.create("security-groups", name="g")
    port = api.port(net["id"], security_groups=[group["id"]])
    expect_error(api.delete("security-groups", group["id"]), 409, "SecurityGroupInUse",
                 f"Security Group {group['id']} in use.")
    # stateful cannot change under ports
    expect_error(api.put("security-groups", group["id"], {"stateful": False}), 409,
                 "SecurityGroupInUse")
    api.update("ports", port["id"], security_groups=[])
    api.remove("security-groups", group["id"])


def test_other_projects_groups_are_invisible(api: Api, server: Server) -> None:
    from tests.support.server import project_headers

    other = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    theirs = other.create("security-groups", name="theirs")
    expect_error(api.get("security-groups", theirs["id"]), 404, "SecurityGroupNotFound")
    expect_error(api.delete("security-groups", theirs["id"]), 404, "SecurityGroupNotFound")
    expect_error(api.put("security-groups", theirs["id"], {"name": "x"}), 404,
                 "SecurityGroupNotFound")
    assert theirs["id"] not in {g["id"] for g in api.list("security-groups")}
    assert not {r["security_group_id"] for r in api.list("security-group-rules")} & {
        theirs["id"]}


def test_bad_input(api: Api) -> None:
    expect_error(api.post("security-groups", {"name": 5}), 400, "HTTPBadRequest")
    expect_error(api.post("security-groups", {"name": "x", "stateful": "maybe"}), 400,
                 "InvalidInput")
    expect_error(api.post("security-groups", {"name": "x", "security_group_rules": []}), 400,
                 "HTTPBadRequest")
    expect_error(api.post("security-groups", {"name": "x", "bogus": 1}), 400,
                 "HTTPBadRequest")
    expect_error(api.get("security-groups", "not-a-uuid"), 404, "SecurityGroupNotFound")


def test_quota(api: Api, admin: Api, project: str) -> None:
    # 4 groups: the default and three more; the fourth more is refused
    for i in range(3):
        api.create("security-groups", name=f"g{i}")
    expect_error(api.post("security-groups", {"name": "over"}), 409, "OverQuota",
                 "Quota exceeded for resources: ['security_group'].")
    status, body = admin.request("GET", f"/v2.0/quotas/{project}/details")
    assert status == 200, body
    assert body["quota"]["security_group"] == {"limit": 4, "used": 4, "reserved": 0}
    assert body["quota"]["security_group_rule"]["used"] == 4 + 3 * 2


def test_quota_never_fails_the_first_port(api: Api, admin: Api, project: str) -> None:
    status, body = admin.request("PUT", f"/v2.0/quotas/{project}", {"quota": {
        "security_group": 0, "security_group_rule": 0}})
    assert status == 200, body
    net = api.network(name="n")
    port = api.port(net["id"])
    assert len(port["security_groups"]) == 1
    expect_error(api.post("security-groups", {"name": "x"}), 409, "OverQuota")


def test_tags_and_bulk(api: Api) -> None:
    status, body = api.request("POST", "/v2.0/security-groups", {"security_groups": [
        {"name": "a"}, {"name": "b"}]})
    assert status == 201, body
    a, _ = body["security_groups"]
    status, body = api.request("PUT", f"/v2.0/security-groups/{a['id']}/tags",
                               {"tags": ["red", "blue"]})
    assert status == 200, body
    assert [g["id"] for g in api.list("security-groups", "tags=red")] == [a["id"]]
    assert api.get("security-groups", a["id"])[1]["security_group"]["tags"] == [
        "blue", "red"]
    # all or nothing
    status, body = api.request("POST", "/v2.0/security-groups", {"security_groups": [
        {"name": "c"}, {"name": "default"}]})
    assert status == 409, body
    assert "c" not in {g["name"] for g in api.list("security-groups")}


def test_admin_sees_all_and_lists_by_project(api: Api, admin: Api, project: str) -> None:
    mine = api.create("security-groups", name="mine")
    listed = admin.list("security-groups", f"project_id={project}")
    assert {g["id"] for g in listed} == {mine["id"], _default(api)["id"]}


def test_openstack_cli(osc: Callable[..., subprocess.CompletedProcess[str]],
                       server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    group = _json(osc("security", "group", "create", f"sg-{tag}", "--description", "cli",
                      "-f", "json"))
    assert group["name"] == f"sg-{tag}" and group["description"] == "cli"
    assert len(group["rules"]) == 2 or len(group.get("security_group_rules", [])) == 2
    shown = _json(osc("security", "group", "show", group["id"], "-f", "json"))
    assert shown["id"] == group["id"]
    listed = _json(osc("security", "group", "list", "-f", "json"))
    assert group["id"] in {g["ID"] for g in listed}
    osc("security", "group", "set", "--name", f"sg2-{tag}", group["id"])
    assert server.request("GET", f"/v2.0/security-groups/{group['id']}")[1][
        "security_group"]["name"] == f"sg2-{tag}"
    proc = osc("security", "group", "create", "default", ok=False)
    assert "Default security group already exists" in proc.stderr
    proc = osc("security", "group", "set", "--name", "default", group["id"], ok=False)
    assert "Default security group already exists" in proc.stderr
    osc("security", "group", "delete", group["id"])
    proc = osc("security", "group", "show", group["id"], ok=False)
    assert "No SecurityGroup found" in proc.stderr or "could not be found" in proc.stderr \
        or "does not exist" in proc.stderr
