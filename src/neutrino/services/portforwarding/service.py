"""Port forwardings of floating IPs (floating-ip-port-forwarding), with Neutron's rules
(neutron/services/portforwarding/pf_plugin.py):

- only a floating IP with no port association takes forwardings (409
  FloatingIPPortAlreadyAssociated); one that has forwardings can be neither associated
  with a port nor deleted (409 FipInUseByPortForwarding, services/l3/floatingips.py);
- the internal port must be visible to the caller (404), have an IPv4 address, and
  internal_ip_address must be one of its fixed IPs (400); a port that has a floating IP
  of its own cannot be a target (409 PortHasBindingFloatingIP);
- the internal address's subnet must reach the floating IP's network through a router
  (400); the first forwarding puts the floating IP on that router, all later ones must
  use the same router (400), and the last one to go takes it off again;
- (external_port, protocol) once per floating IP and one internal socket (port, address,
  port number, protocol) once: 400 "port collision", as Neutron.

Atomicity: a create or update holds the internal port (exclusively: a floating IP's
association with it holds it shared) and then the floating IP row (exclusively, as the
floating IP's own update and delete do), so every check above reads what is committed
once its rivals are done. Unique constraints back both collision checks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import ListQuery, ListSpec, fetch_page, page_statement
from neutrino.db.rowdict import RowDict
from neutrino.exceptions.port_forwarding import (
    PortForwardingNotFound,
    PortHasBindingFloatingIP,
)
from neutrino.schema import port_forwarding as schema
from neutrino.services.portforwarding import rows

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin
    from neutrino.services.l3.floatingips import FloatingIPService

_pf = t.port_forwardings.c
_f = t.floatingips.c
_a = t.ip_allocations.c

LIST_SPEC = ListSpec(table=t.port_forwardings)
ROW_DICT = RowDict(schema.resource())
_BY_ID = sa.select(t.port_forwardings).where(_pf.id == sa.bindparam("id"),
                                             _pf.floatingip_id == sa.bindparam("fip"))
_PORT_IPS = sa.select(_a.subnet_id, _a.ip_address).where(
    _a.port_id == sa.bindparam("port")).order_by(_a.subnet_id, _a.ip_address)

# (the floating IP row it is under) -> None; raises PolicyNotAuthorized
Authorize = Callable[[Any], None]


def _not_found(id_: str) -> exc.NeutronError:
    return PortForwardingNotFound(id=id_)


def bad(msg: str) -> exc.BadRequest:
    """Neutron's plain BadRequest of the port forwarding plugin, for its checks."""
    return exc.BadRequest(resource="port_forwarding", msg=msg)


def _canonical(address: str) -> str:
    return str(ipaddress.ip_address(address))


