"""RBAC policies (/v2.0/rbac-policies): a network's owner lets other projects use it.

An entry (network_rbacs row) grants ``target_project`` (or "*", every project) an action
on a network:

- access_as_shared: the project sees the network (``shared: true`` for it) and plugs
  ports into it;
- access_as_external: the project sees the network, to use it as a router gateway and
  for floating IPs (services/l3/). As Neutron's, an entry on a network that is not
  external makes it ``router:external``, and removing or retargeting an entry is refused
  while routers of the project losing access have their gateway there.

As in Neutron, entries belong to the project that created them and only that project (and
admins) sees them; the target project does not. Removing or retargeting an entry is
refused while the project losing access still has ports on the network.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records
from neutrino.core.common import BulkCreate
from neutrino.core.networks import NetworkService
from neutrino.core.quotas import QuotaService, count_by_project
from neutrino.core.rbac_sql import ACCESS_EXTERNAL, ACCESS_SHARED, WILDCARD
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import ListQuery
from neutrino.schema.rbac import OBJECT_ACTIONS
from neutrino.services.subnetpools.rbac import RbacEntries

_r = t.network_rbacs.c
_x = t.external_networks.c
OBJECT_TYPE = "network"  # the only object type so far: every row is a network's

# Neutron runs these checks as callbacks and reports their failures wrapped, naming the
# callback; this is the name neutrino's messages give it.
_CALLBACK = "neutrino.services.rbac.RbacService.validate_network_policy_change"


def _callback_failure(error: exc.NeutronError) -> str:
    return f'Callback {_CALLBACK} failed with "{error.msg}"'


# network entries; other object types' live in tables of their own (ObjectRbac)
_ENTRIES = RbacEntries(OBJECT_TYPE, t.network_rbacs)


class RbacService(BulkCreate):
    def __init__(self, db: Database, networks: NetworkService,
                 quotas: QuotaService | None = None) -> None:
        self.db = db
        self.networks = networks
        self.quotas = quotas  # None: no quota enforcement
        # Other object types' entries (services/subnetpools/rbac.py ObjectRbac), by type,
        # registered by their plugins. Each has its own table; "network" is this
        # service's own.
        self.object_types: dict[str, Any] = {}

    def register_object_type(self, name: str, handler: Any) -> None:
        self.object_types[name] = handler

    # --- reading -----------------------------------------------------------------------
    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        # Pagination is off for this collection, as in Neutron: limit and marker are
        # ignored (and no links are shown).
        q.limit = q.marker = None
        q.page_reverse = False

        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            return [d for handler in (_ENTRIES, *self.object_types.values())
                    for d in handler.list(conn, ctx, q)], False

        return self.db.read(run)

    @staticmethod
    def _row(conn: Connection, ctx: Context, policy_id: str, *, lock: bool = False) -> Any:
        """The entry if the caller may see it (its owner, or an admin). One it may not
        see answers as no entry does, type "unknown" (Neutron names the type of someone
        else's entry, which tells that it exists).
        ``lock``: held until the commit and read once held (then its network is locked:
        db/locks.py), so that the project checked for ports is the entry's target as the
        last change of it left it."""
        if lock:
            locks.lock(conn, t.network_rbacs, [policy_id])
        row = _ENTRIES.find(conn, policy_id)
        if row is None or not (ctx.sees_all or row.project_id == ctx.project_id):
            raise exc.RbacPolicyNotFound(id=policy_id, object_type="unknown")
        return row

    def _other(self, conn: Connection, ctx: Context, policy_id: str) -> tuple[Any, Any]:
        """(handler, row) of an entry on another object type than networks; (None,
        None) when there is none the caller may see."""
        for handler in self.object_types.values():
            row = handler.find(conn, policy_id)
            if row is not None and (ctx.sees_all or row.project_id == ctx.project_id):
                return handler, row
        return None, None

    def get(self, ctx: Context, policy_id: str) -> dict[str, Any]:
        def other(conn: Connection) -> dict[str, Any] | None:
            handler, row = self._other(conn, ctx, policy_id)
            return handler.to_dict(row) if handler is not None else None

        if self.object_types:
            found = self.db.read(other)
            if found is not None:
                return found
        return self.db.read(lambda conn: _ENTRIES.to_dict(self._row(conn, ctx, policy_id)))

    # --- checks on the network ----------------------------------------------------------
    def _network(self, conn: Connection, ctx: Context, network_id: str) -> Any:
        """The network an entry is about, as the caller sees it, locked against other
        changes of its sharing; raises NotFound."""
        return self.networks.network_row(conn, ctx, network_id, for_update=True)

    @staticmethod
    def _check_owner(ctx: Context, network: Any, action: str) -> None:
        # Neutron's own check (its RBAC callback), not a policy rule; is_admin is the
        # context_is_admin rule's verdict on the caller.
        if ctx.is_admin or network.project_id == ctx.project_id:
            return
        kind = "networks" if action in OBJECT_ACTIONS[OBJECT_TYPE] else "objects"
        raise exc.InvalidInput(
            error_message=f"Only admins can manipulate policies on {kind} they do not own")

    @staticmethod
    def _check_no_ports(conn: Connection, network: Any, project: str) -> None:
        """``project`` loses its access_as_shared access to ``network``: refused while it
        has ports there that no other entry (or owning the network) still allows."""
        if project == network.project_id:
            return  # sharing with oneself gives nothing that could be in use
        p = t.ports.c
        shared = sa.and_(_r.object_id == network.id, _r.action == ACCESS_SHARED)
        if project == WILDCARD:
            allowed = sa.select(_r.target_project).where(shared, _r.target_project != WILDCARD)
            users = sa.select(p.id).where(
                p.network_id == network.id, p.project_id.is_distinct_from(network.project_id),
                p.project_id != "", p.project_id.not_in(allowed))
        else:
            wildcard = conn.execute(sa.select(_r.id).where(
                shared, _r.target_project == WILDCARD)).first()
            if wildcard is not None:
                return
            users = sa.select(p.id).where(p.network_id == network.id, p.project_id == project)
        if conn.execute(users.limit(1)).first() is not None:
            raise exc.InvalidSharedSetting(network=network.id)

    @staticmethod
    def _check_no_gateways(conn: Connection, network: Any, project: str,
                           new_target: str | None = None) -> None:
        """``project`` loses its access_as_external access to ``network``: refused while
        routers of it have their gateway there that no other entry still allows.
        ``new_target``: the project an update gives the entry to instead, which keeps
        its access (Neutron: wildcard to a project whose router is the only one there)."""
        if project == network.project_id:
            return
        rt, p = t.routers.c, t.ports.c
        external = sa.and_(_r.object_id == network.id, _r.action == ACCESS_EXTERNAL)
        gateways = sa.select(rt.id).join(t.ports, p.id == rt.gw_port_id).where(
            p.network_id == network.id)
        if project == WILDCARD:
            allowed = sa.select(_r.target_project).where(external,
                                                         _r.target_project != WILDCARD)
            users = gateways.where(rt.project_id.is_distinct_from(network.project_id),
                                   rt.project_id.not_in(allowed))
            if new_target is not None:
                users = users.where(rt.project_id != new_target)
        else:
            if conn.execute(sa.select(_r.id).where(
                    external, _r.target_project == WILDCARD)).first() is not None:
                return
            users = gateways.where(rt.project_id == project)
        if conn.execute(users.limit(1)).first() is not None:
            raise exc.InvalidSharedSetting(network=network.id)

    @staticmethod
    def _check_unique(conn: Connection, network_id: str, target: str, action: str) -> None:
        # Checked before writing: the unique key alone would only make the transaction
        # rerun (a duplicate key is what a lost race looks like).
        if conn.execute(sa.select(_r.id).where(
            _r.object_id == network_id, _r.target_project == target, _r.action == action,
        )).first() is not None:
            raise exc.DuplicateRbacPolicy()

    # --- writing -------------------------------------------------------------------------
    def _insert(self, conn: Connection, ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
        network_id, action = data["object_id"], data["action"]
        handler = self.object_types.get(data["object_type"])
        if handler is not None:
            try:
                return handler.insert(conn, ctx, data)  # type: ignore[no-any-return]
            except (exc.NotFound, exc.InvalidInput) as e:
                raise exc.InvalidInput(error_message=_callback_failure(e)) from None
        try:
            network = self._network(conn, ctx, network_id)
            self._check_owner(ctx, network, action)
        except (exc.NotFound, exc.InvalidInput) as e:
            raise exc.InvalidInput(error_message=_callback_failure(e)) from None
        valid = OBJECT_ACTIONS[data["object_type"]]
        if action not in valid:
            raise exc.InvalidActionForType(action=action, object_type=data["object_type"],
                                           valid_actions=repr(valid))
        self._check_unique(conn, network_id, data["target_tenant"], action)
        if action == ACCESS_EXTERNAL and conn.execute(sa.select(_x.network_id).where(
                _x.network_id == network_id)).first() is None:
            # as Neutron: a network opened as external to a project becomes external
            conn.execute(sa.insert(t.external_networks).values(network_id=network_id))
        row = {"id": records.new_id(), "project_id": data["project_id"],
               "object_id": network_id, "target_project": data["target_tenant"],
               "action": action}
        conn.execute(sa.insert(t.network_rbacs).values(**row))
        return _ENTRIES.row_dict.of_values([row])[0]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            if self.quotas is not None:
                self.quotas.check(conn, "rbac_policy", count_by_project(items))
            created = [self._insert(conn, ctx, d) for d in items]
            # a new revision of each network, once however many entries it gained
            records.bump_revisions(conn, t.networks, sorted(
                {c["object_id"] for c in created if c["object_type"] == OBJECT_TYPE}))
            return created

        return self.db.write(run)

    def update(self, ctx: Context, policy_id: str, data: dict[str, Any]) -> dict[str, Any]:
        target = data.get("target_tenant")

        def run(conn: Connection) -> dict[str, Any]:
            handler, other = self._other(conn, ctx, policy_id)
            if handler is not None:
                if target is None or target == other.target_project:
                    return handler.to_dict(other)  # type: ignore[no-any-return]
                return handler.retarget(conn, ctx, other, target)  # type: ignore[no-any-return]
            row = self._row(conn, ctx, policy_id, lock=True)
            if target is None or target == row.target_project:
                return _ENTRIES.to_dict(row)
            self._check_default_external(conn, row)
            try:
                network = self._network(conn, ctx, row.object_id)
                self._check_owner(ctx, network, row.action)
                if row.action == ACCESS_SHARED:
                    self._check_no_ports(conn, network, row.target_project)
                else:
                    self._check_no_gateways(conn, network, row.target_project, target)
            except (exc.NotFound, exc.InvalidInput, exc.InvalidSharedSetting) as e:
                raise exc.RbacPolicyInUse(object_id=row.object_id,
                                          details=_callback_failure(e)) from None
            self._check_unique(conn, row.object_id, target, row.action)
            conn.execute(sa.update(t.network_rbacs).where(_r.id == policy_id)
                         .values(target_project=target))
            records.bump_revisions(conn, t.networks, [row.object_id])
            return _ENTRIES.to_dict(_ENTRIES.find(conn, policy_id))

        return self.db.write(run)

    def delete(self, ctx: Context, policy_id: str) -> None:
        def run(conn: Connection) -> None:
            handler, other = self._other(conn, ctx, policy_id)
            if handler is not None:
                handler.delete(conn, ctx, other)
                return
            row = self._row(conn, ctx, policy_id, lock=True)
            self._check_default_external(conn, row)
            if row.action in (ACCESS_SHARED, ACCESS_EXTERNAL):
                try:
                    network = self._network(conn, ctx, row.object_id)
                    if row.action == ACCESS_SHARED:
                        self._check_no_ports(conn, network, row.target_project)
                    else:
                        self._check_no_gateways(conn, network, row.target_project)
                except (exc.NotFound, exc.InvalidSharedSetting) as e:
                    raise exc.RbacPolicyInUse(object_id=row.object_id,
                                              details=_callback_failure(e)) from None
            conn.execute(sa.delete(t.network_rbacs).where(_r.id == policy_id))
            if row.action == ACCESS_EXTERNAL:
                self._internal_unless_opened(conn, row.object_id)
            records.bump_revisions(conn, t.networks, [row.object_id])

        self.db.write(run)

    @staticmethod
    def _check_default_external(conn: Connection, row: Any) -> None:
        """As Neutron: the wildcard access_as_external entry of the default external
        network (auto-allocated-topology's ``is_default``) neither goes nor narrows."""
        if row.action != ACCESS_EXTERNAL or row.target_project != WILDCARD:
            return
        if conn.execute(sa.select(_x.network_id).where(
                _x.network_id == row.object_id, _x.is_default.is_(True))).first() is not None:
            raise exc.RbacPolicyInUse(
                object_id=row.object_id,
                details="Default external networks must be shared to everyone.")

    @staticmethod
    def _internal_unless_opened(conn: Connection, network_id: str) -> None:
        """As Neutron: once no access_as_external entry is left, the network is no longer
        ``router:external`` (refused while a router, its owner's too, has its gateway
        there)."""
        if conn.execute(sa.select(_r.id).where(
                _r.object_id == network_id, _r.action == ACCESS_EXTERNAL).limit(1)
                ).first() is not None:
            return
        p = t.ports.c
        gateway = conn.execute(sa.select(p.id).join(
            t.routers, t.routers.c.gw_port_id == p.id).where(
            p.network_id == network_id).limit(1)).first()
        if gateway is not None:
            raise exc.RbacPolicyInUse(
                object_id=network_id,
                details=f"Unable to reconfigure sharing settings for network {network_id}."
                " Multiple tenants are using it.")
        conn.execute(sa.delete(t.external_networks).where(_x.network_id == network_id))
