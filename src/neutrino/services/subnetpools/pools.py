"""Subnet pools (/v2.0/subnetpools) and the allocation of subnets from them.

A pool's allocations are its subnets (subnets.subnetpool_id): there is no second record
to keep in step. Whatever reads them to decide (an allocation, a prefix removal, the
pool's deletion) first locks the pool's row, so two API processes allocating from one
pool take turns and the second sees the first's subnet (READ COMMITTED; SQLite has one
writer at a time anyway).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records, standard_attrs, tags
from neutrino.core.quotas import QuotaService, count_by_project
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import ListSpec
from neutrino.exceptions import subnetpools as errors
from neutrino.schema import subnetpool as schema
from neutrino.schema.base import AUTO
from neutrino.services.subnetpools import prefixes as px
from neutrino.services.subnetpools.rbac import entry_exists, insert_wildcard
from neutrino.services.subnetpools.scopes import scope_row
from neutrino.services.subnetpools.shareable import Shareable, ShareableService

_p = t.subnetpools.c
_x = t.subnetpool_prefixes.c
_s = t.subnets.c

LIST_SPEC = ListSpec(table=t.subnetpools)
STANDARD_ATTRS = standard_attrs.register(
    "subnetpools", "subnetpool", LIST_SPEC,
    lambda id_: exc.SubnetPoolNotFound(subnetpool_id=id_))
POOLS = Shareable(schema.resource(), LIST_SPEC, t.subnetpool_rbacs,
                  lambda id_: exc.SubnetPoolNotFound(subnetpool_id=id_))
pool_row = POOLS.row

DEFAULT_EXISTS = ("A default subnetpool for this IP family has already been set. Only one "
                  "default may exist per IP family")


def pool_prefixes(conn: Connection, pool_id: str) -> list[px.Net]:
    return sorted(px.parse(conn.scalars(sa.select(_x.cidr).where(_x.subnetpool_id == pool_id))))


def allocated(conn: Connection, pool_id: str) -> list[tuple[px.Net, str | None]]:
    """The pool's subnets: (cidr, project)."""
    return [(ipaddress.ip_network(r.cidr), r.project_id) for r in conn.execute(
        sa.select(_s.cidr, _s.project_id).where(_s.subnetpool_id == pool_id))]


def _write_prefixes(conn: Connection, pool_id: str, nets: list[px.Net]) -> None:
    conn.execute(sa.delete(t.subnetpool_prefixes).where(_x.subnetpool_id == pool_id))
    conn.execute(sa.insert(t.subnetpool_prefixes),
                 [{"subnetpool_id": pool_id, "cidr": str(n)} for n in nets])