class PortForwardingService:
    def __init__(self, db: Database, plugin: Ml2Plugin, fips: FloatingIPService) -> None:
        self.db = db
        self.plugin = plugin
        self.fips = fips

    # --- reading -------------------------------------------------------------------------
    def fip(self, ctx: Context, fip_id: str) -> Any:
        """The floating IP as the caller sees it (404 FloatingIPNotFound)."""
        return self.db.read(lambda conn: self.fips._row(conn, ctx, fip_id))

    def list(self, ctx: Context, fip_id: str, q: ListQuery
             ) -> tuple[list[dict[str, Any]], bool]:
        """One page of the floating IP's forwardings, and whether more follow."""
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            self.fips._row(conn, ctx, fip_id)
            stmt = page_statement(conn, LIST_SPEC, q,
                                  extra_where=[_pf.floatingip_id == fip_id],
                                  marker_not_found=_not_found)
            found, more = fetch_page(conn, stmt, q)
            return ROW_DICT(found), more

        return self.db.read(run)

    def get(self, ctx: Context, fip_id: str, pf_id: str) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            self.fips._row(conn, ctx, fip_id)
            return ROW_DICT.one(self._pf_row(conn, fip_id, pf_id))

        return self.db.read(run)

    @staticmethod
    def _pf_row(conn: Connection, fip_id: str, pf_id: str, *, lock: bool = False) -> Any:
        stmt = _BY_ID.with_for_update() if lock and conn.dialect.name != "sqlite" else _BY_ID
        row = conn.execute(stmt, {"id": pf_id, "fip": fip_id}).first()
        if row is None:
            raise PortForwardingNotFound(id=pf_id)
        return row

    # --- checks ----------------------------------------------------------------------------
    def _internal(self, conn: Connection, ctx: Context, port_id: str, address: str,
                  fip: Any) -> str:
        """The router that carries a forwarding from ``fip`` to ``address`` of the port
        (Neutron's _find_a_router_for_fip_port_forwarding, with its 400s)."""
        port = self.plugin.ports._row(conn, ctx, port_id)
        v4 = [r for r in conn.execute(_PORT_IPS, {"port": port_id})
              if ipaddress.ip_address(r.ip_address).version == 4]
        if not v4:
            raise bad(f"Requested internal port {port_id} must allocate an IPv4 address at "
                      "least.")
        subnet_id = next((r.subnet_id for r in v4 if ipaddress.ip_address(r.ip_address)
                          == ipaddress.ip_address(address)), None)
        if subnet_id is None:
            fixed = [{"subnet_id": r.subnet_id, "ip_address": r.ip_address} for r in v4]
            raise bad(f"Requested internal IP address {address} is not suitable for "
                      f"internal neutron port {port.id}, as its fixed_ips are {fixed}")
        router_id = self.fips._router_for(conn, subnet_id, fip.floating_network_id)
        if router_id is None:
            raise bad(f"External network {fip.floating_network_id} is not reachable from "
                      f"subnet {subnet_id}. Cannot set Port forwarding for port {port_id} "
                      f"with Floating IP {fip.id}")
        return router_id

    @staticmethod
    def _router_match(conn: Connection, fip: Any, router_id: str, data: dict[str, Any]
                      ) -> None:
        if not fip.router_id or fip.router_id == router_id:
            return
        taken = conn.execute(sa.select(_pf.id).where(
            _pf.floatingip_id == fip.id,
            _pf.internal_ip_address == data["internal_ip_address"],
            _pf.internal_port == data["internal_port"]).limit(1)).first()
        if taken is not None:
            raise bad(f"Floating IP {fip.id} with params: internal_ip_address: "
                      f"{data['internal_ip_address']}, internal_port: "
                      f"{data['internal_port']} already exists")
        raise bad(f"The Floating IP {fip.id} had been set on router {fip.router_id}, the "
                  f"internal Neutron port {data['internal_port_id']} can not reach it")

    @staticmethod
    def _no_binding_fip(conn: Connection, port_id: str, address: str) -> None:
        row = conn.execute(sa.select(_f.id, _f.floating_ip_address).where(
            _f.fixed_port_id == port_id).order_by(_f.id).limit(1)).first()
        if row is not None:
            raise PortHasBindingFloatingIP(floating_ip_address=row.floating_ip_address,
                                           fip_id=row.id, port_id=port_id, fixed_ip=address)

    @staticmethod
    def _collisions(conn: Connection, fip_id: str, data: dict[str, Any],
                    own_id: str | None = None) -> None:
        """Neutron's _check_port_collisions, for single ports: the message names the
        ranges (``N:N``) as Neutron's does."""
        checks = (
            ("internal_port_range", "internal_port",
             [_pf.internal_port_id == data["internal_port_id"],
              _pf.protocol == data["protocol"],
              _pf.internal_ip_address == data["internal_ip_address"]]),
            ("external_port_range", "external_port",
             [_pf.floatingip_id == fip_id, _pf.protocol == data["protocol"]]),
        )
        for label, key, where in checks:
            port = data[key]
            stmt = sa.select(getattr(_pf, key)).where(*where, getattr(_pf, key) == port)
            if own_id is not None:
                stmt = stmt.where(_pf.id != own_id)
            if conn.execute(stmt.limit(1)).first() is not None:
                raise bad(f"There is a port collision with the {label}. The following "
                          f"ranges collides: {port}:{port} and {port}:{port}")

    def _hold(self, conn: Connection, ctx: Context, fip_id: str, port_ids: list[str]
              ) -> Any:
        """Hold the internal port(s) and then the floating IP; the floating IP row as the
        caller sees it (404 otherwise)."""
        locks.lock(conn, t.ports, port_ids)
        return self.fips._row(conn, ctx, fip_id, for_update=True)

    @staticmethod
    def _put_on_router(conn: Connection, fip: Any, router_id: str) -> None:
        if fip.router_id:
            return
        conn.execute(sa.update(t.floatingips).where(_f.id == fip.id).values(
            router_id=router_id, fixed_port_id=None, updated_at=records.now(),
            revision_number=_f.revision_number + 1))

    # --- writing ---------------------------------------------------------------------------
    def create(self, ctx: Context, fip_id: str, data: dict[str, Any],
               authorize: Authorize) -> dict[str, Any]:
        data = {**data, "internal_ip_address": _canonical(data["internal_ip_address"])}
        routers: set[str] = set()

        def run(conn: Connection) -> dict[str, Any]:
            routers.clear()
            fip = self._hold(conn, ctx, fip_id, [data["internal_port_id"]])
            authorize(fip)
            self._collisions(conn, fip_id, data)
            self._no_binding_fip(conn, data["internal_port_id"], data["internal_ip_address"])
            if fip.fixed_port_id:
                raise exc.FloatingIPPortAlreadyAssociated(
                    port_id=data["internal_port_id"], fip_id=fip.id,
                    floating_ip_address=fip.floating_ip_address,
                    fixed_ip=data["internal_ip_address"], net_id=fip.floating_network_id)
            router_id = self._internal(conn, ctx, data["internal_port_id"],
                                       data["internal_ip_address"], fip)
            self._router_match(conn, fip, router_id, data)
            self._put_on_router(conn, fip, router_id)
            row = {"id": records.new_id(), "floatingip_id": fip_id,
                   **{k: data[k] for k in ("external_port", "internal_port",
                                           "internal_ip_address", "protocol",
                                           "internal_port_id", "description")}}
            conn.execute(sa.insert(t.port_forwardings), row)
            routers.add(router_id)
            return ROW_DICT.one(row)

        created = self.db.write(run)
        self.fips.scheduler.notify(routers)
        return created

    def update(self, ctx: Context, fip_id: str, pf_id: str, data: dict[str, Any],
               authorize: Authorize) -> dict[str, Any]:
        if data.get("internal_ip_address"):
            data = {**data, "internal_ip_address": _canonical(data["internal_ip_address"])}
        routers: set[str] = set()

        def run(conn: Connection) -> dict[str, Any]:
            routers.clear()
            ports = [p for p in (data.get("internal_port_id"),) if p]
            current = conn.execute(sa.select(_pf.internal_port_id).where(
                _pf.id == pf_id, _pf.floatingip_id == fip_id)).scalar()
            fip = self._hold(conn, ctx, fip_id, [*ports, *([current] if current else [])])
            authorize(fip)
            old = self._pf_row(conn, fip_id, pf_id, lock=True)
            new = {**ROW_DICT.one(old), **data}
            if data.get("internal_port_id"):
                self._no_binding_fip(conn, new["internal_port_id"], new["internal_ip_address"])
            if new["internal_port_id"] != old.internal_port_id:
                router_id = self._internal(conn, ctx, new["internal_port_id"],
                                           new["internal_ip_address"], fip)
                self._router_match(conn, fip, router_id, new)
            # the internal address must be one of the (new) port's
            ips = {_canonical(ip) for ip in conn.scalars(
                sa.select(_a.ip_address).where(_a.port_id == new["internal_port_id"]))}
            if new["internal_ip_address"] not in ips:
                fixed = [{"subnet_id": r.subnet_id, "ip_address": r.ip_address}
                         for r in conn.execute(_PORT_IPS, {"port": new["internal_port_id"]})]
                raise bad("The internal IP does not correspond to an address on the "
                          f"internal port, which has fixed_ips {fixed}")
            if any(k in data for k in ("internal_port", "external_port")):
                self._collisions(conn, fip_id, new, own_id=pf_id)
            else:
                self._conflicts(conn, fip_id, new, pf_id)
            values = {k: v for k, v in data.items() if getattr(old, k) != v}
            if values:
                conn.execute(sa.update(t.port_forwardings).where(_pf.id == pf_id)
                             .values(**values))
            if fip.router_id:
                routers.add(fip.router_id)
            return new

        updated = self.db.write(run)
        self.fips.scheduler.notify(routers)
        return updated

    @staticmethod
    def _conflicts(conn: Connection, fip_id: str, new: dict[str, Any], own_id: str) -> None:
        """Neutron's _check_port_forwarding_update: another forwarding with the same
        outside (port, protocol) or the same inside socket."""
        outside = conn.execute(sa.select(_pf.external_port).where(
            _pf.floatingip_id == fip_id, _pf.protocol == new["protocol"],
            _pf.external_port == new["external_port"], _pf.id != own_id).limit(1)).first()
        inside = conn.execute(sa.select(_pf.id).where(
            _pf.internal_port_id == new["internal_port_id"],
            _pf.internal_ip_address == new["internal_ip_address"],
            _pf.internal_port == new["internal_port"], _pf.protocol == new["protocol"],
            _pf.id != own_id).limit(1)).first()
        if outside is not None or inside is not None:
            conflict = ({"external_port": new["external_port"]} if outside is not None else
                        {"internal_port_id": new["internal_port_id"],
                         "internal_ip_address": new["internal_ip_address"],
                         "internal_port": new["internal_port"]})
            raise bad("Another port forwarding entry with the same attributes already "
                      f"exists, conflicting values are {conflict}")

    def delete(self, ctx: Context, fip_id: str, pf_id: str, authorize: Authorize) -> None:
        routers: set[str] = set()

        def run(conn: Connection) -> None:
            routers.clear()
            fip = self.fips._row(conn, ctx, fip_id, for_update=True)
            authorize(fip)
            self._pf_row(conn, fip_id, pf_id, lock=True)
            conn.execute(sa.delete(t.port_forwardings).where(_pf.id == pf_id))
            rows.release_unused_fips(conn, [fip_id])
            if fip.router_id:
                routers.add(fip.router_id)

        self.db.write(run)
        self.fips.scheduler.notify(routers)
