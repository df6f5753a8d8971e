"""networks: core attributes plus provider, multi-provider and MTU extensions."""

from __future__ import annotations

from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
    Attr,
    Resource,
    bool_filter,
    int_filter,
    project_attrs,
    standard_attrs,
)

SEGMENT_KEYS = ("provider:network_type", "provider:physical_network",
                "provider:segmentation_id")

_segment = v.dict_with(
    {
        "provider:network_type": v.string(255),
        "provider:physical_network": v.string(64, nullable=True),
        "provider:segmentation_id": v.integer(0, nullable=True),
    },
    name="segment",
)


def _segments(value: object) -> list[dict]:
    if not isinstance(value, list):
        raise ValueError(f"'{value}' is not a list")
    return [_segment(s) for s in value]


def resource() -> Resource:
    r = Resource("network", "networks")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.string(255), default=""),
        Attr("subnets", allow_post=False, allow_put=False, is_sort_key=False),
        Attr("admin_state_up", v.boolean, default=True, filter_convert=bool_filter),
        Attr("status", allow_post=False, allow_put=False),
        *project_attrs(),
        Attr("shared", v.boolean, default=False, filter_convert=bool_filter,
             admin_only_write=True),
        *standard_attrs(),
        # provider: the single segment of a network, or null on multi-segment networks
        Attr("provider:network_type", v.string(255, nullable=True), default=AUTO,
             admin_only_write=True, admin_only_read=True, extension="provider"),
        Attr("provider:physical_network", v.string(64, nullable=True), default=AUTO,
             admin_only_write=True, admin_only_read=True, extension="provider"),
        Attr("provider:segmentation_id", v.integer(0, nullable=True), default=AUTO,
             filter_convert=int_filter, admin_only_write=True, admin_only_read=True,
             extension="provider"),
        Attr("segments", _segments, default=AUTO, is_filter=False, is_sort_key=False,
             admin_only_write=True, admin_only_read=True, extension="multi-provider"),
        Attr("mtu", v.integer(68), default=AUTO, filter_convert=int_filter,
             extension="net-mtu-writable"),
    )
    return r
