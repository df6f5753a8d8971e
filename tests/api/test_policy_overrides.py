"""An operator's policy.yaml changes behaviour exactly as it does in Neutron: loosening and
tightening rules, attribute rules, a custom admin role and the service role, and a policy
file edited while the server runs (oslo.policy reloads it when it changes; rules taken
out of it fall back to the defaults).

Each test starts a real server whose ``[oslo_policy] policy_file`` holds the overrides
and talks to it over HTTP with noauth identity headers.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, temp_database
from tests.support.agents_bus import wait_until
from tests.support.neutron import Api, expect_error
from tests.support.server import Server, project_headers


def write_policy(path: Path, rules: dict[str, str]) -> None:
    """policy.yaml (JSON is YAML); the modification time moves forward for certain, so
    oslo.policy's change detection sees every rewrite."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    staged = path.with_suffix(".new")
    staged.write_text(json.dumps(rules, indent=1))
    after = max(staged.stat().st_mtime_ns, before + 2_000_000_000)
    os.utime(staged, ns=(after, after))
    os.replace(staged, path)  # a reader never sees half a file


@contextmanager
def policy_server(tmp_path: Path, rules: dict[str, str], backend: str = "sqlite"
                  ) -> Iterator[tuple[Server, Path]]:
    policy_file = tmp_path / "policy.yaml"
    write_policy(policy_file, rules)
    conf = {"oslo_policy": {"policy_file": str(policy_file)}}
    with temp_database(backend, tmp_path) as url, Server(url, tmp_path, conf=conf) as srv:
        yield srv, policy_file


def member(server: Server) -> Api:
    return Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))


def caller(server: Server, roles: str) -> Api:
    project = f"p-{uuid.uuid4().hex[:12]}"
    return Api(server, {"X-Project-Id": project, "X-User-Id": f"u-{project}",
                        "X-Roles": roles})


def project_of(api: Api) -> str:
    assert api.headers is not None
    return api.headers["X-Project-Id"]


def shared_network(owner: Api, cidr: str) -> tuple[dict, dict]:
    admin = Api(owner.server, None)  # the noauth operator: shares it
    net = owner.network(name="shared-by-owner")
    admin.update("networks", net["id"], shared=True)
    sub = owner.subnet(net["id"], cidr)
    return net, sub


# --- loosening ------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_member_of_another_project_may_update_and_delete_a_shared_network(
        tmp_path: Path, backend: str) -> None:
    """Neutron's documented example of loosening: ``update_network: role:member``."""
    rules = {"update_network": "role:member", "delete_network": "role:member"}
    with policy_server(tmp_path, rules, backend) as (server, _):
        owner, guest = member(server), member(server)
        net, sub = shared_network(owner, "10.61.0.0/24")
        renamed = guest.update("networks", net["id"], name="renamed-by-guest")
        assert renamed["name"] == "renamed-by-guest"
        # attribute rules still hold: sharing stays the admin's
        expect_error(guest.put("networks", net["id"], {"shared": False}), 403,
                     "PolicyNotAuthorized",
                     "(rule:update_network and rule:update_network:shared) is disallowed "
                     "by policy")
        # a network the guest cannot see stays hidden: 404, not 403
        private = owner.network(name="private")
        expect_error(guest.put("networks", private["id"], {"name": "x"}), 404,
                     "NetworkNotFound")
        # subnets are still only the network owner's (update_subnet is not loosened)
        expect_error(guest.put("subnets", sub["id"], {"name": "x"}), 403,
                     "PolicyNotAuthorized", "rule:update_subnet is disallowed by policy")
        owner.remove("subnets", sub["id"])
        guest.remove("networks", net["id"])
        assert owner.get("networks", net["id"])[0] == 404


