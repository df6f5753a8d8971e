"""Networks: segments from the type drivers, MTU, sharing, deletion with owned ports."""

from __future__ import annotations

import contextlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import common
from neutrino.core.common import AUTO_DELETE_PORT_OWNERS, Service
from neutrino.core.mech.base import DriverContext
from neutrino.core.types.manager import TypeManager
from neutrino.db import tables as t
from neutrino.db.listing import ListQuery, ListSpec, select_page
from neutrino.schema.base import AUTO
from neutrino.schema.network import SEGMENT_KEYS

_n = t.networks.c
_seg = t.network_segments.c


def _segment_subquery(column: str, values: list[Any]) -> sa.ColumnElement[bool]:
    return _n.id.in_(sa.select(_seg.network_id).where(getattr(_seg, column).in_(values)))


LIST_SPEC = ListSpec(
    table=t.networks,
    custom_filters={
        "provider:network_type": lambda v: _segment_subquery("network_type", v),
        "provider:physical_network": lambda v: _segment_subquery("physical_network", v),
        "provider:segmentation_id": lambda v: _segment_subquery("segmentation_id", v),
        "subnets": lambda v: _n.id.in_(
            sa.select(t.subnets.c.network_id).where(t.subnets.c.id.in_(v))
        ),
    },
)


def _segment(network_type: Any, physnet: Any, seg_id: Any) -> dict[str, Any]:
    return {"network_type": network_type, "physical_network": physnet,
            "segmentation_id": seg_id}


