"""segments (extension segment, standard-attr-segment) and the attributes routed networks
add to other resources: a subnet's ``segment_id`` (subnet-segmentid-writable), a
network's ``l2_adjacency``, a port's ``ip_allocation``; segments-peer-subnet-host-routes
is a behaviour (services/segments/peer_routes.py).

Attributes as neutron-lib's api/definitions/segment.py: only name and description
change; ``tenant_id`` is accepted on POST and never shown (a segment has no project);
``physical_network`` / ``segmentation_id`` not given are null (the type driver may
choose the id)."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import (
    Attr,
    Extension,
    Resource,
    bigint_filter,
    project_attrs,
    standard_attrs,
    tag_attrs,
)

IP_ALLOCATION_IMMEDIATE = "immediate"
IP_ALLOCATION_DEFERRED = "deferred"
IP_ALLOCATION_NONE = "none"


def _segmentation_id(value: object) -> int | None:
    # convert_to_int; the type driver judges the range (within the BigInteger column's)
    return None if value is None else v.in_range(v.to_int(value), v.INT64, value)


def resource() -> Resource:
    r = Resource("segment", "segments", table="network_segments")
    description, *stamps = standard_attrs()
    r.add(
        Attr("id", v.uuid_str, allow_post=False, allow_put=False),
        # accepted (and ignored: a segment belongs to its network), never shown
        *(Attr(a.name, a.validate, allow_put=False, default=None, visible=False,
               is_filter=False, is_sort_key=False, extension=a.extension)
          for a in project_attrs()),
        Attr("network_id", v.uuid_str, allow_put=False),
        Attr("physical_network", v.string(64), allow_put=False, default=None),
        Attr("network_type", v.string(32), allow_put=False),
        Attr("segmentation_id", _segmentation_id, allow_put=False, default=None,
             filter_convert=bigint_filter, schema=js.nullable(js.INTEGER)),
        Attr("name", v.string(255, nullable=True), default=None),
        # standard-attr-segment: description (null unless given), timestamps, revision
        Attr("description", v.string(255, nullable=True), default=None, is_sort_key=False,
             extension=description.extension),
        *stamps,
        *tag_attrs(),
    )
    return r


def subnet_attrs() -> list[Attr]:
    """segment: the subnet's segment (null: the subnet spans the network);
    subnet-segmentid-writable: settable on update, from null only (core/subnets.py).
    Not enforce_policy: only subnet-segmentid-enforce declares it so, and Neutron does
    not load that extension (its <verb>_subnet:segment_id rules are inert)."""
    return [Attr("segment_id", v.uuid_or_none, default=None, extension="segment")]


def network_attrs() -> list[Attr]:
    """l2_adjacency: false when the network's subnets sit on segments (routed)."""
    return [Attr("l2_adjacency", allow_post=False, allow_put=False, is_filter=False,
                 is_sort_key=False, extension="l2_adjacency", schema=js.BOOLEAN,
                 computed=True)]


def port_attrs() -> list[Attr]:
    """ip_allocation: immediate, deferred (a routed network's port waits for its host to
    get addresses) or none (created with ``fixed_ips: []``). A column of the port's row,
    shown by the segments plugin (services/segments/plugin.py)."""
    return [Attr("ip_allocation", allow_post=False, allow_put=False,
                 extension="ip_allocation", schema=js.STRING, computed=True)]


# The API extensions this module declares (schema/extensions.py lists them); the
# segments service plugin claims them all (advertised only while it is loaded).
EXTENSIONS = (
    Extension("segment", "Segment", "Segments extension.", "2016-02-24T17:00:00-00:00"),
    Extension("standard-attr-segment", "Standard Attribute Segment Extension",
              "Add standard attributes to Segment resource", "2018-04-09T10:00:00-00:00"),
    Extension("subnet-segmentid-writable", "Subnet SegmentID (writable)",
              "Provides a writable segment_id attribute for a subnet resource.",
              "2018-03-12T00:00:00-00:00"),
    Extension("segments-peer-subnet-host-routes", "Segments peer-subnet host routes",
              "Add host routes to subnets on a routed network (segments)",
              "2018-06-12T10:00:00-00:00"),
    Extension("ip_allocation", "IP Allocation", "IP allocation extension.",
              "2016-06-10T23:00:00-00:00"),
    Extension("l2_adjacency", "L2 Adjacency", "Display L2 Adjacency for Neutron Networks.",
              "2016-04-12T16:00:00-00:00"),
)
