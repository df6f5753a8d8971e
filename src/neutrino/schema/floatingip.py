"""floatingips (router extension's floatingips, fip-port-details,
floating-ip-router-writable)."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import port_forwarding
from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
    Attr,
    Extension,
    Resource,
    project_attrs,
    standard_attrs,
    tag_attrs,
)


def resource() -> Resource:
    r = Resource("floatingip", "floatingips", table="floatingips")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        # neutron-lib's default is null: a null given chooses an address as none does
        Attr("floating_ip_address", v.ip_address_or_none, allow_put=False, default=AUTO,
             enforce_policy=True, policy_default=None),
        Attr("subnet_id", v.uuid_or_none, allow_put=False, default=None, visible=False,
             is_filter=False, is_sort_key=False),
        Attr("floating_network_id", v.uuid_str, allow_put=False),
        # floating-ip-router-writable: the hosting router may be named (else found)
        # not enforce_policy (floating-ip-router-writable): the <verb>_floatingip:router_id
        # rules are inert, as Neutron's
        Attr("router_id", v.uuid_or_none, default=None, schema=js.nullable(js.UUID)),
        Attr("port_id", v.uuid_or_none, default=None, column="fixed_port_id"),
        Attr("fixed_ip_address", v.ip_address_or_none, default=None),
        Attr("status", allow_post=False, allow_put=False, schema=js.STRING),
        *project_attrs(),
        *standard_attrs(),
        *tag_attrs(),
        Attr("port_details", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, extension="fip-port-details",
             schema=js.nullable(js.OBJECT), computed=True),
        port_forwarding.FIP_ATTR,
    )
    r.operations = port_forwarding.operations()
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("fip-port-details", "Floating IP Port Details Extension",
              "Add port_details attribute to Floating IP resource", "2018-04-09T10:00:00-00:00"),
    Extension("floatingip-pools", "Floating IP Pools Extension",
              "Provides a floating IP pools API.", "2018-03-21T10:00:00-00:00"),
    # branch smallext
    Extension("floating-ip-router-writable", "Floating IP Router (writable)",
              "Provides a writable router_id attribute for a floating IP resource.",
              "2026-08-05T00:00:00-00:00"),
)
