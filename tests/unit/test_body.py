"""api/body.py and the schema's converters/validators, on the real resource definitions."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino import config
from neutrino import exceptions as exc
from neutrino.api import body
from neutrino.context import Context
from neutrino.policy import Policy
from neutrino.schema import network, port, subnet
from neutrino.schema import validators as v
from neutrino.schema.base import AUTO

NETS = network.resource()
SUBNETS = subnet.resource()
PORTS = port.resource()
MEMBER = Context(project_id="p1", roles=("member",))
ADMIN = Context(project_id="admin-p", roles=("admin",), is_admin=True)
NET_ID = "6b0c5b4a-5a4e-4f0d-9b8e-3f6c1a2b3c4d"


POLICY = Policy(config.make_conf([]))


def _authorize(resource: Any, ctx: Context, action: str) -> body.Authorize:
    """The policy check the API layer binds, with Neutron's default rules."""
    pol = POLICY.for_request(ctx)

    def check(data: dict[str, Any], attributes: dict[str, list[str]]) -> None:
        # the caller owns the network these tests create on
        target = {"project_id": ctx.project_id, "network:project_id": ctx.project_id, **data}
        pol.enforce(f"{action}_{resource.name}", target, attributes)

    return check


def create(resource: Any, item: Any, ctx: Context) -> dict[str, Any]:
    return body.for_create(resource, item, ctx, _authorize(resource, ctx, "create"))


def update(resource: Any, item: Any, ctx: Context) -> dict[str, Any]:
    return body.for_update(resource, item, ctx, _authorize(resource, ctx, "update"))


def error(fn: Any, *args: Any) -> tuple[str, str]:
    with pytest.raises(exc.NeutronError) as caught:
        fn(*args)
    return caught.value.type, caught.value.msg


# --- unwrap --------------------------------------------------------------------------------
def test_unwrap() -> None:
    assert body.unwrap(NETS, {"network": {"name": "a"}}, allow_bulk=True) == (
        [{"name": "a"}], False)
    assert body.unwrap(NETS, {"networks": [{"name": "a"}, {"network": {"name": "b"}}]},
                       allow_bulk=True) == ([{"name": "a"}, {"name": "b"}], True)
    def unwrap(value: Any, allow_bulk: bool = True) -> Any:
        return body.unwrap(NETS, value, allow_bulk=allow_bulk)

    assert error(unwrap, {"networks": []}) == ("HTTPBadRequest", "Resources required")
    assert error(unwrap, {"networks": [{}]}, False) == (
        "HTTPBadRequest", "Bulk operation not supported")
    for bad in (None, {}, {"network": None}):
        assert error(unwrap, bad) == (
            "HTTPBadRequest", "Unable to find 'network' in request body")
    for bad in ([], "network", 3):
        assert error(unwrap, bad) == ("HTTPBadRequest", "Body contains invalid data")


# --- create --------------------------------------------------------------------------------
def test_create_fills_defaults_and_project() -> None:
    data = create(NETS, {"name": "n"}, MEMBER)
    assert data["name"] == "n"
    assert (data["admin_state_up"], data["shared"], data["description"]) == (True, False, "")
    assert data["project_id"] == data["tenant_id"] == "p1"
    assert data["mtu"] is AUTO and data["provider:network_type"] is AUTO
    data = create(SUBNETS, {"network_id": NET_ID, "cidr": "10.0.0.5/24",
                                     "ip_version": "4"}, MEMBER)
    assert (data["cidr"], data["ip_version"]) == ("10.0.0.5/24", 4)
    assert data["dns_nameservers"] == [] and data["host_routes"] == []
    assert data["gateway_ip"] is AUTO and data["allocation_pools"] is AUTO
    # defaults are fresh copies
    data["dns_nameservers"].append("x")
    assert create(SUBNETS, {"network_id": NET_ID, "ip_version": 4},
                           MEMBER)["dns_nameservers"] == []


