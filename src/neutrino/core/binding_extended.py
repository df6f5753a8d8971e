"""binding-extended: a port's bindings per host, for live migration (Nova binds the port on
the target host, then activates that binding once the instance runs there).

The ACTIVE binding is the port's own ``binding:*`` attributes (its ``port_bindings`` row,
core/binding.py); the others are INACTIVE, one per other host (``port_inactive_bindings``).
A binding is made by the same mechanism drivers as the active one, asked about the target
host (its live agents, the segments they reach); nothing is written when none can bind
(PortBindingError, as Neutron's). Activating one swaps them in one transaction, committed
only if the port did not change meanwhile (else the whole attempt is repeated, as
PortBinder does): the old active binding becomes INACTIVE, the port's binding:host_id is
the new host, the port goes DOWN with an ``L2`` block (its new host's L2 agent wires it and
reports it up) and both hosts are hinted (the old host's agent unwires it).

As Neutron's, these operations are only for compute (and shared filesystem) ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import constants as const
from neutrino import exceptions as exc
from neutrino.core import binding, port_mac_override, provisioning, records
from neutrino.core.mech.base import PortBindingContext
from neutrino.db import tables as t
from neutrino.db.engine import Database

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
# Neutron's _validate_port_supports_multiple_bindings: compute and shared filesystem ports
OWNER_PREFIXES = (const.DEVICE_OWNER_COMPUTE_PREFIX, const.DEVICE_OWNER_MANILA_PREFIX)

_ib = t.port_inactive_bindings.c
_p = t.ports.c
_seg = t.network_segments.c


def binding_dict(host: str, vnic_type: str, profile: dict[str, Any], vif_type: str,
                 vif_details: dict[str, Any], status: str) -> dict[str, Any]:
    return {"host": host, "vnic_type": vnic_type, "profile": profile, "vif_type": vif_type,
            "vif_details": vif_details, "status": status}


def active_of(port: dict[str, Any]) -> dict[str, Any]:
    """The port's ACTIVE binding, from its binding:* attributes."""
    return binding_dict(port[binding.HOST], port[binding.VNIC_TYPE], port[binding.PROFILE],
                        port[binding.VIF_TYPE], port[binding.VIF_DETAILS], ACTIVE)


def _inactive_of(row: Any) -> dict[str, Any]:
    return binding_dict(row.host, row.vnic_type, binding._loads(row.profile), row.vif_type,
                        binding._loads(row.vif_details), INACTIVE)


def check_port(port: dict[str, Any]) -> None:
    if not str(port.get("device_owner") or "").startswith(OWNER_PREFIXES):
        raise exc.BadRequest(resource="port", msg=f"Invalid port {port['id']}. Operation only "
                             "valid on compute and shared filesystem ports")


@dataclass(slots=True)
class _Target:
    host: str
    vnic_type: str
    profile: dict[str, Any]


