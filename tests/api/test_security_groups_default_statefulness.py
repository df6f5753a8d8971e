"""security-groups-default-statefulness over HTTP on every backend: a project's setting
(and the system-wide one, project_id null) is the ``stateful`` of its new groups that
name none; one setting per project (409); Neutron's policy (admin or the project's
manager; system-wide: admin only) and visibility (a project sees its own only)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.neutron import expect_error
from tests.support.secgroups import SgApi as Api
from tests.support.server import Server, project_headers

PATH = "/v2.0/security-groups-default-statefulness"
KEY = "security_groups_default_statefulness"


@pytest.fixture
def api_class() -> type[Api]:
    return Api


def _post(api: Api, attrs: dict[str, Any]) -> tuple[int, Any]:
    return api.request("POST", PATH, {KEY: attrs})


def _setting(api: Api, **attrs: Any) -> dict[str, Any]:
    status, body = _post(api, attrs)
    assert status == 201, body
    return body[KEY]


def _new_group_stateful(api: Api, **attrs: Any) -> bool:
    group = api.create("security-groups", name=f"g-{uuid.uuid4().hex[:6]}", **attrs)
    return bool(group["stateful"])


def test_project_and_system_wide_defaults(server: Server, admin: Api) -> None:
    project = uuid.uuid4().hex
    member = Api(server, project_headers(project))
    other_project = uuid.uuid4().hex
    other = Api(server, project_headers(other_project))
    assert _new_group_stateful(member) is True  # Neutron's built-in default

    mine = _setting(admin, project_id=project, stateful=False)
    assert set(mine) == {"id", "project_id", "tenant_id", "stateful"}
    assert (mine["project_id"], mine["stateful"]) == (project, False)
    assert _new_group_stateful(member) is False
    assert _new_group_stateful(member, stateful=True) is True  # given: as given
    assert _new_group_stateful(other) is True
    # the project's default group stays stateful
    default = [g for g in member.list("security-groups") if g["name"] == "default"]
    assert [g["stateful"] for g in default] == [True]

    expect_error(_post(admin, {"project_id": project, "stateful": True}), 409,
                 "SecurityGroupDefaultStatefulnessAlreadyExists",
                 f"A security group default statefulness setting already exists for "
                 f"project '{project}'.")
    # system-wide (project_id null): every project without its own setting
    system = _setting(admin, project_id=None, stateful=False)
    assert system["project_id"] is None
    try:
        assert _new_group_stateful(other) is False
        expect_error(_post(admin, {"project_id": None}), 409,
                     "SecurityGroupDefaultStatefulnessAlreadyExists")
        # a project sees its own setting only
        status, body = member.request("GET", PATH)
        assert status == 200 and [s["id"] for s in body[KEY]] == [mine["id"]]
        expect_error(member.request("GET", f"{PATH}/{system['id']}"), 404,
                     "SecurityGroupDefaultStatefulnessNotFound")
        expect_error(other.request("GET", f"{PATH}/{mine['id']}"), 404,
                     "SecurityGroupDefaultStatefulnessNotFound")
        # a member (not manager) may not write; nobody but an admin system-wide
        expect_error(member.request("PUT", f"{PATH}/{mine['id']}",
                                    {KEY: {"stateful": True}}), 403, "PolicyNotAuthorized")
        expect_error(_post(other, {"stateful": False}), 403, "PolicyNotAuthorized")
        expect_error(_post(other, {"project_id": None, "stateful": False}), 403,
                     "PolicyNotAuthorized")
        status, body = admin.request("PUT", f"{PATH}/{mine['id']}", {KEY: {"stateful": True}})
        assert status == 200 and body[KEY]["stateful"] is True
        assert _new_group_stateful(member) is True  # its own setting wins
    finally:
        assert admin.request("DELETE", f"{PATH}/{system['id']}")[0] == 204
    assert _new_group_stateful(other) is True
    assert admin.request("DELETE", f"{PATH}/{mine['id']}")[0] == 204
    expect_error(admin.request("GET", f"{PATH}/{mine['id']}"), 404,
                 "SecurityGroupDefaultStatefulnessNotFound")


def test_extensions_advertised(api: Api) -> None:
    status, body = api.request("GET", "/v2.0/extensions")
    assert status == 200
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"address-group", "rbac-address-group", "security-groups-remote-address-group",
            "security-groups-default-statefulness"} <= aliases
