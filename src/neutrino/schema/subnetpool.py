"""subnet pools (extensions subnet_allocation, default-subnetpools,
subnetpool-prefix-ops) and the bodies of their add_prefixes / remove_prefixes actions."""

from __future__ import annotations

from typing import Any

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
    Attr,
    Body,
    Extension,
    Operation,
    Resource,
    as_bool,
    bool_filter,
    int_filter,
    project_attrs,
    standard_attrs,
    tag_attrs,
)

PREFIXES_SCHEMA = js.array(js.string(64))


def subnet_list(value: Any) -> list[str]:
    """type:subnet_list: a list of CIDRs (canonical, as convert_cidr_to_canonical_format)."""
    if not isinstance(value, list):
        raise ValueError(f"'{value}' is not a list")
    return [v.cidr(item) for item in value]


def not_empty_string(value: Any) -> str:
    value = v.string(255)(value)
    if not value.strip():
        raise ValueError(f"'{value}' Blank strings are not permitted")
    return value


# As Neutron's _make_subnetpool_dict shows them: strings ("24"), stored as integers (so
# filters and sorting compare numbers). A client may send either.
PREFIXLEN_SCHEMA = {"type": "string", "pattern": "^[0-9]{1,3}$"}


def _prefixlen(name: str) -> Attr:
    return Attr(name, v.non_negative, default=AUTO, filter_convert=int_filter, output=str,
                schema=PREFIXLEN_SCHEMA)


def resource() -> Resource:
    r = Resource("subnetpool", "subnetpools", operations=operations(),
                 table="subnetpools")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", not_empty_string, schema=js.string(255)),
        *project_attrs(),
        Attr("prefixes", subnet_list, is_sort_key=False, schema=PREFIXES_SCHEMA,
             computed=True),
        _prefixlen("default_prefixlen"),
        _prefixlen("min_prefixlen"),
        _prefixlen("max_prefixlen"),
        Attr("default_quota", v.integer(0, nullable=True), default=None,
             filter_convert=int_filter),
        Attr("ip_version", allow_post=False, allow_put=False, filter_convert=int_filter,
             schema=js.INTEGER),
        # the column, or an RBAC entry for the caller (services/subnetpools/rbac.py)
        Attr("shared", v.boolean, allow_put=False, default=False, filter_convert=bool_filter,
             computed=True, enforce_policy=True),
        Attr("is_default", v.boolean, default=False, filter_convert=bool_filter,
             extension="default-subnetpools", output=as_bool, enforce_policy=True),
        Attr("address_scope_id", v.uuid_or_none, default=AUTO, extension="address-scope"),
        *standard_attrs(),
        *tag_attrs(),
    )
    return r


def operations() -> tuple[Operation, ...]:
    prefixes = Resource("prefixes", "prefixes")
    prefixes.add(Attr("prefixes", subnet_list, schema=PREFIXES_SCHEMA))
    request = Body(prefixes, bare=True, verb="POST")
    response = Body(prefixes, bare=True)
    onboard = Resource("network_info", "network_info")
    onboard.add(Attr("network_id", v.uuid_str))
    onboarded = Resource("onboarded_subnet", "onboarded_subnets")
    onboarded.add(Attr("id", v.uuid_str), Attr("cidr", v.cidr))
    return (*(
        Operation("PUT", action, 200, summary, request=request, response=response,
                  kind="action")
        for action, summary in (
            ("add_prefixes", "Add prefixes to the pool (subnetpool-prefix-ops)"),
            ("remove_prefixes", "Remove unused prefixes from the pool"),
        )),
        # the answer is a bare list of {id, cidr}, as Neutron's
        Operation("PUT", "onboard_network_subnets", 200,
                  "Move the network's subnets of the pool's IP version into the pool "
                  "(subnet_onboard)", request=Body(onboard, bare=True, verb="POST"),
                  kind="action"),
    )


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("subnet_allocation", "Subnet Allocation",
              "Enables allocation of subnets from a subnet pool", "2015-03-30T10:00:00-00:00"),
    Extension("default-subnetpools", "Default Subnetpools",
              "Provides ability to mark and use a subnetpool as the default.",
              "2016-02-18T18:00:00-00:00"),
    Extension("subnetpool-prefix-ops", "Subnet Pool Prefix Operations",
              "Provides support for adjusting the prefix list of subnet pools",
              "2019-02-08T10:00:00-00:00"),
    Extension("subnet_onboard", "Subnet Onboard",
              "Provides support for onboarding subnets into subnet pools",
              "2018-05-25T10:00:00-00:00"),
    Extension("rbac-subnetpool", "Add subnetpool type to RBAC",
              "Add subnetpool type to RBAC", "2019-10-21T10:00:00-00:00"),
)
