"""Address groups over HTTP on every backend (address-group, rbac-address-group,
security-groups-remote-address-group), as Neutron and neutron-tempest-plugin's
AddressGroupTest / RbacSharedAddressGroupTest expect: addresses kept as networks,
add/remove with Neutron's errors and nothing half-written, a group named by a rule is
not deleted, RBAC sharing (visible, usable in rules, not changeable, the entry kept while
used), rules' remote_address_group_id exclusive with the other remotes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.neutron import expect_error
from tests.support.secgroups import SgApi as Api
from tests.support.server import Server, project_headers

PATH = "/v2.0/address-groups"
KEYS = {"id", "name", "description", "project_id", "tenant_id", "addresses", "created_at",
        "updated_at", "revision_number"}
GIVEN = ["10.10.10.3/32", "192.168.0.10/24", "2001:db8::f00/64"]
STORED = ["10.10.10.3/32", "192.168.0.0/24", "2001:db8::/64"]


@pytest.fixture
def api_class() -> type[Api]:
    return Api


def _project(server: Server) -> tuple[str, Api]:
    project = uuid.uuid4().hex
    return project, Api(server, project_headers(project))


def _group(api: Api, **attrs: Any) -> dict[str, Any]:
    status, body = api.request("POST", PATH, {"address_group": {
        "name": attrs.pop("name", f"ag-{uuid.uuid4().hex[:6]}"), **attrs}})
    assert status == 201, body
    return body["address_group"]


def _show(api: Api, group_id: str) -> dict[str, Any]:
    status, body = api.request("GET", f"{PATH}/{group_id}")
    assert status == 200, body
    return body["address_group"]


def _list(api: Api, query: str = "") -> list[dict[str, Any]]:
    status, body = api.request("GET", f"{PATH}?{query}")
    assert status == 200, body
    return body["address_groups"]


def _rbac(api: Api, attrs: dict[str, Any]) -> tuple[int, Any]:
    return api.request("POST", "/v2.0/rbac-policies", {"rbac_policy": attrs})


def _action(api: Api, group_id: str, action: str, addresses: Any) -> tuple[int, Any]:
    return api.request("PUT", f"{PATH}/{group_id}/{action}", {"addresses": addresses})


def _rule(api: Api, group_id: str, **attrs: Any) -> tuple[int, Any]:
    return api.post("security-group-rules", {"security_group_id": group_id,
                                             "direction": "ingress", **attrs})


def test_lifecycle(api: Api, project: str) -> None:
    group = _group(api, name="ag", description="Test AG", addresses=GIVEN)
    assert set(group) == KEYS
    assert (group["name"], group["description"], group["project_id"],
            group["revision_number"]) == ("ag", "Test AG", project, 1)
    assert sorted(group["addresses"]) == sorted(STORED)
    assert _show(api, group["id"]) == group
    assert group["id"] in {g["id"] for g in _list(api, "name=ag")}
    status, body = api.request("PUT", f"{PATH}/{group['id']}",
                               {"address_group": {"description": "new"}})
    assert status == 200, body
    assert body["address_group"]["description"] == "new"
    assert sorted(body["address_group"]["addresses"]) == sorted(STORED)
    # addresses change only through the actions
    expect_error(api.request("PUT", f"{PATH}/{group['id']}",
                             {"address_group": {"addresses": []}}), 400, "HTTPBadRequest")
    assert api.request("DELETE", f"{PATH}/{group['id']}")[0] == 204
    expect_error(api.request("GET", f"{PATH}/{group['id']}"), 404, "AddressGroupNotFound",
                 f"Address group {group['id']} could not be found.")
    empty = _group(api)
    assert empty["addresses"] == [] and empty["description"] == ""


def test_bad_addresses_on_create(api: Api) -> None:
    for bad in (["10.20.30.40"], ["this is bad IP address"], "10.0.0.0/8",
                ["010.1.2.3/32"]):
        status, body = api.request("POST", PATH, {"address_group": {"addresses": bad}})
        assert status == 400, (bad, body)
    # nothing was written
    assert not [g for g in _list(api) if g["name"] == ""]


def test_add_and_remove_addresses(api: Api) -> None:
    group = _group(api, addresses=GIVEN)
    status, body = _action(api, group["id"], "add_addresses", ["10.20.30.40/32"])
    assert status == 200, body
    assert sorted(body["address_group"]["addresses"]) == sorted([*STORED, "10.20.30.40/32"])
    assert body["address_group"]["revision_number"] == 2
    # already there (as its network): 400, and nothing else of the request is added
    expect_error(_action(api, group["id"], "add_addresses",
                         ["172.16.0.0/16", "192.168.0.99/24"]),
                 400, "AddressesAlreadyExist",
                 f"Addresses ['192.168.0.0/24'] already exist in the address group "
                 f"{group['id']}.")
    assert "172.16.0.0/16" not in _show(api, group["id"])["addresses"]
    # (Neutron's is a 400 from netaddr's error, by its fault map)
    assert _action(api, group["id"], "add_addresses", ["this is bad IP address"])[0] == 400
    # not there: 404 (a bare address is a host route), nothing removed
    expect_error(_action(api, group["id"], "remove_addresses",
                         ["10.10.10.3/32", "10.200.200.200"]),
                 404, "AddressesNotFound",
                 f"Addresses ['10.200.200.200/32'] not found in the address group "
                 f"{group['id']}.")
    assert "10.10.10.3/32" in _show(api, group["id"])["addresses"]
    assert _action(api, group["id"], "remove_addresses", ["bad IP address"])[0] == 400
    status, body = _action(api, group["id"], "remove_addresses", ["10.10.10.3/32"])
    assert status == 200, body
    assert sorted(_show(api, group["id"])["addresses"]) == sorted(
        ["192.168.0.0/24", "2001:db8::/64", "10.20.30.40/32"])
    expect_error(_action(api, str(uuid.uuid4()), "add_addresses", ["10.0.0.0/8"]),
                 404, "AddressGroupNotFound")


def test_rules_name_a_group(api: Api, server: Server) -> None:
    ag = _group(api, addresses=["10.1.0.0/16"])
    sg = api.create("security-groups", name="web")
    status, body = _rule(api, sg["id"], ethertype="IPv4", protocol="tcp",
                         remote_address_group_id=ag["id"])
    assert status == 201, body
    rule = body["security_group_rule"]
    assert rule["remote_address_group_id"] == ag["id"]
    assert rule["remote_ip_prefix"] is None and rule["remote_group_id"] is None
    assert [r["id"] for r in api.list(
        "security-group-rules", f"remote_address_group_id={ag['id']}")] == [rule["id"]]
    # the same rule again: a duplicate; with another group: another rule
    expect_error(_rule(api, sg["id"], ethertype="IPv4", protocol="tcp",
                       remote_address_group_id=ag["id"]), 409, "SecurityGroupRuleExists")
    # one remote at most
    for other in ({"remote_ip_prefix": "10.0.0.0/8"}, {"remote_group_id": sg["id"]}):
        expect_error(_rule(api, sg["id"], remote_address_group_id=ag["id"], **other),
                     400, "SecurityGroupMultipleRemoteEntites")
    # a group that does not exist, is no UUID, or is another project's: 404
    _, stranger = _project(server)
    theirs = _group(stranger)
    for missing in (str(uuid.uuid4()), "not-a-uuid", theirs["id"]):
        expect_error(_rule(api, sg["id"], remote_address_group_id=missing), 404,
                     "AddressGroupNotFound")
    # in use: not deleted
    expect_error(api.request("DELETE", f"{PATH}/{ag['id']}"), 409, "AddressGroupInUse",
                 f"Address group {ag['id']} is in use on one or more security group rules.")
    api.remove("security-group-rules", rule["id"])
    assert api.request("DELETE", f"{PATH}/{ag['id']}")[0] == 204


def test_rbac_sharing(server: Server, admin: Api) -> None:
    _, owner = _project(server)
    other_project, other = _project(server)
    third_project, third = _project(server)
    ag = _group(owner, addresses=["10.2.0.0/16"])
    expect_error(other.request("GET", f"{PATH}/{ag['id']}"), 404, "AddressGroupNotFound")
    status, body = _rbac(owner, {
        "object_type": "address_group", "object_id": ag["id"],
        "action": "access_as_shared", "target_tenant": other_project})
    assert status == 201, body
    entry = body["rbac_policy"]
    assert (entry["object_type"], entry["target_tenant"]) == ("address_group", other_project)
    seen = _show(other, ag["id"])
    assert "shared" not in seen and seen["addresses"] == ["10.2.0.0/16"]
    assert ag["id"] in {g["id"] for g in _list(other)}
    expect_error(third.request("GET", f"{PATH}/{ag['id']}"), 404, "AddressGroupNotFound")
    # the target may not change it (404, as neutron-tempest-plugin expects), nor share it
    expect_error(other.request("PUT", f"{PATH}/{ag['id']}",
                               {"address_group": {"name": "new_name"}}), 404, "HTTPNotFound")
    expect_error(_action(other, ag["id"], "add_addresses", ["10.9.0.0/16"]), 403,
                 "PolicyNotAuthorized")
    expect_error(_rbac(other, {
        "object_type": "address_group", "object_id": ag["id"],
        "action": "access_as_shared", "target_tenant": third_project}), 400, "InvalidInput")
    assert other.request("GET", "/v2.0/rbac-policies")[1]["rbac_policies"] == []
    # it may name the group in its rules; then the entry stays (409) until the rule goes
    sg = other.create("security-groups", name="uses-ag")
    status, body = _rule(other, sg["id"], ethertype="IPv4",
                         remote_address_group_id=ag["id"])
    assert status == 201, body
    expect_error(owner.request("DELETE", f"/v2.0/rbac-policies/{entry['id']}"), 409,
                 "RbacPolicyInUse")
    expect_error(owner.request("PUT", f"/v2.0/rbac-policies/{entry['id']}",
                               {"rbac_policy": {"target_tenant": third_project}}),
                 409, "RbacPolicyInUse")
    other.remove("security-group-rules", body["security_group_rule"]["id"])
    status, body = owner.request("PUT", f"/v2.0/rbac-policies/{entry['id']}",
                                 {"rbac_policy": {"target_tenant": third_project}})
    assert status == 200 and body["rbac_policy"]["target_tenant"] == third_project
    expect_error(other.request("GET", f"{PATH}/{ag['id']}"), 404, "AddressGroupNotFound")
    assert _show(third, ag["id"])["id"] == ag["id"]
    # "*": everyone sees it; the admin sees every entry, filtered by type
    status, body = _rbac(admin, {
        "object_type": "address_group", "object_id": ag["id"],
        "action": "access_as_shared", "target_tenant": "*"})
    assert status == 201, body
    assert _show(other, ag["id"])["id"] == ag["id"]
    types = {p["object_type"] for p in admin.request(
        "GET", "/v2.0/rbac-policies?object_type=address_group")[1]["rbac_policies"]}
    assert types == {"address_group"}
    expect_error(_rbac(owner, {
        "object_type": "address_group", "object_id": ag["id"],
        "action": "access_as_external", "target_tenant": other_project}),
        400, "InvalidActionForType")