class PortBindingService:
    """The bindings of one port at a time; the caller (api/port_bindings.py) has checked
    that the port exists for it and that policy allows the operation."""

    def __init__(self, conf: cfg.ConfigOpts, db: Database, ports: Any) -> None:
        self.conf = conf
        self.db = db
        self.ports = ports  # core.ports.PortService (its binder binds)

    # --- reading -----------------------------------------------------------------------
    def _load(self, conn: Connection, port_id: str) -> dict[str, Any]:
        row = conn.execute(sa.select(t.ports).where(_p.id == port_id)).first()
        if row is None:
            raise exc.PortNotFound(port_id=port_id)
        port = self.ports.to_dicts(conn, [row])[0]
        check_port(port)
        return port

    def _inactive(self, conn: Connection, port_id: str, host: str) -> Any:
        return conn.execute(sa.select(t.port_inactive_bindings).where(
            _ib.port_id == port_id, _ib.host == host)).first()

    def list(self, port_id: str) -> list[dict[str, Any]]:
        """The ACTIVE binding (also of a port without a host, as Neutron lists it), then the
        INACTIVE ones by host."""
        def run(conn: Connection) -> list[dict[str, Any]]:
            port = self._load(conn, port_id)
            rows = conn.execute(sa.select(t.port_inactive_bindings).where(
                _ib.port_id == port_id).order_by(_ib.host))
            return [active_of(port), *(_inactive_of(r) for r in rows)]

        return self.db.read(run)

    def get(self, port_id: str, host: str) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            port = self._load(conn, port_id)
            if host and port[binding.HOST] == host:
                return active_of(port)
            row = self._inactive(conn, port_id, host)
            if row is None:
                raise exc.PortBindingNotFound(port_id=port_id, host=host)
            return _inactive_of(row)

        return self.db.read(run)

    # --- binding on another host -------------------------------------------------------------
    def _offer(self, port: dict[str, Any], target: _Target) -> PortBindingContext:
        """Ask the mechanism drivers to bind ``port`` as ``target`` says (outside any
        transaction, as PortBinder does): a context whose ``bound`` tells."""
        from neutrino.core.agent_rows import agents_on_host

        binder = self.ports.binder

        def read(conn: Connection) -> binding._Snapshot:
            segments = [
                {"id": s.id, "network_type": s.network_type,
                 "physical_network": s.physical_network, "segmentation_id": s.segmentation_id}
                for s in conn.execute(sa.select(t.network_segments).where(
                    _seg.network_id == port["network_id"]).order_by(_seg.segment_index))
            ]
            wanted = {**port, binding.HOST: target.host, binding.VNIC_TYPE: target.vnic_type,
                      binding.PROFILE: target.profile}
            return binding._Snapshot(wanted, segments,
                                     agents_on_host(conn, self.conf, target.host))

        if binder is None:
            return PortBindingContext(port=port, host=target.host, vnic_type=target.vnic_type,
                                      profile=target.profile, segments=[], agents=[])
        return binder._try_drivers(self.db.read(read))

    def create(self, port_id: str, host: str, vnic_type: str, profile: dict[str, Any]
               ) -> dict[str, Any]:
        """A new INACTIVE binding on ``host``: 409 if the port has one there already
        (active or not), PortBindingError if no driver binds it there."""
        def check(conn: Connection) -> dict[str, Any]:
            port = self._load(conn, port_id)
            if port[binding.HOST] == host or self._inactive(conn, port_id, host) is not None:
                raise exc.PortBindingAlreadyExists(port_id=port_id, host=host)
            return port

        port = self.db.read(check)
        target = _Target(host, vnic_type, profile)
        ctx = self._offer(port, target)
        if not ctx.bound:
            raise exc.PortBindingError(port_id=port_id, host=host)

        def write(conn: Connection) -> dict[str, Any]:
            # the port's row locked: an activation or a move of the port cannot slip in
            # between the check and the insert (and a concurrent create of the same host
            # loses on the primary key, is rerun and finds this one)
            self._lock(conn, port_id)
            check(conn)
            values = {"port_id": port_id, "host": host, "vnic_type": vnic_type,
                      "profile": binding._dumps(profile), "vif_type": ctx.vif_type,
                      "vif_details": binding._dumps(ctx.vif_details or {})}
            conn.execute(sa.insert(t.port_inactive_bindings).values(**values))
            return binding_dict(host, vnic_type, profile, ctx.vif_type or "",
                                ctx.vif_details or {}, INACTIVE)

        return self.db.write(write)

    def _lock(self, conn: Connection, port_id: str) -> int:
        stmt = sa.select(_p.revision_number).where(_p.id == port_id)
        if self.db.backend != "sqlite":
            stmt = stmt.with_for_update()
        revision = conn.scalar(stmt)
        if revision is None:
            raise exc.PortNotFound(port_id=port_id)
        return int(revision)

    def update(self, port_id: str, host: str, data: dict[str, Any]) -> dict[str, Any]:
        """vnic_type / profile of the binding on ``host``: the port's own attributes for the
        ACTIVE binding (rebound as a port update would), the INACTIVE one bound anew (and
        left as it was if no driver can)."""
        port = self.db.read(lambda conn: self._load(conn, port_id))
        if host and port[binding.HOST] == host:
            from neutrino.context import Context

            changes = {binding.VNIC_TYPE: data.get("vnic_type", port[binding.VNIC_TYPE]),
                       binding.PROFILE: data.get("profile", port[binding.PROFILE])}
            updated = self.ports.update(Context.admin(), port_id, changes)
            if updated[binding.VIF_TYPE] == binding.FAILED:
                raise exc.PortBindingError(port_id=port_id, host=host)
            return active_of(updated)
        row = self.db.read(lambda conn: self._inactive(conn, port_id, host))
        if row is None:
            raise exc.PortBindingNotFound(port_id=port_id, host=host)
        current = _inactive_of(row)
        target = _Target(host, data.get("vnic_type", current["vnic_type"]),
                         data.get("profile", current["profile"]))
        ctx = self._offer(port, target)
        if not ctx.bound:
            raise exc.PortBindingError(port_id=port_id, host=host)

        def write(conn: Connection) -> dict[str, Any]:
            self._lock(conn, port_id)
            done = conn.execute(sa.update(t.port_inactive_bindings).where(
                _ib.port_id == port_id, _ib.host == host).values(
                vnic_type=target.vnic_type, profile=binding._dumps(target.profile),
                vif_type=ctx.vif_type, vif_details=binding._dumps(ctx.vif_details or {})))
            if done.rowcount == 0:
                raise exc.PortBindingNotFound(port_id=port_id, host=host)
            return binding_dict(host, target.vnic_type, target.profile, ctx.vif_type or "",
                                ctx.vif_details or {}, INACTIVE)

        return self.db.write(write)

    def delete(self, port_id: str, host: str) -> None:
        """Removes the INACTIVE binding on ``host``. Deleting the ACTIVE one unbinds the
        port (binding:host_id cleared, its host's agent unwires it): Neutron leaves a port
        with no binding at all then, which is the same thing as far as anyone can see."""
        port = self.db.read(lambda conn: self._load(conn, port_id))
        if host and port[binding.HOST] == host:
            from neutrino.context import Context

            self.ports.update(Context.admin(), port_id, {binding.HOST: ""})
            return

        def write(conn: Connection) -> None:
            self._lock(conn, port_id)
            done = conn.execute(sa.delete(t.port_inactive_bindings).where(
                _ib.port_id == port_id, _ib.host == host))
            if done.rowcount == 0:
                raise exc.PortBindingNotFound(port_id=port_id, host=host)

        self.db.write(write)

    # --- activation ------------------------------------------------------------------------
    def activate(self, port_id: str, host: str) -> dict[str, Any]:
        """The INACTIVE binding on ``host`` becomes the ACTIVE one (module doc). 409
        PortBindingAlreadyActive if it is already, 404 PortBindingNotFound if there is none,
        PortBindingError if no driver binds the port there any more (nothing changed)."""
        def check(conn: Connection) -> tuple[dict[str, Any], Any]:
            port = self._load(conn, port_id)
            if host and port[binding.HOST] == host:
                raise exc.PortBindingAlreadyActive(port_id=port_id, host=host)
            row = self._inactive(conn, port_id, host)
            if row is None:
                raise exc.PortBindingNotFound(port_id=port_id, host=host)
            return port, row

        for _attempt in range(binding.MAX_BIND_TRIES):
            port, row = self.db.read(check)
            wanted = _inactive_of(row)
            target = _Target(host, wanted["vnic_type"], wanted["profile"])
            ctx = self._offer(port, target)
            if not ctx.bound:
                raise exc.PortBindingError(port_id=port_id, host=host)
            new = self.db.write(lambda conn, p=port, c=ctx, tg=target: self._swap(
                conn, p, tg, c))
            if new is None:
                continue  # the port changed meanwhile: bind again from what it is now
            binder = self.ports.binder
            if binder is not None:
                binder._changed([(port, new)])  # both hosts hear of it
            return active_of(new)
        raise exc.PortBindingError(port_id=port_id, host=host)

    def _swap(self, conn: Connection, port: dict[str, Any], target: _Target,
              ctx: PortBindingContext) -> dict[str, Any] | None:
        port_id = port["id"]
        if self._lock(conn, port_id) != port["revision_number"]:
            return None
        check = conn.execute(sa.select(_ib.vnic_type, _ib.profile).where(
            _ib.port_id == port_id, _ib.host == target.host)).first()
        if check is None:
            raise exc.PortBindingNotFound(port_id=port_id, host=target.host)
        if (check.vnic_type, binding._loads(check.profile)) != (target.vnic_type,
                                                                 target.profile):
            return None  # updated meanwhile
        port_mac_override.commit(conn, port, target.vnic_type, target.profile,
                                 self.conf.base_mac)
        conn.execute(sa.delete(t.port_inactive_bindings).where(
            _ib.port_id == port_id, _ib.host == target.host))
        old = active_of(port)
        if old["host"]:
            conn.execute(sa.insert(t.port_inactive_bindings).values(
                port_id=port_id, host=old["host"], vnic_type=old["vnic_type"],
                profile=binding._dumps(old["profile"]), vif_type=old["vif_type"],
                vif_details=binding._dumps(old["vif_details"])))
        values = {"host": target.host, "vnic_type": target.vnic_type,
                  "profile": binding._dumps(target.profile), "vif_type": ctx.vif_type,
                  "vif_details": binding._dumps(ctx.vif_details or {})}
        done = conn.execute(sa.update(t.port_bindings).where(
            t.port_bindings.c.port_id == port_id).values(**values))
        if done.rowcount == 0:  # a port from before bindings existed
            conn.execute(sa.insert(t.port_bindings).values(port_id=port_id, **values))
        # wired on the new host only once its L2 agent says so: DOWN until then
        provisioning.clear(conn, [port_id], provisioning.L2)
        conn.execute(sa.update(t.ports).where(_p.id == port_id).values(
            status=provisioning.DOWN, updated_at=records.now(),
            revision_number=_p.revision_number + 1))
        if ctx.agent_based:
            provisioning.add(conn, port_id, [provisioning.L2])
        else:
            provisioning.complete(conn, [port_id], provisioning.L2)
        return self._load(conn, port_id)
