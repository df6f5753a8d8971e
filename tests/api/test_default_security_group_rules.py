"""Default security group rules (/v2.0/default-security-group-rules, extension
security-groups-default-rules) over HTTP on every backend: seeded with Neutron's defaults,
admin-managed, the template of new groups (PARENT: the group itself; used_in_default_sg /
used_in_non_default_sg), duplicates 409, filters; as neutron-tempest-plugin's
admin/test_default_security_group_rules.py expects."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.neutron import expect_error
from tests.support.osc import as_json as _json
from tests.support.secgroups import SgApi as Api
from tests.support.server import Server, project_headers

RULES = "default-security-group-rules"
KEYS = {"id", "description", "remote_group_id", "remote_address_group_id", "direction",
        "protocol", "remote_ip_prefix", "port_range_max", "port_range_min", "ethertype",
        "used_in_default_sg", "used_in_non_default_sg"}


@pytest.fixture
def api_class() -> type[Api]:
    return Api


def _shape(rule: dict[str, Any], group_id: str | None = None) -> tuple[Any, ...]:
    remote = rule["remote_group_id"]
    if group_id is not None and remote == group_id:
        remote = "PARENT"
    return (rule["direction"], rule["ethertype"], rule["protocol"], rule["port_range_min"],
            rule["port_range_max"], rule["remote_ip_prefix"], remote)


SEEDED = sorted([("egress", "IPv4", None, None, None, None, None),
                 ("egress", "IPv6", None, None, None, None, None),
                 ("ingress", "IPv4", None, None, None, None, "PARENT"),
                 ("ingress", "IPv6", None, None, None, None, "PARENT")], key=repr)


def _shapes(group: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted((_shape(r, group["id"]) for r in group["security_group_rules"]), key=repr)


def _fresh(server: Server) -> Api:
    return Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))


def test_template_and_new_groups(admin: Api, server: Server) -> None:
    seeded = admin.list(RULES)
    assert all(set(r) == KEYS for r in seeded)
    # other tests of this module may have added rules: Neutron's four are there
    assert [s for s in SEEDED if s in {_shape(r) for r in seeded}] == SEEDED
    flags = {(r["direction"], r["ethertype"]): (r["used_in_default_sg"],
                                                r["used_in_non_default_sg"])
             for r in seeded if _shape(r) in SEEDED}
    assert flags[("ingress", "IPv4")] == (True, False)
    assert flags[("egress", "IPv6")] == (True, True)

    # a new template rule: ssh in, for every group; icmp for non-default groups only
    ssh = admin.create(RULES, direction="ingress", protocol="tcp", port_range_min=22,
                       port_range_max=22, remote_ip_prefix="10.0.0.0/8",
                       description="ssh")
    icmp = admin.create(RULES, direction="ingress", protocol="icmp",
                        used_in_default_sg=False)
    try:
        assert set(ssh) == KEYS and ssh["description"] == "ssh"
        assert (ssh["used_in_default_sg"], ssh["used_in_non_default_sg"]) == (True, True)
        assert admin.show(RULES, icmp["id"]) == icmp
        user = _fresh(server)
        [default] = user.list("security-groups")
        other = user.create("security-groups", name="web")
        ssh_shape = ("ingress", "IPv4", "tcp", 22, 22, "10.0.0.0/8", None)
        icmp_shape = ("ingress", "IPv4", "icmp", None, None, None, None)
        got_default = _shapes(default)
        assert got_default == sorted([*SEEDED, ssh_shape], key=repr)
        got_other = _shapes(other)
        assert got_other == sorted([SEEDED[0], SEEDED[1], ssh_shape, icmp_shape], key=repr)
        # filters
        listed = {r["id"] for r in admin.list(RULES, "used_in_default_sg=false")}
        assert icmp["id"] in listed and ssh["id"] not in listed
        assert [r["id"] for r in admin.list(RULES, "protocol=tcp&port_range_min=22")] == [
            ssh["id"]]
    finally:
        admin.remove(RULES, ssh["id"])
        admin.remove(RULES, icmp["id"])
    # gone from the template: a group made now does not get it
    later = _fresh(server).create("security-groups", name="later")
    assert _shapes(later) == \
        SEEDED[:2]


def test_seeded_descriptions(admin: Api, server: Server) -> None:
    """Neutron seeds its four template rules with these descriptions (upstream's
    test_legacy_default_sg_rules_created_by_default compares them); the rules a new
    group gets from them keep an empty description, as Neutron's."""
    egress, ingress = ("Legacy default SG rule for egress traffic",
                       "Legacy default SG rule for ingress traffic")
    seeded = {_shape(r): r["description"] for r in admin.list(RULES)
              if _shape(r) in SEEDED}
    assert seeded == {SEEDED[0]: egress, SEEDED[1]: egress,
                      SEEDED[2]: ingress, SEEDED[3]: ingress}
    [default] = _fresh(server).list("security-groups")
    made = {_shape(r, default["id"]): r["description"] for r in default["security_group_rules"]}
    assert {made[s] for s in SEEDED} == {""}