def test_shared_networks_subnets_and_rbac_wildcards_for_members(tmp_path: Path) -> None:
    """Loosening rules Neutron's policy reference documents: ``create_network:shared``,
    ``create_subnet`` / ``update_subnet`` on a network another project shares, and
    ``create_rbac_policy:target_tenant`` (wildcard sharing)."""
    rules = {"create_network:shared": "rule:regular_user",
             "create_subnet": "role:member", "update_subnet": "role:member",
             "delete_subnet": "role:member",
             "create_rbac_policy:target_tenant": "rule:regular_user"}
    with policy_server(tmp_path, rules) as (server, _):
        owner, guest = member(server), member(server)
        net = owner.network(name="mine-and-shared", shared=True)
        assert net["shared"] is True
        # the guest adds a subnet to the owner's shared network, changes and deletes it
        sub = guest.subnet(net["id"], "10.62.0.0/24")
        assert sub["project_id"] == project_of(guest)
        assert guest.update("subnets", sub["id"], name="guest-sub")["name"] == "guest-sub"
        guest.remove("subnets", sub["id"])
        # not on a network it cannot see: Neutron's ownership check, before any rule
        private = owner.network(name="private")
        expect_error(guest.post("subnets", {"network_id": private["id"],
                                            "cidr": "10.63.0.0/24", "ip_version": 4}),
                     404, "NetworkNotFound")
        # an RBAC entry for every project, by a member
        code, body = owner.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "network", "object_id": private["id"],
            "action": "access_as_shared", "target_tenant": "*"}})
        assert code == 201 and body["rbac_policy"]["target_tenant"] == "*", body
        assert guest.get("networks", private["id"])[1]["network"]["shared"] is True
        # sharing someone else's network stays refused (Neutron's RBAC callback)
        code, body = guest.request("POST", "/v2.0/rbac-policies", {"rbac_policy": {
            "object_type": "network", "object_id": net["id"],
            "action": "access_as_shared", "target_tenant": "*"}})
        assert code == 400 and "they do not own" in body["NeutronError"]["message"], body


# --- attribute rules --------------------------------------------------------------------------
def test_port_attribute_rules_for_a_guest_on_a_shared_network(tmp_path: Path) -> None:
    """``create_port:binding:host_id``, ``create_port:mac_address`` and the fixed IP rules
    given to members: a guest on a shared network chooses them (Neutron's defaults keep
    them to the network's owner); ``update_port:mac_address`` likewise."""
    rules = {"create_port:binding:host_id": "role:member",
             "create_port:mac_address": "role:member",
             "create_port:fixed_ips:ip_address": "role:member",
             "update_port:mac_address": "role:member",
             # and tightened: not even the network's owner
             "create_port:port_security_enabled": "rule:admin_only"}
    with policy_server(tmp_path, rules) as (server, _):
        owner, guest = member(server), member(server)
        net, sub = shared_network(owner, "10.64.0.0/24")
        port = guest.port(net["id"], mac_address="fa:16:3e:00:64:01",
                          fixed_ips=[{"subnet_id": sub["id"], "ip_address": "10.64.0.50"}],
                          **{"binding:host_id": "compute-7"})
        assert port["mac_address"] == "fa:16:3e:00:64:01"
        assert port["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.64.0.50"}]
        # reading the host is still the admin's (get_port:binding:host_id not loosened)
        assert "binding:host_id" not in port
        admin_view = Api(server, None).get("ports", port["id"])[1]["port"]
        assert admin_view["binding:host_id"] == "compute-7"
        moved = guest.update("ports", port["id"], mac_address="fa:16:3e:00:64:02")
        assert moved["mac_address"] == "fa:16:3e:00:64:02"
        # the rules not loosened still refuse, with oslo.policy's words
        expect_error(guest.put("ports", port["id"], {"fixed_ips": [
            {"subnet_id": sub["id"], "ip_address": "10.64.0.51"}]}), 403,
            "PolicyNotAuthorized",
            "(rule:update_port and (rule:update_port:fixed_ips and "
            "(rule:update_port:fixed_ips:ip_address and rule:update_port:fixed_ips:subnet_id)"
            ")) is disallowed by policy")
        expect_error(owner.post("ports", {"network_id": net["id"],
                                          "port_security_enabled": False}),
                     403, "PolicyNotAuthorized",
                     "(rule:create_port and rule:create_port:port_security_enabled) is "
                     "disallowed by policy")


