"""One SELECT for a page of a collection: filters, sorting and keyset pagination.

A resource describes how its attributes map to SQL (a column, or a function producing a
WHERE clause for attributes stored elsewhere, such as a port's fixed_ips); this module
does the rest for every collection alike.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row


@dataclass(slots=True)
class ListQuery:
    filters: dict[str, list[Any]] = field(default_factory=dict)
    fields: list[str] | None = None
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (key, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    # attributes the caller's policy never shows (RequestPolicy.hidden): a service may
    # leave them out of its dicts rather than compute them for the view to drop
    hidden: frozenset[str] = frozenset()

    @property
    def paginated(self) -> bool:
        return self.limit is not None


FilterFn = Callable[[list[Any]], sa.ColumnElement[bool]]


@dataclass(slots=True)
class ListSpec:
    table: sa.Table
    # attribute name -> column expression usable in WHERE and ORDER BY
    columns: dict[str, sa.ColumnElement[Any]] = field(default_factory=dict)
    # attribute name -> WHERE clause builder for attributes that are not plain columns
    custom_filters: dict[str, FilterFn] = field(default_factory=dict)
    # the selected columns (default: the whole table)
    select_from: Sequence[sa.ColumnElement[Any]] | None = None

    def column(self, name: str) -> sa.ColumnElement[Any] | None:
        if name in self.columns:
            return self.columns[name]
        return self.table.c.get(name)


def where_clauses(spec: ListSpec, filters: dict[str, list[Any]]) -> list[sa.ColumnElement[bool]]:
    clauses = []
    for name, values in filters.items():
        if name in spec.custom_filters:
            clauses.append(spec.custom_filters[name](values))
            continue
        col = spec.column(name)
        if col is None:
            # A visible attribute no row has a column for (e.g. computed): nothing matches
            # a filter on it unless the service handles it itself.
            clauses.append(sa.false())
            continue
        if len(values) == 1:
            clauses.append(col == values[0] if values[0] is not None else col.is_(None))
        else:
            clauses.append(col.in_(values))
    return clauses


def select_page(
    conn: Connection,
    spec: ListSpec,
    q: ListQuery,
    *,
    extra_where: Sequence[sa.ColumnElement[bool]] = (),
    marker_not_found: Callable[[str], Exception] | None = None,
) -> tuple[list[Row[Any]], bool]:
    """Rows of one page, and whether more rows follow in the requested direction."""
    stmt = page_statement(conn, spec, q, extra_where=extra_where,
                          marker_not_found=marker_not_found)
    return fetch_page(conn, stmt, q)


def page_ids(spec: ListSpec, stmt: sa.Select[Any], q: ListQuery) -> sa.Subquery:
    """The ids of a page (``stmt`` from page_statement) as a subquery, to fetch the rows'
    children with (see of_rows): unlike ``IN (<a bind parameter per row>)`` the statement
    does not grow with the page (1000 bind parameters cost more than the rows they find,
    on every backend)."""
    idc = spec.table.c.id
    ids = stmt.with_only_columns(idc)
    bounds = _PAGE_BOUNDS.pop(stmt, None)
    if bounds is not None:
        # a page in id order: the rows between its first and last id that the page's
        # conditions select are the page; no ORDER BY ... LIMIT for the database to
        # evaluate again under each child query (SQLite materialises it every time)
        return ids.order_by(None).limit(None).where(
            idc >= bounds[0], idc <= bounds[1]).subquery("page")
    if q.limit is None:
        ids = ids.order_by(None)
    return ids.subquery("page")


# The id range of pages fetch_page read in id order, for page_ids (keyed by the page's
# statement; gone with it).
_PAGE_BOUNDS: weakref.WeakKeyDictionary[sa.Select[Any], tuple[Any, Any]] = (
    weakref.WeakKeyDictionary())


def _id_ascending(q: ListQuery) -> bool | None:
    """The direction of a query ordered by id alone (None: ordered otherwise)."""
    if not q.sorts:
        return True
    if len(q.sorts) == 1 and q.sorts[0][0] == "id":
        return q.sorts[0][1]
    return None


def of_rows(column: sa.ColumnElement[Any], ids: Sequence[str],
            page: sa.Subquery | None = None) -> sa.ColumnElement[bool]:
    """WHERE clause for the children of some rows (``column`` refers to their id): the
    page's subquery if there is one, else the ids themselves (a show, an update)."""
    if page is not None:
        return column.in_(sa.select(page.c.id))
    return column.in_(ids)


Where = Callable[[sa.ColumnElement[Any]], sa.ColumnElement[bool]]


