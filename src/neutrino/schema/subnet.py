"""subnets."""

from __future__ import annotations

from typing import Any

from neutrino import exceptions as exc
from neutrino.schema import jsonschema as js
from neutrino.schema import segment  # branch segments
from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
    MISSING,
    Attr,
    Extension,
    Resource,
    bool_filter,
    int_filter,
    project_attrs,
    standard_attrs,
    tag_attrs,
)

IPV6_MODES = ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")

# neutron-lib's validate_subnet_service_types accepts what starts with "network:",
# "neutron:" -- or with any one character of "compute:" (it extends its prefix list by
# the string, character by character); kept as it is, since clients were written to it.
_SERVICE_TYPE_PREFIXES = ("network:", "neutron:", *"compute:")


def subnet_service_types(value: Any) -> list[str]:
    """type:list_of_subnet_service_types (branch portfwd), with Neutron's errors."""
    if not value:
        return []
    if not isinstance(value, list):
        raise exc.HTTPBadRequest("Subnet service types must be a list.")
    for kind in value:
        if not isinstance(kind, str):
            raise exc.InvalidInputSubnetServiceType(service_type=kind)
        if not kind.startswith(_SERVICE_TYPE_PREFIXES):
            raise exc.InvalidSubnetServiceType(service_type=kind)
    return list(dict.fromkeys(value))


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
             filter_convert=bool_filter, enforce_policy=True),
        *standard_attrs(),
        *tag_attrs(),
        # --- branch portfwd ---
        # subnet-external-network: the network's router:external, shown and filtered on
        Attr("router:external", allow_post=False, allow_put=False, default=False,
             filter_convert=bool_filter, is_sort_key=False,
             extension="subnet-external-network", schema=js.BOOLEAN, computed=True,
             enforce_policy=True),
        # subnet-service-types: the device owners the subnet's addresses are for; not
        # enforce_policy in neutron-lib (<verb>_subnet:service_types rules are inert)
        Attr("service_types", subnet_service_types, default=[], is_filter=False,
             is_sort_key=False, extension="subnet-service-types",
             schema=js.array(js.STRING), computed=True),
        # --- end branch portfwd ---
        *segment.subnet_attrs(),  # branch segments: segment_id
    )
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("subnet-external-network", "Subnet belongs to an external network",
              "Informs if the subnet belongs to an external network",
              "2024-02-05T18:00:00-00:00"),
    Extension("subnet-service-types", "Subnet service types",
              "Provides ability to set the subnet service_types field",
              "2016-03-15T18:00:00-00:00"),
)
