"""Row -> API dict, derived from a resource's definition (schema/base.py).

Every visible attribute that is not ``computed`` names a column of the resource's table
(``Attr.column``, or its own name) or one of the labels its SELECT adds
(``Resource.labels``), and a converter (``Attr.output``). ``RowDict`` checks that once,
when a service registers it, and per distinct row shape compiles one function that reads
each column by index: ``{"id": r[0], "created_at": api_time(r[7]), ...}``. No
introspection per row: every list formats thousands of rows with it, twice as fast as
reading attributes of named tuples. The service then adds what it computes (a network's
subnets, an item's tags).
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa

from neutrino.db import tables as t
from neutrino.schema.base import Resource

RowFunc = Callable[[Any], dict[str, Any]]


@functools.lru_cache(maxsize=256)
def _row_class(fields: tuple[str, ...]) -> Any:
    return namedtuple("Row", fields, rename=True)  # type: ignore[misc]


def plain_rows(rows: Iterable[Any]) -> list[Any]:
    """SQLAlchemy rows as plain named tuples: reading ``row.name`` from a SQLAlchemy Row
    costs about half a microsecond, from a named tuple a twentieth of that. Worth it where
    a list reads several attributes of thousands of rows beyond their dict (ports)."""
    rows = list(rows)
    if not rows or not hasattr(rows[0], "_fields"):
        return rows
    make = _row_class(tuple(rows[0]._fields))._make
    return list(map(make, rows))


class RowDict:
    """The column-backed part of a resource's API dict, for rows of its table."""

    def __init__(self, resource: Resource, table: sa.Table | None = None, *,
                 fixed: dict[str, Any] | None = None) -> None:
        """``fixed``: attributes of a constant value for this table (an RBAC entry's
        object_type, one table per type)."""
        table = table if table is not None else t.metadata.tables[resource.table]
        known = set(table.c.keys()) | set(resource.labels)
        fixed = fixed or {}
        fields: list[tuple[str, str, Callable[[Any], Any] | None]] = []
        for name, attr in resource.attrs.items():
            if not attr.visible or attr.computed or name in fixed:
                continue
            column = attr.column or name
            if column not in known:
                raise ValueError(f"{resource.name}.{name}: no column {column!r} in "
                                 f"{table.name} and not declared computed")
            fields.append((name, column, attr.output))
        self.resource = resource
        self.fields = tuple(fields)
        self.fixed = dict(fixed)
        self.computed = tuple(n for n, a in resource.attrs.items()
                              if a.visible and a.computed)
        self._by_shape: dict[tuple[str, ...], RowFunc] = {}

    def _compile(self, shape: tuple[str, ...]) -> RowFunc:
        env: dict[str, Any] = {}
        parts = self.source(shape, env)
        source = "def row_dict(r):\n    return {" + ", ".join(parts) + "}\n"
        exec(source, env)
        func: RowFunc = env["row_dict"]
        self._by_shape[shape] = func
        return func

    def source(self, shape: tuple[str, ...], env: dict[str, Any]) -> list[str]:
        """The dict's items as Python source reading the row ``r`` of this ``shape``;
        ``env`` gets the names they use (the port dict builder adds its own items)."""
        index = {name: i for i, name in enumerate(shape)}
        env["fixed"] = self.fixed
        parts = []
        # converted once per row: a converter is a function of its value, so the value
        # of another column equal to one it converted before is not converted again
        # (updated_at is created_at on most rows: one time formatted, not two)
        converted: dict[int, list[tuple[int, str]]] = {}
        for n, (key, column, output) in enumerate(self.fields):
            i = index[column]
            if output is None:
                parts.append(f"{key!r}: r[{i}]")
                continue
            env[f"c{n}"] = output
            value = f"c{n}(r[{i}])"
            for j, name in converted.get(id(output), ()):
                value = f"({name} if r[{i}] == r[{j}] else {value})"
            converted.setdefault(id(output), []).append((i, f"v{n}"))
            parts.append(f"{key!r}: (v{n} := {value})")
        parts.extend(f"{key!r}: fixed[{key!r}]" for key in self.fixed)
        return parts

    def func(self, row: Any) -> RowFunc:
        shape = tuple(row._fields)
        return self._by_shape.get(shape) or self._compile(shape)

    def __call__(self, rows: Iterable[Any]) -> list[dict[str, Any]]:
        rows = rows if isinstance(rows, list) else list(rows)
        if not rows:
            return []
        return list(map(self.func(rows[0]), rows))

    def one(self, row: Any) -> dict[str, Any]:
        """One row, or the dict of column values a service just inserted."""
        if isinstance(row, dict):
            return self.of_values([row])[0]
        return self.func(row)(row)

    def of_values(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """The same for rows given as the dicts a service inserted (column: value)."""
        out = []
        for item in items:
            shape = tuple(item)
            func = self._by_shape.get(shape) or self._compile(shape)
            out.append(func(tuple(item.values())))
        return out
