"""address groups (extensions address-group, rbac-address-group) and the bodies of their
add_addresses / remove_addresses actions."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from neutrino.exceptions import excerpt
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import (
    Attr,
    Body,
    Extension,
    Operation,
    Resource,
    api_time,
    bigint_filter,
    project_attrs,
)

ADDRESSES_SCHEMA = js.array(js.string(64))


def _subnet(value: Any) -> str:
    """type:subnet: an address with its prefix length (host bits allowed: the service
    keeps the network, as Neutron's); a bare address or a non-canonical IPv4 spelling is
    refused, as neutron-lib's validate_subnet."""
    if isinstance(value, str) and "/" in value and not re.search(r"\s", value):
        try:
            iface = ipaddress.ip_interface(value)
        except ValueError:
            pass
        else:
            if iface.version == 6 or str(iface) == value:
                return f"{iface.ip}/{iface.network.prefixlen}"
    raise v.ConversionError(f"'{excerpt(value)}' is not a valid IP subnet")


def address_list(value: Any) -> list[str]:
    """convert_none_to_empty_list + type:subnet_list."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise v.ConversionError(f"'{excerpt(value)}' is not a list")
    return [_subnet(item) for item in value]


def _cidr_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise v.ConversionError(f"'{excerpt(value)}' is not a list")
    return [v.cidr(item) for item in value]


def resource() -> Resource:
    r = Resource("address_group", "address_groups", path="address-groups",
                 table="address_groups", operations=operations())
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.name_string(255), default=""),
        Attr("description", v.string(1024), default=""),
        *project_attrs(),
        # rows of address_associations (services/addressgroups/groups.py)
        Attr("addresses", address_list, allow_put=False, default=[], is_filter=False,
             is_sort_key=False, schema=ADDRESSES_SCHEMA, computed=True),
        # rbac-address-group: Neutron's hidden attribute, read by rule:shared_address_groups
        Attr("shared", allow_post=False, allow_put=False, visible=False, is_filter=False,
             is_sort_key=False, schema=js.BOOLEAN, extension="rbac-address-group"),
        # standard attributes (timestamps, revisions); the description is the group's own
        Attr("created_at", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, extension="standard-attr-timestamp", schema=js.TIMESTAMP,
             output=api_time),
        Attr("updated_at", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, extension="standard-attr-timestamp", schema=js.TIMESTAMP,
             output=api_time),
        Attr("revision_number", allow_post=False, allow_put=False,
             filter_convert=bigint_filter, is_sort_key=False,
             extension="standard-attr-revisions", schema=js.INTEGER),
    )
    return r


def operations() -> tuple[Operation, ...]:
    # the actions take what netaddr reads (a bare address is a host route: removing one
    # not there is 404, as Neutron's), the create only type:subnet_list
    addresses = Resource("addresses", "addresses")
    addresses.add(Attr("addresses", v.none_to_empty(_cidr_list), schema=ADDRESSES_SCHEMA))
    request = Body(addresses, bare=True, verb="POST")
    group = Resource("address_group", "address_groups")
    group.add(Attr("id", v.uuid_str), Attr("name", v.string(255)),
              Attr("description", v.string(1024)), Attr("project_id", v.project_id),
              Attr("tenant_id", v.project_id),
              Attr("addresses", address_list, schema=ADDRESSES_SCHEMA))
    return tuple(
        Operation("PUT", action, 200, summary, request=request, response=Body(group),
                  kind="action")
        for action, summary in (
            ("add_addresses", "Add addresses (CIDRs) to the address group"),
            ("remove_addresses", "Remove addresses (CIDRs) from the address group"),
        ))


EXTENSIONS = (
    Extension("address-group", "Address group", "Support address group",
              "2020-07-15T10:00:00-00:00"),
    Extension("rbac-address-group", "Add address_group type to RBAC",
              "Add address_group type to network RBAC", "2021-01-20T00:00:00-00:00"),
    Extension("security-groups-remote-address-group",
              "Remote address group id field for security group rules",
              "Add new field of remote address group id in SG rules",
              "2020-08-25T10:00:00-00:00"),
)
