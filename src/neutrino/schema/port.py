"""ports."""

from __future__ import annotations

from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
    Attr,
    Resource,
    bool_filter,
    project_attrs,
    standard_attrs,
)

_fixed_ip = v.dict_with({"subnet_id": v.uuid_str, "ip_address": v.ip_address})


def _fixed_ips(value: object) -> list[dict]:
    if not isinstance(value, list):
        raise ValueError(f"Invalid data format for fixed IP: '{value}'")
    out = []
    for item in value:
        entry = _fixed_ip(item)
        if not entry:
            raise ValueError(f"Invalid data format for fixed IP: '{item}'")
        out.append(entry)
    return out


def resource() -> Resource:
    r = Resource("port", "ports")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.string(255), default=""),
        Attr("network_id", v.uuid_str, allow_put=False),
        Attr("admin_state_up", v.boolean, default=True, filter_convert=bool_filter),
        Attr("mac_address", v.mac_address, default=AUTO),
        Attr("fixed_ips", _fixed_ips, default=AUTO, is_sort_key=False),
        Attr("device_id", v.string(255), default=""),
        Attr("device_owner", v.string(255), default=""),
        *project_attrs(),
        Attr("status", allow_post=False, allow_put=False),
        *standard_attrs(),
    )
    return r
