"""/v2.0/segments: a network's segments (the rows its provider / multi-provider
attributes show), created and deleted one by one, as Neutron's segments plugin.

A create reserves the segment from its type driver (core/types: a VLAN id chosen when
none is given, a given one refused when taken) and takes the next segment_index; a
delete gives it back, refused (409 SegmentInUse) while subnets sit on it. Both hold the
network exclusively, as subnet writes do: a subnet cannot land on a segment being deleted,
nor two segments take the same index. Only name and description change. A new segment is
mapped to the hosts that reach it in its own transaction (host_mappings.py); a deleted
one's mappings go with it (cascade)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records, standard_attrs, tags
from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.db import tables as t
from neutrino.db.listing import ListQuery, ListSpec, fetch_page, page_ids, page_statement
from neutrino.exceptions import segments as errors
from neutrino.schema import segment as segment_schema
from neutrino.services.segments.host_mappings import HostMappings
from neutrino.services.table_service import TableService

_seg = t.network_segments.c
LIST_SPEC = ListSpec(table=t.network_segments)
STANDARD_ATTRS = standard_attrs.register(
    "segments", "segment", LIST_SPEC, lambda id_: errors.SegmentNotFound(segment_id=id_))
PROVIDER = ("network_type", "physical_network", "segmentation_id")


class SegmentService(TableService):
    def __init__(self, core: Any, host_mappings: HostMappings) -> None:
        super().__init__(core.db, segment_schema.resource(), LIST_SPEC,
                         lambda id_: errors.SegmentNotFound(segment_id=id_))
        self.core = core  # the ML2 plugin: its database, type drivers, networks, registry
        self.host_mappings = host_mappings

    def to_dicts(self, conn: Connection, rows: list[Any], ctx: Context | None = None,
                 page: sa.Subquery | None = None) -> list[dict[str, Any]]:
        out = self.row_dict(rows)
        tags_of = tags.load(conn, [r.id for r in rows], page)
        for d in out:
            d["tags"] = tags_of.get(d["id"], [])
        return out

    # --- reading (admins only: the policy) ------------------------------------------------
    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            stmt = page_statement(conn, LIST_SPEC, q, marker_not_found=self.not_found)
            rows, more = fetch_page(conn, stmt, q)
            return self.to_dicts(conn, list(rows), ctx, page_ids(LIST_SPEC, stmt, q)), more

        return self.db.read(run)

    # --- writing -------------------------------------------------------------------------
    def _network(self, conn: Connection, ctx: Context, network_id: str) -> dict[str, Any]:
        """The network, held exclusively until the commit, as the API shows it."""
        row = self.core.networks.network_row(conn, ctx, network_id, for_update=True)
        return self.core.networks.to_dicts(conn, [row])[0]

    def _network_changed(self, ctx: Context, changes: list[tuple[dict, dict]]) -> None:
        """Its segments are part of a network (provider attributes, ``segments``): the
        network's hosts hear of it as of any network change (services/agent_notifier)."""
        for original, current in changes:
            self.core.registry.publish(Resource.NETWORK, Event.AFTER_UPDATE, self, Payload(
                context=ctx, resource_id=current["id"], states=(original, current)))

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        types = self.core.types

        def run(conn: Connection) -> tuple[list[dict[str, Any]], list[tuple[dict, dict]]]:
            ids, changes = [], []
            for d in items:
                original = self._network(conn, ctx, d["network_id"])
                seg = types.validate_provider_segment({k: d[k] for k in PROVIDER})
                seg = types.reserve_provider_segment(conn, seg)
                index = conn.scalar(sa.select(sa.func.max(_seg.segment_index)).where(
                    _seg.network_id == d["network_id"]))
                ts = records.now()
                ids.append(records.new_id())
                conn.execute(sa.insert(t.network_segments).values(
                    id=ids[-1], network_id=d["network_id"], name=d["name"],
                    description=d["description"], created_at=ts, updated_at=ts,
                    revision_number=1, segment_index=0 if index is None else index + 1,
                    **{k: seg.get(k) for k in PROVIDER}))
                changes.append((original, self.core.networks.to_dicts(conn, [
                    self.core.networks.network_row(conn, ctx, d["network_id"])])[0]))
            self.host_mappings.map_segments(conn, ids)
            return self.dicts_of(conn, ids), changes

        created, changes = self.db.write(run)
        self._network_changed(ctx, changes)
        return created

    def update(self, ctx: Context, segment_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            STANDARD_ATTRS.lock(conn, ctx, segment_id)
            row = self.row(conn, segment_id)
            values = {k: data[k] for k in ("name", "description")
                      if k in data and data[k] != getattr(row, k)}
            if values:
                records.revise(conn, t.network_segments, row, values)
                row = self.row(conn, segment_id)
            return self.to_dicts(conn, [row])[0]

        return self.db.write(run)

    def delete(self, ctx: Context, segment_id: str) -> None:
        def run(conn: Connection) -> tuple[dict, dict]:
            network_id = self.row(conn, segment_id).network_id
            original = self._network(conn, ctx, network_id)
            STANDARD_ATTRS.lock(conn, ctx, segment_id)  # 404 if deleted meanwhile, If-Match
            row = self.row(conn, segment_id)
            users = list(conn.scalars(sa.select(t.subnets.c.id).where(
                t.subnets.c.segment_id == segment_id).order_by(t.subnets.c.id)))
            if users:
                raise errors.SegmentInUse(
                    segment_id=segment_id,
                    reason="The segment is still associated with subnet(s) "
                    + ", ".join(users))
            self.core.types.release_segment(conn, {k: getattr(row, k) for k in PROVIDER})
            conn.execute(sa.delete(t.network_segments).where(_seg.id == segment_id))
            tags.delete_of(conn, [segment_id])
            return original, self.core.networks.to_dicts(conn, [
                self.core.networks.network_row(conn, ctx, network_id)])[0]

        try:
            change = self.db.write(run)
        except exc.NetworkNotFound:
            # the network went with its segments between the two reads
            raise errors.SegmentNotFound(segment_id=segment_id) from None
        self._network_changed(ctx, [change])
