"""Port binding: the ``binding:*`` attributes of ports and binding a port to its host.

Storage: a ``port_bindings`` row per port (host, vnic_type, profile, vif_type,
vif_details), read for a whole page of ports in one query (``load``), written inside the
port's own transaction (``insert``, ``update``).

Binding (``PortBinder``), as ML2's ``_bind_port_if_needed``: after the port's transaction
has committed, a port with a host whose binding is ``unbound`` or ``binding_failed`` is
offered to the mechanism drivers (``bind_port``, outside any transaction: they only read a
snapshot of the port, its network's segments and the host's agents). The result is
committed only if the port did not change meanwhile (same revision); otherwise the whole
attempt is repeated, up to ``MAX_BIND_TRIES`` times. No driver able to bind gives
``binding_failed``. A binding by an agent-based driver adds the port's ``L2``
provisioning block (core/provisioning.py); a binding is a new revision of the port.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import callbacks, port_mac_override, provisioning, records
from neutrino.core.extensions import Dicts, ExtensionDriver
from neutrino.core.mech.base import PortBindingContext
from neutrino.core.mech.manager import MechanismManager
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import Children
from neutrino.schema.base import AUTO

LOG = logging.getLogger(__name__)

HOST = "binding:host_id"
VNIC_TYPE = "binding:vnic_type"
PROFILE = "binding:profile"
VIF_TYPE = "binding:vif_type"
VIF_DETAILS = "binding:vif_details"

UNBOUND = "unbound"
FAILED = "binding_failed"
NOT_BOUND = (UNBOUND, FAILED)
NORMAL = "normal"
MAX_BIND_TRIES = 10  # as ML2's MAX_BIND_TRIES

_b = t.port_bindings.c
_p = t.ports.c
_seg = t.network_segments.c


def _loads(text: str | None) -> dict[str, Any]:
    # a list decodes two of these per port: the common empty one costs nothing, orjson
    # decodes the others several times faster than json
    if not text or text == "{}":
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(text)  # what only json accepts (NaN)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)


def fields(host: str, vnic_type: str, profile: dict[str, Any], vif_type: str,
           vif_details: dict[str, Any]) -> dict[str, Any]:
    return {HOST: host, VNIC_TYPE: vnic_type, PROFILE: profile, VIF_TYPE: vif_type,
            VIF_DETAILS: vif_details}


def default_fields() -> dict[str, Any]:
    """What a port without a binding row shows (fresh dicts: callers may change them)."""
    return fields("", NORMAL, {}, UNBOUND, {})


def is_bound(port: dict[str, Any]) -> bool:
    return bool(port.get(HOST)) and port.get(VIF_TYPE) not in NOT_BOUND


def needs_binding(port: dict[str, Any]) -> bool:
    return bool(port.get(HOST)) and port.get(VIF_TYPE) in NOT_BOUND


# --- storage ---------------------------------------------------------------------------------
_LOAD = Children(lambda where: sa.select(
    _b.port_id, _b.host, _b.vnic_type, _b.profile, _b.vif_type, _b.vif_details
).where(where(_b.port_id)))


# what the default policy hides from a member (get_port:binding:*, admin or service)
_HIDDEN_FOR_MEMBERS = frozenset((HOST, PROFILE, VIF_TYPE, VIF_DETAILS))
# A list reads each port's binding with the port (with_binding): its columns labelled
# apart from the port's; a member's list the vnic type alone.
_JOINED = tuple(c.label(f"binding_{c.name}") for c in (
    _b.host, _b.vnic_type, _b.profile, _b.vif_type, _b.vif_details))
_JOINED_VNIC = (_JOINED[1],)
_PORTS_AND_BINDINGS = t.ports.outerjoin(t.port_bindings, _b.port_id == _p.id)


def with_binding(stmt: sa.Select[Any], hidden: frozenset[str]) -> sa.Select[Any]:
    """A page of ports (SELECT of ``ports``) with their bindings (one outer join rather
    than a statement of its own: a thousand rows fewer to fetch); ``hidden`` as
    ListQuery.hidden. The databases drop the join from the page's id subquery
    (listing.page_ids): nothing of it is read there."""
    columns = _JOINED_VNIC if hidden >= _HIDDEN_FOR_MEMBERS else _JOINED
    return stmt.add_columns(*columns).select_from(_PORTS_AND_BINDINGS)


def load(conn: Connection, port_ids: Collection[str], page: sa.Subquery | None = None
         ) -> dict[str, dict[str, Any]]:
    """port id -> binding:* attributes, for many ports in one query (``page`` as in
    listing.of_rows)."""
    out: dict[str, dict[str, Any]] = {}
    if not port_ids:
        return out
    for port_id, host, vnic, profile, vif_type, details in _LOAD.execute(
            conn, list(port_ids), page).all():
        out[port_id] = fields(host, vnic, _loads(profile), vif_type, _loads(details))
    return out


def _requested(data: dict[str, Any], key: str, default: Any) -> Any:
    value = data.get(key, AUTO)
    return default if value is AUTO or value is None else value


_INSERT_BINDING = sa.insert(t.port_bindings)  # built once: a port create's hot path


@dataclass(slots=True)
class BindingChange:
    attrs: dict[str, Any]  # the binding:* attributes after the update
    changed: bool = False  # anything written (a new revision of the port)
    moved: bool = False  # the host changed: the port is DOWN until wired again


def update(conn: Connection, port: dict[str, Any], data: dict[str, Any]) -> BindingChange:
    """Apply binding:host_id / vnic_type / profile of an update (in its transaction).
    Changing any of them undoes the binding (vif_type unbound, no L2 block):
    the port is bound anew after the commit."""
    old = {k: port[k] for k in (HOST, VNIC_TYPE, PROFILE, VIF_TYPE, VIF_DETAILS)}
    new = dict(old)
    for key, default in ((HOST, ""), (VNIC_TYPE, NORMAL), (PROFILE, {})):
        if key in data:
            new[key] = _requested(data, key, default)
    if (new[HOST], new[VNIC_TYPE], new[PROFILE]) == (old[HOST], old[VNIC_TYPE], old[PROFILE]):
        return BindingChange(old)
    if new[VIF_TYPE] != UNBOUND or new[VIF_DETAILS]:
        new[VIF_TYPE], new[VIF_DETAILS] = UNBOUND, {}
        provisioning.clear(conn, [port["id"]], provisioning.L2)
    values = {"host": new[HOST], "vnic_type": new[VNIC_TYPE], "profile": _dumps(new[PROFILE]),
              "vif_type": new[VIF_TYPE], "vif_details": _dumps(new[VIF_DETAILS])}
    done = conn.execute(sa.update(t.port_bindings).where(_b.port_id == port["id"])
                        .values(**values))
    if done.rowcount == 0:  # a port from before bindings existed
        conn.execute(sa.insert(t.port_bindings).values(port_id=port["id"], **values))
    if new[HOST] != old[HOST]:
        # actively bound there now: an inactive binding for that host (binding-extended)
        # would be a second one
        conn.execute(sa.delete(t.port_inactive_bindings).where(
            t.port_inactive_bindings.c.port_id == port["id"],
            t.port_inactive_bindings.c.host == new[HOST]))
    return BindingChange(new, changed=True, moved=new[HOST] != old[HOST])


def check_mac_change(port: dict[str, Any], new_mac: str) -> None:
    """A bound port keeps its MAC (its host wired it with that one), as ML2's."""
    if is_bound(port):
        raise exc.PortBound(port_id=port["id"], vif_type=port.get(VIF_TYPE),
                            old_mac=port["mac_address"], new_mac=new_mac)


