"""GET /v2.0/auto-allocated-topology/{project_id}: the project's network, made on the
first call as Neutron's auto_allocate plugin makes it (neutron/services/auto_allocate/
db.py): a network ``auto_allocated_network`` (down until the whole topology stands), a
subnet ``auto_allocated_subnet_v4``/``_v6`` from each default subnet pool, a router
``auto_allocated_router`` with its gateway on the default external network, and the
router's interfaces on the subnets. ``?fields=dry-run`` only checks that this can be
done; DELETE takes it down.

Race-free without a lock held across the several transactions: the project's row in
``auto_allocated_topologies`` (primary key project_id) is written last; of two concurrent
first calls one inserts it, the other's insert is a duplicate, so that one takes its own
resources down again and answers with the winner's network (as Neutron does). A failure
half-way takes down what was made, so nothing is left half-built.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.db import tables as t
from neutrino.exceptions.auto_allocate import AutoAllocationFailure
from neutrino.exceptions.subnetpools import SubnetAllocationError
from neutrino.schema import network as network_schema
from neutrino.schema import router as router_schema
from neutrino.schema import subnet as subnet_schema
from neutrino.schema import validators as v
from neutrino.schema.base import Resource
from neutrino.services.auto_allocate.default_external import default_external_network

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

LOG = logging.getLogger(__name__)
DRY_RUN = "dry-run"
# the project of what the noauth operator creates without naming one (api/body.py's
# OPERATOR_PROJECT; services do not import the API layer)
OPERATOR_PROJECT = "admin"
_aat = t.auto_allocated_topologies.c
_sp = t.subnetpools.c


class _Made:
    """What one attempt created, to take down on failure."""

    def __init__(self) -> None:
        self.network_id: str | None = None
        self.router_id: str | None = None
        self.subnets: list[dict[str, Any]] = []
        self.attached: list[dict[str, Any]] = []


class AutoAllocatedTopologyService:
    def __init__(self, core: Ml2Plugin) -> None:
        self.core = core
        self.db = core.db
        self._network = network_schema.resource()
        self._subnet = subnet_schema.resource()
        self._router = router_schema.resource()

    @property
    def routers(self) -> Any:
        """The router plugin's routers (loaded after this plugin; None: no L3)."""
        l3 = self.core.get_plugin("router")
        if l3 is None:
            raise AutoAllocationFailure(reason="No default router:external network")
        return l3.routers

    # --- the API -------------------------------------------------------------------------------
    @staticmethod
    def project_of(ctx: Context, project_id: str) -> str:
        """The project the topology is for: "None" means the caller's own (what clients
        send without a project); another project's is for admins only (403, Neutron's
        NotAuthorized)."""
        if project_id == "None":
            # the noauth operator has no project: its resources are OPERATOR_PROJECT's,
            # as for any create without a project (api/body.py)
            project_id = ctx.project_id or (OPERATOR_PROJECT if ctx.is_admin else "")
        if not ctx.is_admin and project_id != ctx.project_id:
            raise exc.NotAuthorized()
        try:  # what a project id column holds
            return v.project_id(project_id)
        except ValueError as e:
            raise exc.InvalidInput(error_message=str(e)) from None

    def get(self, ctx: Context, project_id: str, fields: list[str]) -> dict[str, Any]:
        if DRY_RUN in fields:
            return self.check_requirements(project_id)
        if fields:
            raise exc.BadRequest(resource="auto_allocate", msg="Unrecognized field")
        network_id = self._existing(project_id)
        if network_id is None:
            external = self.db.read(self._default_external)
            network_id = self._build(ctx, project_id, external)
        return _response(network_id, project_id)

    def check_requirements(self, project_id: str) -> dict[str, Any]:
        self.db.read(self._default_external)
        if not self.db.read(_default_pools):
            raise AutoAllocationFailure(reason="No default subnetpools defined")
        return _response("dry-run=pass", project_id)

    def delete(self, ctx: Context, project_id: str) -> None:
        row = self.db.read(lambda conn: conn.execute(
            sa.select(t.auto_allocated_topologies).where(_aat.project_id == project_id))
            .first())
        if row is None:
            return
        made = _Made()
        made.network_id, made.router_id = row.network_id, row.router_id
        made.attached = self.db.read(lambda conn: [
            {"id": i} for i in conn.scalars(
                sa.select(t.subnets.c.id).where(t.subnets.c.network_id == row.network_id))])
        self._cleanup(ctx, made)

    # --- reading -------------------------------------------------------------------------------
    def _existing(self, project_id: str) -> str | None:
        return self.db.read(lambda conn: conn.scalar(
            sa.select(_aat.network_id).where(_aat.project_id == project_id)))

    @staticmethod
    def _default_external(conn: Connection) -> str:
        network_id = default_external_network(conn)
        if network_id is None:
            LOG.error("Unable to find default external network for deployment, please "
                      "create/assign one to allow auto-allocation to work correctly.")
            raise AutoAllocationFailure(reason="No default router:external network")
        return network_id

    # --- building ------------------------------------------------------------------------------
    def _build(self, ctx: Context, project_id: str, external: str) -> str:
        made = _Made()
        try:
            self._private_network(ctx, project_id, made)
            self._connectivity(ctx, project_id, external, made)
            return self._save(ctx, project_id, made)
        except BaseException:
            LOG.warning("auto-allocation for project %s failed; taking down what it made",
                        project_id)
            self._cleanup(ctx, made)
            raise

    def _private_network(self, ctx: Context, project_id: str, made: _Made) -> None:
        try:
            network = self.core.networks.create(ctx, _with_defaults(
                self._network, {"name": "auto_allocated_network", "admin_state_up": False,
                                "project_id": project_id, "shared": False}, ctx))
            made.network_id = network["id"]
            pools = self.db.read(_default_pools)
            if not pools:
                LOG.error("No default pools available")
                raise exc.NotFound()
            for pool_id, version in pools:
                made.subnets.append(self.core.subnets.create(ctx, _with_defaults(
                    self._subnet, {"name": f"auto_allocated_subnet_v{version}",
                                   "network_id": network["id"], "project_id": project_id,
                                   "ip_version": version, "subnetpool_id": pool_id}, ctx)))
        except (SubnetAllocationError, exc.BadRequest, exc.NotFound) as e:
            LOG.error("Unable to auto allocate topology for project %s due to missing or "
                      "unmet requirements. Reason: %s", project_id, e)
            raise AutoAllocationFailure(
                reason="Unable to provide project private network") from None

    def _connectivity(self, ctx: Context, project_id: str, external: str,
                      made: _Made) -> None:
        try:
            router = self.routers.create(ctx, _with_defaults(
                self._router, {"name": "auto_allocated_router",
                               "external_gateway_info": {"network_id": external},
                               "project_id": project_id, "admin_state_up": True}, ctx))
            made.router_id = router["id"]
            for subnet in made.subnets:
                self.routers.add_interface(ctx, router["id"], {"subnet_id": subnet["id"]})
                made.attached.append(subnet)
        except exc.BadRequest as e:
            LOG.error("Unable to auto allocate topology for project %s because of router "
                      "errors. Reason: %s", project_id, e)
            raise AutoAllocationFailure(
                reason="Unable to provide external connectivity") from None

    def _save(self, ctx: Context, project_id: str, made: _Made) -> str:
        assert made.network_id is not None

        def insert(conn: Connection) -> str | None:
            """The winner's network if another request saved first, else None. A
            concurrent insert not yet committed makes ours wait on the key, then fail
            as a duplicate: the rerun (db.engine retries those) sees the winner here."""
            winner = conn.scalar(sa.select(_aat.network_id)
                                 .where(_aat.project_id == project_id))
            if winner is None:
                conn.execute(sa.insert(t.auto_allocated_topologies).values(
                    project_id=project_id, network_id=made.network_id,
                    router_id=made.router_id))
            return winner

        winner = self.db.write(insert)
        if winner is not None:
            LOG.debug("Multiple auto-allocated networks detected for project %s; taking "
                      "down network %s and router %s", project_id, made.network_id,
                      made.router_id)
            self._cleanup(ctx, made)
            return winner
        self.core.networks.update(ctx, made.network_id, {"admin_state_up": True})
        return made.network_id

    def _cleanup(self, ctx: Context, made: _Made) -> None:
        """Take down a topology; what is already gone is skipped (concurrent deletes
        interleave, as in Neutron)."""
        if made.router_id:
            routers = self.routers
            for subnet in made.attached:
                _ignore_not_found(routers.remove_interface, ctx, made.router_id,
                                  {"subnet_id": subnet["id"]})
            _ignore_not_found(routers.delete, ctx, made.router_id)
        if made.network_id:
            _ignore_not_found(self.core.networks.delete, ctx, made.network_id)


def _with_defaults(resource: Resource, item: dict[str, Any], ctx: Context
                   ) -> dict[str, Any]:
    """A create's data as the API layer makes it from a body: the given attributes (valid
    by construction here), tenant_id as project_id, every other default filled in."""
    return {**resource.post_defaults(), **item, "tenant_id": item["project_id"]}


def _default_pools(conn: Connection) -> list[tuple[str, int]]:
    """The default subnet pools, IPv4 first (Neutron: get_default_subnetpool, 4 then 6)."""
    return [(r.id, r.default_version) for r in conn.execute(
        sa.select(_sp.id, _sp.default_version).where(_sp.default_version.is_not(None))
        .order_by(_sp.default_version))]


def _ignore_not_found(fn: Any, *args: Any) -> None:
    with contextlib.suppress(exc.NotFound):
        fn(*args)


def _response(network_id: str, project_id: str) -> dict[str, Any]:
    return {"id": network_id, "project_id": project_id, "tenant_id": project_id}
