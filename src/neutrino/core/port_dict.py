"""Port API dicts: one builder for a show, a page of a list, an update's before and after.

What it costs is what a port show and a list cost, so it reads as little as it can:

* the port's row comes with its binding (ports.py reads ``_ROW``, a list its page,
  with one outer join: binding.with_binding);
* every list attribute of the ports (``fixed_ips``, and the extension drivers'
  ``port_children``: tags, extra DHCP options, security groups, address pairs) comes
  from ONE statement, a UNION ALL whose parts each fill columns of their own (the
  others NULL: no collation for the databases to reconcile across parts; a NULL under
  a column that is not text is cast to its type, as PostgreSQL types a UNION column
  from its first parts). A show is two statements, not six;
* generated code, compiled once per row shape: the grouping of the children by port
  and kind (one loop, no call per row), and the dicts of a whole page in one
  comprehension: the row's columns (RowDict), the drivers' ``port_columns``
  (binding:*, port security, ...) and the lists (a kind no port of the page has is an
  empty list literal, not a lookup). The drivers' extend_port_dicts add what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from neutrino.core.extensions import ChildPart, ExtensionManager
from neutrino.db.listing import Children, Where
from neutrino.db.rowdict import RowDict

Build = Callable[..., list[dict[str, Any]]]


class _ApiTime(FunctionElement[str]):
    """A stored time as the API shows it ("%Y-%m-%dT%H:%M:%SZ", schema.base.api_time),
    formatted by the database: the driver then decodes no datetime (mysqlclient calls a
    Python converter for each) and nothing formats it again (two per port)."""

    type = sa.String()
    inherit_cache = True
    name = "api_time"


def _text(fmt: str) -> Any:
    # written into the statement (SQLAlchemy doubles a % for drivers that need it): no
    # bind parameter for the driver to escape at every execution
    return sa.literal_column(f"'{fmt}'")


@compiles(_ApiTime)
def _api_time_sqlite(element: _ApiTime, compiler: Any, **kw: Any) -> str:
    return compiler.process(sa.func.strftime(_text("%Y-%m-%dT%H:%M:%SZ"), *element.clauses), **kw)


@compiles(_ApiTime, "mysql")
def _api_time_mysql(element: _ApiTime, compiler: Any, **kw: Any) -> str:
    return compiler.process(sa.func.date_format(*element.clauses, _text("%Y-%m-%dT%H:%i:%sZ")),
                            **kw)


@compiles(_ApiTime, "postgresql")
def _api_time_postgresql(element: _ApiTime, compiler: Any, **kw: Any) -> str:
    return compiler.process(sa.func.to_char(*element.clauses,
                                            _text('YYYY-MM-DD"T"HH24:MI:SS"Z"')),
                            **kw)


def api_time_columns(table: sa.Table) -> list[sa.ColumnElement[Any]]:
    """``table``'s columns, its times (created_at, updated_at) formatted by the
    database under their own names."""
    return [_ApiTime(c).label(c.name) if isinstance(c.type, sa.DateTime) else c
            for c in table.c]


class _Setup(NamedTuple):
    parts: tuple[ChildPart, ...]
    columns: dict[str, tuple[Any, ...]]
    children: Children
    group: Callable[..., None]


class PortDicts:
    """Set up at the first read (every driver is registered by then); ``core``: the
    port service's own lists (its addresses)."""

    def __init__(self, row_dict: RowDict, extensions: ExtensionManager,
                 core: Sequence[ChildPart]) -> None:
        self.row_dict = row_dict
        self.extensions = extensions
        self.core = tuple(core)
        self._setup: _Setup | None = None
        self._by_shape: dict[tuple[Any, ...], Build] = {}

    def _make_setup(self) -> _Setup:
        drivers = self.extensions.drivers
        parts = (*self.core, *(p for d in drivers for p in d.port_children))
        columns = {k: v for d in drivers for k, v in d.port_columns.items()}
        offsets, width = [], 0
        for p in parts:
            offsets.append(width)
            width += len(p.values)
        types = [col.type for p in parts for col in p.values]

        def null(i: int) -> Any:
            if isinstance(types[i], sa.String):
                return sa.null()
            return sa.cast(sa.null(), types[i])

        def build(where: Where) -> sa.CompoundSelect:
            selects = []
            for k, (p, off) in enumerate(zip(parts, offsets, strict=True)):
                cols = [null(i) for i in range(width)]
                cols[off:off + len(p.values)] = p.values
                selects.append(sa.select(
                    sa.literal_column(str(k)).label("k"), p.port_id.label("pid"),
                    *(c.label(f"c{i}") for i, c in enumerate(cols))
                ).where(where(p.port_id)))
            return sa.union_all(*selects)

        # group(rows, l0, l1, ...): each union row's item appended to its port's list
        lines = ["def group(rows, " + ", ".join(f"l{k}" for k in range(len(parts))) + "):",
                 "    for row in rows:", "        k = row[0]"]
        for k, (p, off) in enumerate(zip(parts, offsets, strict=True)):
            at = range(2 + off, 2 + off + len(p.values))
            item = (f"row[{at[0]}]" if not p.keys else
                    "{" + ", ".join(f"{key!r}: row[{i}]" for key, i in
                                    zip(p.keys, at, strict=True)) + "}")
            lines += [f"        {'if' if k == 0 else 'elif'} k == {k}:",
                      f"            item = {item}", f"            of = l{k}"]
        lines += ["        have = of.get(row[1])", "        if have is None:",
                  "            of[row[1]] = [item]", "        else:",
                  "            have.append(item)"]
        env: dict[str, Any] = {}
        exec("\n".join(lines) + "\n", env)
        return _Setup(parts, columns, Children(build), env["group"])

    def _children(self, setup: _Setup, conn: Connection, ids: list[str],
                  page: sa.Subquery | None) -> list[dict[str, list[Any]]]:
        """Per part: port id -> its items (ports without any left out)."""
        lists: list[dict[str, list[Any]]] = [{} for _ in setup.parts]
        setup.group(setup.children.execute(conn, ids, page).all(), *lists)
        for p, of in zip(setup.parts, lists, strict=True):
            if p.key is None and not p.sort:
                continue
            for found in of.values():
                if len(found) > 1:
                    found.sort(key=p.key)
        return lists

    def _compile(self, setup: _Setup, shape: tuple[str, ...], present: tuple[bool, ...]
                 ) -> Build:
        env: dict[str, Any] = {}
        items = self.row_dict.source(shape, env)
        for n, (attr, spec) in enumerate(setup.columns.items()):
            if spec[0] not in shape:
                continue  # not read with this row (a driver's hook may add it)
            i = shape.index(spec[0])
            env[f"pd{n}"] = spec[2] if len(spec) > 2 else spec[1]
            items.append(f"{attr!r}: pd{n}(r[{i}])" if len(spec) > 2 else
                         f"{attr!r}: (r[{i}] if r[{i}] is not None else pd{n})")
        id_at = shape.index("id")
        for k, p in enumerate(setup.parts):
            items.append(f"{p.attr!r}: ch{k}.get(r[{id_at}]) or []" if present[k] else
                         f"{p.attr!r}: []")
        args = ", ".join(f"ch{k}" for k in range(len(setup.parts)))
        exec(f"def build(rows, {args}):\n"
             f"    return [{{{', '.join(items)}}} for r in rows]\n", env)
        build: Build = env["build"]
        self._by_shape[(shape, present)] = build
        return build

    def __call__(self, conn: Connection, rows: Sequence[Any],
                 page: sa.Subquery | None = None) -> list[dict[str, Any]]:
        """The dicts of port ``rows`` (rows of ``ports``, maybe with more columns);
        ``page``: listing.page_ids of the same rows, to read their children without a
        bind parameter per port."""
        setup = self._setup
        if setup is None:
            setup = self._setup = self._make_setup()
        shape = tuple(rows[0]._fields)
        id_at = shape.index("id")
        lists = self._children(setup, conn, [r[id_at] for r in rows], page)
        present = tuple(bool(of) for of in lists)
        build = self._by_shape.get((shape, present)) or self._compile(setup, shape, present)
        return build(rows, *lists)