def _filter(column: sa.ColumnElement[Any], default: str
            ) -> Callable[[list[Any]], sa.ColumnElement[bool]]:
    def clause(values: list[Any]) -> sa.ColumnElement[bool]:
        matching = _p.id.in_(sa.select(_b.port_id).where(column.in_(values)))
        if default in values:  # ports from before bindings existed have no row
            return sa.or_(matching, _p.id.not_in(sa.select(_b.port_id)))
        return matching

    return clause


# ListSpec.custom_filters of the ports collection
FILTERS: dict[str, Callable[[list[Any]], sa.ColumnElement[bool]]] = {
    HOST: _filter(_b.host, ""),
    VNIC_TYPE: _filter(_b.vnic_type, NORMAL),
    VIF_TYPE: _filter(_b.vif_type, UNBOUND),
}


# --- binding ---------------------------------------------------------------------------------
@dataclass(slots=True)
class _Snapshot:
    port: dict[str, Any]
    segments: list[dict[str, Any]]
    agents: list[dict[str, Any]]


PortLoader = Callable[[Connection, str], "dict[str, Any] | None"]


class PortBinder:
    """Binds ports after their transaction (module doc). ``load_port`` reads a port's
    API dict (PortService). Every port created or changed is published, once bound, as
    PORT_BINDING AFTER_UPDATE with (original or None, current) pairs as states (the hints
    to agents subscribe)."""

    def __init__(self, conf: cfg.ConfigOpts, db: Database, mech: MechanismManager,
                 load_port: PortLoader, registry: callbacks.CallbackRegistry) -> None:
        self.conf = conf
        self.db = db
        self.mech = mech
        self.load_port = load_port
        self.registry = registry

    # hooks of PortService
    def after_create(self, ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Ports just created (a bulk at once): bound where asked, then told about."""
        ports = [self.bind_if_needed(p) for p in ports]
        self._changed([(None, p) for p in ports])
        return ports

    def after_update(self, original: dict[str, Any], port: dict[str, Any]) -> dict[str, Any]:
        port = self.bind_if_needed(port)
        self._changed([(original, port)])
        return port

    def _changed(self, changes: list[tuple[dict[str, Any] | None, dict[str, Any]]]) -> None:
        if changes:  # AFTER_*: a failing subscriber is logged, never a failed request
            self.registry.publish(callbacks.Resource.PORT_BINDING, callbacks.Event.AFTER_UPDATE,
                                  self, callbacks.Payload(states=tuple(changes)))

    def rebind_host(self, host: str) -> int:
        """Bind again the ports of ``host`` whose binding failed (its L2 agent just came
        up, or back). Returns how many are bound now."""
        failed = self.db.read(lambda conn: list(conn.scalars(
            sa.select(_b.port_id).where(_b.host == host, _b.vif_type == FAILED))))
        changes: list[tuple[dict[str, Any] | None, dict[str, Any]]] = []
        for port_id in failed:
            port = self.db.read(lambda conn, pid=port_id: self.load_port(conn, pid))
            if port is None:
                continue
            new = self.bind_if_needed(port)
            if is_bound(new):
                changes.append((port, new))
        self._changed(changes)
        return len(changes)

    # the binding loop
    def bind_if_needed(self, port: dict[str, Any]) -> dict[str, Any]:
        for _attempt in range(MAX_BIND_TRIES):
            if not needs_binding(port):
                return port
            port_id = port["id"]
            snap = self.db.read(lambda conn, pid=port_id: self._snapshot(conn, pid))
            if snap is None:
                return port  # deleted meanwhile
            if not needs_binding(snap.port):
                return snap.port
            ctx = self._try_drivers(snap)
            result = self.db.write(lambda conn, c=ctx, s=snap: self._commit(conn, s, c))
            if result is None:
                return port  # deleted meanwhile
            committed, port = result
            if committed:
                if not ctx.bound:
                    # a router's port that cannot be bound leaves the router cut off while
                    # the API shows it ACTIVE: an error an operator must see (vif_type
                    # binding_failed on the port says the same)
                    router = str(port.get("device_owner") or "").startswith("network:router")
                    LOG.log(logging.ERROR if router else logging.WARNING,
                            "port %s (%s): no mechanism driver could bind it to host %s "
                            "(is its network's physical network mapped on that host?)",
                            port["id"], port.get("device_owner") or "no owner",
                            snap.port[HOST])
                return port
            LOG.debug("port %s changed while being bound; trying again", port["id"])
        LOG.error("port %s: binding gave up after %d attempts (the port kept changing)",
                  port["id"], MAX_BIND_TRIES)
        return port

    def _snapshot(self, conn: Connection, port_id: str) -> _Snapshot | None:
        from neutrino.core.agent_rows import agents_on_host

        port = self.load_port(conn, port_id)
        if port is None:
            return None
        segments = [
            {"id": s.id, "network_type": s.network_type,
             "physical_network": s.physical_network, "segmentation_id": s.segmentation_id}
            for s in conn.execute(sa.select(t.network_segments).where(
                _seg.network_id == port["network_id"]).order_by(_seg.segment_index))
        ]
        agents = agents_on_host(conn, self.conf, port[HOST]) if port[HOST] else []
        return _Snapshot(port, segments, agents)

    def _try_drivers(self, snap: _Snapshot) -> PortBindingContext:
        port = snap.port
        ctx = PortBindingContext(port=port, host=port[HOST], vnic_type=port[VNIC_TYPE],
                                 profile=port[PROFILE], segments=snap.segments,
                                 agents=snap.agents)
        for driver in self.mech.drivers:
            try:
                driver.bind_port(ctx)
            except Exception:
                LOG.exception("mechanism driver %s failed to bind port %s", driver.name,
                              port["id"])
                continue
            if ctx.bound:
                LOG.info("port %s bound to host %s by %s (%s segment)", port["id"],
                         ctx.host, driver.name, (ctx.segment or {}).get("network_type"))
                break
        return ctx

    def _commit(self, conn: Connection, snap: _Snapshot, ctx: PortBindingContext
                ) -> tuple[bool, dict[str, Any]] | None:
        stmt = sa.select(_p.revision_number).where(_p.id == snap.port["id"])
        if self.db.backend != "sqlite":
            stmt = stmt.with_for_update()
        revision = conn.scalar(stmt)
        if revision is None:
            return None
        if revision != snap.port["revision_number"]:
            port = self.load_port(conn, snap.port["id"])
            return (False, port) if port is not None else None
        port_id = snap.port["id"]
        port_mac_override.commit(conn, snap.port, snap.port[VNIC_TYPE], snap.port[PROFILE],
                                 self.conf.base_mac)
        if ctx.bound:
            vif_type, details = ctx.vif_type, ctx.vif_details or {}
        else:
            vif_type, details = FAILED, {}
        conn.execute(sa.update(t.port_bindings).where(_b.port_id == port_id).values(
            vif_type=vif_type, vif_details=_dumps(details)))
        provisioning.clear(conn, [port_id], provisioning.L2)
        records.bump_revisions(conn, t.ports, [port_id])
        if ctx.bound and ctx.agent_based:
            provisioning.add(conn, port_id, [provisioning.L2])
        elif ctx.bound:  # nothing to wire on the host: ACTIVE unless DHCP is pending
            provisioning.complete(conn, [port_id], provisioning.L2)
        port = self.load_port(conn, port_id)
        return (True, port) if port is not None else None


class BindingDriver(ExtensionDriver):
    """binding:* of ports (core/extensions.py; always on): a row each, the binding
    itself happens after the commit (PortBinder)."""

    name = "binding"
    filters = {"port": FILTERS}
    # binding:* of rows read with_binding, made by core/port_dict.py (a NULL: no binding
    # row, whose columns are NOT NULL: default_fields()); a member's list reads the vnic
    # type alone, the rest is neither read nor decoded
    port_columns = {HOST: ("binding_host", ""), VNIC_TYPE: ("binding_vnic_type", NORMAL),
                    PROFILE: ("binding_profile", None, _loads),
                    VIF_TYPE: ("binding_vif_type", UNBOUND),
                    VIF_DETAILS: ("binding_vif_details", None, _loads)}

    def process_create_ports(self, ctx: Context, conn: Connection, items: Dicts,
                             results: Dicts) -> None:
        rows = []
        for data, port in zip(items, results, strict=True):
            host = _requested(data, HOST, "")
            vnic = _requested(data, VNIC_TYPE, NORMAL)
            profile = _requested(data, PROFILE, {})
            rows.append({"port_id": port["id"], "host": host, "vnic_type": vnic,
                         "profile": _dumps(profile), "vif_type": UNBOUND,
                         "vif_details": "{}"})
            port.update(fields(host, vnic, profile, UNBOUND, {}))
        conn.execute(_INSERT_BINDING, rows)

    def process_update_port(self, ctx: Context, conn: Connection, data: dict[str, Any],
                            original: dict[str, Any], result: dict[str, Any]) -> bool:
        if "mac_address" in data and result["mac_address"] != original["mac_address"]:
            check_mac_change(original, result["mac_address"])
        bound = update(conn, original, data)
        result.update(bound.attrs)
        if bound.moved and original["status"] != "DOWN":
            # wired elsewhere now, ACTIVE once it is
            conn.execute(sa.update(t.ports).where(_p.id == original["id"]).values(
                status="DOWN"))
        return bound.changed

    def extend_port_dicts(self, conn: Connection, rows: list[Any], results: Dicts,
                          page: sa.Subquery | None = None,
                          hidden: frozenset[str] = frozenset()) -> None:
        if rows and hasattr(rows[0], "binding_vnic_type"):  # read with_binding
            return
        bindings = load(conn, [d["id"] for d in results], page)
        for d in results:
            d.update(bindings.get(d["id"]) or default_fields())
