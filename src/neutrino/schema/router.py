"""routers (router, ext-gw-mode, extraroute) and the bodies of their member actions
(add/remove_router_interface, add/remove_extraroutes)."""

from __future__ import annotations

from typing import Any

from neutrino.exceptions import excerpt
from neutrino.schema import validators as v
from neutrino.schema.base import (
    Attr,
    Resource,
    bool_filter,
    project_attrs,
    standard_attrs,
    tag_attrs,
)

GATEWAY_KEYS = ("network_id", "enable_snat", "external_fixed_ips")


def external_gateway_info(value: Any) -> dict[str, Any] | None:
    """type:dict_or_nodata with the l3 sub-specification: network_id required (null or
    an empty dict: no gateway), enable_snat a boolean, external_fixed_ips fixed IPs."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"'{excerpt(value)}' is not a dictionary")
    unknown = sorted(k for k in value if k not in GATEWAY_KEYS)
    if unknown:
        raise ValueError(f"Unrecognized attribute(s) '{excerpt(', '.join(unknown))}'")
    if "network_id" not in value:
        raise ValueError("Missing required key 'network_id'")
    out: dict[str, Any] = {"network_id": v.uuid_str(value["network_id"])}
    if "enable_snat" in value:
        out["enable_snat"] = v.boolean(value["enable_snat"])
    if "external_fixed_ips" in value:
        out["external_fixed_ips"] = v.fixed_ips(value["external_fixed_ips"] or [])
    return out


def routes(value: Any) -> list[dict[str, str]]:
    """type:hostroutes (null: none)."""
    return [] if value is None else v.host_routes(value)


def resource() -> Resource:
    r = Resource("router", "routers")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.name_string(255), default=""),
        Attr("admin_state_up", v.boolean, default=True, filter_convert=bool_filter),
        Attr("status", allow_post=False, allow_put=False),
        *project_attrs(),
        Attr("external_gateway_info", external_gateway_info, default=None, is_filter=False,
             is_sort_key=False),
        # extraroute: set by PUT (or add/remove_extraroutes), never on create
        Attr("routes", routes, allow_post=False, is_filter=False, is_sort_key=False,
             extension="extraroute"),
        *standard_attrs(),
        *tag_attrs(),
    )
    return r


def interface_info(value: Any) -> dict[str, str]:
    """The body of add/remove_router_interface: subnet_id or port_id (both checked by
    the service, which words Neutron's errors)."""
    if not isinstance(value, dict):
        raise ValueError(f"'{excerpt(value)}' is not a dictionary")
    out: dict[str, str] = {}
    for key in ("subnet_id", "port_id"):
        if value.get(key) is not None:
            out[key] = v.uuid_str(value[key])
    return out
