"""routers (router, ext-gw-mode, extraroute) and the bodies of their member actions
(add/remove_router_interface, add/remove_extraroutes)."""

from __future__ import annotations

from typing import Any

from neutrino.exceptions import excerpt
from neutrino.schema import agent_scheduler
from neutrino.schema import availability_zone as az
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import (
    MISSING,
    Attr,
    Body,
    Extension,
    Operation,
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


GATEWAY_SCHEMA = js.nullable(js.obj(
    {"network_id": js.UUID, "enable_snat": js.BOOLEAN, "external_fixed_ips": js.FIXED_IPS},
    ("network_id",)))


def resource() -> Resource:
    r = Resource("router", "routers", table="routers")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.name_string(255), default=""),
        Attr("admin_state_up", v.boolean, default=True, filter_convert=bool_filter),
        Attr("status", allow_post=False, allow_put=False, schema=js.STRING),
        *project_attrs(),
        Attr("external_gateway_info", external_gateway_info, default=None, is_filter=False,
             is_sort_key=False, schema=GATEWAY_SCHEMA, computed=True, enforce_policy=True,
             policy_keys=GATEWAY_KEYS),
        # extraroute: set by PUT (or add/remove_extraroutes), never on create
        Attr("routes", routes, allow_post=False, is_filter=False, is_sort_key=False,
             extension="extraroute", schema=js.ROUTES, computed=True),
        # l3-ha is not offered (no HA data plane yet): every router is a legacy one, and
        # says so, as clients that find no l3-ha expect (openstacksdk's is_ha: false)
        Attr("ha", allow_post=False, allow_put=False, is_filter=False, is_sort_key=False,
             schema=js.BOOLEAN, computed=True, enforce_policy=True),
        # router_availability_zone (services/availability_zones.py)
        *az.hint_attrs("router_availability_zone", sort_key=False),
        # l3-flavors (services/flavors/flavors.py): set on create only; any string, an
        # unknown one is FlavorNotFound (404), as Neutron's (no validator there)
        Attr("flavor_id", v.string(None, nullable=True), allow_put=False, default=None,
             is_filter=False, extension="l3-flavors", schema=js.nullable(js.UUID),
             enforce_policy=True, policy_default=MISSING),
        *standard_attrs(),
        *tag_attrs(),
    )
    r.operations = operations() + agent_scheduler.router_operations()
    return r


def interface_info() -> Resource:
    """add/remove_router_interface's body, bare: subnet_id or port_id (null: not given;
    both, neither or other keys are judged by the service, which words Neutron's
    errors), and their answer."""
    r = Resource("router_interface", "router_interfaces")
    r.add(
        Attr("id", allow_post=False, allow_put=False, schema=js.UUID),
        Attr("tenant_id", allow_post=False, allow_put=False, schema={"type": "string"}),
        Attr("project_id", allow_post=False, allow_put=False, schema={"type": "string"}),
        Attr("subnet_id", v.uuid_or_none),
        Attr("port_id", v.uuid_or_none),
        Attr("subnet_ids", allow_post=False, allow_put=False,
             schema={"type": "array", "items": js.UUID}),
        Attr("network_id", allow_post=False, allow_put=False, schema=js.UUID),
    )
    return r


def extraroutes() -> Resource:
    """add/remove_extraroutes' body: {"router": {"routes": [...]}}."""
    r = Resource("router", "routers")
    r.add(Attr("routes", routes, default=MISSING, schema=js.ROUTES))
    return r


def operations() -> tuple[Operation, ...]:
    info = interface_info()
    interface_body = Body(info, bare=True, ignore_unknown=True)
    routes_body = Body(extraroutes(), verb="POST")
    return (
        Operation("PUT", "add_router_interface", 200,
                  "Attach a subnet (a new port on its gateway IP) or a port",
                  request=interface_body, response=interface_body, kind="action"),
        Operation("PUT", "remove_router_interface", 200,
                  "Detach a subnet or a port", request=interface_body,
                  response=interface_body, kind="action"),
        Operation("PUT", "add_extraroutes", 200, "Add extra routes (extraroute-atomic)",
                  request=routes_body, item=True, kind="action"),
        Operation("PUT", "remove_extraroutes", 200,
                  "Remove extra routes (extraroute-atomic)", request=routes_body,
                  item=True, kind="action"),
    )


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("router", "Neutron L3 Router",
              "Router abstraction for basic L3 forwarding between L2 Neutron networks and access "
              "to external networks via a NAT gateway.", "2012-07-20T10:00:00-00:00"),
    Extension("ext-gw-mode", "Neutron L3 Configurable external gateway mode",
              "Extension of the router abstraction for specifying whether SNAT should occur on "
              "the external gateway", "2013-03-28T10:00:00-00:00"),
    Extension("extraroute", "Neutron Extra Route",
              "Extra routes configuration for L3 router", "2013-02-01T10:00:00-00:00"),
    Extension("extraroute-atomic", "Atomically add/remove extra routes",
              "Edit extra routes of a router on server side by atomically adding/removing extra "
              "routes", "2019-07-10T00:00:00-00:00"),
    Extension("router_availability_zone", "Router Availability Zone",
              "Availability zone support for router.", "2015-01-01T10:00:00-00:00"),
)
