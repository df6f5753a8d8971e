"""ports."""

from __future__ import annotations

from typing import Any

from neutrino.schema import (
    extra_dhcp_opt,
    port_device_profile,
    port_numa_affinity_policy,
    port_security,
    segment,  # branch segments
)
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import (
    AUTO,
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


def mac_or_null(value: Any) -> str | None:
    """type:mac_address_or_none (port-mac-address-regenerate)."""
    return None if value is None else v.mac_address(value)


def resource() -> Resource:
    r = Resource("port", "ports", table="ports")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("name", v.name_string(255), default=""),
        Attr("network_id", v.uuid_str, allow_put=False),
        Attr("admin_state_up", v.boolean, default=True, filter_convert=bool_filter),
        # Changing a MAC is for admins (update_port:mac_address); any may choose one.
        # null (port-mac-address-regenerate): a new random one on update, as on create.
        Attr("mac_address", mac_or_null, default=AUTO, filter_convert=v.sanitize_mac,
             schema=js.nullable(js.MAC), enforce_policy=True),
        # Filtered as key=value pairs by the port service (fixed_ips=ip_address=...).
        Attr("fixed_ips", v.fixed_ips, default=AUTO, is_sort_key=False, computed=True,
             enforce_policy=True),
        Attr("device_id", v.string(255), default="", enforce_policy=True),
        Attr("device_owner", v.string(255), default="", enforce_policy=True),
        *project_attrs(),
        Attr("status", allow_post=False, allow_put=False, schema=js.STRING),
        *standard_attrs(),
        *tag_attrs(allow_post=True),
        *binding_attrs(),
        *extra_dhcp_opt.attrs(),
        # security-group, port-security, allowed-address-pairs (services/securitygroups)
        *port_security.port_attrs(),
        # port extension drivers' attributes (core/port_columns.py)
        *port_device_profile.attrs(),
        *port_numa_affinity_policy.attrs(),
        *segment.port_attrs(),  # branch segments: ip_allocation
    )
    r.operations = binding_operations()
    return r


# binding:vnic_type values (neutron-lib portbindings.VNIC_TYPES)
VNIC_TYPES = ("normal", "direct", "macvtap", "baremetal", "direct-physical",
              "virtio-forwarder", "smart-nic", "vdpa", "accelerator-direct",
              "accelerator-direct-physical", "remote-managed")


def _host_id(value: object) -> str:
    # null unbinds, as an empty host does
    return "" if value is None else v.string(255)(value)


def binding_attrs() -> list[Attr]:
    """The binding extension (core/binding.py): where and how a port is plugged. Only
    admins and services see the host, profile and result (get_port:binding:* rules);
    anyone sees and chooses the vnic_type."""
    return [
        # neutron-lib has no default: any host given, "" or null too, names the rule
        Attr("binding:host_id", _host_id, default="", is_sort_key=False, schema=js.string(255),
             extension="binding", computed=True, enforce_policy=True, policy_default=MISSING),
        Attr("binding:vnic_type", v.one_of(*VNIC_TYPES), default="normal",
             is_sort_key=False, extension="binding", computed=True, enforce_policy=True),
        # dict_or_none: null means {}; AUTO (absent) is {} too
        Attr("binding:profile", v.dict_or_empty, default=AUTO, is_filter=False,
             is_sort_key=False, extension="binding", computed=True, enforce_policy=True),
        Attr("binding:vif_type", allow_post=False, allow_put=False, is_sort_key=False,
             extension="binding", schema=js.STRING, computed=True, enforce_policy=True),
        Attr("binding:vif_details", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, extension="binding", schema={"type": "object"},
             computed=True, enforce_policy=True),
    ]


BINDING_STATUSES = ("ACTIVE", "INACTIVE")


def binding() -> Resource:
    """A port's binding on one host (binding-extended, core/binding_extended.py): the
    body of /v2.0/ports/{id}/bindings[/{host}]. project_id/tenant_id may be sent too and
    are ignored (api/port_bindings.py: the port's own project counts)."""
    r = Resource("binding", "bindings")
    r.add(
        Attr("host", v.string(255), allow_put=False, is_sort_key=False),
        Attr("vif_type", allow_post=False, allow_put=False, is_sort_key=False,
             schema={"type": "string"}),
        Attr("vif_details", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, schema={"type": "object"}),
        Attr("vnic_type", v.one_of(*VNIC_TYPES), default="normal", is_sort_key=False),
        Attr("profile", v.dict_or_empty, default={}, is_filter=False, is_sort_key=False,
             schema={"type": "object"}),
        Attr("status", allow_post=False, allow_put=False, is_sort_key=False,
             schema={"enum": list(BINDING_STATUSES)}),
    )
    return r


def binding_operations() -> tuple[Operation, ...]:
    res = binding()
    one, many = Body(res), Body(res, many=True)
    host = res.attrs["host"]
    return (
        Operation("GET", "bindings", 200, "List the port's bindings", response=many,
                  query=True),
        Operation("POST", "bindings", 201, "Bind the port on another host (inactive)",
                  request=Body(res, verb="POST"), response=one, failures=(500,)),
        Operation("GET", "bindings/{host}", 200, "Show the port's binding on a host",
                  response=one, params=(host,)),
        Operation("PUT", "bindings/{host}", 200, "Update the port's binding on a host",
                  request=one, response=one, params=(host,), failures=(500,)),
        Operation("DELETE", "bindings/{host}", 204, "Delete an inactive binding",
                  params=(host,)),
        Operation("PUT", "bindings/{host}/activate", 200,
                  "Make the binding on a host the active one", response=one,
                  params=(host,), kind="action", failures=(500,)),
    )


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("binding", "Port Binding",
              "Expose port bindings of a virtual port to external application",
              "2014-02-03T10:00:00-00:00"),
    Extension("binding-extended", "Port Bindings Extended",
              "Expose port bindings of a virtual port to external application",
              "2017-07-17T10:00:00-00:00"),
    Extension("ip-substring-filtering", "IP address substring filtering",
              "Provides IP address substring filtering when listing ports",
              "2017-11-28T09:00:00-00:00"),
    Extension("port-mac-address-regenerate", "Neutron Port MAC address regenerate",
              "Network port MAC address regenerate", "2018-05-03T10:00:00-00:00"),
    # branch smallext: a shim (no attribute); core/port_mac_override.py
    Extension("port-mac-override", "Neutron Port MAC address override",
              "Allow overriding the MAC address of a direct-physical Port via the active "
              "binding profile", "2022-03-18T10:00:00-00:00"),
)