def test_errors_and_policy(admin: Api, api: Api) -> None:
    rule = admin.create(RULES, direction="egress", protocol="udp", port_range_min=53,
                        port_range_max=53, used_in_non_default_sg=False)
    try:
        # the same rule again (another spelling of the protocol): 409
        expect_error(admin.post(RULES, {"direction": "egress", "protocol": "17",
                                        "port_range_min": 53, "port_range_max": 53}),
                     409, "DefaultSecurityGroupRuleExists",
                     f"Default security group rule already exists. Rule id is {rule['id']}.")
        # no update
        status, _ = admin.put(RULES, rule["id"], {"description": "x"})
        assert status in (400, 405)
        # admin-managed: a member reads the template but may not change it
        assert api.show(RULES, rule["id"])["id"] == rule["id"]
        expect_error(api.post(RULES, {"direction": "ingress"}), 403, "PolicyNotAuthorized")
        status, _ = api.delete(RULES, rule["id"])
        assert status == 403
    finally:
        admin.remove(RULES, rule["id"])
    missing = str(uuid.uuid4())
    expect_error(admin.get(RULES, missing), 404, "DefaultSecurityGroupRuleNotFound",
                 f"Default Security Group rule {missing} does not exist")
    expect_error(admin.delete(RULES, missing), 404, "DefaultSecurityGroupRuleNotFound")
    expect_error(admin.post(RULES, {"direction": "ingress", "remote_group_id": missing}),
                 404, "SecurityGroupNotFound")
    expect_error(admin.post(RULES, {"direction": "ingress", "remote_group_id": "PARENT",
                                    "remote_ip_prefix": "10.0.0.0/8"}),
                 400, "SecurityGroupMultipleRemoteEntites")
    status, _ = admin.post(RULES, {"direction": "ingress", "remote_group_id": "parent"})
    assert status == 400


def test_remote_group_named(admin: Api, server: Server) -> None:
    """A template naming a real group: new groups get rules with it as remote; once the
    group is deleted the template rule is skipped."""
    owner = _fresh(server)
    target = owner.create("security-groups", name="target")
    rule = admin.create(RULES, direction="ingress", protocol="tcp", port_range_min=443,
                        port_range_max=443, remote_group_id=target["id"],
                        used_in_default_sg=False)
    try:
        made = admin.create("security-groups", name="x")
        assert ("ingress", "IPv4", "tcp", 443, 443, None, target["id"]) in {
            _shape(r) for r in made["security_group_rules"]}
        admin.remove("security-groups", made["id"])
        owner.remove("security-groups", target["id"])
        after = admin.create("security-groups", name="y")
        assert _shapes(after) == \
            SEEDED[:2]
        admin.remove("security-groups", after["id"])
    finally:
        admin.remove(RULES, rule["id"])


def test_remote_address_group(admin: Api, server: Server) -> None:
    """A template rule may name a remote address group (as Neutron's: tempest compares
    whole dicts with it): it must exist and be visible, it excludes the other remotes,
    new groups' rules carry it, and once the address group is gone the rule is skipped."""
    owner = _fresh(server)
    status, body = owner.post("address-groups", {"name": "ag", "addresses": ["192.0.2.0/24"]})
    assert status == 201, body
    group = body["address_group"]
    port = 40000 + uuid.uuid4().int % 20000
    missing = str(uuid.uuid4())
    expect_error(admin.post(RULES, {"direction": "ingress", "remote_address_group_id":
                                    missing}), 404, "AddressGroupNotFound")
    expect_error(admin.post(RULES, {"direction": "ingress", "remote_address_group_id":
                                    "no-uuid"}), 404, "AddressGroupNotFound")
    for other in ({"remote_group_id": "PARENT"}, {"remote_ip_prefix": "10.0.0.0/8"}):
        expect_error(admin.post(RULES, {"direction": "ingress", **other,
                                        "remote_address_group_id": group["id"]}),
                     400, "SecurityGroupMultipleRemoteEntites")
    rule = admin.create(RULES, direction="ingress", protocol="tcp", port_range_min=port,
                        port_range_max=port, remote_address_group_id=group["id"],
                        used_in_default_sg=False)
    try:
        assert set(rule) == KEYS and rule["remote_address_group_id"] == group["id"]
        assert admin.show(RULES, rule["id"]) == rule
        assert [r["id"] for r in admin.list(
            RULES, f"remote_address_group_id={group['id']}")] == [rule["id"]]
        # the same rule without the address group is another rule; with it, a duplicate
        plain = admin.create(RULES, direction="ingress", protocol="tcp", port_range_min=port,
                             port_range_max=port, used_in_default_sg=False)
        admin.remove(RULES, plain["id"])
        expect_error(admin.post(RULES, {"direction": "ingress", "protocol": "6",
                                        "port_range_min": port, "port_range_max": port,
                                        "remote_address_group_id": group["id"]}),
                     409, "DefaultSecurityGroupRuleExists")
        made = owner.create("security-groups", name="x")
        [got] = [r for r in made["security_group_rules"] if r["port_range_min"] == port]
        assert (got["remote_address_group_id"], got["remote_ip_prefix"],
                got["remote_group_id"]) == (group["id"], None, None)
        [default] = _fresh(server).list("security-groups")  # used_in_default_sg false
        assert all(r["remote_address_group_id"] is None
                   for r in default["security_group_rules"])
        owner.remove("security-groups", made["id"])
        status, _ = owner.delete("address-groups", group["id"])
        assert status == 204
        after = owner.create("security-groups", name="y")
        assert _shapes(after) == SEEDED[:2]
    finally:
        admin.remove(RULES, rule["id"])