@pytest.mark.parametrize("backend", BACKENDS)
def test_only_enforce_policy_attributes_set_explicitly_meet_their_rules(
        tmp_path: Path, backend: str) -> None:
    """Neutron's match rule names ``<action>:<attr>`` only for attributes neutron-lib
    declares enforce_policy, set explicitly: on update named in the body, on create
    given a value other than the default. So subnet service_types (not enforce_policy)
    is the member's to change under the default update_subnet:service_types (admin
    only: inert in Neutron), while overrides of enforced attributes' rules act."""
    rules = {"update_network:shared": "role:member",  # loosened
             "create_port:device_owner": "!",  # tightened, for everyone
             "create_port:binding:vnic_type": "!",
             "update_port:mac_address": "!",
             "update_subnet:service_types": "!"}  # inert: changes nothing
    with policy_server(tmp_path, rules, backend) as (server, _):
        owner = member(server)
        net = owner.network(name="policyattr")
        sub = owner.subnet(net["id"], "10.66.0.0/24", service_types=["compute:nova"])
        assert sub["service_types"] == ["compute:nova"]
        # the member updates its subnet's service_types (tempest's TestRevisions)
        changed = owner.update("subnets", sub["id"], service_types=["network:dhcp"])
        assert changed["service_types"] == ["network:dhcp"]
        assert changed["revision_number"] > sub["revision_number"]
        assert owner.update("subnets", sub["id"], service_types=[])["service_types"] == []
        # update_network:shared loosened: the member shares its own network
        assert owner.update("networks", net["id"], shared=True)["shared"] is True
        # a create giving an attribute its default does not meet the attribute's rule
        port = owner.port(net["id"], device_owner="", **{"binding:vnic_type": "normal"})
        assert (port["device_owner"], port["binding:vnic_type"]) == ("", "normal")
        expect_error(owner.post("ports", {"network_id": net["id"],
                                          "device_owner": "compute:nova"}),
                     403, "PolicyNotAuthorized",
                     "(rule:create_port and rule:create_port:device_owner) is disallowed "
                     "by policy")
        expect_error(owner.post("ports", {"network_id": net["id"],
                                          "binding:vnic_type": "direct"}),
                     403, "PolicyNotAuthorized",
                     "(rule:create_port and rule:create_port:binding:vnic_type) is "
                     "disallowed by policy")
        # on update, naming the attribute is enough, whatever its value
        expect_error(owner.put("ports", port["id"], {"mac_address": port["mac_address"]}),
                     403, "PolicyNotAuthorized",
                     "(rule:update_port and rule:update_port:mac_address) is disallowed "
                     "by policy")
        assert owner.update("ports", port["id"], name="p")["name"] == "p"


def test_member_updates_its_subnets_service_types_under_the_default_policy(
        server: Server) -> None:
    """tempest's TestRevisions.test_update_subnet_service_types_bumps_revisions: Neutron's
    default update_subnet:service_types (admin only) is never consulted."""
    owner = member(server)
    net = owner.network(name="revisions")
    sub = owner.subnet(net["id"], "10.67.0.0/24")
    changed = owner.update("subnets", sub["id"], service_types=["compute:nova"])
    assert changed["service_types"] == ["compute:nova"]
    assert changed["revision_number"] > sub["revision_number"]
    shown = owner.get("subnets", sub["id"])[1]["subnet"]
    assert shown["revision_number"] == changed["revision_number"]


