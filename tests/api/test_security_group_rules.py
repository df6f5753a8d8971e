"""Security group rules over HTTP and through the openstack CLI, on every backend:
protocols by name or number, port ranges and ICMP type/code, remote prefixes (masked to
their network) and groups, duplicates (409 SecurityGroupRuleExists, also between spellings
of one rule), bulk creates all or nothing, no updates, visibility, quota."""

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

SERVER_CONF = {"QUOTAS": {"quota_security_group_rule": 12}}
RULES = "security-group-rules"


@pytest.fixture
def api_class() -> type[Api]:
    return Api  # SgApi: api and admin (tests/api/conftest.py) are SgApis


@pytest.fixture
def group(api: Api) -> dict[str, Any]:
    return api.create("security-groups", name="g")


def _post(api: Api, group: dict[str, Any], **attrs: Any) -> tuple[int, Any]:
    return api.post(RULES, {"security_group_id": group["id"], "direction": "ingress",
                            **attrs})


def test_create_show_delete(api: Api, group: dict[str, Any], project: str) -> None:
    rule = api.rule(group["id"], protocol="tcp", port_range_min=22, port_range_max=22,
                    remote_ip_prefix="10.0.0.5/24", description="ssh")
    assert (rule["direction"], rule["ethertype"], rule["protocol"], rule["port_range_min"],
            rule["port_range_max"], rule["remote_ip_prefix"], rule["normalized_cidr"],
            rule["remote_group_id"], rule["project_id"], rule["description"],
            rule["belongs_to_default_sg"]) == (
        "ingress", "IPv4", "tcp", 22, 22, "10.0.0.5/24", "10.0.0.0/24", None, project,
        "ssh", False)
    assert "security_group:project_id" not in rule
    assert api.show(RULES, rule["id"]) == rule
    shown = api.show("security-groups", group["id"])
    assert rule["id"] in {r["id"] for r in shown["security_group_rules"]}
    assert shown["revision_number"] == 2  # a rule more is a new revision of the group
    listed = api.list(RULES, f"security_group_id={group['id']}&protocol=tcp")
    assert [r["id"] for r in listed] == [rule["id"]]
    api.remove(RULES, rule["id"])
    expect_error(api.get(RULES, rule["id"]), 404, "SecurityGroupRuleNotFound",
                 f"Security group rule {rule['id']} does not exist")
    expect_error(api.delete(RULES, rule["id"]), 404, "SecurityGroupRuleNotFound")
    assert api.show("security-groups", group["id"])["revision_number"] == 3


def test_no_update(api: Api, group: dict[str, Any]) -> None:
    rule = api.rule(group["id"], protocol="udp")
    for body in ({"security_group_rule": {"description": "x"}}, {"security_group_rule": {}}):
        expect_error(api.request("PUT", f"/v2.0/{RULES}/{rule['id']}", body), 405,
                     "HTTPMethodNotAllowed")


@pytest.mark.parametrize(("given", "ethertype", "stored"), [
    ("TCP", "IPv4", "tcp"), ("6", "IPv4", "6"), (17, "IPv4", "17"), ("any", "IPv4", None),
    (None, "IPv4", None), ("icmp", "IPv4", "icmp"), ("icmp", "IPv6", "ipv6-icmp"),
    ("icmpv6", "IPv6", "ipv6-icmp"), ("1", "IPv6", "58"), ("ipv6-icmp", "IPv6", "ipv6-icmp"),
    ("vrrp", "IPv4", "vrrp"), ("0", "IPv4", "0"), ("255", "IPv6", "255"),
])
def test_protocols(api: Api, group: dict[str, Any], given: Any, ethertype: str,
                   stored: str | None) -> None:
    rule = api.rule(group["id"], protocol=given, ethertype=ethertype)
    assert (rule["protocol"], rule["ethertype"]) == (stored, ethertype)


def test_bad_protocols_and_ethertypes(api: Api, group: dict[str, Any]) -> None:
    for bad in ("bogus", "256", -1, 3.5, True, {}):
        msg = expect_error(_post(api, group, protocol=bad), 400,
                           "SecurityGroupRuleInvalidProtocol")
        assert "integer representations [0 to 255]" in msg
    expect_error(_post(api, group, ethertype="IPv5"), 400, "SecurityGroupRuleInvalidEtherType",
                 "Security group rule for ethertype 'IPv5' not supported. "
                               "Allowed values are ['IPv4', 'IPv6'].")
    assert api.rule(group["id"], ethertype="ipv6")["ethertype"] == "IPv6"
    expect_error(_post(api, group, protocol="ipv6-icmp", ethertype="IPv4"), 400,
                 "SecurityGroupEthertypeConflictWithProtocol",
                 "Invalid ethertype IPv4 for protocol ipv6-icmp.")
    expect_error(_post(api, group, direction="sideways"), 400, "HTTPBadRequest")
    expect_error(api.post(RULES, {"security_group_id": group["id"]}), 400, "HTTPBadRequest")