def test_create_order_of_checks() -> None:
    # unknown keys first, then required / not allowed in attribute order, then values,
    # then policy
    assert error(create, NETS, {"foo": 1, "id": "x"}, MEMBER) == (
        "HTTPBadRequest", "Unrecognized attribute(s) 'foo'")
    assert error(create, PORTS, {"id": "x"}, MEMBER) == (
        "HTTPBadRequest", "Attribute 'id' not allowed in POST")
    assert error(create, PORTS, {"status": "x"}, MEMBER) == (
        "HTTPBadRequest", "Failed to parse request. Required attribute 'network_id' not "
        "specified")
    assert error(create, SUBNETS, {"network_id": NET_ID}, MEMBER) == (
        "HTTPBadRequest", "Failed to parse request. Required attribute 'ip_version' not "
        "specified")
    assert error(create, NETS, {"shared": "x", "provider:network_type": 5},
                 MEMBER) == ("InvalidInput", "Invalid input for operation: 'x' cannot be "
                             "converted to boolean.")
    assert error(create, NETS, {"shared": True, "provider:network_type": "vlan"},
                 MEMBER) == ("PolicyNotAuthorized",
                             "((rule:create_network and rule:create_network:shared) and "
                             "rule:create_network:provider:network_type) is disallowed by "
                             "policy")
    # a default value needs no right; the admin needs none at all
    create(NETS, {"shared": False}, MEMBER)
    create(NETS, {"shared": True, "provider:network_type": "vlan"}, ADMIN)


def test_projects() -> None:
    assert error(create, NETS, {"project_id": "a", "tenant_id": "b"}, ADMIN) == (
        "HTTPBadRequest", "'project_id' and 'tenant_id' do not match")
    assert error(create, NETS, {"tenant_id": "other"}, MEMBER)[1].startswith(
        "Specifying 'project_id' other than the authenticated project")
    assert create(NETS, {"tenant_id": "other"}, ADMIN)["project_id"] == "other"
    nobody = Context(roles=("member",))
    assert error(create, NETS, {}, nobody) == (
        "HTTPBadRequest", "Running without keystone AuthN requires that project_id is "
        "specified")


# --- update --------------------------------------------------------------------------------
def test_update() -> None:
    assert update(NETS, {}, MEMBER) == {}
    assert update(NETS, {"name": "x", "admin_state_up": "true"}, MEMBER) == {
        "name": "x", "admin_state_up": True}
    assert error(update, SUBNETS, {"cidr": "10.0.0.0/24"}, MEMBER) == (
        "HTTPBadRequest", "Cannot update read-only attribute cidr")
    assert error(update, NETS, {"bogus": 1}, MEMBER) == (
        "HTTPBadRequest", "Unrecognized attribute(s) 'bogus'")
    # on update, naming an admin-only attribute at all needs the right
    assert error(update, NETS, {"shared": False}, MEMBER) == (
        "PolicyNotAuthorized", "(rule:update_network and rule:update_network:shared) is "
        "disallowed by policy")
    assert error(update, PORTS, {"mac_address": "fa:16:3e:00:00:01"}, MEMBER)[0] == \
        "PolicyNotAuthorized"
    assert create(PORTS, {"network_id": NET_ID, "mac_address": "FA-16-3E-00-00-01"},
                           MEMBER)["mac_address"] == "fa:16:3e:00:00:01"
    assert update(PORTS, {"mac_address": "fa163e000002"}, ADMIN) == {
        "mac_address": "fa:16:3e:00:00:02"}