class NetworkService(Service):
    def __init__(self, *args: Any, types: TypeManager, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.types = types

    # --- reading -----------------------------------------------------------------------
    def to_dicts(self, conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        segments: dict[str, list[dict[str, Any]]] = {}
        for s in conn.execute(
            sa.select(t.network_segments).where(_seg.network_id.in_(ids))
            .order_by(_seg.network_id, _seg.segment_index)
        ):
            segments.setdefault(s.network_id, []).append(
                _segment(s.network_type, s.physical_network, s.segmentation_id)
            )
        subnets: dict[str, list[str]] = {}
        sc = t.subnets.c
        for s in conn.execute(
            sa.select(sc.id, sc.network_id).where(sc.network_id.in_(ids))
            .order_by(sc.created_at, sc.id)
        ):
            subnets.setdefault(s.network_id, []).append(s.id)
        return [self._dict(r, segments.get(r.id, []), subnets.get(r.id, [])) for r in rows]

    @staticmethod
    def _dict(row: Any, segments: list[dict[str, Any]], subnets: list[str]) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": row.id,
            "name": row.name,
            "subnets": subnets,
            "admin_state_up": row.admin_state_up,
            "status": row.status,
            **common.project_fields(row.project_id),
            "shared": row.shared,
            "mtu": row.mtu,
            **common.standard_fields(row),
        }
        if len(segments) == 1:
            seg = segments[0]
            d["provider:network_type"] = seg["network_type"]
            d["provider:physical_network"] = seg["physical_network"]
            d["provider:segmentation_id"] = seg["segmentation_id"]
        elif segments:
            d["segments"] = [
                {f"provider:{k}": v for k, v in seg.items()} for seg in segments
            ]
        else:
            for key in SEGMENT_KEYS:
                d[key] = None
        return d

    def segments(self, conn: Connection, network_id: str) -> list[dict[str, Any]]:
        return [
            _segment(s.network_type, s.physical_network, s.segmentation_id)
            for s in conn.execute(
                sa.select(t.network_segments).where(_seg.network_id == network_id)
                .order_by(_seg.segment_index)
            )
        ]

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.is_admin else [common.network_visible_clause(ctx)]
            rows, more = select_page(
                conn, LIST_SPEC, q, extra_where=extra,
                marker_not_found=lambda m: exc.NetworkNotFound(net_id=m),
            )
            return self.to_dicts(conn, rows), more

        return self.db.read(run)

    def get(self, ctx: Context, network_id: str) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            return self.to_dicts(conn, [self.network_row(conn, ctx, network_id)])[0]

        return self.db.read(run)

    # --- writing -----------------------------------------------------------------------
    def _requested_segments(self, data: dict[str, Any]) -> list[dict[str, Any]] | None:
        provider = {k: data.get(k) for k in SEGMENT_KEYS if data.get(k, AUTO) is not AUTO}
        multi = data.get("segments", AUTO)
        if provider and multi is not AUTO:
            raise exc.InvalidInput(error_message="Segments and provider values cannot both "
                                   "be set.")
        if multi is not AUTO:
            if not multi:
                raise exc.InvalidInput(error_message="Segments must not be empty.")
            segs = [
                _segment(s.get("provider:network_type"), s.get("provider:physical_network"),
                         s.get("provider:segmentation_id"))
                for s in multi
            ]
            for i, a in enumerate(segs):
                for b in segs[i + 1:]:
                    if a == b:
                        raise exc.InvalidInput(error_message="Duplicate segment entry in "
                                               "request.")
            return [self.types.validate_provider_segment(s) for s in segs]
        if provider:
            seg = _segment(provider.get("provider:network_type"),
                           provider.get("provider:physical_network"),
                           provider.get("provider:segmentation_id"))
            if seg["network_type"] is None:
                raise exc.InvalidInput(error_message="network_type required")
            return [self.types.validate_provider_segment(seg)]
        return None

    def _insert(self, conn: Connection, ctx: Context, data: dict[str, Any],
                requested: list[dict[str, Any]] | None) -> tuple[dict[str, Any], DriverContext]:
        if requested is None:
            segments = [self.types.allocate_tenant_segment(conn)]
        else:
            segments = [self.types.reserve_provider_segment(conn, s) for s in requested]
        max_mtu = self.types.get_network_mtu(segments)
        mtu = data.get("mtu", AUTO)
        if mtu is AUTO or mtu is None:
            mtu = max_mtu
        elif max_mtu and mtu > max_mtu:
            raise exc.InvalidInput(
                error_message=f"Requested MTU is too big, maximum is {max_mtu}"
            )
        ts = common.now()
        net_id = common.new_id()
        conn.execute(sa.insert(t.networks).values(
            id=net_id, project_id=data["project_id"], name=data["name"], status="ACTIVE",
            admin_state_up=data["admin_state_up"], shared=data["shared"], mtu=mtu,
            description=data["description"], created_at=ts, updated_at=ts, revision_number=0,
        ))
        conn.execute(sa.insert(t.network_segments), [
            {"id": common.new_id(), "network_id": net_id, "segment_index": i, **seg}
            for i, seg in enumerate(segments)
        ])
        row = conn.execute(sa.select(t.networks).where(_n.id == net_id)).one()
        current = self._dict(row, segments, [])
        dctx = DriverContext("network", current, None, ctx, segments=segments)
        self.precommit("create_network_precommit", dctx, conn)
        return current, dctx

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        requested = [self._requested_segments(d) for d in items]

        def run(conn: Connection) -> list[tuple[dict[str, Any], DriverContext]]:
            return [self._insert(conn, ctx, d, r) for d, r in zip(items, requested, strict=True)]

        created = self.db.write(run)
        try:
            for _, dctx in created:
                self.mech.call("create_network_postcommit", dctx)
        except exc.NeutronError:
            for net, _ in created:
                self._delete(ctx, net["id"], force=True)
            raise
        return [net for net, _ in created]

    def create(self, ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [data])[0]

    def update(self, ctx: Context, network_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> tuple[dict[str, Any], DriverContext]:
            row = self.network_row(conn, ctx, network_id, for_update=True)
            if not ctx.is_admin and row.project_id != ctx.project_id:
                raise exc.PolicyNotAuthorized(action="update_network")
            original = self.to_dicts(conn, [row])[0]
            segments = self.segments(conn, network_id)
            provider = {k: data.pop(k) for k in list(data) if k in SEGMENT_KEYS}
            if data.pop("segments", AUTO) is not AUTO or any(
                original.get(k) != v for k, v in provider.items()
            ):
                raise exc.InvalidInput(
                    error_message="Plugin does not support updating provider attributes"
                )
            values: dict[str, Any] = {
                k: data[k] for k in ("name", "admin_state_up", "shared", "description")
                if k in data
            }
            if "mtu" in data:
                max_mtu = self.types.get_network_mtu(segments)
                if max_mtu and data["mtu"] > max_mtu:
                    raise exc.InvalidInput(
                        error_message=f"Requested MTU is too big, maximum is {max_mtu}"
                    )
                values["mtu"] = data["mtu"]
            if values.get("shared") is False and row.shared:
                self._check_unshare(conn, row)
            if values:
                values["updated_at"] = common.now()
                values["revision_number"] = row.revision_number + 1
                conn.execute(sa.update(t.networks).where(_n.id == network_id).values(**values))
            new_row = conn.execute(sa.select(t.networks).where(_n.id == network_id)).one()
            current = self.to_dicts(conn, [new_row])[0]
            dctx = DriverContext("network", current, original, ctx, segments=segments)
            self.precommit("update_network_precommit", dctx, conn)
            return current, dctx

        current, dctx = self.db.write(run)
        self.mech.call("update_network_postcommit", dctx)
        return current

    @staticmethod
    def _check_unshare(conn: Connection, row: Any) -> None:
        p = t.ports.c
        other = conn.execute(
            sa.select(p.id).where(
                p.network_id == row.id, p.project_id != row.project_id,
                p.device_owner.not_in(AUTO_DELETE_PORT_OWNERS),
            ).limit(1)
        ).first()
        if other is not None:
            raise exc.InvalidSharedSetting(network=row.name or row.id)

    def delete(self, ctx: Context, network_id: str) -> None:
        self._delete(ctx, network_id, force=False)

    def _delete(self, ctx: Context, network_id: str, *, force: bool) -> None:
        def run(conn: Connection) -> DriverContext:
            row = self.network_row(conn, ctx, network_id, for_update=True)
            if not ctx.is_admin and row.project_id != ctx.project_id:
                raise exc.PolicyNotAuthorized(action="delete_network")
            p = t.ports.c
            if not force:
                in_use = conn.execute(
                    sa.select(p.id).where(
                        p.network_id == network_id,
                        p.device_owner.not_in(AUTO_DELETE_PORT_OWNERS),
                    ).limit(1)
                ).first()
                if in_use is not None:
                    raise exc.NetworkInUse(net_id=network_id)
            current = self.to_dicts(conn, [row])[0]
            segments = self.segments(conn, network_id)
            dctx = DriverContext("network", current, None, ctx, segments=segments)
            self.precommit("delete_network_precommit", dctx, conn)
            # owned ports, subnets (their pools, routes, nameservers and allocations go by
            # cascade), segments back to their pools, then the network
            conn.execute(sa.delete(t.ip_allocations).where(
                t.ip_allocations.c.network_id == network_id))
            conn.execute(sa.delete(t.ports).where(p.network_id == network_id))
            conn.execute(sa.delete(t.subnets).where(t.subnets.c.network_id == network_id))
            for seg in segments:
                self.types.release_segment(conn, seg)
            conn.execute(sa.delete(t.network_segments).where(_seg.network_id == network_id))
            conn.execute(sa.delete(t.networks).where(_n.id == network_id))
            return dctx

        dctx = self.db.write(run)
        # The network is gone; a driver that failed to clean up reconciles later.
        with contextlib.suppress(exc.NeutronError):
            self.mech.call("delete_network_postcommit", dctx)