class SubnetPoolService(ShareableService):
    objects = POOLS

    def __init__(self, db: Database, quotas: QuotaService | None = None) -> None:
        super().__init__(db)
        self.quotas = quotas  # None: no quota enforcement

    # --- reading -----------------------------------------------------------------------
    def to_dicts(self, conn: Connection, rows: list[Any], ctx: Context | None = None
                 ) -> list[dict[str, Any]]:
        out = POOLS.dicts(conn, rows, ctx)
        if out:
            nets: dict[str, list[px.Net]] = defaultdict(list)
            for r in conn.execute(sa.select(_x.subnetpool_id, _x.cidr)
                                  .where(_x.subnetpool_id.in_([d["id"] for d in out]))):
                nets[r.subnetpool_id].append(ipaddress.ip_network(r.cidr))
            for d in out:
                d["prefixes"] = [str(n) for n in sorted(nets[d["id"]])]  # type: ignore[type-var]
        return out

    # --- checks shared by create and update --------------------------------------------
    @staticmethod
    def _check_scope(conn: Connection, ctx: Context, pool_id: str, project: str | None,
                     version: int, nets: list[px.Net], scope_id: str | None) -> None:
        """A pool joins a scope it may use (its own or a shared one, or any for an
        admin), of its IP version, where no other pool has any of its addresses."""
        if scope_id is None:
            return
        scope = scope_row(conn, ctx, scope_id, lock=True)
        shared_with = project is not None and conn.scalar(sa.select(entry_exists(
            t.address_scope_rbacs, t.address_scopes.c.id, project)).where(
            t.address_scopes.c.id == scope_id))
        if not (ctx.is_admin or scope.shared or scope.project_id == project or shared_with):
            raise errors.IllegalSubnetPoolAssociationToAddressScope(
                subnetpool_id=pool_id, address_scope_id=scope_id)
        if scope.ip_version != version:
            raise errors.IllegalSubnetPoolIpVersionAssociationToAddressScope(
                subnetpool_id=pool_id, address_scope_id=scope_id, ip_version=scope.ip_version)
        others = px.parse(conn.scalars(
            sa.select(_x.cidr).join(t.subnetpools, _p.id == _x.subnetpool_id)
            .where(_p.address_scope_id == scope_id, _p.id != pool_id)))
        if any(a.overlaps(b) for a in nets for b in others):
            raise errors.AddressScopePrefixConflict()

    @staticmethod
    def _check_update_allowed(conn: Connection, ctx: Context, pool_id: str,
                              scope_id: str | None) -> None:
        """Neutron's: a pool in an address scope is changed (its attributes, its prefixes
        by an action or an onboarding) only by an admin or the scope's owner; a project's
        pool an admin put in a shared scope keeps what the scope's owner allows."""
        if scope_id is None or ctx.is_admin:
            return
        scope = scope_row(conn, ctx, scope_id)  # one it cannot see: its 404, as Neutron's
        if scope.project_id != ctx.project_id:
            raise errors.IllegalSubnetPoolUpdate(
                reason=f"subnetpool {pool_id} cannot be updated when associated with "
                f"shared address scope {scope_id}")

    @staticmethod
    def _check_default(conn: Connection, pool_id: str, version: int) -> None:
        other = conn.scalar(sa.select(_p.id).where(_p.default_version == version,
                                                   _p.id != pool_id))
        if other is not None:
            raise exc.InvalidInput(error_message=DEFAULT_EXISTS)

    # --- writing -------------------------------------------------------------------------
    def _insert(self, conn: Connection, ctx: Context, d: dict[str, Any]) -> str:
        nets = px.parse(d["prefixes"])
        version = px.version_of(nets)
        nets = px.compact(nets)
        min_len = px.DEFAULT_MIN[version] if d["min_prefixlen"] is AUTO else d["min_prefixlen"]
        max_len = px.BITS[version] if d["max_prefixlen"] is AUTO else d["max_prefixlen"]
        default_len = min_len if d["default_prefixlen"] is AUTO else d["default_prefixlen"]
        px.check_bounds(version, min_len, max_len, default_len)
        pool_id = records.new_id()
        scope_id = None if d["address_scope_id"] is AUTO else d["address_scope_id"]
        self._check_scope(conn, ctx, pool_id, d["project_id"], version, nets, scope_id)
        if d["is_default"]:
            self._check_default(conn, pool_id, version)
        ts = records.now()
        conn.execute(sa.insert(t.subnetpools).values(
            id=pool_id, project_id=d["project_id"], name=d["name"], ip_version=version,
            default_prefixlen=default_len, min_prefixlen=min_len, max_prefixlen=max_len,
            shared=d["shared"], is_default=d["is_default"],
            default_version=version if d["is_default"] else None,
            default_quota=d["default_quota"], address_scope_id=scope_id,
            description=d["description"], created_at=ts, updated_at=ts, revision_number=1))
        _write_prefixes(conn, pool_id, nets)
        if d["shared"]:
            insert_wildcard(conn, t.subnetpool_rbacs, pool_id, d["project_id"])
        return pool_id

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            if self.quotas is not None:
                self.quotas.check(conn, "subnetpool", count_by_project(items))
            ids = [self._insert(conn, ctx, d) for d in items]
            return self.dicts_of(conn, ids, ctx)

        return self.db.write(run)

    def update(self, ctx: Context, pool_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            row = self.held(conn, ctx, pool_id)
            version = row.ip_version
            values: dict[str, Any] = {}
            old = pool_prefixes(conn, pool_id)
            nets = old
            if "prefixes" in data:
                nets = px.parse(data["prefixes"])
                if px.version_of(nets) != version:
                    raise errors.PrefixVersionMismatch()
                nets = px.compact(nets)
                if any(not px.covers(nets, o) for o in old):
                    raise errors.IllegalSubnetPoolPrefixUpdate(
                        msg="Existing prefixes must be a subset of the new prefixes")
            bounds = {k: (getattr(row, k) if data.get(k, AUTO) is AUTO else data[k])
                      for k in ("min_prefixlen", "max_prefixlen", "default_prefixlen")}
            px.check_bounds(version, bounds["min_prefixlen"], bounds["max_prefixlen"],
                            bounds["default_prefixlen"])
            values.update(bounds)
            self._check_update_allowed(conn, ctx, pool_id, row.address_scope_id)
            if "address_scope_id" in data and data["address_scope_id"] is not AUTO:
                values["address_scope_id"] = data["address_scope_id"]
                self._check_scope(conn, ctx, pool_id, row.project_id, version, nets,
                                  data["address_scope_id"])
            elif nets != old:
                self._check_scope(conn, ctx, pool_id, row.project_id, version, nets,
                                  row.address_scope_id)
            if "is_default" in data:
                values["is_default"] = data["is_default"]
                values["default_version"] = version if data["is_default"] else None
                if data["is_default"]:
                    self._check_default(conn, pool_id, version)
            for k in ("name", "description", "default_quota"):
                if k in data:
                    values[k] = data[k]
            values = {k: val for k, val in values.items() if val != getattr(row, k)}
            if values or nets != old:
                if nets != old:
                    _write_prefixes(conn, pool_id, nets)
                self.write_changes(conn, row, values)
            return self.dicts_of(conn, [pool_id], ctx)[0]

        return self.db.write(run)

    def change_prefixes(self, ctx: Context, pool_id: str, given: list[str], *, add: bool,
                        authorize: Any = None) -> dict[str, Any]:
        """PUT add_prefixes / remove_prefixes: the pool's prefixes afterwards. A prefix
        with subnets allocated from it cannot be removed."""
        def run(conn: Connection) -> dict[str, Any]:
            row = pool_row(conn, ctx, pool_id, lock=True)
            if authorize is not None:
                authorize(self.to_dicts(conn, [row], ctx)[0])
            old = pool_prefixes(conn, pool_id)
            change = px.parse(given)
            if change and px.version_of(change) != row.ip_version:
                raise errors.PrefixVersionMismatch()
            if change and (add or any(n.overlaps(o) for n in change for o in old)):
                # Neutron's actions update the pool (none for no prefixes or, removing,
                # none of the pool's)
                self._check_update_allowed(conn, ctx, pool_id, row.address_scope_id)
            if add:
                nets = px.compact([*old, *change])
                self._check_scope(conn, ctx, pool_id, row.project_id, row.ip_version, nets,
                                  row.address_scope_id)
            else:
                nets = px.subtract(old, change)
                if any(not px.covers(nets, net) for net, _ in allocated(conn, pool_id)):
                    raise errors.IllegalSubnetPoolPrefixUpdate(
                        msg="Cannot remove prefixes that have allocations in the pool")
                if not nets:
                    raise errors.IllegalSubnetPoolPrefixUpdate(
                        msg="a subnet pool must keep at least one prefix")
            if nets != old:
                _write_prefixes(conn, pool_id, nets)
                records.bump_revisions(conn, t.subnetpools, [pool_id])
            return {"prefixes": [str(n) for n in nets]}

        return self.db.write(run)

    def onboard(self, ctx: Context, pool_id: str, network_id: str | None, *,
                authorize: Any = None) -> list[dict[str, str]]:
        """PUT onboard_network_subnets (subnet_onboard): the network's subnets of the
        pool's IP version become allocations of the pool, their CIDRs its prefixes; the
        answer lists them (id, cidr), as Neutron's."""
        if not network_id:
            raise exc.InvalidInput(error_message="network_id must be specified.")

        def run(conn: Connection) -> list[dict[str, str]]:
            row = pool_row(conn, ctx, pool_id, lock=True)
            if authorize is not None:
                authorize(self.to_dicts(conn, [row], ctx)[0])
            if conn.scalar(sa.select(t.networks.c.id).where(
                    t.networks.c.id == network_id)) is None:
                raise exc.NetworkNotFound(net_id=network_id)
            subnets = conn.execute(sa.select(_s.id, _s.cidr).where(
                _s.network_id == network_id, _s.ip_version == row.ip_version,
                _s.subnetpool_id.is_distinct_from(pool_id)).order_by(_s.id)).all()
            taken = [n for n, _ in allocated(conn, pool_id)]
            for sub in subnets:
                net = ipaddress.ip_network(sub.cidr)
                if any(net.overlaps(o) for o in taken):
                    raise errors.IllegalSubnetPoolUpdate(
                        reason=f"Onboarding subnet {sub.id}: {sub.cidr} conflicts with "
                        f"allocated prefixes in subnetpool {pool_id}")
                taken.append(net)
            self._check_update_allowed(conn, ctx, pool_id, row.address_scope_id)
            if subnets:
                old = pool_prefixes(conn, pool_id)
                nets = px.compact([*old, *(ipaddress.ip_network(s.cidr) for s in subnets)])
                self._check_scope(conn, ctx, pool_id, row.project_id, row.ip_version, nets,
                                  row.address_scope_id)
                if nets != old:
                    _write_prefixes(conn, pool_id, nets)
                    records.bump_revisions(conn, t.subnetpools, [pool_id])
                ids = [s.id for s in subnets]
                conn.execute(sa.update(t.subnets).where(_s.id.in_(ids)).values(
                    subnetpool_id=pool_id, revision_number=_s.revision_number + 1,
                    updated_at=records.now()))
                records.bump_revisions(conn, t.networks, [network_id])
            return [{"id": s.id, "cidr": s.cidr} for s in subnets]

        return self.db.write(run)

    def delete(self, ctx: Context, pool_id: str) -> None:
        def run(conn: Connection) -> None:
            self.held(conn, ctx, pool_id)
            if conn.scalar(sa.select(_s.id).where(_s.subnetpool_id == pool_id).limit(1)):
                raise errors.SubnetPoolDeleteError(
                    reason="Subnet pool has existing allocations")
            tags.delete_of(conn, [pool_id])
            conn.execute(sa.delete(t.subnetpools).where(_p.id == pool_id))

        self.db.write(run)

    # --- allocation (in the subnet create's transaction) -------------------------------
    def allocate(self, conn: Connection, ctx: Context, network_id: str,
                 data: dict[str, Any], cidr: str | None) -> tuple[str | None, str | None]:
        """The subnet's (cidr, subnetpool_id): ``cidr`` as asked when no pool is named,
        else a prefix of the pool (the one asked, if free, or the first free one of
        ``prefixlen``, the pool's default_prefixlen unless given)."""
        version = data["ip_version"]
        pool_id = data.get("subnetpool_id")
        if data.get("use_default_subnetpool"):
            if pool_id:
                raise exc.BadRequest(resource="subnets", msg="subnetpool_id and "
                                     "use_default_subnetpool cannot both be specified")
            pool_id = conn.scalar(sa.select(_p.id).where(_p.default_version == version))
            if pool_id is None:
                raise exc.BadRequest(resource="subnets",
                                     msg=f"No default subnetpool found for IPv{version}")
        if not pool_id:
            self._check_affinity(conn, network_id, version, None)
            return cidr, None
        # the pool (404 first, as Neutron reads it first), locked until the commit
        row = pool_row(conn, ctx, pool_id, lock=True)
        if row.ip_version != version:
            raise exc.BadRequest(resource="subnets", msg=f"Cannot allocate IPv{version} "
                                 f"subnet from IPv{row.ip_version} subnet pool")
        self._check_affinity(conn, network_id, version, pool_id)
        taken = allocated(conn, pool_id)
        if cidr is not None:
            want = ipaddress.ip_network(cidr)
            self._check_length(row, want.prefixlen)
            free = px.subtract(pool_prefixes(conn, pool_id), [n for n, _ in taken])
            if not px.covers(free, want):
                raise errors.SubnetAllocationError(
                    reason="Cannot allocate requested subnet from the available set of "
                    "prefixes")
            got = want
        else:
            length = row.default_prefixlen if data.get("prefixlen", AUTO) is AUTO \
                else data["prefixlen"]
            self._check_length(row, length)
            free = px.subtract(pool_prefixes(conn, pool_id), [n for n, _ in taken])
            found = px.first_fit(free, length)
            if found is None:
                raise errors.SubnetAllocationError(
                    reason=f"Insufficient prefix space to allocate subnet size /{length}")
            got = found
        if row.default_quota is not None:
            project = data.get("project_id")
            used = sum(px.quota_units(n) for n, p in taken if p == project)
            if used + px.quota_units(got) > row.default_quota:
                raise errors.SubnetPoolQuotaExceeded()
        return str(got), pool_id

    @staticmethod
    def _check_length(row: Any, length: int) -> None:
        if length < row.min_prefixlen:
            raise errors.MinPrefixSubnetAllocationError(
                prefixlen=length, min_prefixlen=row.min_prefixlen)
        if length > row.max_prefixlen:
            raise errors.MaxPrefixSubnetAllocationError(
                prefixlen=length, max_prefixlen=row.max_prefixlen)

    @staticmethod
    def _check_affinity(conn: Connection, network_id: str, version: int,
                        pool_id: str | None) -> None:
        """A network's subnets of one IP version come from one pool (or none)."""
        others = set(conn.scalars(sa.select(_s.subnetpool_id).distinct().where(
            _s.network_id == network_id, _s.ip_version == version)))
        if others and others != {pool_id or None}:
            raise errors.NetworkSubnetPoolAffinityError()
