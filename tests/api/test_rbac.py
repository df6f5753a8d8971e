"""RBAC policies over HTTP: sharing a network with chosen projects or everyone, what each
project then sees and may do, the in-use rules, validation, visibility of the policies
themselves and the network's revision, against Neutron's observable behaviour."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import openstack
import pytest
from openstack import exceptions as sdk_exc

from tests.support.neutron import Api, expect_error, invalid_input
from tests.support.osc import as_json, openstack_cli
from tests.support.server import Server, project_headers

SHARED = "access_as_shared"
EXTERNAL = "access_as_external"
POLICY_KEYS = {"id", "project_id", "tenant_id", "object_type", "object_id", "action",
               "target_tenant"}


class Rbac(Api):
    """A caller with rbac-policies helpers (the collection name is not a plain plural)."""

    def post_policy(self, **attrs: Any) -> tuple[int, Any]:
        return self.request("POST", "/v2.0/rbac-policies", {"rbac_policy": attrs})

    def share(self, network_id: str, target: str, action: str = SHARED) -> dict[str, Any]:
        status, body = self.post_policy(object_type="network", object_id=network_id,
                                        target_tenant=target, action=action)
        assert status == 201, body
        return body["rbac_policy"]

    def policies(self, query: str = "") -> list[dict[str, Any]]:
        # the URL says rbac-policies, the body rbac_policies
        status, body = self.request("GET", f"/v2.0/rbac-policies{'?' + query if query else ''}")
        assert status == 200, body
        assert set(body) == {"rbac_policies"}, body
        return body["rbac_policies"]

    def put_policy(self, policy_id: str, **attrs: Any) -> tuple[int, Any]:
        return self.request("PUT", f"/v2.0/rbac-policies/{policy_id}", {"rbac_policy": attrs})


def new_project() -> str:
    # Keystone's ids: targets must look like UUIDs (or be "*")
    return uuid.uuid4().hex


@pytest.fixture
def admin(server: Server, admin_headers: dict[str, str]) -> Rbac:
    return Rbac(server, admin_headers)


@pytest.fixture
def a(server: Server) -> Rbac:
    return Rbac(server, project_headers(new_project()))


@pytest.fixture
def b(server: Server) -> Rbac:
    return Rbac(server, project_headers(new_project()))


@pytest.fixture
def c(server: Server) -> Rbac:
    return Rbac(server, project_headers(new_project()))


def pid(api: Api) -> str:
    assert api.headers is not None
    return api.headers["X-Project-Id"]


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items}


def in_use(network_id: str) -> str:
    return (f"RBAC policy on object {network_id} cannot be removed because other objects "
            "depend on it.\nDetails: ")


def sharing_conflict(network: str) -> str:
    return (f"Unable to reconfigure sharing settings for network {network}. Multiple "
            "projects are using it.")


# --- sharing with one project ----------------------------------------------------------------
def test_share_with_one_project(a: Rbac, b: Rbac, c: Rbac) -> None:
    net = a.network(name="for-b")
    subnet = a.subnet(net["id"], "10.20.0.0/24")
    policy = a.share(net["id"], pid(b))
    assert set(policy) == POLICY_KEYS
    assert policy["object_type"] == "network"
    assert policy["object_id"] == net["id"]
    assert policy["action"] == SHARED
    assert policy["target_tenant"] == pid(b)
    assert policy["project_id"] == policy["tenant_id"] == pid(a)
    assert a.get("rbac-policies", policy["id"]) == (200, {"rbac_policy": policy})

    # B sees it shared; the owner does not (only '*' or its own project would say so)
    seen = b.get("networks", net["id"])[1]["network"]
    assert seen["shared"] is True
    assert a.get("networks", net["id"])[1]["network"]["shared"] is False
    assert net["id"] in ids(b.list("networks"))
    assert net["id"] in ids(b.list("networks", "shared=true"))
    assert net["id"] not in ids(b.list("networks", "shared=false"))
    assert net["id"] in ids(a.list("networks", "shared=false"))
    assert net["id"] not in ids(a.list("networks", "shared=true"))
    assert subnet["id"] in ids(b.list("subnets"))
    assert b.get("subnets", subnet["id"])[0] == 200
    assert subnet["id"] in ids(b.list("subnets", "shared=true"))
    assert subnet["id"] in ids(a.list("subnets", "shared=false"))

    # B plugs into it; the owner sees B's port
    port = b.port(net["id"])
    assert port["fixed_ips"][0]["subnet_id"] == subnet["id"]
    assert port["id"] in ids(a.list("ports"))

    # C is told nothing
    expect_error(c.get("networks", net["id"]), 404, "NetworkNotFound",
                 f"Network {net['id']} could not be found.")
    assert net["id"] not in ids(c.list("networks"))
    assert subnet["id"] not in ids(c.list("subnets"))
    expect_error(c.post("ports", {"network_id": net["id"]}), 404, "NetworkNotFound")

    # no removal while B has a port there
    message = expect_error(a.delete("rbac-policies", policy["id"]), 409, "RbacPolicyInUse")
    assert message.startswith(in_use(net["id"])), message
    assert message.endswith(f'failed with "{sharing_conflict(net["id"])}"'), message
    b.remove("ports", port["id"])
    a.remove("rbac-policies", policy["id"])
    expect_error(b.get("networks", net["id"]), 404, "NetworkNotFound")
    assert net["id"] not in ids(b.list("networks"))
    expect_error(a.get("rbac-policies", policy["id"]), 404, "RbacPolicyNotFound")


def test_self_share_and_other_entries_cover_ports(a: Rbac, b: Rbac, admin: Rbac) -> None:
    net = a.network()
    a.subnet(net["id"], "10.21.0.0/24")
    # an entry for the owner's own project: nothing can depend on it
    own = a.share(net["id"], pid(a))
    assert a.get("networks", net["id"])[1]["network"]["shared"] is True
    a.port(net["id"])
    a.remove("rbac-policies", own["id"])

    # B's port is allowed by '*' as well as by its own entry: either may go, not both
    for_b = a.share(net["id"], pid(b))
    everyone = admin.share(net["id"], "*")
    assert everyone["project_id"] == pid(admin)
    port = b.port(net["id"])
    admin.remove("rbac-policies", everyone["id"])
    everyone = admin.share(net["id"], "*")
    a.remove("rbac-policies", for_b["id"])
    message = expect_error(admin.delete("rbac-policies", everyone["id"]), 409,
                           "RbacPolicyInUse")
    assert sharing_conflict(net["id"]) in message
    b.remove("ports", port["id"])
    admin.remove("rbac-policies", everyone["id"])


# --- everyone --------------------------------------------------------------------------------
def test_share_with_everyone(a: Rbac, b: Rbac, c: Rbac, admin: Rbac) -> None:
    net = a.network()
    status, body = a.post_policy(object_type="network", object_id=net["id"],
                                 target_tenant="*", action=SHARED)
    # every attribute given is enforce_policy (Neutron's rbac extension): each rule is
    # named, in the attribute map's order
    expect_error((status, body), 403, "PolicyNotAuthorized",
                 "((((rule:create_rbac_policy and rule:create_rbac_policy:object_type) and "
                 "rule:create_rbac_policy:object_id) and "
                 "rule:create_rbac_policy:target_tenant) and "
                 "rule:create_rbac_policy:action) is disallowed by policy")
    policy = admin.share(net["id"], "*")
    for who in (a, b, c, admin):
        assert who.get("networks", net["id"])[1]["network"]["shared"] is True
        assert net["id"] in ids(who.list("networks", "shared=true"))
    # the admin's entry is the admin's, not the owner's
    assert policy["id"] not in ids(a.policies())
    assert policy["id"] in ids(admin.policies(f"object_id={net['id']}"))
    admin.remove("rbac-policies", policy["id"])
    expect_error(b.get("networks", net["id"]), 404, "NetworkNotFound")

    # a project may not retarget its own entry to everyone either
    mine = a.share(net["id"], pid(b))
    expect_error(a.put_policy(mine["id"], target_tenant="*"), 403, "PolicyNotAuthorized",
                 "(rule:update_rbac_policy and rule:update_rbac_policy:target_tenant) is "
                 "disallowed by policy")


# --- errors ----------------------------------------------------------------------------------
def test_duplicate(a: Rbac, b: Rbac) -> None:
    net = a.network()
    a.share(net["id"], pid(b))
    expect_error(a.post_policy(object_type="network", object_id=net["id"],
                               target_tenant=pid(b), action=SHARED),
                 409, "DuplicateRbacPolicy", "An RBAC policy already exists with those values.")
    # another action for the same project is another entry
    a.share(net["id"], pid(b), EXTERNAL)


def test_only_the_owner_shares(a: Rbac, b: Rbac, c: Rbac, admin: Rbac) -> None:
    net = a.network()
    a.share(net["id"], pid(b))
    # B sees the network but does not own it
    message = expect_error(b.post_policy(object_type="network", object_id=net["id"],
                                         target_tenant=pid(c), action=SHARED),
                           400, "InvalidInput")
    assert message.startswith("Invalid input for operation: Callback "), message
    assert message.endswith(
        'failed with "Invalid input for operation: Only admins can manipulate policies on '
        'networks they do not own.".'), message
    # C does not even see it
    message = expect_error(c.post_policy(object_type="network", object_id=net["id"],
                                         target_tenant=pid(b), action=EXTERNAL),
                           400, "InvalidInput")
    assert f'"Network {net["id"]} could not be found."' in message
    message = expect_error(c.post_policy(object_type="network", object_id=str(uuid.uuid4()),
                                         target_tenant=pid(b), action=SHARED),
                           400, "InvalidInput")
    assert "could not be found." in message
    # an admin shares anyone's network; the entry is the admin's unless it names a project
    policy = admin.share(net["id"], pid(c))
    assert policy["project_id"] == pid(admin)
    status, body = admin.post_policy(object_type="network", object_id=net["id"],
                                     target_tenant=new_project(), action=SHARED,
                                     project_id=pid(a))
    assert status == 201, body
    assert body["rbac_policy"]["id"] in ids(a.policies())


def test_validation(a: Rbac, b: Rbac) -> None:
    net = a.network()
    good = {"object_type": "network", "object_id": net["id"], "target_tenant": pid(b),
            "action": SHARED}
    expect_error(a.post_policy(**{**good, "object_type": "bogus"}), 400, "InvalidInput",
                 invalid_input("'bogus' is not a valid RBAC object type"))
    # trimmed and lower-cased
    policy = a.post_policy(**{**good, "object_type": " Network "})[1]["rbac_policy"]
    assert policy["object_type"] == "network"
    a.remove("rbac-policies", policy["id"])
    expect_error(a.post_policy(**{**good, "target_tenant": "not-a-project"}), 400,
                 "HTTPBadRequest", "Invalid input for target_tenant. Reason: 'not-a-project' "
                 "is not a valid target project ID; expected a UUID or '*'.")
    expect_error(a.post_policy(**{**good, "object_id": "nope"}), 400, "HTTPBadRequest",
                 "Invalid input for object_id. Reason: 'nope' is not a valid UUID.")
    missing = dict(good)
    del missing["target_tenant"]
    expect_error(a.post_policy(**missing), 400, "HTTPBadRequest",
                 "Failed to parse request. Required attribute 'target_tenant' not specified")
    expect_error(a.post_policy(**{**good, "action": "access_as_owner"}), 400,
                 "InvalidActionForType",
                 "Invalid action 'access_as_owner' for object type 'network'. Valid actions: "
                 "('access_as_shared', 'access_as_external')")
    expect_error(a.post_policy(**{**good, "id": str(uuid.uuid4())}), 400, "HTTPBadRequest",
                 "Attribute 'id' not allowed in POST")
    policy = a.share(net["id"], pid(b))
    for attr, value in (("object_id", str(uuid.uuid4())), ("action", EXTERNAL),
                        ("object_type", "network")):
        expect_error(a.put_policy(policy["id"], **{attr: value}), 400, "HTTPBadRequest",
                     f"Cannot update read-only attribute {attr}")
    expect_error(a.put_policy(policy["id"], target_tenant="x"), 400, "HTTPBadRequest",
                 "Invalid input for target_tenant. Reason: 'x' is not a valid target "
                 "project ID; expected a UUID or '*'.")


# --- updates ---------------------------------------------------------------------------------
def test_update_target(a: Rbac, b: Rbac, c: Rbac) -> None:
    net = a.network()
    a.subnet(net["id"], "10.22.0.0/24")
    policy = a.share(net["id"], pid(b))
    port = b.port(net["id"])
    message = expect_error(a.put_policy(policy["id"], target_tenant=pid(c)), 409,
                           "RbacPolicyInUse")
    assert message.startswith(in_use(net["id"])) and sharing_conflict(net["id"]) in message
    # the same target is no change at all
    status, body = a.put_policy(policy["id"], target_tenant=pid(b))
    assert (status, body) == (200, {"rbac_policy": policy})
    b.remove("ports", port["id"])
    revision = a.get("networks", net["id"])[1]["network"]["revision_number"]
    status, body = a.put_policy(policy["id"], target_tenant=pid(c))
    assert status == 200, body
    assert body["rbac_policy"] == {**policy, "target_tenant": pid(c)}
    assert a.get("rbac-policies", policy["id"])[1]["rbac_policy"]["target_tenant"] == pid(c)
    assert a.get("networks", net["id"])[1]["network"]["revision_number"] == revision + 1
    expect_error(b.get("networks", net["id"]), 404, "NetworkNotFound")
    assert c.get("networks", net["id"])[1]["network"]["shared"] is True
    # retargeting onto an existing entry
    other = a.share(net["id"], pid(b))
    expect_error(a.put_policy(other["id"], target_tenant=pid(c)), 409, "DuplicateRbacPolicy")


# --- who sees the policies -------------------------------------------------------------------
def test_policy_visibility(a: Rbac, b: Rbac, admin: Rbac) -> None:
    net = a.network()
    policy = a.share(net["id"], pid(b))
    ext = a.share(net["id"], pid(b), EXTERNAL)
    assert ids(a.policies()) == {policy["id"], ext["id"]}
    # the project a network is shared with does not see the entry
    assert b.policies() == []
    # as for no entry at all: the type would tell that it exists
    not_found = f"RBAC policy of type unknown with ID {policy['id']} not found"
    expect_error(b.get("rbac-policies", policy["id"]), 404, "RbacPolicyNotFound", not_found)
    expect_error(b.put_policy(policy["id"], target_tenant=pid(b)), 404,
                 "RbacPolicyNotFound", not_found)
    expect_error(b.delete("rbac-policies", policy["id"]), 404, "RbacPolicyNotFound",
                 not_found)
    missing = str(uuid.uuid4())
    expect_error(a.get("rbac-policies", missing), 404, "RbacPolicyNotFound",
                 f"RBAC policy of type unknown with ID {missing} not found")
    # admins see everything; filters
    assert {policy["id"], ext["id"]} <= ids(admin.policies())
    assert ids(a.policies(f"action={EXTERNAL}")) == {ext["id"]}
    assert ids(a.policies(f"target_tenant={pid(b)}&action={SHARED}")) == {policy["id"]}
    assert ids(admin.policies(f"object_id={net['id']}&object_type=network")) == {
        policy["id"], ext["id"]}
    assert admin.policies(f"object_id={net['id']}&object_type=qos_policy") == []
    assert ids(admin.policies(f"tenant_id={pid(a)}")) == {policy["id"], ext["id"]}
    listed = a.policies("sort_key=action&sort_dir=asc&fields=id&fields=action")
    assert listed == [{"id": ext["id"], "action": EXTERNAL},
                      {"id": policy["id"], "action": SHARED}]
    # no pagination: limit is ignored and no links are given
    status, body = a.request("GET", "/v2.0/rbac-policies?limit=1")
    assert status == 200 and ids(body["rbac_policies"]) == {policy["id"], ext["id"]}
    assert "rbac_policies_links" not in body
    # deleting the network deletes its entries
    a.remove("networks", net["id"])
    assert a.policies() == []


def test_external_access(a: Rbac, b: Rbac, c: Rbac) -> None:
    """access_as_external is kept, for a router gateway (routers come later); it does not
    share the network: its target gets no ports there. (Neutron also makes the network
    router:external, which is what lets the target read it through get_network's
    rule:external: that part comes with the external-net extension.)"""
    net = a.network()
    a.subnet(net["id"], "10.23.0.0/24")
    policy = a.share(net["id"], pid(b), EXTERNAL)
    assert a.get("networks", net["id"])[1]["network"]["shared"] is False
    # Neutron's ownership hook (not a policy rule) refuses it
    expect_error(b.post("ports", {"network_id": net["id"]}), 403, "HTTPForbidden",
                 f"Tenant {pid(b)} not allowed to create port on this network")
    expect_error(c.get("networks", net["id"]), 404, "NetworkNotFound")
    expect_error(c.post("ports", {"network_id": net["id"]}), 404, "NetworkNotFound")
    a.remove("rbac-policies", policy["id"])
    expect_error(b.post("ports", {"network_id": net["id"]}), 404, "NetworkNotFound")


def test_bulk_create(a: Rbac, b: Rbac, c: Rbac) -> None:
    net = a.network()
    revision = net["revision_number"]
    status, body = a.request("POST", "/v2.0/rbac-policies", {"rbac_policies": [
        {"object_type": "network", "object_id": net["id"], "target_tenant": pid(who),
         "action": SHARED} for who in (b, c)]})
    assert status == 201, body
    assert {p["target_tenant"] for p in body["rbac_policies"]} == {pid(b), pid(c)}
    # one new revision for the transaction, however many entries
    assert a.get("networks", net["id"])[1]["network"]["revision_number"] == revision + 1
    # all or nothing
    status, body = a.request("POST", "/v2.0/rbac-policies", {"rbac_policies": [
        {"object_type": "network", "object_id": net["id"], "target_tenant": new_project(),
         "action": SHARED},
        {"object_type": "network", "object_id": net["id"], "target_tenant": pid(b),
         "action": SHARED}]})
    expect_error((status, body), 409, "DuplicateRbacPolicy")
    assert len(a.policies()) == 2


# --- the network's `shared` ------------------------------------------------------------------
def test_network_shared_attribute_is_a_wildcard_entry(a: Rbac, b: Rbac, c: Rbac,
                                                      admin: Rbac) -> None:
    status, body = admin.post("networks", {"name": "public", "shared": True,
                                           "project_id": pid(a)})
    assert status == 201, body
    net = body["network"]
    assert net["shared"] is True
    # the wildcard entry is the owner's, and visible to it
    (entry,) = a.policies(f"object_id={net['id']}")
    assert (entry["target_tenant"], entry["action"], entry["project_id"]) == (
        "*", SHARED, pid(a))
    assert b.get("networks", net["id"])[1]["network"]["shared"] is True

    a.subnet(net["id"], "10.24.0.0/24")
    for_b = a.share(net["id"], pid(b))
    port_b = b.port(net["id"])
    port_c = c.port(net["id"])
    # C's port depends on the wildcard; B's is covered by B's own entry
    expect_error(admin.put("networks", net["id"], {"shared": False}), 409,
                 "InvalidSharedSetting", sharing_conflict("public"))
    c.remove("ports", port_c["id"])
    revision = admin.get("networks", net["id"])[1]["network"]["revision_number"]
    unshared = admin.update("networks", net["id"], shared=False)
    assert unshared["shared"] is False
    assert unshared["revision_number"] == revision + 1
    assert ids(a.policies(f"object_id={net['id']}")) == {for_b["id"]}
    assert b.get("networks", net["id"])[1]["network"]["shared"] is True
    expect_error(c.get("networks", net["id"]), 404, "NetworkNotFound")
    # unchanged: no new revision
    assert admin.update("networks", net["id"], shared=False)["revision_number"] == \
        revision + 1
    shared = admin.update("networks", net["id"], shared=True)
    assert shared["shared"] is True and shared["revision_number"] == revision + 2
    assert {p["target_tenant"] for p in a.policies(f"object_id={net['id']}")} == {
        "*", pid(b)}
    b.remove("ports", port_b["id"])


def test_revision_bumps(a: Rbac, b: Rbac) -> None:
    net = a.network()
    revision = net["revision_number"]
    policy = a.share(net["id"], pid(b))
    after_create = a.get("networks", net["id"])[1]["network"]
    assert after_create["revision_number"] == revision + 1
    a.remove("rbac-policies", policy["id"])
    after_delete = a.get("networks", net["id"])[1]["network"]
    assert after_delete["revision_number"] == revision + 2


# --- real clients ----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_openstacksdk(server: Server, a: Rbac, b: Rbac, c: Rbac) -> None:
    def connect(api: Api) -> openstack.connection.Connection:
        conn = openstack.connection.Connection(
            auth_type="none", network_endpoint_override=f"{server.url}/")
        assert api.headers is not None
        conn.session.additional_headers.update(api.headers)
        return conn

    owner, guest = connect(a), connect(b)
    try:
        net = owner.network.create_network(name="sdk-rbac")
        policy = owner.network.create_rbac_policy(
            object_type="network", object_id=net.id, action=SHARED,
            target_project_id=pid(b))
        assert (policy.project_id, policy.target_project_id) == (pid(a), pid(b))
        assert [p.id for p in owner.network.rbac_policies(target_project_id=pid(b))] == [
            policy.id]
        assert list(guest.network.rbac_policies()) == []
        assert guest.network.get_network(net.id).is_shared is True
        assert owner.network.get_network(net.id).is_shared is False
        policy = owner.network.update_rbac_policy(policy, target_project_id=pid(c))
        assert owner.network.get_rbac_policy(policy.id).target_project_id == pid(c)
        with pytest.raises(sdk_exc.ResourceNotFound):
            guest.network.get_network(net.id)
        with pytest.raises(sdk_exc.ConflictException):
            owner.network.create_rbac_policy(object_type="network", object_id=net.id,
                                             action=SHARED, target_project_id=pid(c))
        owner.network.delete_rbac_policy(policy)
        assert list(owner.network.rbac_policies()) == []
    finally:
        owner.close()
        guest.close()


def test_openstack_cli(server: Server, tmp_path: Path, admin: Rbac) -> None:
    """The CLI acts as the noauth operator. `network rbac create` needs Keystone whatever
    its options (it opens an identity client first), so here the entry comes over HTTP."""
    run = openstack_cli(server, tmp_path)

    def osc(*args: str) -> Any:
        return as_json(run(*args))

    name = f"cli-rbac-{uuid.uuid4().hex[:8]}"
    net = osc("network", "create", name, "-f", "json")
    assert net["shared"] is False
    policy = admin.share(net["id"], "*")
    assert osc("network", "show", name, "-f", "json")["shared"] is True
    listed = osc("network", "rbac", "list", "--long", "-f", "json")
    assert policy["id"] in {p["ID"] for p in listed}
    shown = osc("network", "rbac", "show", policy["id"], "-f", "json")
    assert (shown["object_id"], shown["target_project_id"], shown["action"]) == (
        net["id"], "*", SHARED)
    osc("network", "rbac", "delete", policy["id"])
    assert osc("network", "show", name, "-f", "json")["shared"] is False
    osc("network", "delete", name)
