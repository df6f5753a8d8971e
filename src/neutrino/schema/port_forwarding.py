"""Floating IP port forwardings (floating-ip-port-forwarding, -description), the
sub-resource /v2.0/floatingips/{floatingip_id}/port_forwardings[/{id}]
(services/portforwarding/, api/port_forwardings.py).

As neutron-lib's definitions without the port-ranges extension: external_port,
internal_port (1-65535), internal_ip_address, internal_port_id and protocol are required
on create and all writable; project_id is accepted and never shown (the floating IP's
project owns its forwardings)."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Body, Extension, Operation, Resource, int_filter

ALIAS = "floating-ip-port-forwarding"
# neutron-lib's PROTOCOLS: the keys of IPTABLES_PROTOCOL_MAP, as given (lower case)
PROTOCOLS = ("dccp", "icmp", "ipv6-icmp", "sctp", "tcp", "udp")
# filters Neutron refuses on this resource (PortForwardingNotSupportFilterField)
NOT_FILTERS = ("internal_ip_address", "internal_port")

_PORT = v.integer(1, 65535)


def resource() -> Resource:
    r = Resource("port_forwarding", "port_forwardings", table="port_forwardings")
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        Attr("project_id", v.project_id, allow_put=False, default=None, visible=False,
             is_filter=False, is_sort_key=False),
        Attr("tenant_id", v.project_id, allow_put=False, default=None, visible=False,
             is_filter=False, is_sort_key=False),
        Attr("external_port", _PORT, filter_convert=int_filter),
        Attr("internal_port", _PORT, filter_convert=int_filter),
        Attr("internal_ip_address", v.ip_address),
        Attr("protocol", v.one_of(*PROTOCOLS)),
        Attr("internal_port_id", v.uuid_str),
        Attr("description", v.string(1024), default="", is_sort_key=False,
             extension="floating-ip-port-forwarding-description"),
    )
    return r


def operations() -> tuple[Operation, ...]:
    """What floatingips' items declare below them (for the OpenAPI document)."""
    r = resource()
    pf_id = Attr("port_forwarding_id", v.uuid_str)
    return (
        Operation("GET", "port_forwardings", 200, "List the floating IP's port forwardings",
                  response=Body(r, many=True), query=True),
        Operation("POST", "port_forwardings", 201, "Create a port forwarding",
                  request=Body(r, verb="POST"), response=Body(r)),
        Operation("GET", "port_forwardings/{port_forwarding_id}", 200,
                  "Show a port forwarding", response=Body(r), params=(pf_id,)),
        Operation("PUT", "port_forwardings/{port_forwarding_id}", 200,
                  "Update a port forwarding", request=Body(r), response=Body(r),
                  params=(pf_id,)),
        Operation("DELETE", "port_forwardings/{port_forwarding_id}", 204,
                  "Delete a port forwarding", params=(pf_id,)),
    )


# the floating IP's ``port_forwardings`` (expose-port-forwarding-in-fip, with -detail's
# id and internal_port_id)
FIP_ATTR = Attr("port_forwardings", allow_post=False, allow_put=False, is_filter=False,
                is_sort_key=False, extension="expose-port-forwarding-in-fip",
                schema=js.array(js.OBJECT), computed=True)


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("floating-ip-port-forwarding", "Floating IP Port Forwarding",
              "Allow port forwarding from floating IP port to an internal port",
              "2018-01-19T10:00:00-00:00"),
    Extension("floating-ip-port-forwarding-description",
              "Floating IP Port Forwarding new attribute description",
              "Add a description field to Port Forwarding rules",
              "2019-11-01T10:00:00-00:00"),
    Extension("expose-port-forwarding-in-fip", "Expose port forwardings in floating IP",
              "Expose the port forwarding rules of floating IPs",
              "2018-12-06T10:00:00-00:00"),
    Extension("floating-ip-port-forwarding-detail", "Floating IP port forwarding detail",
              "Allow list floating ip return more port forwarding data, include'id' and "
              "'internal_port_id'", "2022-05-06T10:00:00-00:00"),
    Extension("l3-port-ip-change-not-allowed",
              "Prevent L3 router ports IP address change extension",
              "Prevent change of IP address for some L3 router ports",
              "2018-10-09T10:00:00-00:00"),
)
