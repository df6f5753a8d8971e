"""Tags of resources with standard attributes (extension standard-attr-tag): storage, the
list filters, and the changes made through /v2.0/{collection}/{id}/tags.

One table for every resource, ``(resource_id, tag)``. A list shows its items' tags with
one query (:func:`load`, by the page's subquery like any other child rows); a filter is a
subquery on the tag index. A change of tags is a new revision of the item (Neutron's Tag
``revises_on_change``), made only when the set really changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core.extensions import ChildPart, ExtensionDriver
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import Children, FilterFn

if TYPE_CHECKING:
    from neutrino.core.standard_attrs import StandardAttrResource

MAX_TAGS = 50  # per resource (Neutron's MAX_TAGS_COUNT)

_tg = t.tags.c


# --- reading -------------------------------------------------------------------------------
_LOAD = Children(lambda where: sa.select(_tg.resource_id, _tg.tag).where(
    where(_tg.resource_id)))


def load(conn: Connection, ids: Sequence[str], page: sa.Subquery | None = None
         ) -> dict[str, list[str]]:
    """The tags of the given items (``page``: listing.page_ids of the same items), each
    list sorted; items without tags are left out. One statement."""
    if not ids:
        return {}
    out: dict[str, list[str]] = {}
    for resource_id, tag in _LOAD.execute(conn, ids, page).all():
        out.setdefault(resource_id, []).append(tag)
    for found in out.values():
        found.sort()
    return out


def current(conn: Connection, resource_id: str) -> set[str]:
    return set(conn.scalars(sa.select(_tg.tag).where(_tg.resource_id == resource_id)))


# --- list filters --------------------------------------------------------------------------
def _wanted(values: list[Any]) -> list[str]:
    """Query-string values, comma-separated and/or repeated, as one set."""
    out: set[str] = set()
    for value in values:
        out.update(str(value).split(","))
    return sorted(out)


def _having_all(values: list[Any]) -> sa.Select[Any]:
    wanted = _wanted(values)
    # (resource_id, tag) is the primary key: as many rows as tags wanted means all of them
    return (sa.select(_tg.resource_id).where(_tg.tag.in_(wanted))
            .group_by(_tg.resource_id).having(sa.func.count() == len(wanted)))


def _having_any(values: list[Any]) -> sa.Select[Any]:
    return sa.select(_tg.resource_id).where(_tg.tag.in_(_wanted(values)))


def filters(id_column: sa.ColumnElement[Any]) -> dict[str, FilterFn]:
    """ListSpec custom filters of a resource whose ids are ``id_column``: ``tags`` (has
    all of them), ``tags-any`` (has one at least), ``not-tags`` (lacks one at least),
    ``not-tags-any`` (has none of them)."""
    return {
        "tags": lambda v: id_column.in_(_having_all(v)),
        "tags-any": lambda v: id_column.in_(_having_any(v)),
        "not-tags": lambda v: id_column.not_in(_having_all(v)),
        "not-tags-any": lambda v: id_column.not_in(_having_any(v)),
    }


# --- writing with the items themselves -----------------------------------------------------
def insert(conn: Connection, items: Iterable[tuple[str, Iterable[str]]]) -> None:
    """Tags of new items, ``(id, tags)`` pairs: one statement for all of them."""
    rows = [{"resource_id": id_, "tag": tag} for id_, tags in items for tag in tags]
    if rows:
        conn.execute(sa.insert(t.tags), rows)


def delete_of(conn: Connection, *owners: sa.Select[Any] | Sequence[str]) -> None:
    """Delete the tags of deleted items: each of ``owners`` is a list of ids or a SELECT
    of ids. One statement.

    Run it after deleting the items' rows: a concurrent change of an item's tags holds
    the item's row (StandardAttrResource.lock) until it commits, so deleting the row
    first waits for that change, and this statement then sees (and deletes) its tags;
    a change that comes later finds the item gone (404)."""
    clauses = [_tg.resource_id.in_(o if isinstance(o, sa.Select) else list(o))
               for o in owners if isinstance(o, sa.Select) or o]
    if clauses:
        conn.execute(sa.delete(t.tags).where(sa.or_(*clauses)))


# --- /v2.0/{collection}/{id}/tags ----------------------------------------------------------
def check_limit(entry: StandardAttrResource, tags: Iterable[str]) -> None:
    if len(set(tags)) > MAX_TAGS:
        raise exc.BadRequest(
            resource=entry.collection,
            msg=f"The number of tags exceed the per-resource limit of {MAX_TAGS}")


class TagService:
    """Changes of one item's tags, each in one transaction that first locks the item (its
    NotFound if it is gone, 412 if If-Match names another revision) and bumps its
    revision if the set changed. Who may see and change the item is the caller's
    business (api/tags.py)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def _change(conn: Connection, entry: StandardAttrResource, id_: str,
                add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
        remove = sorted(remove)
        if remove:
            conn.execute(sa.delete(t.tags).where(_tg.resource_id == id_,
                                                 _tg.tag.in_(remove)))
        add = sorted(add)
        insert(conn, [(id_, add)])
        if add or remove:
            entry.bump(conn, [id_])

    def replace(self, ctx: Context, entry: StandardAttrResource, id_: str,
                tags: list[str]) -> None:
        def run(conn: Connection) -> None:
            entry.lock(conn, ctx, id_)
            have, want = current(conn, id_), set(tags)
            self._change(conn, entry, id_, add=want - have, remove=have - want)

        self.db.write(run)

    def add(self, ctx: Context, entry: StandardAttrResource, id_: str, tags: list[str], *,
            limit_all: bool = False) -> None:
        """Add the tags it lacks; ``limit_all``: the limit counts its tags too (PUT of one
        tag), otherwise only ``tags`` (POST, as Neutron)."""
        def run(conn: Connection) -> None:
            entry.lock(conn, ctx, id_)
            have = current(conn, id_)
            if limit_all:
                check_limit(entry, have | set(tags))
            self._change(conn, entry, id_, add=set(tags) - have)

        self.db.write(run)

    def remove(self, ctx: Context, entry: StandardAttrResource, id_: str, tag: str) -> None:
        def run(conn: Connection) -> None:
            entry.lock(conn, ctx, id_)
            if tag not in current(conn, id_):
                raise exc.TagNotFound(tag=tag)
            self._change(conn, entry, id_, remove=[tag])

        self.db.write(run)

    def clear(self, ctx: Context, entry: StandardAttrResource, id_: str) -> None:
        def run(conn: Connection) -> None:
            entry.lock(conn, ctx, id_)
            self._change(conn, entry, id_, remove=current(conn, id_))

        self.db.write(run)


class PortTagsDriver(ExtensionDriver):
    """Ports' ``tags`` (core/extensions.py; always on): given on create for a whole bulk
    in one statement (tag-ports-during-bulk-creation), shown with one statement per page;
    changed through /v2.0/ports/{id}/tags (TagService)."""

    name = "tag"
    port_children = (ChildPart("tags", _tg.resource_id, (_tg.tag,), sort=True),)

    def process_create_ports(self, ctx: Context, conn: Connection, items: list[dict[str, Any]],
                             results: list[dict[str, Any]]) -> None:
        for data, port in zip(items, results, strict=True):
            port["tags"] = sorted(data.get("tags") or [])
        insert(conn, [(port["id"], port["tags"]) for port in results])
