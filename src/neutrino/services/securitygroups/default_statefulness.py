"""Default statefulness of new security groups (security-groups-default-statefulness):
at most one setting per project and one system-wide (``project_id`` null, ``scope_key``
"*": the unique key that two nulls would not hit). A group created without ``stateful``
gets its project's setting, else the system-wide one, else true (Neutron's
get_default_stateful_for_project); a project's default group is always stateful.

Two creates for the same project racing: the second's INSERT hits the unique key, its
transaction reruns and then answers 409 SecurityGroupDefaultStatefulnessAlreadyExists.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core import records
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import ListSpec
from neutrino.exceptions.security_groups import (
    SecurityGroupDefaultStatefulnessAlreadyExists,
    SecurityGroupDefaultStatefulnessNotFound,
)
from neutrino.schema import security_groups_default_statefulness as schema
from neutrino.services.table_service import TableService

_s = t.security_groups_default_statefulness.c
LIST_SPEC = ListSpec(table=t.security_groups_default_statefulness)
SYSTEM_WIDE = "*"


def default_stateful(conn: Connection, project: str | None) -> bool:
    """The ``stateful`` a new group of ``project`` gets when none is given. One
    statement."""
    rows = {r.scope_key: bool(r.stateful) for r in conn.execute(
        sa.select(_s.scope_key, _s.stateful).where(
            _s.scope_key.in_([SYSTEM_WIDE, *([project] if project else [])])))}
    if project and project in rows:
        return rows[project]
    return rows.get(SYSTEM_WIDE, True)


class DefaultStatefulnessService(TableService):
    def __init__(self, db: Database) -> None:
        super().__init__(db, schema.resource(), LIST_SPEC,
                         lambda id_: SecurityGroupDefaultStatefulnessNotFound(id=id_))

    def visible(self, ctx: Context | None) -> list[sa.ColumnElement[bool]]:
        # a project's own setting; the system-wide one and others' only for admins
        return [] if ctx is None or ctx.sees_all else [_s.project_id == ctx.project_id]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            out = []
            for d in items:
                project = d.get("project_id")
                key = project or SYSTEM_WIDE
                if conn.scalar(sa.select(_s.id).where(_s.scope_key == key)) is not None:
                    raise SecurityGroupDefaultStatefulnessAlreadyExists(
                        project_id=project or "system-wide")
                row = {"id": records.new_id(), "project_id": project, "scope_key": key,
                       "stateful": bool(d["stateful"])}
                conn.execute(sa.insert(self.table).values(**row))
                out.append(self.row_dict.one(row))
            return out

        return self.db.write(run)

    def update(self, ctx: Context, item_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            self.row(conn, item_id, ctx)
            if "stateful" in data:
                conn.execute(sa.update(self.table).where(_s.id == item_id)
                             .values(stateful=bool(data["stateful"])))
            return self.to_dicts(conn, [self.row(conn, item_id, ctx)])[0]

        return self.db.write(run)

    def delete(self, ctx: Context, item_id: str) -> None:
        def run(conn: Connection) -> None:
            self.row(conn, item_id, ctx)
            conn.execute(sa.delete(self.table).where(_s.id == item_id))

        self.db.write(run)