def test_openstack_cli(osc: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    rule = _json(osc("default", "security", "group", "rule", "create", "--protocol", "tcp",
                     "--dst-port", "8080", "--remote-ip", "192.0.2.0/24", "--for-custom-sg",
                     "-f", "json"))
    try:
        assert (rule["protocol"], rule["port_range_min"], rule["port_range_max"],
                rule["remote_ip_prefix"], rule["used_in_default_sg"],
                rule["used_in_non_default_sg"]) == (
            "tcp", 8080, 8080, "192.0.2.0/24", False, True)
        proc = osc("default", "security", "group", "rule", "create", "--protocol", "6",
                   "--dst-port", "8080", "--remote-ip", "192.0.2.0/24", "--for-custom-sg",
                   ok=False)
        assert "Default security group rule already exists" in proc.stderr
        listed = _json(osc("default", "security", "group", "rule", "list", "-f", "json"))
        assert rule["id"] in {r["ID"] for r in listed}
        shown = _json(osc("default", "security", "group", "rule", "show", rule["id"],
                          "-f", "json"))
        assert shown["id"] == rule["id"]
    finally:
        osc("default", "security", "group", "rule", "delete", rule["id"])
    osc("default", "security", "group", "rule", "show", rule["id"], ok=False)


def test_same_rule_for_different_templates(admin: Api) -> None:
    """neutron-tempest-plugin test_create_same_default_security_group_rule_for_different_
    templates and ..._duplicate_..._different_templates: one rule may be in the template
    twice when the two apply to different kinds of group, not when both apply to one."""
    port = 40000 + uuid.uuid4().int % 20000
    shape = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
             "port_range_min": port, "port_range_max": port}
    made = []
    try:
        made.append(admin.create(RULES, **shape, used_in_default_sg=True,
                                 used_in_non_default_sg=False))
        made.append(admin.create(RULES, **shape, used_in_default_sg=False,
                                 used_in_non_default_sg=True))
        assert [(r["used_in_default_sg"], r["used_in_non_default_sg"]) for r in made] == [
            (True, False), (False, True)]
        for flags in ((True, True), (True, False), (False, True)):
            status, err = admin.post(RULES, {**shape, "used_in_default_sg": flags[0],
                                             "used_in_non_default_sg": flags[1]})
            assert status == 409, (flags, err)
            assert err["NeutronError"]["type"] == "DefaultSecurityGroupRuleExists"
        admin.remove(RULES, made.pop(0)["id"])
        # used in default groups only is free again; used in both still overlaps
        status, err = admin.post(RULES, {**shape, "used_in_default_sg": True,
                                         "used_in_non_default_sg": True})
        assert status == 409, err
        admin.remove(RULES, made.pop(0)["id"])
        made.append(admin.create(RULES, **shape, used_in_default_sg=True,
                                 used_in_non_default_sg=True))
        for flags in ((True, False), (False, True)):
            status, err = admin.post(RULES, {**shape, "used_in_default_sg": flags[0],
                                             "used_in_non_default_sg": flags[1]})
            assert status == 409, (flags, err)
        # one POST with two overlapping rules: Neutron's duplicate-in-POST
        other = {**shape, "port_range_min": port - 1, "port_range_max": port - 1}
        status, err = admin.request("POST", f"/v2.0/{RULES}", {RULES.replace("-", "_"): [
            {**other, "used_in_non_default_sg": False}, other]})
        assert status == 409, err
        assert err["NeutronError"]["type"] == "DuplicateDefaultSgRuleInPost"
        listed = admin.request("GET", f"/v2.0/{RULES}?port_range_min={port - 1}")[1]
        assert listed[RULES.replace("-", "_")] == []
        # a rule used in no group overlaps nothing: the same one twice is accepted
        for _ in range(2):
            made.append(admin.create(RULES, **other, used_in_default_sg=False,
                                     used_in_non_default_sg=False))
    finally:
        for rule in made:
            admin.remove(RULES, rule["id"])