class Children:
    """A statement reading the children of some rows, built once for given ids.

    ``build(where)`` makes the statement; ``where(column)`` is the condition on the
    column that refers to the rows' ids. Shows and updates (ids given) run one statement
    built at first use with an expanding bind parameter: building a SELECT, and its cache
    key, cost SQLAlchemy about as much CPU as running it, and a port show reads five
    kinds of children. A page of a list builds it around the page's subquery (once per
    page: of_rows)."""

    __slots__ = ("_by_id", "_by_ids", "build")
    PARAM = "children_of"

    def __init__(self, build: Callable[[Where], sa.Executable]) -> None:
        self.build = build
        self._by_id: sa.Executable | None = None
        self._by_ids: sa.Executable | None = None

    def execute(self, conn: Connection, ids: Iterable[str],
                page: sa.Subquery | None = None) -> Any:
        if page is not None:
            return conn.execute(self.build(lambda column: of_rows(column, (), page)))
        ids = ids if isinstance(ids, list) else list(ids)
        # built again by a racing thread at worst: the same statement
        if len(ids) == 1:  # a show: "=", no expanding parameter to render per call
            stmt = self._by_id
            if stmt is None:
                param = sa.bindparam(self.PARAM)
                stmt = self._by_id = self.build(lambda column: column == param)
            return conn.execute(stmt, {self.PARAM: ids[0]})
        stmt = self._by_ids
        if stmt is None:
            param = sa.bindparam(self.PARAM, expanding=True)
            stmt = self._by_ids = self.build(lambda column: column.in_(param))
        return conn.execute(stmt, {self.PARAM: ids})


def fetch_page(conn: Connection, stmt: sa.Select[Any], q: ListQuery
               ) -> tuple[list[Row[Any]], bool]:
    rows = conn.execute(stmt).all()  # one fetchall: cheaper than row by row
    more = False
    if q.limit is not None and len(rows) > q.limit:
        rows = rows[: q.limit]
        more = True
    if q.limit is not None and rows:
        ascending = _id_ascending(q)
        if ascending is not None:
            first, last = rows[0].id, rows[-1].id  # in the order the query read them
            up = ascending != q.page_reverse
            _PAGE_BOUNDS[stmt] = (first, last) if up else (last, first)
    if q.page_reverse:
        rows.reverse()
    return rows, more


def page_statement(
    conn: Connection,
    spec: ListSpec,
    q: ListQuery,
    *,
    extra_where: Sequence[sa.ColumnElement[bool]] = (),
    marker_not_found: Callable[[str], Exception] | None = None,
) -> sa.Select[Any]:
    """The SELECT of one page (one row more than the limit, to tell whether more
    follow); looking up the marker's sort values is the only statement it runs.
    ``extra_where``: what the caller may see (the service's visibility), which also
    bounds the marker."""
    t = spec.table
    stmt = sa.select(*(spec.select_from or [t]))
    where = [*where_clauses(spec, q.filters), *extra_where]

    sorts: list[tuple[sa.ColumnElement[Any], bool]] = []
    for name, asc in q.sorts:
        col = spec.column(name)
        if col is not None:
            sorts.append((col, asc))
    # id last: a total order, so pages never repeat or skip rows
    if (q.paginated or sorts) and not any(c is t.c.id for c, _ in sorts):
        sorts.append((t.c.id, True))
    if q.page_reverse:
        sorts = [(c, not asc) for c, asc in sorts]

    if q.marker is not None and q.paginated:
        # The marker is looked up within what the caller may see (``extra_where``, the
        # service's visibility): another project's id is no marker, the same 404 as an id
        # of nothing. Taken as a marker it would show that the item exists, and with
        # ``sort_key=name`` let a project binary-search another's names.
        marker_vals = conn.execute(
            sa.select(*(c for c, _ in sorts)).where(t.c.id == q.marker, *extra_where)
        ).first()
        if marker_vals is None:
            if marker_not_found is not None:
                raise marker_not_found(q.marker)
        else:
            where.append(_after(sorts, tuple(marker_vals)))

    if where:
        stmt = stmt.where(*where)
    if sorts:
        stmt = stmt.order_by(*(_order(c, asc, conn.dialect.name) for c, asc in sorts))
    if q.limit is not None:
        stmt = stmt.limit(q.limit + 1)
    return stmt


def _nullable(col: sa.ColumnElement[Any]) -> bool:
    return bool(getattr(col, "nullable", True))


def _order(col: sa.ColumnElement[Any], asc: bool, dialect: str) -> sa.ColumnElement[Any]:
    """NULL sorts before every value, on every backend (MySQL and SQLite do so; PostgreSQL
    is told), which is the order _after pages in."""
    clause = col.asc() if asc else col.desc()
    if dialect == "postgresql" and _nullable(col):
        clause = clause.nulls_first() if asc else clause.nulls_last()
    return clause


def _after(
    sorts: list[tuple[sa.ColumnElement[Any], bool]], values: tuple[Any, ...]
) -> sa.ColumnElement[bool]:
    """Rows strictly after ``values`` in the order ``sorts`` (lexicographic keyset), NULL
    before every value. Values are bound with their column's type: a marker's boolean or
    NULL is compared as any other value (SQLAlchemy refuses ``col > True``)."""
    alternatives = []
    for i, (col, asc) in enumerate(sorts):
        equal = [_equal(sorts[j][0], values[j]) for j in range(i)]
        alternatives.append(sa.and_(*equal, _beyond(col, asc, values[i])))
    return sa.or_(*alternatives)


def _equal(col: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
    return col.is_(None) if value is None else col == sa.literal(value, col.type)


def _beyond(col: sa.ColumnElement[Any], asc: bool, value: Any) -> sa.ColumnElement[bool]:
    if value is None:  # NULL is first: every value follows it ascending, none descending
        return col.is_not(None) if asc else sa.false()
    bound = sa.literal(value, col.type)
    if asc:
        return col > bound
    return sa.or_(col < bound, col.is_(None)) if _nullable(col) else col < bound
