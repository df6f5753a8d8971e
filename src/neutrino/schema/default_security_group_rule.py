"""default security group rules (extension security-groups-default-rules): the template
of the rules a new security group gets. A rule's attributes as a security group rule's,
without a group or project, plus where the template applies."""

from __future__ import annotations

from typing import Any

from neutrino.schema import jsonschema as js
from neutrino.schema import security_group_rule as sgr
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Extension, Resource, as_bool, bool_filter, int_filter

PARENT = "PARENT"  # remote_group_id: the group the rule is made in
_PORT = js.nullable({"type": "integer", "minimum": 0, "maximum": 65535})


def remote_group(value: Any) -> str | None:
    """The literal PARENT or a group's UUID (or null)."""
    if value == PARENT:
        return PARENT
    return v.uuid_or_none(value)


def resource() -> Resource:
    r = Resource("default_security_group_rule", "default_security_group_rules",
                 path="default-security-group-rules", table="default_security_group_rules")
    ro = {"allow_post": False, "allow_put": False}
    r.add(
        Attr("id", v.uuid_str, **ro),
        Attr("description", v.string(255), allow_put=False, default="",
             schema=js.string(255)),
        Attr("remote_group_id", remote_group, allow_put=False, default=None,
             schema=js.nullable(js.string(36))),
        # a remote address group, as a security group rule's (not validated by Neutron:
        # a value that is no UUID names no group, 404)
        Attr("remote_address_group_id", sgr.group_ref, allow_put=False, default=None,
             schema=js.nullable(js.string(None))),
        Attr("direction", v.one_of("ingress", "egress"), allow_put=False,
             schema=js.enum("ingress", "egress")),
        Attr("protocol", sgr.protocol, allow_put=False, default=None,
             schema=js.nullable(js.string(None))),
        Attr("port_range_min", sgr.port_value, allow_put=False, default=None,
             filter_convert=int_filter, schema=_PORT),
        Attr("port_range_max", sgr.port_value, allow_put=False, default=None,
             filter_convert=int_filter, schema=_PORT),
        Attr("ethertype", sgr.ethertype, allow_put=False, default="IPv4",
             schema=js.enum(*sgr.ETHERTYPES)),
        Attr("remote_ip_prefix", sgr.ip_prefix, allow_put=False, default=None,
             schema=js.nullable(js.CIDR)),
        *(Attr(name, v.boolean, allow_put=False, default=True, filter_convert=bool_filter,
               schema=js.BOOLEAN, output=as_bool)
          for name in ("used_in_default_sg", "used_in_non_default_sg")),
    )
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("security-groups-default-rules", "Default rules for security groups",
              "Configure set of security group rules used as default rules for every new security"
              " group", "2022-12-19T10:00:00-00:00"),
)