def test_port_ranges(api: Api, group: dict[str, Any]) -> None:
    expect_error(_post(api, group, port_range_min=80, port_range_max=80), 400,
                 "SecurityGroupProtocolRequiredWithPorts",
                 "Must also specify protocol if port range is given.")
    expect_error(_post(api, group, protocol="tcp", port_range_min=90, port_range_max=80),
                 400, "SecurityGroupInvalidPortRange")
    expect_error(_post(api, group, protocol="udp", port_range_min=80), 400,
                 "SecurityGroupInvalidPortRange")
    expect_error(_post(api, group, protocol="tcp", port_range_min=0, port_range_max=80),
                 400, "SecurityGroupInvalidPortValue", "Invalid value for port 0")
    expect_error(_post(api, group, protocol="tcp", port_range_min=1, port_range_max=70000),
                 400, "SecurityGroupInvalidPortValue")
    expect_error(_post(api, group, protocol="tcp", port_range_min="x", port_range_max=1),
                 400, "SecurityGroupInvalidPortValue")
    msg = expect_error(_post(api, group, protocol="gre", port_range_min=1, port_range_max=2),
                       400, "SecurityGroupInvalidProtocolForPort")
    assert msg == ("Ports cannot be specified for protocol 47. Ports are only "
                   "supported for DCCP, SCTP, TCP, UDP, UDPLITE.")
    rule = api.rule(group["id"], protocol="sctp", port_range_min="1000",
                    port_range_max=2000)
    assert (rule["port_range_min"], rule["port_range_max"]) == (1000, 2000)
    # the whole range is no range
    rule = api.rule(group["id"], protocol="udp", port_range_min=1, port_range_max=65535)
    assert (rule["port_range_min"], rule["port_range_max"]) == (None, None)


def test_icmp_type_and_code(api: Api, group: dict[str, Any]) -> None:
    rule = api.rule(group["id"], protocol="icmp", port_range_min=8, port_range_max=0)
    assert (rule["port_range_min"], rule["port_range_max"]) == (8, 0)
    assert api.rule(group["id"], protocol="icmp", port_range_min=3)["port_range_max"] is None
    expect_error(_post(api, group, protocol="icmp", port_range_min=256), 400,
                 "SecurityGroupInvalidIcmpValue",
                 "Invalid value for ICMP type (port_range_min) 256. It must "
                               "be 0 to 255.")
    expect_error(_post(api, group, protocol="ipv6-icmp", ethertype="IPv6",
                       port_range_min=1, port_range_max=300), 400,
                 "SecurityGroupInvalidIcmpValue")
    expect_error(_post(api, group, protocol="icmp", port_range_max=0), 400,
                 "SecurityGroupMissingIcmpType",
                 "ICMP code (port-range-max) 0 is provided but ICMP type "
                               "(port-range-min) is missing.")


def test_remote_ip_prefix(api: Api, group: dict[str, Any]) -> None:
    assert api.rule(group["id"], remote_ip_prefix="192.0.2.7")["remote_ip_prefix"] == \
        "192.0.2.7/32"
    v6 = api.rule(group["id"], ethertype="IPv6", remote_ip_prefix="2001:DB8::1/64")
    # as given (canonical spelling); normalized_cidr is its network
    assert (v6["remote_ip_prefix"], v6["normalized_cidr"]) == ("2001:db8::1/64",
                                                               "2001:db8::/64")
    expect_error(_post(api, group, remote_ip_prefix="2001:db8::/64"), 400,
                 "SecurityGroupRuleParameterConflict",
                 "Conflicting value ethertype IPv4 for CIDR 2001:db8::/64")
    expect_error(_post(api, group, remote_ip_prefix="10.0.0.0/33"), 400, "InvalidCIDR",
                 "Invalid CIDR 10.0.0.0/33 given as IP prefix.")
    expect_error(_post(api, group, remote_ip_prefix="nonsense"), 400, "InvalidCIDR")
    expect_error(_post(api, group, remote_ip_prefix="10.0.0.0/8",
                       remote_group_id=group["id"]), 400,
                 "SecurityGroupMultipleRemoteEntites")