# --- tightening and a custom admin role ----------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "mysql"])
def test_custom_admin_role_and_tightened_reads(tmp_path: Path, backend: str) -> None:
    """``context_is_admin: role:admin or role:cloud_admin`` makes ``cloud_admin`` an admin
    everywhere (reads of every project, admin-only attributes, creating for another
    project); ``get_network`` and ``create_port`` tightened to admins leave members
    nothing to see and no ports to create."""
    rules = {"context_is_admin": "role:admin or role:cloud_admin",
             "get_network": "rule:admin_only", "create_port": "rule:admin_only"}
    with policy_server(tmp_path, rules, backend) as (server, _):
        alice, bob = member(server), member(server)
        cloud = caller(server, "cloud_admin")
        net = alice.network(name="alices")
        shared, _ = shared_network(bob, "10.66.0.0/24")
        # members see no network, not even their own
        assert alice.list("networks") == []
        expect_error(alice.get("networks", net["id"]), 404, "HTTPNotFound")
        expect_error(alice.get("networks", shared["id"]), 404, "HTTPNotFound")
        # ... and an update they are refused on a network they cannot read is a 404
        expect_error(alice.put("networks", shared["id"], {"name": "x"}), 404,
                     "HTTPNotFound", "The resource could not be found.")
        # while still updating their own (update_network is not tightened)
        assert alice.update("networks", net["id"], name="a2")["name"] == "a2"
        expect_error(alice.post("ports", {"network_id": net["id"]}), 403,
                     "PolicyNotAuthorized", "rule:create_port is disallowed by policy")
        # cloud_admin: every project's networks, their admin-only attributes
        seen = {n["id"]: n for n in cloud.list("networks")}
        assert {net["id"], shared["id"]} <= set(seen)
        assert "provider:network_type" in seen[net["id"]]
        assert cloud.get("networks", net["id"])[1]["network"]["name"] == "a2"
        assert cloud.update("networks", net["id"], name="by-cloud")["name"] == "by-cloud"
        port = cloud.port(net["id"], **{"binding:host_id": "compute-1"})
        assert port["binding:host_id"] == "compute-1"
        assert port["project_id"] == project_of(cloud)
        other = cloud.create("networks", project_id=project_of(bob), shared=True)
        assert other["project_id"] == project_of(bob)
        code, body = server.request(
            "GET", f"/v2.0/quotas/{project_of(alice)}/details", headers=cloud.headers)
        assert code == 200 and "network" in body["quota"], body
        # the plain admin role is an admin as before
        plain_admin = caller(server, "admin")
        assert net["id"] in {n["id"] for n in plain_admin.list("networks")}
        cloud.remove("ports", port["id"])
        for n in (net, shared, other):
            cloud.remove("networks", n["id"])


def test_admin_role_dropped_from_context_is_admin(tmp_path: Path) -> None:
    """The other way round: ``context_is_admin: role:cloud_admin`` and a caller with the
    ``admin`` role is no admin anywhere (not in visibility, not in hard checks such as
    Neutron's "project_id other than the authenticated project")."""
    with policy_server(tmp_path, {"context_is_admin": "role:cloud_admin"}) as (server, _):
        alice = member(server)
        net = alice.network(name="alices")
        former = caller(server, "admin,member,reader")
        assert net["id"] not in {n["id"] for n in former.list("networks")}
        expect_error(former.get("networks", net["id"]), 404, "NetworkNotFound")
        code, body = former.post("networks", {"project_id": project_of(alice)})
        assert code == 400 and "project_id" in body["NeutronError"]["message"], body
        code, body = server.request(
            "GET", f"/v2.0/quotas/{project_of(alice)}/details", headers=former.headers)
        assert (code, body["NeutronError"]["type"]) == (403, "AdminRequired"), body
        alice.remove("networks", net["id"])


