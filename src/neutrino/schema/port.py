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


def resource() -> Resource:
    r = Resource("port", "ports")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.name_string(255), default=""),
        Attr("network_id", v.uuid_str, allow_put=False),
        Attr("admin_state_up", v.boolean, default=True, filter_convert=bool_filter),
        # Changing a MAC is for admins (update_port:mac_address); any may choose one.
        Attr("mac_address", v.mac_address, default=AUTO, filter_convert=v.sanitize_mac,
             admin_only_put=True),
        # Filtered as key=value pairs by the port service (fixed_ips=ip_address=...).
        Attr("fixed_ips", v.fixed_ips, default=AUTO, is_sort_key=False),
        Attr("device_id", v.string(255), default=""),
        Attr("device_owner", v.string(255), default=""),
        *project_attrs(),
        Attr("status", allow_post=False, allow_put=False),
        *standard_attrs(),
    )
    return r
