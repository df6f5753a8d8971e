"""port-device-profile: a port's ``device_profile`` (the Cyborg device profile of an
accelerator port), as neutron-lib's definition: set on create only, a string of at most
255 characters or null (the default). Kept by the ``port_device_profile`` extension
driver (core/port_columns.py)."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Extension

ATTR = "device_profile"
EXTENSIONS = (
    Extension("port-device-profile", "Port device profile",
              "Expose the port device profile (Cyborg)", "2020-12-17T10:00:00-00:00"),
)


def attrs() -> list[Attr]:
    return [Attr(ATTR, v.string(255, nullable=True), default=None, allow_put=False,
                 is_filter=False, is_sort_key=False, extension="port-device-profile",
                 schema=js.nullable(js.string(255)),
                 computed=True)]  # shown by its driver (core/port_columns.py)