def test_service_role_from_service_api_rule(tmp_path: Path) -> None:
    """``service_api`` names the service role (Nova's): such a caller reads every
    project's ports and their binding attributes, as in Neutron."""
    with policy_server(tmp_path, {"service_api": "role:service or role:nova"}) as (server, _):
        alice = member(server)
        net = alice.network()
        port = alice.port(net["id"])
        nova = caller(server, "nova")
        seen = nova.get("ports", port["id"])
        assert seen[0] == 200, seen
        assert "binding:host_id" in seen[1]["port"]
        bound = nova.update("ports", port["id"], **{"binding:host_id": "compute-2",
                                                    "binding:profile": {"k": "v"}})
        assert bound["binding:host_id"] == "compute-2"
        # a caller with neither role is an ordinary project member
        stranger = caller(server, "member,reader")
        expect_error(stranger.get("ports", port["id"]), 404, "PortNotFound")
        alice.remove("ports", port["id"])
        alice.remove("networks", net["id"])


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "mysql"])
def test_loosened_binding_reads_in_lists(tmp_path: Path, backend: str) -> None:
    """A list leaves out what the caller's policy never shows (ListQuery.hidden): each
    ``get_port:binding:*`` rule loosened in its own way (for everyone, for the port's
    owner, on a value of the port) shows that attribute to a member in lists as in a show,
    and the one left as it is stays hidden."""
    rules = {"get_port:binding:profile": "",
             "get_port:binding:host_id": "rule:admin_or_owner",
             "get_port:binding:vif_type": "project_id:%(project_id)s"}
    with policy_server(tmp_path, rules, backend) as (server, _):
        alice = member(server)
        net = alice.network()
        port = alice.port(net["id"])
        shown = alice.get("ports", port["id"])[1]["port"]
        listed = alice.list("ports")
        assert listed == [shown]
        assert shown["binding:profile"] == {}
        assert shown["binding:host_id"] == ""
        assert shown["binding:vnic_type"] == "normal"
        assert "binding:vif_type" in shown and "binding:vif_details" not in shown
        # the same keys in the same order when only some fields are asked for
        assert alice.list("ports", "fields=binding:vif_details&fields=binding:profile") == [
            {"binding:profile": {}}]
        alice.remove("ports", port["id"])
        alice.remove("networks", net["id"])


# --- the policy file changes while the server runs --------------------------------------------
def test_policy_file_reloaded_when_it_changes(tmp_path: Path) -> None:
    """As oslo.policy does: a changed file is read again (no restart); a rule taken out of
    it falls back to the default; a rule reading a different target field is evaluated
    afresh for each item, not from what the old rule read."""
    with policy_server(tmp_path, {"get_network": "role:reader"}) as (server, policy_file):
        owner, guest = member(server), member(server)
        net, _ = shared_network(owner, "10.67.0.0/24")
        expect_error(guest.put("networks", net["id"], {"name": "x"}), 403,
                     "PolicyNotAuthorized", "rule:update_network is disallowed by policy")
        pub, priv = owner.network(name="pub-1"), owner.network(name="priv-1")
        ids = {n["id"] for n in owner.list("networks")}
        assert {pub["id"], priv["id"], net["id"]} <= ids

        write_policy(policy_file, {"update_network": "role:member",
                                   "get_network": "field:networks:name=~^pub-"})

        def guest_may_update() -> bool:
            return guest.put("networks", net["id"], {"name": "pub-renamed"})[0] == 200

        assert wait_until(guest_may_update, timeout=20), "the changed policy file was not read"
        names = {n["name"] for n in owner.list("networks")}
        assert "pub-1" in names and "priv-1" not in names, names
        assert {n["name"] for n in owner.list("networks")} == names

        write_policy(policy_file, {})  # back to Neutron's defaults

        def guest_refused() -> bool:
            return guest.put("networks", net["id"], {"name": "pub-again"})[0] == 403

        assert wait_until(guest_refused, timeout=20), "the defaults did not come back"
        assert priv["id"] in {n["id"] for n in owner.list("networks")}
