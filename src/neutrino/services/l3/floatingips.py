"""Floating IPs (router extension's floatingips, fip-port-details).

A floating IP's address is that of its own port on the external network (device_owner
network:floatingip, device_id the floating IP's id, no project: as Neutron's, it counts
against no port quota), allocated by the core IPAM in the floating IP's transaction.
Associated, it maps to one fixed address of a port whose subnet reaches the external
network through a router with its gateway there (``router_id``), or through the router
the caller names (floating-ip-router-writable: one with its gateway there, however the
port reaches it, which is the operator's routing to arrange). It is DOWN until the
router's L3 agent reports it programmed (``update_floatingip_statuses``), and DOWN again
when disassociated. Deleting the associated port disassociates it (core hook,
services/l3/port_guard.py).
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records, standard_attrs, tags, visibility
from neutrino.core.ipam import allocator
from neutrino.core.quotas import count_by_project
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.listing import ListSpec
from neutrino.db.rowdict import RowDict
from neutrino.exceptions.port_forwarding import FipInUseByPortForwarding
from neutrino.schema import floatingip as floatingip_schema
from neutrino.schema.base import AUTO
from neutrino.services.l3.base import L3ResourceService, PortWork
from neutrino.services.l3.external import is_external
from neutrino.services.l3.owners import FLOATINGIP, ROUTER_GATEWAY, ROUTER_INTERFACE
from neutrino.services.portforwarding import rows as pf_rows

_f = t.floatingips.c
_p = t.ports.c
_a = t.ip_allocations.c
_s = t.subnets.c
_rt = t.routers.c

STATUSES = ("ACTIVE", "DOWN", "ERROR")

LIST_SPEC = ListSpec(table=t.floatingips, columns={"port_id": _f.fixed_port_id})
ROW_DICT = RowDict(floatingip_schema.resource())


def _not_found(id_: str) -> exc.FloatingIPNotFound:
    return exc.FloatingIPNotFound(floatingip_id=id_)


STANDARD_ATTRS = standard_attrs.register("floatingips", "floatingip", LIST_SPEC, _not_found)

_PORT_DETAIL_KEYS = ("name", "network_id", "mac_address", "admin_state_up", "status",
                     "device_id", "device_owner")

# The statements of floating IP create and association, built once: building a SELECT
# costs as much CPU as running it.
_PORT_IPS = sa.select(_a.subnet_id, _a.ip_address).where(_a.port_id == sa.bindparam("port"))
_TAKEN = sa.select(_f.id, _f.floating_ip_address).where(
    _f.floating_network_id == sa.bindparam("net"), _f.fixed_port_id == sa.bindparam("port"),
    _f.fixed_ip_address == sa.bindparam("ip"), _f.id != sa.bindparam("id"))
_FIRST_V4_SUBNET = sa.select(_s.id).where(
    _s.network_id == sa.bindparam("net"), _s.ip_version == 4).order_by(
    _s.created_at, _s.id).limit(1)
_SUBNET = sa.select(_s.network_id, _s.ip_version).where(_s.id == sa.bindparam("id"))
_INSERT = sa.insert(t.floatingips)
_DETAILS = sa.select(t.ports).where(_p.id.in_(sa.bindparam("ids", expanding=True)))


def _router_for_statement() -> sa.Select[Any]:
    """A router with an interface on subnet :subnet and its gateway on network :net
    (the first by id when there are several)."""
    iface = t.ports.alias("iface")
    gw = t.ports.alias("gw")
    return (
        sa.select(_rt.id)
        .select_from(t.ip_allocations)
        .join(iface, iface.c.id == _a.port_id)
        .join(t.routers, _rt.id == iface.c.device_id)
        .join(gw, gw.c.id == _rt.gw_port_id)
        .where(_a.subnet_id == sa.bindparam("subnet"),
               iface.c.device_owner == ROUTER_INTERFACE,
               # an interface of the router's own project (owners.router_leg)
               iface.c.project_id == _rt.project_id,
               gw.c.device_owner == ROUTER_GATEWAY, gw.c.network_id == sa.bindparam("net"))
        .order_by(_rt.id).limit(1))


_ROUTER_FOR = _router_for_statement()
# a router and the network of its gateway (floating-ip-router-writable)
_GW_PORT = t.ports.alias("gw_port")
_ROUTER_GATEWAY = (sa.select(_rt.project_id, _GW_PORT.c.network_id)
                   .select_from(t.routers)
                   .outerjoin(_GW_PORT, _GW_PORT.c.id == _rt.gw_port_id)
                   .where(_rt.id == sa.bindparam("id")))


def _bad(msg: str) -> exc.BadRequest:
    return exc.BadRequest(resource="floatingip", msg=msg)


class FloatingIPService(L3ResourceService):
    list_spec = LIST_SPEC
    not_found = staticmethod(_not_found)

    # --- reading -------------------------------------------------------------------------
    def to_dicts(self, conn: Connection, rows: list[Any],
                 page: sa.Subquery | None = None) -> list[dict[str, Any]]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        fixed = sorted({r.fixed_port_id for r in rows if r.fixed_port_id})
        details: dict[str, dict[str, Any]] = {}
        if fixed:
            for port in conn.execute(_DETAILS, {"ids": fixed}):
                details[port.id] = {k: getattr(port, k) for k in _PORT_DETAIL_KEYS}
        tags_of = tags.load(conn, ids, page)
        out = ROW_DICT(rows)
        for d in out:
            d["tags"] = tags_of.get(d["id"]) or []
            port = d["port_id"]
            d["port_details"] = details.get(port) if port else None
        forwardings = pf_rows.summaries(conn, ids)
        for d in out:
            # expose-port-forwarding-in-fip (-detail: with id and internal_port_id)
            d["port_forwardings"] = forwardings.get(d["id"]) or []
        return out

    # --- association -----------------------------------------------------------------------
    def _association(self, conn: Connection, ctx: Context, fip_id: str, network_id: str,
                     project_id: str | None, port_id: str, fixed_ip: str | None,
                     router_id: str | None = None) -> tuple[str, str, Any]:
        """(fixed address, router id) for associating the floating IP with the port, with
        Neutron's checks; ``router_id``: the router the caller names to host it
        (floating-ip-router-writable), else the one found. The port is held (shared)
        until the commit: its deletion waits, then disassociates this floating IP, or
        comes first and this is a 404."""
        port = self.plugin.ports._row(conn, ctx, port_id, lock=True, shared=True)
        if port.project_id != project_id:
            # as Neutron: a port the caller sees (an admin, the network's owner) but of
            # another project than the floating IP's is a bad request, not a missing port
            raise _bad(f"Cannot process floating IP association with Port {port_id}, "
                       "since that port is owned by a different tenant")
        ips = conn.execute(_PORT_IPS, {"port": port_id}).all()
        if fixed_ip is not None:
            chosen = [ip for ip in ips if ipaddress.ip_address(ip.ip_address)
                      == ipaddress.ip_address(fixed_ip)]
            if not chosen:
                raise _bad(f"Port {port_id} does not have fixed ip {fixed_ip}")
        else:
            chosen = [ip for ip in ips if ipaddress.ip_address(ip.ip_address).version == 4]
            if not chosen:
                raise _bad(f"Cannot add floating IP to port {port_id} that has no fixed "
                           "IPv4 addresses")
            if len(chosen) > 1:
                raise _bad(f"Port {port_id} has multiple fixed IPv4 addresses.  Must "
                           "provide a specific IPv4 address when assigning a floating IP")
        subnet_id, address = chosen[0].subnet_id, chosen[0].ip_address
        if ipaddress.ip_address(address).version != 4:
            raise _bad(f"Cannot add floating IP to port {port_id}: its fixed IP "
                       f"{address} is not an IPv4 address")
        if router_id:
            self._hosting_router(conn, ctx, router_id, network_id)
        else:
            router_id = self._router_for(conn, subnet_id, network_id)
        if router_id is None:
            raise exc.ExternalGatewayForFloatingIPNotFound(
                external_network_id=network_id, subnet_id=subnet_id, port_id=port_id)
        taken = conn.execute(_TAKEN, {"net": network_id, "port": port_id, "ip": address,
                                      "id": fip_id}).first()
        if taken is not None:
            raise exc.FloatingIPPortAlreadyAssociated(
                floating_ip_address=taken.floating_ip_address, fip_id=taken.id,
                port_id=port_id, fixed_ip=address, net_id=network_id)
        return address, router_id, port

    @staticmethod
    def _hosting_router(conn: Connection, ctx: Context, router_id: str,
                        network_id: str) -> None:
        """A router named to host a floating IP (floating-ip-router-writable), as
        Neutron's _validate_requested_floatingip_router: one the caller sees (404
        RouterNotFound) with its gateway on the floating IP's network (409, Neutron's
        generic Conflict); how the port reaches it is not checked. Held (shared) until
        the commit, as _router_for holds the router it finds: its gateway cannot go
        meanwhile."""
        locks.lock(conn, t.routers, [router_id], shared=True)
        row = conn.execute(_ROUTER_GATEWAY, {"id": router_id}).first()
        if row is None or not (ctx.sees_all or row.project_id == ctx.project_id):
            raise exc.RouterNotFound(router_id=router_id)
        if row.network_id != network_id:
            raise exc.Conflict()  # Neutron's Conflict(msg=...) keeps its default message

    @staticmethod
    def _router_for(conn: Connection, subnet_id: str, network_id: str) -> str | None:
        """The router, held (shared) until the commit, as its interface and gateway
        changes hold it exclusively: neither can go while this floating IP comes to
        need them. Found, locked, then looked for again (a statement that waited for a
        lock sees the tables as they were when it started): until both agree."""
        params = {"subnet": subnet_id, "net": network_id}
        router_id = conn.scalar(_ROUTER_FOR, params)
        held: set[str] = set()
        while router_id is not None and router_id not in held:
            locks.lock(conn, t.routers, [router_id], shared=True)
            held.add(router_id)
            router_id = conn.scalar(_ROUTER_FOR, params)
        return router_id

    # --- create / update / delete ----------------------------------------------------------
    def _fixed_ips(self, conn: Connection, ctx: Context, network_id: str,
                   data: dict[str, Any]) -> list[dict[str, str]]:
        address = data.get("floating_ip_address", AUTO)
        address = None if address is AUTO else address
        subnet_id = data.get("subnet_id")
        if subnet_id is not None:
            lookup = _SUBNET if ctx.sees_all else _SUBNET.where(
                visibility.subnet_visible_clause(ctx))  # hidden: as no subnet
            subnet = conn.execute(lookup, {"id": subnet_id}).first()
            if subnet is None:
                raise exc.SubnetNotFound(subnet_id=subnet_id)
            if subnet.network_id != network_id:
                raise _bad(f"Subnet {subnet_id} does not belong to network {network_id}")
            if subnet.ip_version != 4:
                raise _bad(f"Subnet {subnet_id} is not an IPv4 subnet")
        entry: dict[str, str] = {}
        if subnet_id is not None:
            entry["subnet_id"] = subnet_id
        if address is not None:
            entry["ip_address"] = address
        if entry:
            return [entry]
        if conn.scalar(_FIRST_V4_SUBNET, {"net": network_id}) is None:
            raise _bad(f"Network {network_id} does not contain any IPv4 subnet")
        # the first IPv4 subnet floating IPs may use (subnet-service-types), those
        # meant for them first
        usable = allocator.for_owner(conn, network_id,
                                     allocator.load_subnets(conn, network_id), FLOATINGIP)
        v4 = next((s.id for s in usable if s.ip_version == 4), None)
        if v4 is None:
            raise exc.IpAddressGenerationFailureNoMatchingSubnet(
                network_id=network_id, service_type=FLOATINGIP)
        return [{"subnet_id": v4}]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        work = PortWork()

        def run(conn: Connection) -> list[dict[str, Any]]:
            work.__init__()  # type: ignore[misc]
            if self.quotas is not None:
                self.quotas.check(conn, "floatingip", count_by_project(items))
            return [self._insert(conn, ctx, work, d) for d in items]

        created = self.db.write(run)
        self.plugin.ports.after_insert(work.created)
        self.scheduler.notify({f["router_id"] for f in created if f["router_id"]})
        return created

    def _insert(self, conn: Connection, ctx: Context, work: PortWork, data: dict[str, Any]
                ) -> dict[str, Any]:
        network_id = data["floating_network_id"]
        # held before it is read, as a port create holds it (its port is made there)
        locks.lock(conn, t.networks, [network_id], shared=True)
        self.plugin.networks.network_row(conn, ctx, network_id)  # 404 if not visible
        if not is_external(conn, network_id):
            raise _bad(f"Network {network_id} is not a valid external network")
        fip_id = records.new_id()
        fixed_ip = router_id = fixed_port = None
        if data.get("port_id"):
            fixed_ip, router_id, fixed_port = self._association(
                conn, ctx, fip_id, network_id, data["project_id"], data["port_id"],
                data.get("fixed_ip_address"), data.get("router_id"))
        elif data.get("fixed_ip_address"):
            raise _bad("fixed_ip_address cannot be specified without a port_id")
        port_data = {**self._port_defaults, "network_id": network_id, "project_id": "",
                     "tenant_id": "", "device_owner": FLOATINGIP, "device_id": fip_id,
                     "fixed_ips": self._fixed_ips(conn, ctx, network_id, data)}
        created = self.plugin.ports.insert_in(conn, port_data)
        work.created.append(created)
        port = created[0]
        address = next(ip["ip_address"] for ip in port["fixed_ips"]
                       if ipaddress.ip_address(ip["ip_address"]).version == 4)
        ts = records.now()
        row = {"id": fip_id, "project_id": data["project_id"], "floating_ip_address": address,
               "floating_network_id": network_id, "floating_port_id": port["id"],
               "fixed_port_id": data.get("port_id"), "fixed_ip_address": fixed_ip,
               "router_id": router_id, "status": "DOWN", "description": data["description"],
               "created_at": ts, "updated_at": ts, "revision_number": 1}
        conn.execute(_INSERT, row)
        # what to_dicts would read back, from what is at hand (a hot path)
        details = {k: getattr(fixed_port, k) for k in _PORT_DETAIL_KEYS} if fixed_port \
            else None
        return {**ROW_DICT.of_values([row])[0], "tags": [], "port_details": details,
                "port_forwardings": []}

    def update(self, ctx: Context, fip_id: str, data: dict[str, Any]) -> dict[str, Any]:
        routers: set[str] = set()

        def run(conn: Connection) -> dict[str, Any]:
            routers.clear()
            row = self._row(conn, ctx, fip_id, for_update=True)
            records.check_revision(ctx, row)
            values: dict[str, Any] = {}
            if "description" in data and data["description"] != row.description:
                values["description"] = data["description"]
            # As Neutron: an update naming neither keeps the association, but an empty
            # one ({"floatingip": {}}) clears it, as {"port_id": null} does. A router_id
            # alone hosts the current association there (floating-ip-router-writable);
            # without a port it is ignored, as Neutron's.
            if not data or {"port_id", "fixed_ip_address", "router_id"} & data.keys():
                port_id = data.get("port_id", row.fixed_port_id if data else None)
                if data.get("port_id") and pf_rows.has_any(conn, fip_id):
                    # only a "free" floating IP takes port forwardings (Neutron's pf
                    # plugin), and one that has them takes no port
                    raise FipInUseByPortForwarding(id=fip_id)
                if port_id is None:
                    if data.get("fixed_ip_address"):
                        raise _bad("fixed_ip_address cannot be specified without a port_id")
                    new = {"fixed_port_id": None, "fixed_ip_address": None,
                           # its port forwardings keep it on their router
                           "router_id": row.router_id if row.fixed_port_id is None
                           and pf_rows.has_any(conn, fip_id) else None}
                else:
                    fixed, router_id, _port = self._association(
                        conn, ctx, fip_id, row.floating_network_id, row.project_id,
                        port_id, data.get("fixed_ip_address"), data.get("router_id"))
                    new = {"fixed_port_id": port_id, "fixed_ip_address": fixed,
                           "router_id": router_id}
                if any(getattr(row, k) != v for k, v in new.items()):
                    values.update(new)
                    # DOWN until the agent of its (new) router programs it
                    values["status"] = "DOWN"
                    routers.update(r for r in (row.router_id, new["router_id"]) if r)
            if values:
                records.revise(conn, t.floatingips, row, values)
            return self._load(conn, fip_id)

        fip = self.db.write(run)
        self.scheduler.notify(routers)
        return fip

    def delete(self, ctx: Context, fip_id: str) -> None:
        work = PortWork()
        routers: set[str] = set()

        def run(conn: Connection) -> None:
            work.__init__()  # type: ignore[misc]
            routers.clear()
            row = self._row(conn, ctx, fip_id, for_update=True)
            records.check_revision(ctx, row)
            if pf_rows.has_any(conn, fip_id):
                raise FipInUseByPortForwarding(id=fip_id)
            if row.router_id:
                routers.add(row.router_id)
            conn.execute(sa.delete(t.floatingips).where(_f.id == fip_id))
            tags.delete_of(conn, [fip_id])
            port = conn.execute(sa.select(t.ports).where(_p.id == row.floating_port_id)).first()
            if port is not None:
                work.deleted.append(self.plugin.ports.delete_in(
                    conn, self.plugin.ports.to_dicts(conn, [port])[0], l3_owner=True))

        self.db.write(run)
        self.plugin.ports.after_delete(work.deleted)
        self.scheduler.notify(routers)

    # --- from the L3 agent -------------------------------------------------------------------
    def update_statuses(self, router_id: str, statuses: dict[str, str]) -> list[str]:
        """update_floatingip_statuses: the floating IPs of that router whose status
        changes (a floating IP since moved to another router is left alone). Returns
        the ids changed."""
        for fip_id, status in statuses.items():
            if not isinstance(fip_id, str) or status not in STATUSES:
                raise ValueError(f"bad floating IP status {fip_id!r}: {status!r}")

        def run(conn: Connection) -> list[str]:
            changed: list[str] = []
            by_status: dict[str, list[str]] = {}
            for fip_id, status in statuses.items():
                by_status.setdefault(status, []).append(fip_id)
            for status, ids in sorted(by_status.items()):
                if status == "ACTIVE":
                    # only an associated floating IP is active
                    where = [_f.router_id == router_id]
                else:
                    where = [sa.or_(_f.router_id == router_id, _f.router_id.is_(None))]
                targets = list(conn.scalars(sa.select(_f.id).where(
                    _f.id.in_(ids), _f.status != status, *where)))
                if targets:
                    conn.execute(sa.update(t.floatingips).where(_f.id.in_(targets)).values(
                        status=status, updated_at=records.now(),
                        revision_number=_f.revision_number + 1))
                    changed += targets
            return sorted(changed)

        return self.db.write(run)

    # --- the core's port hook ------------------------------------------------------------------
    @staticmethod
    def disassociate_port(conn: Connection, port_id: str) -> list[str]:
        """The port is being deleted: its floating IPs stay, unassociated (DOWN).
        Returns the routers they were on."""
        rows = conn.execute(sa.select(_f.id, _f.router_id).where(
            _f.fixed_port_id == port_id)).all()
        if rows:
            conn.execute(sa.update(t.floatingips).where(_f.fixed_port_id == port_id).values(
                fixed_port_id=None, fixed_ip_address=None, router_id=None, status="DOWN",
                updated_at=records.now(), revision_number=_f.revision_number + 1))
        return sorted({r.router_id for r in rows if r.router_id})