def test_remote_group(api: Api, group: dict[str, Any], server: Server) -> None:
    other = api.create("security-groups", name="other")
    rule = api.rule(group["id"], remote_group_id=other["id"], protocol="tcp")
    assert rule["remote_group_id"] == other["id"]
    missing = str(uuid.uuid4())
    expect_error(_post(api, group, remote_group_id=missing), 404, "SecurityGroupNotFound",
                 f"Security group {missing} does not exist")
    expect_error(api.post(RULES, {"security_group_id": missing, "direction": "egress"}),
                 404, "SecurityGroupNotFound")
    theirs = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}")).create(
        "security-groups", name="theirs")
    expect_error(_post(api, group, remote_group_id=theirs["id"]), 404,
                 "SecurityGroupNotFound")
    expect_error(api.post(RULES, {"security_group_id": theirs["id"], "direction": "egress"}),
                 404, "SecurityGroupNotFound")
    # deleting the remote group takes the rules naming it
    api.remove("security-groups", other["id"])
    expect_error(api.get(RULES, rule["id"]), 404, "SecurityGroupRuleNotFound")


def test_duplicates(api: Api, group: dict[str, Any]) -> None:
    first = api.rule(group["id"], protocol="tcp", port_range_min=22, port_range_max=22,
                     remote_ip_prefix="10.0.0.0/24")
    for same in ({"protocol": "6", "remote_ip_prefix": "10.0.0.9/24"},
                 {"protocol": "TCP", "remote_ip_prefix": "10.0.0.0/24",
                  "description": "other words"}):
        expect_error(_post(api, group, port_range_min=22, port_range_max=22, **same), 409,
                     "SecurityGroupRuleExists",
                     f"Security group rule already exists. Rule id is {first['id']}.")
    # "anywhere" is no prefix
    anywhere = api.rule(group["id"], protocol="udp")
    expect_error(_post(api, group, protocol="udp", remote_ip_prefix="0.0.0.0/0"), 409,
                 "SecurityGroupRuleExists", contains=anywhere["id"])
    # the egress rules a new group has
    expect_error(api.post(RULES, {"security_group_id": group["id"], "direction": "egress",
                                  "ethertype": "IPv6"}), 409, "SecurityGroupRuleExists")
    # another direction, group or range is another rule
    api.rule(group["id"], "egress", protocol="tcp", port_range_min=22, port_range_max=22,
             remote_ip_prefix="10.0.0.0/24")


def test_bulk_is_all_or_nothing(api: Api, group: dict[str, Any]) -> None:
    def bulk(*rules: dict[str, Any]) -> tuple[int, Any]:
        return api.request("POST", f"/v2.0/{RULES}", {"security_group_rules": [
            {"security_group_id": group["id"], "direction": "ingress", **r} for r in rules]})

    status, body = bulk({"protocol": "tcp", "port_range_min": 80, "port_range_max": 80},
                        {"protocol": "tcp", "port_range_min": 443, "port_range_max": 443})
    assert status == 201, body
    assert len(body["security_group_rules"]) == 2
    before = len(api.list(RULES, f"security_group_id={group['id']}"))
    expect_error(bulk({"protocol": "udp"}, {"protocol": "17"}), 409,
                 "DuplicateSecurityGroupRuleInPost", "Duplicate Security Group Rule in POST.")
    expect_error(bulk({"protocol": "udp"}, {"protocol": "tcp", "port_range_min": 80,
                                            "port_range_max": 80}),
                 409, "SecurityGroupRuleExists")
    expect_error(bulk({"protocol": "udp"}, {"protocol": "icmp", "port_range_max": 1}), 400,
                 "SecurityGroupMissingIcmpType")
    other = api.create("security-groups", name="o")
    status, body = api.request("POST", f"/v2.0/{RULES}", {"security_group_rules": [
        {"security_group_id": group["id"], "direction": "ingress", "protocol": "udp"},
        {"security_group_id": other["id"], "direction": "ingress", "protocol": "udp"}]})
    expect_error((status, body), 400, "SecurityGroupNotSingleGroupRules")
    assert len(api.list(RULES, f"security_group_id={group['id']}")) == before


