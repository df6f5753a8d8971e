"""Resources with Neutron's "standard attributes" (description, timestamps, revision
number, tags): a registry of them by collection, for what applies to all of them alike.

A service registers its resource once, next to its ListSpec::

    ENTRY = standard_attrs.register("routers", "router", LIST_SPEC,
                                    lambda id_: exc.RouterNotFound(router_id=id_))

which gives it the tag filters of list queries (tags, tags-any, not-tags, not-tags-any)
and the /v2.0/routers/{id}/tags routes (api/tags.py). The service itself shows ``tags``
(core.tags.load in its to_dicts), deletes its items' tags with them (core.tags.delete_of)
and adds ``*tag_attrs()`` to its schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records, tags
from neutrino.db.listing import ListSpec


@dataclass(frozen=True, slots=True)
class StandardAttrResource:
    collection: str  # as in URLs, e.g. "networks"
    member: str  # e.g. "network": policy actions (update_network:tags), messages
    table: sa.Table  # its rows: id, revision_number, updated_at
    not_found: Callable[[str], exc.NeutronError]  # e.g. NetworkNotFound for an id

    def lock(self, conn: Connection, ctx: Context, id_: str) -> None:
        """Hold the item's row until the transaction ends (what serializes changes of its
        tags, and a change with the item's deletion); its NotFound if it is gone, 412 if
        the request's If-Match names another revision of it."""
        c = self.table.c
        stmt = sa.select(c.id, c.revision_number).where(c.id == id_)
        if conn.dialect.name != "sqlite":  # SQLite: one writer at a time anyway
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None:
            raise self.not_found(id_)
        records.check_revision(ctx, row)

    def bump(self, conn: Connection, ids: Iterable[str]) -> None:
        """A new revision (revision_number + 1, updated_at now) of the items."""
        records.bump_revisions(conn, self.table, ids)


_REGISTRY: dict[str, StandardAttrResource] = {}


def register(collection: str, member: str, spec: ListSpec,
             not_found: Callable[[str], exc.NeutronError]) -> StandardAttrResource:
    entry = StandardAttrResource(collection, member, spec.table, not_found)
    _REGISTRY[collection] = entry
    spec.custom_filters.update(tags.filters(spec.table.c.id))
    return entry


def lookup(collection: str) -> StandardAttrResource | None:
    return _REGISTRY.get(collection)


def registered() -> list[StandardAttrResource]:
    """In the order of registration."""
    return list(_REGISTRY.values())