# --- attribute values ----------------------------------------------------------------------
@pytest.mark.parametrize(("resource", "attrs", "type_", "message"), [
    (NETS, {"name": "x" * 256}, "HTTPBadRequest",
     f"Invalid input for name. Reason: '{'x' * 256}' exceeds maximum length of 255."),
    (NETS, {"name": " x"}, "HTTPBadRequest",
     "Invalid input for name. Reason: ' x' is not a valid string."),
    (NETS, {"description": "a\x00b"}, "HTTPBadRequest",
     "Invalid input for description. Reason: 'a\x00b' is not a valid string."),
    (NETS, {"mtu": "x"}, "InvalidInput", "Invalid input for operation: 'x' is not an integer."),
    (NETS, {"mtu": -5}, "HTTPBadRequest",
     "Invalid input for mtu. Reason: '-5' should be non-negative."),
    (NETS, {"segments": [{"provider:network_type": "vlan", "x": 1}]}, "HTTPBadRequest",
     "Unrecognized attribute(s) 'x'"),
    (NETS, {"segments": [{"provider:segmentation_id": "x"}]}, "InvalidInput",
     "Invalid input for operation: 'x' is not an integer."),
    (SUBNETS, {"cidr": "nope"}, "InvalidInput",
     "Invalid input for operation: nope is not in a CIDR format."),
    (SUBNETS, {"ip_version": 7}, "HTTPBadRequest",
     "Invalid input for ip_version. Reason: 7 is not in valid_values."),
    (SUBNETS, {"gateway_ip": "1.2.3"}, "HTTPBadRequest",
     "Invalid input for gateway_ip. Reason: '1.2.3' is not a valid IP address."),
    (SUBNETS, {"gateway_ip": "1.2.3.04"}, "HTTPBadRequest",
     "Invalid input for gateway_ip. Reason: '1.2.3.04' is not an accepted IP address, "
     "'1.2.3.4' is recommended."),
    (SUBNETS, {"allocation_pools": [1]}, "InvalidInput",
     "Invalid input for operation: Invalid data format for allocation pools."),
    (SUBNETS, {"allocation_pools": [{"start": "1.1.1.1"}]}, "HTTPBadRequest",
     "Invalid input for allocation_pools. Reason: Validation of dictionary's keys failed. "
     "Expected keys: {'end', 'start'} Provided keys: {'start'}."),
    (SUBNETS, {"dns_nameservers": 5}, "HTTPBadRequest",
     "Invalid input for dns_nameservers. Reason: Invalid data format for nameserver: '5'."),
    (SUBNETS, {"host_routes": [{"destination": "10.0.0.0/8"}]}, "HTTPBadRequest",
     "Invalid input for host_routes. Reason: Validation of dictionary's keys failed. "
     "Expected keys: {'destination', 'nexthop'} Provided keys: {'destination'}."),
    (SUBNETS, {"host_routes": [{"destination": "10.0.0.0/8", "nexthop": "10.0.0.1"}] * 2},
     "HTTPBadRequest", "Invalid input for host_routes. Reason: Duplicate hostroute "
     "'{'destination': '10.0.0.0/8', 'nexthop': '10.0.0.1'}'."),
    (SUBNETS, {"ipv6_address_mode": "auto"}, "HTTPBadRequest",
     "Invalid input for ipv6_address_mode. Reason: auto is not in valid_values."),
    (PORTS, {"mac_address": "fa:16:3e:00:00"}, "HTTPBadRequest",
     "Invalid input for mac_address. Reason: 'fa:16:3e:00:00' is not a valid MAC address."),
    (PORTS, {"fixed_ips": [{"subnet_id": "x"}]}, "HTTPBadRequest",
     "Invalid input for fixed_ips. Reason: 'x' is not a valid UUID."),
    (PORTS, {"fixed_ips": ["10.0.0.1"]}, "HTTPBadRequest",
     "Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: '10.0.0.1'."),
    (PORTS, {"admin_state_up": None}, "InvalidInput",
     "Invalid input for operation: 'None' cannot be converted to boolean."),
])
def test_invalid_values(resource: Any, attrs: dict[str, Any], type_: str, message: str) -> None:
    base = {"network_id": NET_ID, "ip_version": 4} if resource is not NETS else {}
    if resource is PORTS:
        base.pop("ip_version")
    assert error(create, resource, {**base, **attrs}, ADMIN) == (type_, message)


def test_converted_values() -> None:
    data = create(SUBNETS, {
        "network_id": NET_ID.upper(), "ip_version": 6, "cidr": "2001:0DB8::/64",
        "gateway_ip": "2001:0db8:0::1", "dns_nameservers": None, "host_routes": None,
        "allocation_pools": [{"end": "2001:db8::0009", "start": "2001:db8::2"}],
    }, ADMIN)
    assert data["network_id"] == NET_ID
    assert data["cidr"] == "2001:db8::/64"
    assert data["gateway_ip"] == "2001:db8::1"
    assert (data["dns_nameservers"], data["host_routes"]) == ([], [])
    assert data["allocation_pools"] == [{"start": "2001:db8::2", "end": "2001:db8::9"}]
    assert create(SUBNETS, {"network_id": NET_ID, "ip_version": 4,
                                     "allocation_pools": None}, ADMIN)["allocation_pools"] == []
    assert create(SUBNETS, {"network_id": NET_ID, "ip_version": 4, "cidr": "10.1.2.3"},
                           ADMIN)["cidr"] == "10.1.2.3/32"
    ports = create(PORTS, {"network_id": NET_ID, "fixed_ips": [
        {"ip_address": "2001:db8:0::5", "extra": 1}]}, ADMIN)
    assert ports["fixed_ips"] == [{"ip_address": "2001:db8::5"}]  # unknown keys ignored
    nets = create(NETS, {"segments": [{"provider:network_type": "vxlan",
                                                "provider:segmentation_id": "7"}]}, ADMIN)
    assert nets["segments"] == [{"provider:network_type": "vxlan",
                                 "provider:physical_network": None,
                                 "provider:segmentation_id": 7}]


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("TRUE", True), ("yes", True), ("1", True), (1, True), ("on", True),
    (False, False), ("f", False), ("No", False), (0, False), ("off", False),
])
def test_boolean(value: Any, expected: bool) -> None:
    assert v.boolean(value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, None, 1.0, [], ""])
