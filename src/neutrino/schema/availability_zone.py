"""Availability zones (extensions availability_zone, availability_zone_filter,
network_availability_zone, router_availability_zone): the ``/v2.0/availability_zones``
collection (read-only, made from the zones DHCP and L3 agents report) and the
``availability_zone_hints`` / ``availability_zones`` attributes of networks and routers.
services/availability_zones.py serves them."""

from __future__ import annotations

import json
from typing import Any

from neutrino import exceptions as exc
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Extension, Resource

HINTS = "availability_zone_hints"
ZONES = "availability_zones"
# the column holding a resource's hints as Neutron's: a JSON list in a String(255)
HINTS_DB_LEN = 255

_unique = v.unique_strings(None)


def hint_list(value: Any) -> list[str]:
    """Neutron's type:availability_zone_hint_list: a list of unique strings whose JSON
    form fits the column (else InvalidInput, as Neutron raises it)."""
    _unique(value)
    if len(json.dumps(value)) > HINTS_DB_LEN:
        raise exc.InvalidInput(error_message="Too many availability_zone_hints specified")
    return list(value)


def hint_attrs(extension: str, *, sort_key: bool) -> list[Attr]:
    """The two attributes a network (``sort_key``: Neutron's network hints sort) or a
    router gets: hints given on create only, zones read (where its agents are)."""
    names = js.array(js.STRING)
    return [
        Attr(ZONES, allow_post=False, allow_put=False, is_filter=False, is_sort_key=False,
             extension=extension, schema=names, computed=True),
        Attr(HINTS, hint_list, allow_put=False, default=[], is_filter=False,
             is_sort_key=sort_key, extension=extension, schema=names, computed=True),
    ]


# ?resource= on the zone list names what the zone's agents serve (availability_zone_filter)
RESOURCES = ("network", "router")
STATES = ("available", "unavailable")


def resource() -> Resource:
    r = Resource("availability_zone", "availability_zones")
    ro = {"allow_post": False, "allow_put": False}
    r.add(
        Attr("name", schema=js.STRING, **ro),
        Attr("resource", schema=js.STRING, **ro),
        Attr("state", schema=js.enum(*STATES), **ro),
    )
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("availability_zone", "Availability Zone", "The availability zone extension.",
              "2015-01-01T10:00:00-00:00"),
    Extension("availability_zone_filter", "Availability Zone Filter Extension",
              "Add filter parameters to AvailabilityZone resource",
              "2018-06-22T10:00:00-00:00"),
)
