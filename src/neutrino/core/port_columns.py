"""Port extension drivers whose attribute is one nullable column of the port's own row
(migration 0016): ``port_device_profile`` and ``port_numa_affinity_policy``, Neutron's
[ml2] extension_drivers of those names. A list reads them with the ports (no statement
of their own); a create or update that sets one writes it with one UPDATE."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core.extensions import Dicts, ExtensionDriver
from neutrino.db import tables as t
from neutrino.schema import port_device_profile, port_numa_affinity_policy
from neutrino.schema.base import AUTO, MISSING


class PortColumnDriver(ExtensionDriver):
    attr = ""  # the API attribute, and the column of ``ports`` that holds it

    def __init__(self, conf: Any = None) -> None:
        super().__init__(conf)
        self.port_columns = {self.attr: (self.attr, None)}  # shown by core/port_dict.py

    def _write(self, conn: Connection, port_ids: list[str], value: Any) -> None:
        conn.execute(sa.update(t.ports).where(t.ports.c.id.in_(port_ids)).values(
            {self.attr: value}))

    def process_create_ports(self, ctx: Context, conn: Connection, items: Dicts,
                             results: Dicts) -> None:
        by_value: dict[Any, list[str]] = {}
        for data, port in zip(items, results, strict=True):
            value = data.get(self.attr)
            port[self.attr] = value = None if value in (AUTO, MISSING) else value
            if value is not None:
                by_value.setdefault(value, []).append(port["id"])
        for value, ids in by_value.items():
            self._write(conn, ids, value)

    def process_update_port(self, ctx: Context, conn: Connection, data: dict[str, Any],
                            original: dict[str, Any], result: dict[str, Any]) -> bool:
        if self.attr not in data or data[self.attr] == original.get(self.attr):
            return False
        self._write(conn, [original["id"]], data[self.attr])
        result[self.attr] = data[self.attr]
        return True


class PortDeviceProfileDriver(PortColumnDriver):
    name = "port_device_profile"
    attr = port_device_profile.ATTR
    aliases = tuple(e.alias for e in port_device_profile.EXTENSIONS)


class PortNumaAffinityPolicyDriver(PortColumnDriver):
    name = "port_numa_affinity_policy"
    attr = port_numa_affinity_policy.ATTR
    aliases = tuple(e.alias for e in port_numa_affinity_policy.EXTENSIONS)