def test_boolean_refuses(value: Any) -> None:
    with pytest.raises(v.ConversionError):
        v.boolean(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff"), ("aa-bb-cc-dd-ee-ff", "aa:bb:cc:dd:ee:ff"),
    ("aabb.ccdd.eeff", "aa:bb:cc:dd:ee:ff"), ("aabbccddeeff", "aa:bb:cc:dd:ee:ff"),
    ("a:b:c:d:e:f", "0a:0b:0c:0d:0e:0f"), ("01:00:5e:00:00:01", "01:00:5e:00:00:01"),
])
def test_mac_forms(value: str, expected: str) -> None:
    assert v.mac_address(value) == expected


@pytest.mark.parametrize("value", ["00:00:00:00:00:00", "FF:FF:FF:FF:FF:FF", "aa:bb:cc:dd:ee",
                                   "aa:bb:cc:dd:ee:fg", " aa:bb:cc:dd:ee:ff", None, 12])
def test_mac_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="is not a valid MAC address"):
        v.mac_address(value)


def test_name_string() -> None:
    check = v.name_string(10)
    for good in ("", "a", "a b", "ünï", "a\u00a0b"):
        assert check(good) == good
    for bad in (" a", "a ", "a\tb", "a\nb", "\u200b", "\U0001f600", "\x7f"):
        with pytest.raises(ValueError, match="is not a valid string"):
            check(bad)


# --- which attribute rules apply (Neutron's _build_match_rule) ---------------------------
def test_policy_attributes_are_the_enforced_ones_set_explicitly() -> None:
    from neutrino.schema import floatingip, router

    # service_types is not enforce_policy in neutron-lib: never named
    assert body.policy_attributes(SUBNETS, {"service_types": ["compute:nova"]},
                                  "update") == {}
    # create: a value other than neutron-lib's default; update: any value named
    assert body.policy_attributes(NETS, {"shared": False, "mtu": 0, "name": "x"},
                                  "create") == {}
    assert body.policy_attributes(NETS, {"shared": False, "mtu": 0},
                                  "update") == {"shared": [], "mtu": []}
    assert body.policy_attributes(NETS, {"mtu": 1400}, "create") == {"mtu": []}
    # neutron-lib has no default for binding:host_id: an empty host names it too
    assert body.policy_attributes(PORTS, {"binding:host_id": "",
                                          "binding:vnic_type": "normal"},
                                  "create") == {"binding:host_id": []}
    fips = floatingip.resource()
    assert body.policy_attributes(fips, {"floating_ip_address": None}, "create") == {}
    # a list's dicts: each key of each (repeats and all); a dict: its policy_keys given
    ips = [{"subnet_id": NET_ID, "ip_address": "10.0.0.3"}, {"subnet_id": NET_ID}]
    assert body.policy_attributes(PORTS, {"fixed_ips": ips}, "create") == {
        "fixed_ips": ["subnet_id", "ip_address", "subnet_id"]}
    routers = router.resource()
    assert body.policy_attributes(routers, {"external_gateway_info": {
        "network_id": NET_ID, "enable_snat": False}}, "update") == {
        "external_gateway_info": ["network_id", "enable_snat"]}
    assert body.policy_attributes(routers, {"external_gateway_info": None},
                                  "create") == {}
    # binding:profile's keys have no rules (neutron-lib's dict_or_none has no keys)
    assert body.policy_attributes(PORTS, {"binding:profile": {"a": 1}}, "update") == {
        "binding:profile": []}


def test_a_missing_attribute_rule_is_the_default_rule() -> None:
    """As oslo.policy's RuleCheck in Neutron's match rule: an attribute with no rule of
    its own is judged by ``default`` (admin or owner)."""
    other = Context(project_id="p2", roles=("member",))
    # no update_network:mtu rule: the default's owner check decides
    POLICY.for_request(MEMBER).enforce("update_network", {"project_id": "p1"}, {"mtu": []})
    # an action without any rule (no restriction) still asks the default of its attribute
    POLICY.for_request(MEMBER).enforce("update_thing", {"project_id": "p1"}, {"colour": []})
    with pytest.raises(exc.PolicyNotAuthorized) as caught:
        POLICY.for_request(other).enforce("update_thing", {"project_id": "p1"},
                                          {"colour": []})
    assert caught.value.msg == ("(rule:update_thing and rule:update_thing:colour) is "
                                "disallowed by policy")
