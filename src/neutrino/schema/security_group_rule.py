"""security group rules (extension security-group): created and deleted, never updated.

Converters as Neutron's: protocol by name (case-insensitive) or number 0-255, "any" and
null for every protocol; ports 0-65535; ethertype case-insensitive; remote_ip_prefix a
CIDR or an address (the service masks it to its network)."""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.exceptions import excerpt
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import (
    Attr,
    Extension,
    Resource,
    bool_filter,
    int_filter,
    project_attrs,
    standard_attrs,
)

# neutron-lib's IP_PROTOCOL_MAP: the names a rule's protocol may be given by
IP_PROTOCOL_MAP = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
    "igmp": 2, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
    "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}
PROTO_ANY = (None, "any")
SUPPORTED_PROTOCOLS = (*PROTO_ANY, *IP_PROTOCOL_MAP)
ETHERTYPES = ("IPv4", "IPv6")


def _errors() -> Any:
    from neutrino.exceptions import security_groups as errors

    return errors


def protocol(value: Any) -> str | None:
    """convert_protocol: null/"any" -> null, a number 0-255 -> its string, a known name
    -> lower case; anything else SecurityGroupRuleInvalidProtocol."""
    if value in PROTO_ANY:
        return None
    values = repr(SUPPORTED_PROTOCOLS)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _errors().SecurityGroupRuleInvalidProtocol(protocol=excerpt(value), values=values)
    try:
        number = int(value)
    except ValueError:
        name = str(value).lower()
        if name in SUPPORTED_PROTOCOLS:
            return None if name == "any" else name
        raise _errors().SecurityGroupRuleInvalidProtocol(protocol=excerpt(value), values=values) \
            from None
    if 0 <= number <= 255:
        return str(number)
    raise _errors().SecurityGroupRuleInvalidProtocol(protocol=excerpt(value), values=values)


def port_value(value: Any) -> int | None:
    """convert_validate_port_value: null, or an integer 0-65535 (a numeric string too)."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if isinstance(value, float) and number != value:
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise _errors().SecurityGroupInvalidPortValue(port=excerpt(value)) from None
    if 0 <= number <= 65535:
        return number
    raise _errors().SecurityGroupInvalidPortValue(port=excerpt(value))


def ethertype(value: Any) -> str:
    if isinstance(value, str):
        for known in ETHERTYPES:
            if known.lower() == value.lower():
                return known
    raise _errors().SecurityGroupRuleInvalidEtherType(ethertype=excerpt(value),
                                                      values=list(ETHERTYPES))


def ip_prefix(value: Any) -> str | None:
    """convert_ip_prefix_to_cidr: null/"" -> null; a CIDR or an address (a host prefix),
    canonical; InvalidCIDR otherwise. Host bits are kept (normalized_cidr masks them)."""
    if not value:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(ipaddress.ip_interface(value.strip()))
    except ValueError:
        raise _errors().InvalidCIDR(input=excerpt(value)) from None


def normalized_cidr(prefix: str | None) -> str | None:
    """The network a remote prefix denotes (10.0.0.1/24: 10.0.0.0/24); the prefix is
    stored and shown as given, as Neutron's."""
    return None if prefix is None else str(ipaddress.ip_network(prefix, strict=False))


_PORT = js.nullable({"type": "integer", "minimum": 0, "maximum": 65535})


def group_ref(value: Any) -> str | None:
    """remote_group_id: Neutron does not validate it, so that a value that is no UUID
    names no group (404 SecurityGroupNotFound, not 400); a UUID in canonical form."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 255:
        # (past a sane length it is malformed input, not an id of nothing)
        raise ValueError(f"'{excerpt(value)}' is not a valid UUID")
    try:
        return v.uuid_str(value)
    except ValueError:
        return value


def resource() -> Resource:
    r = Resource("security_group_rule", "security_group_rules", path="security-group-rules",
                 table="security_group_rules")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("security_group_id", v.string(36), allow_put=False),
        Attr("remote_group_id", group_ref, allow_put=False, default=None,
             schema=js.nullable(js.string(None))),
        # security-groups-remote-address-group: not validated either (404 for a non-UUID)
        Attr("remote_address_group_id", group_ref, allow_put=False, default=None,
             schema=js.nullable(js.string(None)),
             extension="security-groups-remote-address-group"),
        Attr("direction", v.one_of("ingress", "egress"), allow_put=False),
        # a name or a number 0-255 ("6"), as given (names lower-cased); null: any
        Attr("protocol", protocol, allow_put=False, default=None,
             schema=js.nullable(js.string(None))),
        Attr("port_range_min", port_value, allow_put=False, default=None,
             filter_convert=int_filter, schema=_PORT),
        Attr("port_range_max", port_value, allow_put=False, default=None,
             filter_convert=int_filter, schema=_PORT),
        Attr("ethertype", ethertype, allow_put=False, default="IPv4",
             schema=js.enum(*ETHERTYPES)),
        Attr("remote_ip_prefix", ip_prefix, allow_put=False, default=None,
             schema=js.nullable(js.CIDR)),
        *project_attrs(),
        *standard_attrs(),
        # read-only: the rule's group is its project's default one
        Attr("belongs_to_default_sg", allow_post=False, allow_put=False,
             filter_convert=bool_filter, is_sort_key=False, schema=js.BOOLEAN,
             extension="security-groups-rules-belongs-to-default-sg", computed=True),
        # remote_ip_prefix as the network it denotes (security-groups-normalized-cidr);
        # remote_ip_prefix itself is shown as given
        Attr("normalized_cidr", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, schema=js.nullable(js.CIDR), column="remote_ip_prefix",
             output=normalized_cidr),
    )
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("security-groups-normalized-cidr", "Security group rule normalized CIDR",
              "Add new field with normalized remote_ip_prefix cidr in SG rule",
              "2020-07-31T00:00:00-00:00"),
    Extension("security-groups-rules-belongs-to-default-sg",
              "Security group rule belongs to the project's default security group",
              "Flag to determine if the security group rule belongs to the project's default "
              "security group", "2023-05-17T00:00:00-00:00"),
)
