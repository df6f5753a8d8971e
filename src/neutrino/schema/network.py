"""networks: core attributes plus provider, multi-provider and MTU extensions."""

from __future__ import annotations

from neutrino import exceptions as exc
from neutrino.exceptions import excerpt
from neutrino.schema import agent_scheduler, port_security
from neutrino.schema import availability_zone as az
from neutrino.schema import jsonschema as js
from neutrino.schema import segment as segment_schema  # branch segments
from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
    Attr,
    Extension,
    Resource,
    as_bool,
    bigint_filter,
    bool_filter,
    int_filter,
    project_attrs,
    standard_attrs,
    tag_attrs,
)

SEGMENT_KEYS = ("provider:network_type", "provider:physical_network",
                "provider:segmentation_id")


def _segments(value: object) -> list[dict]:
    """multi-provider's convert_and_validate_segments: every item filled to the three
    provider keys (segmentation_id through convert_to_int), anything else refused with
    the same error as an unknown attribute of the network itself."""
    if not isinstance(value, list):
        raise ValueError(f"'{excerpt(value)}' is not a list")
    out = []
    for seg in value:
        if not isinstance(seg, dict):
            raise ValueError(f"'{excerpt(seg)}' is not a dictionary")
        extra = [k for k in seg if k not in SEGMENT_KEYS]
        if extra:
            raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{excerpt(', '.join(extra))}'")
        seg_id = seg.get("provider:segmentation_id")
        out.append({
            "provider:network_type": seg.get("provider:network_type"),
            "provider:physical_network": seg.get("provider:physical_network"),
            "provider:segmentation_id": _segmentation_id(seg_id) if seg_id else None,
        })
    return out


def _segmentation_id(value: object) -> int | None:
    # convert_to_int and no validator: the type driver judges the range (within that of
    # the BigInteger column).
    return None if value is None else v.in_range(v.to_int(value), v.INT64, value)


def resource() -> Resource:
    r = Resource("network", "networks", table="networks", labels=("shared",))
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.name_string(255), default=""),
        Attr("subnets", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, schema=js.array(js.UUID), computed=True),
        Attr("admin_state_up", v.boolean, default=True, filter_convert=bool_filter),
        Attr("status", allow_post=False, allow_put=False, schema=js.STRING),
        *project_attrs(),
        # as the caller sees it: a label of the service's SELECT (core/visibility.py)
        Attr("shared", v.boolean, default=False, filter_convert=bool_filter,
             is_sort_key=False, output=as_bool, enforce_policy=True),
        *standard_attrs(),
        *tag_attrs(),
        # provider: the single segment of a network (null without segments, absent on
        # multi-segment networks, which show `segments` instead). Filters, not sort keys.
        Attr("provider:network_type", v.string(32, nullable=True), default=AUTO,
             is_sort_key=False, extension="provider", computed=True, enforce_policy=True),
        Attr("provider:physical_network", v.string(64, nullable=True), default=AUTO,
             is_sort_key=False, extension="provider", computed=True, enforce_policy=True),
        Attr("provider:segmentation_id", _segmentation_id, default=AUTO,
             filter_convert=bigint_filter, is_sort_key=False, extension="provider",
             schema=js.nullable(js.INTEGER), computed=True, enforce_policy=True),
        Attr("segments", _segments, default=AUTO, is_filter=False, is_sort_key=False,
             extension="multi-provider", computed=True, enforce_policy=True,
             schema=js.array(js.obj({
                 "provider:network_type": js.nullable(js.string(32)),
                 "provider:physical_network": js.nullable(js.string(64)),
                 "provider:segmentation_id": js.nullable(js.INTEGER)}))),
        # net-mtu-writable: 0 (or absent) means "the largest the segments carry"
        Attr("mtu", v.non_negative, default=AUTO, filter_convert=int_filter,
             extension="net-mtu-writable", enforce_policy=True, policy_default=0),
        # external-net (services/l3/external.py): only admins set it (policy)
        Attr("router:external", v.boolean, default=False, filter_convert=bool_filter,
             is_sort_key=False, extension="external-net", computed=True,
             enforce_policy=True),
        # network_availability_zone (services/availability_zones.py)
        *az.hint_attrs("network_availability_zone", sort_key=True),
        # auto-allocated-topology (services/auto_allocate/default_external.py): shown
        # on external networks only; only admins set it (policy)
        Attr("is_default", v.boolean, default=False, filter_convert=bool_filter,
             is_sort_key=False, extension="auto-allocated-topology", computed=True,
             enforce_policy=True),
        # address-scope (services/subnetpools/network_scopes.py): shown only
        *(Attr(f"ipv{n}_address_scope", allow_post=False, allow_put=False, is_filter=False,
               is_sort_key=False, extension="address-scope",
               schema=js.nullable(js.UUID), computed=True) for n in (4, 6)),
        # port-security (services/securitygroups): its ports' default
        *port_security.network_attrs(),
        *segment_schema.network_attrs(),  # branch segments: l2_adjacency
    )
    r.operations = agent_scheduler.network_operations()  # dhcp_agent_scheduler
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("provider", "Provider Network",
              "Expose mapping of virtual networks to physical networks",
              "2012-09-07T10:00:00-00:00"),
    Extension("multi-provider", "Multi Provider Network",
              "Expose mapping of virtual networks to multiple physical networks",
              "2013-06-27T10:00:00-00:00"),
    Extension("net-mtu", "Network MTU",
              "Provides MTU attribute for a network resource.", "2015-03-25T10:00:00-00:00"),
    Extension("net-mtu-writable", "Network MTU (writable)",
              "Provides a writable MTU attribute for a network resource.",
              "2017-07-12T00:00:00-00:00"),
    Extension("external-net", "Neutron external network",
              "Adds external network attribute to network resource.", "2013-01-14T10:00:00-00:00"),
    Extension("network_availability_zone", "Network Availability Zone",
              "Availability zone support for network.", "2015-01-01T10:00:00-00:00"),
)
