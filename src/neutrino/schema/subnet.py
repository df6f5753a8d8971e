"""subnets."""

from __future__ import annotations

from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
    MISSING,
    Attr,
    Resource,
    bool_filter,
    int_filter,
    project_attrs,
    standard_attrs,
)

IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")

_pool = v.dict_with({"start": v.ip_address, "end": v.ip_address}, ("start", "end"))
_route = v.dict_with({"destination": v.cidr, "nexthop": v.ip_address},
                     ("destination", "nexthop"))


def _pools(value: object) -> list[dict]:
    if not isinstance(value, list):
        raise ValueError(f"Invalid data format for IP pool: '{value}'")
    return [_pool(p) for p in value]


def resource() -> Resource:
    r = Resource("subnet", "subnets")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.string(255), default=""),
        Attr("ip_version", v.one_of(4, 6), allow_put=False, default=MISSING,
             filter_convert=int_filter),
        Attr("network_id", v.uuid_str, allow_put=False),
        Attr("subnetpool_id", v.uuid_or_none, allow_put=False, default=None),
        Attr("cidr", v.cidr, allow_put=False, default=AUTO),
        Attr("gateway_ip", v.ip_address_or_none, default=AUTO),
        Attr("allocation_pools", _pools, default=AUTO, is_filter=False, is_sort_key=False),
        Attr("dns_nameservers", v.list_of(v.ip_address, what="nameserver"), default=[],
             is_sort_key=False),
        Attr("host_routes", v.list_of(_route, what="host route"), default=[],
             is_filter=False, is_sort_key=False),
        *project_attrs(),
        Attr("enable_dhcp", v.boolean, default=True, filter_convert=bool_filter),
        Attr("ipv6_ra_mode", v.one_of(*IPV6_MODES, nullable=True), allow_put=False,
             default=None),
        Attr("ipv6_address_mode", v.one_of(*IPV6_MODES, nullable=True), allow_put=False,
             default=None),
        Attr("shared", allow_post=False, allow_put=False, filter_convert=bool_filter),
        *standard_attrs(),
    )
    return r
