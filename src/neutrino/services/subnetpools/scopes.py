"""Address scopes (/v2.0/address-scopes): a name, an IP version and whether every
project may use it. A scope with subnet pools is not deleted; a shared scope is not
unshared (Neutron's rules)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.context import Context
from neutrino.core import records, standard_attrs, tags
from neutrino.db import tables as t
from neutrino.db.listing import ListSpec
from neutrino.exceptions import subnetpools as errors
from neutrino.schema import address_scope as schema
from neutrino.services.subnetpools.rbac import insert_wildcard
from neutrino.services.subnetpools.shareable import Shareable, ShareableService

_a = t.address_scopes.c

LIST_SPEC = ListSpec(table=t.address_scopes)
STANDARD_ATTRS = standard_attrs.register(
    "address_scopes", "address_scope", LIST_SPEC,
    lambda id_: errors.AddressScopeNotFound(address_scope_id=id_))
SCOPES = Shareable(schema.resource(), LIST_SPEC, t.address_scope_rbacs,
                   lambda id_: errors.AddressScopeNotFound(address_scope_id=id_))
scope_row = SCOPES.row


class AddressScopeService(ShareableService):
    objects = SCOPES

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            ids = []
            for d in items:
                ts = records.now()
                ids.append(records.new_id())
                conn.execute(sa.insert(t.address_scopes).values(
                    id=ids[-1], project_id=d["project_id"], name=d["name"],
                    ip_version=d["ip_version"], shared=d["shared"],
                    description=d["description"], created_at=ts, updated_at=ts,
                    revision_number=1))
                if d["shared"]:
                    insert_wildcard(conn, t.address_scope_rbacs, ids[-1], d["project_id"])
            return self.dicts_of(conn, ids, ctx)

        return self.db.write(run)

    def update(self, ctx: Context, scope_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            row = self.held(conn, ctx, scope_id)
            if row.shared and "shared" in data and not data["shared"]:
                raise errors.AddressScopeUpdateError(
                    address_scope_id=scope_id, reason="Shared address scope can't be unshared")
            values = {k: data[k] for k in ("name", "description", "shared")
                      if k in data and data[k] != getattr(row, k)}
            if values.get("shared"):
                insert_wildcard(conn, t.address_scope_rbacs, scope_id, row.project_id)
            if values:
                self.write_changes(conn, row, values)
            return self.dicts_of(conn, [scope_id], ctx)[0]

        return self.db.write(run)

    def delete(self, ctx: Context, scope_id: str) -> None:
        def run(conn: Connection) -> None:
            self.held(conn, ctx, scope_id)
            p = t.subnetpools.c
            if conn.scalar(sa.select(p.id).where(p.address_scope_id == scope_id).limit(1)):
                raise errors.AddressScopeInUse(address_scope_id=scope_id)
            tags.delete_of(conn, [scope_id])
            # a pool associated after the check: the foreign key refuses, the rerun
            # then sees the pool and answers AddressScopeInUse
            conn.execute(sa.delete(t.address_scopes).where(_a.id == scope_id))

        self.db.write(run)