def test_visibility(api: Api, admin: Api, group: dict[str, Any], server: Server) -> None:
    rule = api.rule(group["id"], protocol="tcp")
    other = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    expect_error(other.get(RULES, rule["id"]), 404, "SecurityGroupRuleNotFound")
    expect_error(other.delete(RULES, rule["id"]), 404, "SecurityGroupRuleNotFound")
    assert rule["id"] not in {r["id"] for r in other.list(RULES)}
    # an admin's rule in the project's group: the group's owner sees it (rule:sg_owner)
    admins = admin.rule(group["id"], protocol="udp")
    assert admins["project_id"] == "admin-project"
    assert api.show(RULES, admins["id"])["id"] == admins["id"]
    assert admins["id"] in {r["id"] for r in api.list(RULES)}
    admin.remove(RULES, admins["id"])


def test_quota(api: Api, project: str, admin: Api) -> None:
    group = api.create("security-groups", name="q")  # 4 default + 2 egress rules
    for port in range(1, 7):
        api.rule(group["id"], protocol="tcp", port_range_min=port, port_range_max=port)
    expect_error(_post(api, group, protocol="tcp", port_range_min=99, port_range_max=99),
                 409, "OverQuota", "Quota exceeded for resources: ['security_group_rule'].")
    status, body = api.request("POST", f"/v2.0/{RULES}", {"security_group_rules": [
        {"security_group_id": group["id"], "direction": "egress", "protocol": "tcp"}]})
    expect_error((status, body), 409, "OverQuota")


def test_openstack_cli(osc: Callable[..., subprocess.CompletedProcess[str]],
                       server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    group = _json(osc("security", "group", "create", f"sg-{tag}", "-f", "json"))
    rule = _json(osc("security", "group", "rule", "create", "--protocol", "tcp",
                     "--dst-port", "22", "--remote-ip", "10.0.0.5/24", group["id"],
                     "-f", "json"))
    assert (rule["protocol"], rule["port_range_min"], rule["port_range_max"],
            rule["remote_ip_prefix"], rule["direction"]) == (
        "tcp", 22, 22, "10.0.0.5/24", "ingress")
    proc = osc("security", "group", "rule", "create", "--protocol", "6", "--dst-port", "22",
               "--remote-ip", "10.0.0.0/24", group["id"], ok=False)
    assert "Security group rule already exists" in proc.stderr
    icmp = _json(osc("security", "group", "rule", "create", "--protocol", "icmp",
                     "--icmp-type", "8", "--icmp-code", "0", group["id"], "-f", "json"))
    assert (icmp["port_range_min"], icmp["port_range_max"]) == (8, 0)
    proc = osc("security", "group", "rule", "create", "--protocol", "icmp",
               "--icmp-type", "300", group["id"], ok=False)
    assert "must be 0 to 255" in proc.stderr
    remote = _json(osc("security", "group", "rule", "create", "--remote-group",
                       group["id"], "--ethertype", "IPv6", "--protocol", "ipv6-icmp",
                       group["id"], "-f", "json"))
    assert remote["remote_group_id"] == group["id"]
    listed = _json(osc("security", "group", "rule", "list", group["id"], "-f", "json"))
    assert {rule["id"], icmp["id"], remote["id"]} <= {r["ID"] for r in listed}
    osc("security", "group", "rule", "delete", rule["id"])
    status, _ = server.request("GET", f"/v2.0/{RULES}/{rule['id']}")
    assert status == 404


def test_belongs_to_default_sg_filter(api: Api, group: dict[str, Any]) -> None:
    """security-groups-rules-belongs-to-default-sg: the flag is a filter (neutron-tempest-
    plugin's test_list_security_group_rules_belongs_to_default_sg)."""
    mine = api.rule(group["id"], protocol="tcp", port_range_min=80, port_range_max=80)
    default_rules = api.list(RULES, "belongs_to_default_sg=true")
    assert len(default_rules) == 4
    assert all(r["belongs_to_default_sg"] is True for r in default_rules)
    others = api.list(RULES, "belongs_to_default_sg=false")
    assert {r["security_group_id"] for r in others} == {group["id"]}
    assert mine["id"] in {r["id"] for r in others}
    assert all(r["belongs_to_default_sg"] is False for r in others)
    both = api.list(RULES, "belongs_to_default_sg=true&belongs_to_default_sg=false")
    assert len(both) == len(default_rules) + len(others)
    expect_error(api.request("GET", f"/v2.0/{RULES}?belongs_to_default_sg=maybe"), 400,
                 "InvalidInput")


def test_extensions_advertised(api: Api) -> None:
    status, body = api.request("GET", "/v2.0/extensions")
    assert status == 200
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"security-groups-rules-belongs-to-default-sg",
            "port-security-groups-filtering"} <= aliases
