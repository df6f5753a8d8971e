"""Flavors, service profiles and their associations (flavors), service providers
(service-type) and routers' flavor_id (l3-flavors) over HTTP, on every backend: Neutron's
attributes, defaults, admin-only writes, errors, and a flavor or profile in use."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.neutron import Api, expect_error
from tests.support.server import Server

LB_DRIVER = "example.lbaas.Driver"
SINGLE_NODE = "neutron.services.l3_router.service_providers.single_node.SingleNodeDriver"
SERVER_CONF = {"service_providers": {
    "service_provider": f"LOADBALANCERV2:Example:{LB_DRIVER}:default"}}

FLAVOR_KEYS = {"id", "name", "description", "service_type", "service_profiles", "enabled"}
PROFILE_KEYS = {"id", "description", "driver", "metainfo", "enabled"}


def _flavor(admin: Api, **attrs: Any) -> dict[str, Any]:
    attrs.setdefault("service_type", "L3_ROUTER_NAT")
    return admin.create("flavors", **attrs)


def _profile(admin: Api, **attrs: Any) -> dict[str, Any]:
    return admin.create("service_profiles", **attrs)


def _associate(api: Api, flavor_id: str, sp_id: str) -> tuple[int, Any]:
    return api.request("POST", f"/v2.0/flavors/{flavor_id}/service_profiles",
                       {"service_profile": {"id": sp_id}})


def _l3_flavor(admin: Api, **attrs: Any) -> dict[str, Any]:
    flavor = _flavor(admin, name=f"fl-{uuid.uuid4().hex[:6]}", **attrs)
    sp = _profile(admin, driver=SINGLE_NODE)
    assert _associate(admin, flavor["id"], sp["id"])[0] == 201
    return flavor


def test_flavor_crud_and_defaults(admin: Api, member: Api) -> None:
    flavor = _flavor(admin, name="gold", description="fast")
    assert set(flavor) == FLAVOR_KEYS
    assert flavor["enabled"] is True and flavor["service_profiles"] == []
    assert flavor["service_type"] == "L3_ROUTER_NAT"
    # any reader sees flavors; only admins write them
    assert member.get("flavors", flavor["id"])[1]["flavor"]["name"] == "gold"
    assert [f["id"] for f in member.list("flavors", f"id={flavor['id']}")] == [flavor["id"]]
    expect_error(member.post("flavors", {"name": "x", "service_type": "L3_ROUTER_NAT"}),
                 403, "PolicyNotAuthorized")
    expect_error(member.put("flavors", flavor["id"], {"enabled": False}),
                 403, "PolicyNotAuthorized")
    expect_error(member.delete("flavors", flavor["id"]), 403, "PolicyNotAuthorized")
    updated = admin.update("flavors", flavor["id"], enabled=False, name="silver")
    assert (updated["enabled"], updated["name"]) == (False, "silver")
    expect_error(admin.put("flavors", flavor["id"], {"service_type": "FLAVORS"}), 400,
                 "HTTPBadRequest")
    assert member.list("flavors", "enabled=False&name=silver")[0]["id"] == flavor["id"]
    assert member.list("flavors", "id=33") == []  # tempest: no match, no error
    admin.remove("flavors", flavor["id"])
    expect_error(admin.get("flavors", flavor["id"]), 404, "FlavorNotFound",
                 f"Flavor {flavor['id']} could not be found.")


def test_flavor_service_type_is_a_plugin_this_server_runs(admin: Api) -> None:
    expect_error(admin.post("flavors", {"service_type": "NOPE"}), 400, "InvalidServiceType",
                 "Invalid service type NOPE.")
    expect_error(admin.post("flavors", {"name": "no type"}), 400, "HTTPBadRequest")
    assert _flavor(admin, service_type="FLAVORS")["service_type"] == "FLAVORS"


def test_service_profiles(admin: Api, member: Api) -> None:
    sp = _profile(admin, description="d", metainfo='{"data": "value"}')
    assert set(sp) == PROFILE_KEYS
    assert (sp["driver"], sp["enabled"], sp["metainfo"]) == ("", True, '{"data": "value"}')
    assert _profile(admin, driver=LB_DRIVER)["driver"] == LB_DRIVER
    expect_error(admin.post("service_profiles", {"description": "empty"}), 400,
                 "ServiceProfileEmpty", "Service Profile needs either a driver or metainfo.")
    expect_error(admin.post("service_profiles", {"driver": "no.such.Driver"}), 404,
                 "ServiceProfileDriverNotFound",
                 "Service Profile driver no.such.Driver could not be found.")
    # admin only, reads too (Neutron's get_service_profile)
    expect_error(member.get("service_profiles", sp["id"]), 404, "HTTPNotFound")
    assert member.list("service_profiles") == []
    expect_error(member.post("service_profiles", {"metainfo": "x"}), 403,
                 "PolicyNotAuthorized")
    assert admin.update("service_profiles", sp["id"], enabled=False)["enabled"] is False
    admin.remove("service_profiles", sp["id"])
    expect_error(admin.get("service_profiles", sp["id"]), 404, "ServiceProfileNotFound")


def test_associations(admin: Api, member: Api) -> None:
    flavor = _flavor(admin)
    sp = _profile(admin, metainfo="m")
    status, body = _associate(admin, flavor["id"], sp["id"])
    assert status == 201 and body == {"service_profile": {"id": sp["id"]}}
    assert admin.get("flavors", flavor["id"])[1]["flavor"]["service_profiles"] == [sp["id"]]
    expect_error(_associate(admin, flavor["id"], sp["id"]), 409,
                 "FlavorServiceProfileBindingExists",
                 f"Service Profile {sp['id']} is already associated with flavor "
                 f"{flavor['id']}.")
    expect_error(_associate(member, flavor["id"], sp["id"]), 403, "PolicyNotAuthorized")
    missing = str(uuid.uuid4())
    expect_error(_associate(admin, missing, sp["id"]), 404, "FlavorNotFound")
    expect_error(_associate(admin, flavor["id"], missing), 404, "ServiceProfileNotFound")
    path = f"/v2.0/flavors/{flavor['id']}/service_profiles/{sp['id']}"
    assert admin.request("GET", path) == (200, {"service_profile": {
        "service_profile_id": sp["id"], "flavor_id": flavor["id"]}})
    # a profile in use is neither changed nor deleted (Neutron's)
    expect_error(admin.put("service_profiles", sp["id"], {"description": "x"}), 409,
                 "ServiceProfileInUse")
    expect_error(admin.delete("service_profiles", sp["id"]), 409, "ServiceProfileInUse",
                 f"Service Profile {sp['id']} is used by some service instance.")
    # a member may not even see the association: 404
    expect_error(member.request("DELETE", path), 404, "HTTPNotFound")
    assert admin.request("DELETE", path) == (204, None)
    expect_error(admin.request("DELETE", path), 404, "FlavorServiceProfileBindingNotFound",
                 f"Service Profile {sp['id']} is not associated with flavor {flavor['id']}.")
    admin.remove("service_profiles", sp["id"])


def _providers(api: Api, query: str = "") -> list[dict[str, Any]]:
    status, body = api.request("GET", f"/v2.0/service-providers?{query}")
    assert status == 200, body
    return body["service_providers"]


def test_service_providers(admin: Api, member: Api) -> None:
    providers = _providers(member)
    assert {"service_type": "L3_ROUTER_NAT", "name": "single_node",
            "default": False} in providers
    assert {"service_type": "LOADBALANCERV2", "name": "example", "default": True} in providers
    assert all(set(p) == {"service_type", "name", "default"} for p in providers)
    assert _providers(member, "service_type=LOADBALANCERV2") == [
        {"service_type": "LOADBALANCERV2", "name": "example", "default": True}]
    assert _providers(member, "default=true&fields=name") == [
        {"name": "example"}]
    no_role = Api(admin.server, {"X-Project-Id": "p-norole", "X-Roles": "observer"})
    assert _providers(no_role) == []


def test_router_flavor(admin: Api, member: Api) -> None:
    flavor = _l3_flavor(admin)
    router = member.create("routers", name="r", flavor_id=flavor["id"])
    assert router["flavor_id"] == flavor["id"]
    assert member.create("routers", name="plain")["flavor_id"] is None
    expect_error(member.put("routers", router["id"], {"flavor_id": flavor["id"]}), 400,
                 "HTTPBadRequest")
    # in use by a router: not deleted
    expect_error(admin.delete("flavors", flavor["id"]), 409, "FlavorInUse",
                 f"Flavor {flavor['id']} is used by some service instance.")
    member.remove("routers", router["id"])
    admin.remove("flavors", flavor["id"])


@pytest.mark.parametrize("case", ["missing", "not-uuid", "disabled", "no-profile",
                                  "profile-disabled", "other-service"])
def test_router_flavor_refused(admin: Api, member: Api, case: str) -> None:
    flavor_id = str(uuid.uuid4()) if case == "missing" else "gold"
    expected: tuple[int, str] = (404, "FlavorNotFound")
    if case == "disabled":
        flavor_id = _l3_flavor(admin, enabled=False)["id"]
        expected = (503, "FlavorDisabled")
    elif case == "no-profile":
        flavor_id = _flavor(admin)["id"]
        expected = (404, "FlavorServiceProfileBindingNotFound")
    elif case == "profile-disabled":
        flavor_id = _flavor(admin)["id"]
        sp = _profile(admin, driver=SINGLE_NODE, enabled=False)
        _associate(admin, flavor_id, sp["id"])
        expected = (503, "ServiceProfileDisabled")
    elif case == "other-service":
        flavor_id = _flavor(admin, service_type="FLAVORS")["id"]
        expected = (400, "InvalidInput")
    expect_error(member.post("routers", {"name": "r", "flavor_id": flavor_id}), *expected)
    assert member.list("routers", "name=r") == []  # nothing half-made


def test_extensions_advertised(member: Api, server: Server) -> None:
    status, body = member.request("GET", "/v2.0/extensions")
    assert status == 200, body
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"flavors", "service-type", "l3-flavors", "auto-allocated-topology"} <= aliases
