"""Networks: segments from the type drivers, MTU, sharing, deletion with owned ports."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import constants as const
from neutrino import exceptions as exc
from neutrino.constants import AUTO_DELETE_PORT_OWNERS
from neutrino.context import Context
from neutrino.core import rbac_sql, records, standard_attrs, tags, visibility
from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.common import Service
from neutrino.core.extensions import ExtensionManager
from neutrino.core.ipam import subnet_math as sm
from neutrino.core.mech.base import DriverContext
from neutrino.core.types.manager import TypeManager
from neutrino.db import tables as t
from neutrino.db.listing import (
    ListQuery,
    ListSpec,
    fetch_page,
    of_rows,
    page_ids,
    page_statement,
)
from neutrino.db.rowdict import RowDict
from neutrino.schema import network as network_schema
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
    },
)
ROW_DICT = RowDict(network_schema.resource())
STANDARD_ATTRS = standard_attrs.register(
    "networks", "network", LIST_SPEC, lambda id_: exc.NetworkNotFound(net_id=id_))


def _segment(network_type: Any, physnet: Any, seg_id: Any) -> dict[str, Any]:
    return {"network_type": network_type, "physical_network": physnet,
            "segmentation_id": seg_id}


def _segment_fields(d: dict[str, Any], segments: list[dict[str, Any]]) -> None:
    """provider:* of a network of one segment (null without segments), or the
    multi-provider ``segments`` of one of several."""
    if len(segments) == 1:
        for key, value in segments[0].items():
            d[f"provider:{key}"] = value
    elif segments:
        d["segments"] = [{f"provider:{k}": v for k, v in seg.items()} for seg in segments]
    else:
        for key in SEGMENT_KEYS:
            d[key] = None


class NetworkService(Service):
    def __init__(self, *args: Any, types: TypeManager, extensions: ExtensionManager,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.types = types
        # attributes other services keep (router:external, address scopes)
        self.extensions = extensions

    # --- reading -----------------------------------------------------------------------
    def to_dicts(self, conn: Connection, rows: list[Any],
                 page: sa.Subquery | None = None) -> list[dict[str, Any]]:
        """API dicts of network rows; ``page`` (listing.page_ids) selects the same
        networks' ids, to fetch segments and subnets without a bind parameter per row."""
        if not rows:
            return []
        ids = [r.id for r in rows]
        segments: dict[str, list[dict[str, Any]]] = {}
        for network_id, network_type, physnet, seg_id in conn.execute(
            sa.select(_seg.network_id, _seg.network_type, _seg.physical_network,
                      _seg.segmentation_id).where(of_rows(_seg.network_id, ids, page))
            .order_by(_seg.network_id, _seg.segment_index)
        ):
            segments.setdefault(network_id, []).append(_segment(network_type, physnet, seg_id))
        subnets: dict[str, list[str]] = {}
        sc = t.subnets.c
        for subnet_id, network_id in conn.execute(
            sa.select(sc.id, sc.network_id).where(of_rows(sc.network_id, ids, page))
            .order_by(sc.created_at, sc.id)
        ):
            subnets.setdefault(network_id, []).append(subnet_id)
        tags_of = tags.load(conn, ids, page)
        out = ROW_DICT(rows)
        for d in out:
            id_ = d["id"]
            d["subnets"] = subnets.get(id_, [])
            d["tags"] = tags_of.get(id_) or []
            _segment_fields(d, segments.get(id_, []))
        self.extensions.call("extend_network_dicts", conn, rows, out, page)
        return out

    def segments(self, conn: Connection, network_id: str) -> list[dict[str, Any]]:
        return [
            _segment(s.network_type, s.physical_network, s.segmentation_id)
            for s in conn.execute(
                sa.select(t.network_segments).where(_seg.network_id == network_id)
                .order_by(_seg.segment_index)
            )
        ]

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        # `shared` is the caller's view of the network's RBAC entries: a column and a
        # filter of this request's own
        spec = dataclasses.replace(
            LIST_SPEC, select_from=[t.networks, visibility.network_shared_column(ctx.project_id)],
            custom_filters={**LIST_SPEC.custom_filters,
                            **self.extensions.filters("network"),
                            "shared": lambda v: visibility.network_shared_filter(ctx, v)})

        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.sees_all else [visibility.network_visible_clause(ctx)]
            stmt = page_statement(
                conn, spec, q, extra_where=extra,
                marker_not_found=lambda m: exc.NetworkNotFound(net_id=m),
            )
            rows, more = fetch_page(conn, stmt, q)
            return self.to_dicts(conn, rows, page_ids(spec, stmt, q)), more

        return self.db.read(run)

    def get(self, ctx: Context, network_id: str) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            return self.to_dicts(conn, [self.network_row(conn, ctx, network_id)])[0]

        return self.db.read(run)

    # --- writing -----------------------------------------------------------------------
    def _requested_segments(self, data: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The provider / multi-provider request as validated segments, or None for a
        project network (the type manager chooses). Absent and null are both "not set"."""
        provider = {k: data.get(k) for k in SEGMENT_KEYS
                    if data.get(k, AUTO) is not AUTO and data.get(k) is not None}
        multi = data.get("segments", AUTO)
        if provider and multi not in (AUTO, None):
            raise exc.SegmentsSetInConjunctionWithProviders()
        if provider:
            seg = _segment(provider.get("provider:network_type"),
                           provider.get("provider:physical_network"),
                           provider.get("provider:segmentation_id"))
            if seg["network_type"] is None:
                raise exc.InvalidInput(error_message="network_type required")
            return [self.types.validate_provider_segment(seg)]
        if multi in (AUTO, None) or not multi:
            return None
        segs = []
        for s in multi:
            seg = _segment(s["provider:network_type"], s["provider:physical_network"],
                           s["provider:segmentation_id"])
            if not seg["network_type"]:
                raise exc.InvalidInput(error_message="network_type required")
            segs.append(self.types.validate_provider_segment(seg))
        full = [tuple(sorted(s.items())) for s in segs if not self.types.is_partial_segment(s)]
        if len(set(full)) != len(full):
            raise exc.SegmentsContainDuplicateEntry()
        return segs

    def _max_mtu(self, segments: list[dict[str, Any]]) -> int:
        # Segments without an MTU of their own (local) leave the deployment's.
        return self.types.get_network_mtu(segments) or int(self.conf.global_physnet_mtu)

    def _insert(self, conn: Connection, ctx: Context, data: dict[str, Any],
                requested: list[dict[str, Any]] | None) -> tuple[dict[str, Any], DriverContext]:
        if requested is None:
            segments = [self.types.allocate_tenant_segment(conn)]
        else:
            segments = [self.types.reserve_provider_segment(conn, s) for s in requested]
        max_mtu = self._max_mtu(segments)
        mtu = data.get("mtu", AUTO)
        if mtu is AUTO or not mtu:  # 0: "compute it"
            mtu = max_mtu
        elif max_mtu and mtu > max_mtu:
            raise exc.InvalidInput(
                error_message=f"Requested MTU is too big, maximum is {max_mtu}"
            )
        ts = records.now()
        net_id = records.new_id()
        conn.execute(sa.insert(t.networks).values(
            id=net_id, project_id=data["project_id"], name=data["name"], status="ACTIVE",
            admin_state_up=data["admin_state_up"], mtu=mtu,
            description=data["description"], created_at=ts, updated_at=ts, revision_number=1,
            port_security_enabled=data.get("port_security_enabled", True),
        ))
        if data["shared"]:
            # shared with everyone: the wildcard entry, owned by the network's project
            self._insert_wildcard(conn, net_id, data["project_id"])
        conn.execute(sa.insert(t.network_segments), [
            {"id": records.new_id(), "network_id": net_id, "segment_index": i, **seg,
             "created_at": ts, "updated_at": ts, "revision_number": 1}  # standard-attr-segment
            for i, seg in enumerate(segments)
        ])
        row = conn.execute(visibility.network_select(ctx).where(_n.id == net_id)).one()
        current = {**ROW_DICT.one(row), "subnets": [], "tags": []}
        _segment_fields(current, segments)
        self.extensions.call("process_create_network", ctx, conn, data, current)
        dctx = DriverContext("network", current, None, ctx, segments=segments)
        self.precommit("create_network_precommit", dctx, conn)
        return current, dctx

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        requested = [self._requested_segments(d) for d in items]

        def run(conn: Connection) -> list[tuple[dict[str, Any], DriverContext]]:
            self.check_quota(conn, "network", items)
            return [self._insert(conn, ctx, d, r) for d, r in zip(items, requested, strict=True)]

        created = self.db.write(run)
        try:
            for _, dctx in created:
                self.postcommit("create_network_postcommit", dctx)
        except exc.NeutronError:
            for net, _ in created:
                self._delete(ctx, net["id"], force=True)
            raise
        return [net for net, _ in created]

    def update(self, ctx: Context, network_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> tuple[dict[str, Any], DriverContext]:
            row = self.network_row(conn, ctx, network_id, for_update=True)
            records.check_revision(ctx, row)
            original = self.to_dicts(conn, [row])[0]
            segments = self.segments(conn, network_id)
            # Neutron's order: provider attributes, sharing, then the MTU.
            self._update_provider(conn, original, segments, data)
            values: dict[str, Any] = {
                k: data[k] for k in ("name", "admin_state_up", "description",
                                     "port_security_enabled")
                if k in data and data[k] != getattr(row, k)
            }
            sharing_changed = "shared" in data and self._update_sharing(
                conn, row, data["shared"])
            if self.extensions.call("process_update_network", ctx, conn, data, row, original):
                sharing_changed = True  # as a change of sharing: a new revision
            if "mtu" in data:
                sm.check_network_mtu(network_id, data["mtu"], conn.scalars(
                    sa.select(t.subnets.c.ip_version).where(
                        t.subnets.c.network_id == network_id)))
                max_mtu = self._max_mtu(segments)
                if data["mtu"] and max_mtu and data["mtu"] > max_mtu:
                    raise exc.InvalidInput(
                        error_message=f"Requested MTU is too big, maximum is {max_mtu}"
                    )
                if (data["mtu"] or max_mtu) != row.mtu:
                    values["mtu"] = data["mtu"] or max_mtu
            if values or sharing_changed or segments != self.segments(conn, network_id):
                # only a real change is a new revision (one, whatever changed)
                records.revise(conn, t.networks, row, values)
            new_row = conn.execute(
                visibility.network_select(ctx).where(_n.id == network_id)).one()
            current = self.to_dicts(conn, [new_row])[0]
            dctx = DriverContext("network", current, original, ctx,
                                 segments=self.segments(conn, network_id))
            self.precommit("update_network_precommit", dctx, conn)
            return current, dctx

        current, dctx = self.db.write(run)
        self.postcommit("update_network_postcommit", dctx)
        return current

    def _update_provider(self, conn: Connection, original: dict[str, Any],
                         segments: list[dict[str, Any]], data: dict[str, Any]) -> None:
        """ML2 changes nothing of a network's segments but a single VLAN segment's id;
        asking for another change with a different value is refused. (A multi-provider
        `segments` update is ignored, as ML2 ignores it.)"""
        data.pop("segments", None)
        provider = {k: data.pop(k) for k in list(data) if k in SEGMENT_KEYS}
        for key in ("provider:network_type", "provider:physical_network"):
            if provider.get(key) is not None and provider[key] != original.get(key):
                raise exc.InvalidInput(
                    error_message="Plugin does not support updating the following provider "
                    "network attributes: provider:network_type, provider:physical_network")
        seg_id = provider.get("provider:segmentation_id")
        if not seg_id:
            return
        if len(segments) > 1:
            raise exc.InvalidInput(
                error_message="Provider network attributes can be updated only in provider "
                "networks with a single segment.")
        old = segments[0]
        if old["network_type"] != "vlan":
            raise exc.InvalidInput(error_message="Only VLAN type networks can be updated.")
        if seg_id == old["segmentation_id"]:
            return
        new = self.types.validate_provider_segment(
            _segment("vlan", old["physical_network"], seg_id))
        new = self.types.reserve_provider_segment(conn, new)
        conn.execute(sa.update(t.network_segments).where(
            _seg.network_id == original["id"], _seg.segment_index == 0,
        ).values(segmentation_id=new["segmentation_id"], updated_at=records.now(),
                 revision_number=_seg.revision_number + 1))  # the segment's revision
        self.types.release_segment(conn, old)

    @staticmethod
    def _insert_wildcard(conn: Connection, network_id: str, project_id: str | None) -> None:
        conn.execute(sa.insert(t.network_rbacs).values(
            id=records.new_id(), project_id=project_id, object_id=network_id,
            target_project=rbac_sql.WILDCARD, action=rbac_sql.ACCESS_SHARED))

    def _update_sharing(self, conn: Connection, row: Any, shared: bool) -> bool:
        """``shared`` on update is the wildcard access_as_shared entry: true adds it, false
        removes it (entries for particular projects stay). Whether anything changed."""
        r = t.network_rbacs.c
        wildcard = sa.and_(r.object_id == row.id, r.target_project == rbac_sql.WILDCARD,
                           r.action == rbac_sql.ACCESS_SHARED)
        exists = conn.execute(sa.select(r.id).where(wildcard)).first() is not None
        if shared == exists:
            return False
        if shared:
            self._insert_wildcard(conn, row.id, row.project_id)
        else:
            self._check_unshare(conn, row)
            conn.execute(sa.delete(t.network_rbacs).where(wildcard))
        return True

    @staticmethod
    def _check_unshare(conn: Connection, row: Any) -> None:
        """A network stops being shared with everyone only if no other project uses it:
        holds a port on it (the network's own "network:*" ports aside) or a subnet,
        unless an entry shares the network with that project in particular."""
        p = t.ports.c
        s = t.subnets.c
        r = t.network_rbacs.c
        allowed = sa.select(r.target_project).where(
            r.object_id == row.id, r.action == rbac_sql.ACCESS_SHARED,
            r.target_project != rbac_sql.WILDCARD)
        other_port = sa.select(p.id).where(
            p.network_id == row.id, p.project_id != row.project_id,
            p.project_id.not_in(allowed),
            sa.not_(p.device_owner.startswith(const.DEVICE_OWNER_NETWORK_PREFIX)))
        other_subnet = sa.select(s.id).where(s.network_id == row.id,
                                             s.project_id != row.project_id,
                                             s.project_id.not_in(allowed))
        if conn.execute(other_port.union_all(other_subnet).limit(1)).first() is not None:
            raise exc.InvalidSharedSetting(network=row.name)

    def delete(self, ctx: Context, network_id: str) -> None:
        self._delete(ctx, network_id, force=False)

    def _delete(self, ctx: Context, network_id: str, *, force: bool) -> None:
        def run(conn: Connection) -> DriverContext:
            row = self.network_row(conn, ctx, network_id, for_update=True)
            records.check_revision(ctx, row)
            # before the ports-in-use check: the service's own refusal comes first
            self.registry.publish(Resource.NETWORK, Event.BEFORE_DELETE, self, Payload(
                context=ctx, resource_id=network_id, states=(row,), conn=conn))
            p = t.ports.c
            if not force:
                in_use = list(conn.scalars(sa.select(p.id).where(
                    p.network_id == network_id,
                    p.device_owner.not_in(AUTO_DELETE_PORT_OWNERS),
                )))
                if in_use:
                    raise exc.NetworkInUse(
                        net_id=network_id,
                        reason="There are one or more ports still in use on the network, "
                        f"id for these ports is: {','.join(in_use)}")
            current = self.to_dicts(conn, [row])[0]
            segments = self.segments(conn, network_id)
            dctx = DriverContext("network", current, None, ctx, segments=segments)
            self.precommit("delete_network_precommit", dctx, conn)
            # owned ports, subnets (their pools, routes, nameservers and allocations go by
            # cascade), segments back to their pools, then the network
            conn.execute(sa.delete(t.ip_allocations).where(
                t.ip_allocations.c.network_id == network_id))
            # whose tags go with them, once they are gone (see core.tags.delete_of)
            tagged = [network_id, *conn.scalars(sa.union_all(
                sa.select(p.id).where(p.network_id == network_id),
                sa.select(t.subnets.c.id).where(t.subnets.c.network_id == network_id),
                sa.select(_seg.id).where(_seg.network_id == network_id)))]
            conn.execute(sa.delete(t.ports).where(p.network_id == network_id))
            conn.execute(sa.delete(t.subnets).where(t.subnets.c.network_id == network_id))
            for seg in segments:
                self.types.release_segment(conn, seg)
            conn.execute(sa.delete(t.network_segments).where(_seg.network_id == network_id))
            conn.execute(sa.delete(t.network_rbacs).where(
                t.network_rbacs.c.object_id == network_id))
            conn.execute(sa.delete(t.networks).where(_n.id == network_id))
            tags.delete_of(conn, tagged)
            return dctx

        dctx = self.db.write(run)
        # The network is gone; a driver that failed to clean up reconciles later.
        with contextlib.suppress(exc.NeutronError):
            self.postcommit("delete_network_postcommit", dctx)
