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
    tag_attrs,
)

IPV6_MODES = ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")


def resource() -> Resource:
    r = Resource("subnet", "subnets", table="subnets")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.name_string(255), default=""),
        Attr("ip_version", v.int_one_of(4, 6), allow_put=False, default=MISSING,
             filter_convert=int_filter),
        Attr("network_id", v.uuid_str, allow_put=False),
        Attr("subnetpool_id", v.uuid_or_none, allow_put=False, default=None),
        # default-subnetpools: allocate from the default pool of the ip_version
        Attr("use_default_subnetpool", v.boolean, allow_put=False, default=False,
             visible=False, is_filter=False, is_sort_key=False,
             extension="default-subnetpools"),
        # Only with a subnet pool: refused together with cidr.
        Attr("prefixlen", v.non_negative, allow_put=False, default=AUTO, visible=False,
             is_filter=False, is_sort_key=False),
        Attr("cidr", v.cidr, allow_put=False, default=AUTO),
        Attr("gateway_ip", v.ip_address_or_none, default=AUTO),
        Attr("allocation_pools", v.allocation_pools, default=AUTO, is_filter=False,
             is_sort_key=False, computed=True),
        Attr("dns_nameservers", v.none_to_empty(v.nameservers), default=[],
             is_filter=False, is_sort_key=False, computed=True),
        Attr("host_routes", v.none_to_empty(v.host_routes), default=[],
             is_filter=False, is_sort_key=False, computed=True),
        *project_attrs(),
        Attr("enable_dhcp", v.boolean, default=True, filter_convert=bool_filter),
        Attr("ipv6_ra_mode", v.one_of(*IPV6_MODES, nullable=True), allow_put=False,
             default=None),
        Attr("ipv6_address_mode", v.one_of(*IPV6_MODES, nullable=True), allow_put=False,
             default=None),
        # Whether the network is shared: a filter, never shown.
        Attr("shared", allow_post=False, allow_put=False, visible=False, is_sort_key=False,
             filter_convert=bool_filter),
        *standard_attrs(),
        *tag_attrs(),
    )
    return r
