"""Ports' extra DHCP options (schema/extra_dhcp_opt.py): stored a row per (port, name, IP
version) in ``port_extra_dhcp_opts``, read for a whole page of ports in one query, written
inside the port's own transaction.

Update semantics are Neutron's: the options given are merged into the port's (an option
named again with the same IP version gets the new value; with a null value it is removed;
a new name is added); options not named stay. ``extra_dhcp_opts: []`` or null changes
nothing.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core.extensions import ChildPart, Dicts, ExtensionDriver
from neutrino.db import tables as t
from neutrino.db.listing import Children

ATTR = "extra_dhcp_opts"
_o = t.port_extra_dhcp_opts.c


def _entry(name: str, value: str, version: int) -> dict[str, Any]:
    return {"opt_name": name, "opt_value": value, "ip_version": version}


def _sorted(opts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(opts, key=lambda o: (o["ip_version"], o["opt_name"]))


_LOAD = Children(lambda where: (
    sa.select(_o.port_id, _o.opt_name, _o.opt_value, _o.ip_version)
    .where(where(_o.port_id)).order_by(_o.port_id, _o.ip_version, _o.opt_name)))


def load(conn: Connection, port_ids: Collection[str], page: sa.Subquery | None = None
         ) -> dict[str, list[dict[str, Any]]]:
    """port id -> its options (by IP version, then name), for many ports in one query."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not port_ids:
        return out
    for port_id, name, value, version in _LOAD.execute(conn, list(port_ids), page):
        out.setdefault(port_id, []).append(_entry(name, value, version))
    return out


def insert(conn: Connection, items: list[tuple[str, list[dict[str, Any]] | None]]
           ) -> dict[str, list[dict[str, Any]]]:
    """The options of new ports (one statement for a whole bulk); port id -> what it got
    (a null value on create is no option at all)."""
    out: dict[str, list[dict[str, Any]]] = {}
    rows = []
    for port_id, opts in items:
        kept = _sorted([o for o in opts or () if o["opt_value"] is not None])
        out[port_id] = kept
        rows += [{"port_id": port_id, **o} for o in kept]
    if rows:
        conn.execute(sa.insert(t.port_extra_dhcp_opts), rows)
    return out


def update(conn: Connection, port_id: str, current: list[dict[str, Any]],
           requested: list[dict[str, Any]] | None) -> tuple[list[dict[str, Any]], bool]:
    """Merge ``requested`` into the port's options (module doc): (the options now,
    whether anything changed)."""
    if not requested:
        return current, False
    have = {(o["opt_name"], o["ip_version"]): o["opt_value"] for o in current}
    changed = False
    for o in requested:
        key = (o["opt_name"], o["ip_version"])
        where = sa.and_(_o.port_id == port_id, _o.opt_name == key[0], _o.ip_version == key[1])
        if o["opt_value"] is None:
            if key in have:
                conn.execute(sa.delete(t.port_extra_dhcp_opts).where(where))
                del have[key]
                changed = True
        elif key not in have:
            conn.execute(sa.insert(t.port_extra_dhcp_opts).values(port_id=port_id, **o))
            have[key] = o["opt_value"]
            changed = True
        elif have[key] != o["opt_value"]:
            conn.execute(sa.update(t.port_extra_dhcp_opts).where(where).values(
                opt_value=o["opt_value"]))
            have[key] = o["opt_value"]
            changed = True
    return _sorted([_entry(n, val, ver) for (n, ver), val in have.items()]), changed


class ExtraDhcpOptDriver(ExtensionDriver):
    """extra_dhcp_opts of ports (core/extensions.py; always on)."""

    name = "extra_dhcp_opt"
    port_children = (ChildPart(
        ATTR, _o.port_id, (_o.opt_name, _o.opt_value, _o.ip_version),
        ("opt_name", "opt_value", "ip_version"),
        key=lambda o: (o["ip_version"], o["opt_name"])),)

    def process_create_ports(self, ctx: Context, conn: Connection, items: Dicts,
                             results: Dicts) -> None:
        opts = insert(conn, [(port["id"], d.get(ATTR)) for d, port in
                             zip(items, results, strict=True)])
        for port in results:
            port[ATTR] = opts[port["id"]]

    def process_update_port(self, ctx: Context, conn: Connection, data: dict[str, Any],
                            original: dict[str, Any], result: dict[str, Any]) -> bool:
        result[ATTR], changed = update(conn, original["id"], original[ATTR], data.get(ATTR))
        return changed
