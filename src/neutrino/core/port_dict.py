"""Port API dicts: one builder for a show, a page of a list, an update's before and after.

What it costs is what a port show and a list cost, so it reads as little as it can:

* the port's row comes with its binding (ports.py reads ``ROW``: one outer join);
* every list attribute of the ports (``fixed_ips``, and the extension drivers'
  ``port_children``: tags, extra DHCP options, security groups, address pairs) comes
  from ONE statement, a UNION ALL whose parts each fill columns of their own (the
  others NULL: no type or collation for the databases to reconcile across parts). A
  show is two statements, not six;
* one function, compiled per row shape, makes the dicts of a whole page in one
  comprehension: the row's columns (RowDict), the drivers' ``port_columns`` and the
  lists. The drivers' extend_port_dicts add what is left (binding:*, ip_allocation).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core.extensions import ChildPart, ExtensionManager
from neutrino.db.listing import Children, Where
from neutrino.db.rowdict import RowDict

Build = Callable[..., list[dict[str, Any]]]


class PortDicts:
    """Built at the first read (every driver is registered by then); ``core`` parts
    are the port service's own lists (its addresses)."""

    def __init__(self, row_dict: RowDict, extensions: ExtensionManager,
                 core: Sequence[ChildPart]) -> None:
        self.row_dict = row_dict
        self.extensions = extensions
        self.core = tuple(core)
        self._ready = False
        self._by_shape: dict[tuple[str, ...], Build] = {}

    def _setup(self) -> None:
        drivers = self.extensions.drivers
        self.parts = (*self.core, *(p for d in drivers for p in d.port_children))
        self.columns = {k: v for d in drivers for k, v in d.port_columns.items()}
        width = sum(len(p.values) for p in self.parts)
        offsets, at = [], 0
        for p in self.parts:
            offsets.append(at)
            at += len(p.values)

        def build(where: Where) -> sa.CompoundSelect:
            selects = []
            for k, (p, off) in enumerate(zip(self.parts, offsets, strict=True)):
                cols: list[Any] = [sa.null().label(f"c{i}") for i in range(width)]
                for j, col in enumerate(p.values):
                    cols[off + j] = col.label(f"c{off + j}")
                selects.append(sa.select(sa.literal_column(str(k)).label("k"),
                                         p.port_id.label("pid"), *cols)
                               .where(where(p.port_id)))
            return sa.union_all(*selects)

        self.children = Children(build)
        # union row -> item, per part
        self.items: list[Callable[[Any], Any]] = []
        for p, off in zip(self.parts, offsets, strict=True):
            get = operator.itemgetter(*range(2 + off, 2 + off + len(p.values)))
            make = p.make
            self.items.append(get if make is None else
                              (lambda row, g=get, m=make: m(*g(row))))
        self._ready = True

    def _children(self, conn: Connection, ids: list[str], page: sa.Subquery | None
                  ) -> list[dict[str, list[Any]]]:
        """Per part: port id -> its items (ports without any left out)."""
        lists: list[dict[str, list[Any]]] = [{} for _ in self.parts]
        items = self.items
        for row in self.children.execute(conn, ids, page).all():
            k = row[0]
            item = items[k](row)
            of = lists[k]
            have = of.get(row[1])
            if have is None:
                of[row[1]] = [item]
            else:
                have.append(item)
        for p, of in zip(self.parts, lists, strict=True):
            if p.key is None and not p.sort:
                continue
            for found in of.values():
                if len(found) > 1:
                    found.sort(key=p.key)
        return lists

    def _compile(self, shape: tuple[str, ...]) -> Build:
        env: dict[str, Any] = {}
        items = self.row_dict.source(shape, env)
        for n, (attr, (column, default)) in enumerate(self.columns.items()):
            env[f"pd{n}"] = default
            if column in shape:
                i = shape.index(column)
                items.append(f"{attr!r}: (r[{i}] if r[{i}] is not None else pd{n})")
            else:
                items.append(f"{attr!r}: pd{n}")
        id_at = shape.index("id")
        args = []
        for k, p in enumerate(self.parts):
            args.append(f"ch{k}")
            items.append(f"{p.attr!r}: ch{k}.get(r[{id_at}]) or []")
        source = (f"def build(rows, {', '.join(args)}):\n"
                  f"    return [{{{', '.join(items)}}} for r in rows]\n")
        exec(source, env)
        build: Build = env["build"]
        self._by_shape[shape] = build
        return build

    def __call__(self, conn: Connection, rows: list[Any], page: sa.Subquery | None = None
                 ) -> list[dict[str, Any]]:
        """The dicts of port ``rows`` (plain_rows); ``page``: listing.page_ids of the
        same rows, to read their children without a bind parameter per port."""
        if not self._ready:
            self._setup()
        shape = rows[0]._fields
        build = self._by_shape.get(shape) or self._compile(shape)
        return build(rows, *self._children(conn, [r.id for r in rows], page))
