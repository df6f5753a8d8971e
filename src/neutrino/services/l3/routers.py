"""Routers (extensions router, ext-gw-mode, extraroute, extraroute-atomic).

A router's gateway and interfaces are ports (owners in services/l3/owners.py, device_id
the router's id) created and deleted inside the router's own transactions, so a router
change is all or nothing. The gateway port belongs to no project (project_id "", as
Neutron's) and an interface port to the router's project; neither counts against a
quota. After each commit the router's L3 agent hears of it (services/l3/scheduler.py)
and the new ports are bound to that agent's host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import binding, records, standard_attrs, tags
from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.quotas import count_by_project
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.listing import ListSpec, of_rows
from neutrino.db.rowdict import RowDict
from neutrino.schema import availability_zone as az_schema
from neutrino.schema import router as router_schema
from neutrino.schema.base import AUTO
from neutrino.services import availability_zones as az
from neutrino.services.l3 import extraroutes
from neutrino.services.l3.base import L3ResourceService, PortWork
from neutrino.services.l3.external import is_external
from neutrino.services.l3.owners import ROUTER_GATEWAY, ROUTER_INTERFACE, router_leg

_rt = t.routers.c
_rr = t.router_routes.c
_p = t.ports.c
_a = t.ip_allocations.c
_s = t.subnets.c
_f = t.floatingips.c


# A router one of whose ports (gateway, interfaces) no mechanism driver could bind is cut
# off there: its status says ERROR (Neutron's router status for a router that does not
# work), derived when read, so it is ACTIVE again as soon as the port binds (an L2 agent
# that comes up rebinds its host's failed ports, core/binding.py). The binder logs it.
ERROR = "ERROR"
_b = t.port_bindings.c


def _unbound_port(router_id: sa.ColumnElement[Any]) -> sa.Exists:
    return sa.exists().where(
        _p.device_id == router_id, _p.device_owner.in_((ROUTER_GATEWAY, ROUTER_INTERFACE)),
        _b.port_id == _p.id, _b.vif_type == binding.FAILED)


def _status_filter(values: list[Any]) -> sa.ColumnElement[bool]:
    failed = _unbound_port(_rt.id)
    return sa.or_(*(failed if v == ERROR else sa.and_(_rt.status == v, ~failed)
                    for v in values))


LIST_SPEC = ListSpec(table=t.routers, custom_filters={"status": _status_filter})
ROW_DICT = RowDict(router_schema.resource())


def _not_found(id_: str) -> exc.RouterNotFound:
    return exc.RouterNotFound(router_id=id_)


STANDARD_ATTRS = standard_attrs.register("routers", "router", LIST_SPEC, _not_found)

# Statements of the hot paths (add_router_interface), built once.
_INTERFACES = (
    sa.select(_p.id, _a.subnet_id, _a.ip_address, _s.cidr)
    .join(t.ip_allocations, _a.port_id == _p.id)
    .join(t.subnets, _s.id == _a.subnet_id)
    .join(t.routers, _rt.id == _p.device_id)
    .where(_p.device_id == sa.bindparam("router"), _p.device_owner == ROUTER_INTERFACE,
           router_leg(_p, _rt)))
_SUBNET = sa.select(t.subnets).where(_s.id == sa.bindparam("id"))

# The policy check of a member action, given the router (api/l3.py).
Authorize = Callable[[dict[str, Any]], None]


def _bad(msg: str) -> exc.BadRequest:
    return exc.BadRequest(resource="router", msg=msg)


class RouterService(L3ResourceService):
    list_spec = LIST_SPEC
    not_found = staticmethod(_not_found)

    # --- reading -------------------------------------------------------------------------
    def to_dicts(self, conn: Connection, rows: list[Any],
                 page: sa.Subquery | None = None) -> list[dict[str, Any]]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        routes: dict[str, list[dict[str, str]]] = {}
        for router_id, dest, nexthop in conn.execute(
                sa.select(_rr.router_id, _rr.destination, _rr.nexthop)
                .where(of_rows(_rr.router_id, ids, page))
                .order_by(_rr.router_id, _rr.destination, _rr.nexthop)):
            routes.setdefault(router_id, []).append({"destination": dest, "nexthop": nexthop})
        gw_ids = [r.gw_port_id for r in rows if r.gw_port_id]
        gw_net: dict[str, str] = {}
        gw_ips: dict[str, list[dict[str, str]]] = {}
        if gw_ids:
            gw_net = dict(conn.execute(sa.select(_p.id, _p.network_id).where(
                _p.id.in_(gw_ids))).all())
            for port_id, subnet_id, ip in conn.execute(
                    sa.select(_a.port_id, _a.subnet_id, _a.ip_address)
                    .where(_a.port_id.in_(gw_ids)).order_by(_a.port_id, _a.ip_address)):
                gw_ips.setdefault(port_id, []).append(
                    {"subnet_id": subnet_id, "ip_address": ip})
        tags_of = tags.load(conn, ids, page)
        failed = set(conn.scalars(sa.select(_p.device_id).join(
            t.port_bindings, _b.port_id == _p.id).where(
            of_rows(_p.device_id, ids, page), _b.vif_type == binding.FAILED,
            _p.device_owner.in_((ROUTER_GATEWAY, ROUTER_INTERFACE)))))
        out = ROW_DICT(rows)
        for d, r in zip(out, rows, strict=True):
            gateway = None
            if r.gw_port_id and r.gw_port_id in gw_net:
                gateway = {"network_id": gw_net[r.gw_port_id],
                           "enable_snat": bool(r.enable_snat),
                           "external_fixed_ips": gw_ips.get(r.gw_port_id, [])}
            d["external_gateway_info"] = gateway
            d["routes"] = routes.get(r.id, [])
            d["ha"] = False  # no l3-ha: every router is a legacy one
            d["tags"] = tags_of.get(r.id) or []
            d["status"] = ERROR if r.id in failed else r.status
        zones = az.router_attrs(conn, ids, page)  # router_availability_zone
        for d in out:
            d.update(zones[d["id"]])
        return out

    # --- after a commit ----------------------------------------------------------------------
    def _finish(self, work: PortWork, router_ids: list[str],
                extra_hosts: dict[str, str] | None = None) -> None:
        ports = self.plugin.ports
        ports.after_delete(work.deleted)
        ports.after_insert(work.created)
        if ports.binder is not None:
            for original, current in work.updated:
                ports.binder.after_update(original, current)
        self.scheduler.notify(router_ids, extra_hosts)

    # --- ports inside a transaction ------------------------------------------------------------
    def _create_port(self, conn: Connection, work: PortWork, **values: Any) -> dict[str, Any]:
        data = {**self._port_defaults, **values}
        data["tenant_id"] = data["project_id"]
        created = self.plugin.ports.insert_in(conn, data)
        work.created.append(created)
        return created[0]

    def _delete_port(self, conn: Connection, work: PortWork, port_id: str) -> None:
        row = conn.execute(sa.select(t.ports).where(_p.id == port_id)).first()
        if row is None:
            return
        port = self.plugin.ports.to_dicts(conn, [row])[0]
        work.deleted.append(self.plugin.ports.delete_in(conn, port, l3_owner=True))

    # --- gateway -------------------------------------------------------------------------------
    def _add_gateway(self, conn: Connection, ctx: Context, work: PortWork, router: Any,
                     info: dict[str, Any], host: str) -> None:
        network_id = info["network_id"]
        # held before it is read, as a port create holds it: an RBAC revoke of the
        # project's access as external waits for this commit, or is seen here
        locks.lock(conn, t.networks, [network_id], shared=True)
        self.plugin.networks.network_row(conn, ctx, network_id)  # 404 if not visible
        if not is_external(conn, network_id):
            raise _bad(f"Network {network_id} is not an external network")
        fixed = info.get("external_fixed_ips")
        port = self._create_port(
            conn, work, network_id=network_id, project_id="", device_owner=ROUTER_GATEWAY,
            device_id=router.id, fixed_ips=fixed if fixed else AUTO,
            **{binding.HOST: host})
        # An external network without a subnet gives a gateway port without addresses,
        # as Neutron's (one with subnets but no free address fails in the allocation).
        conn.execute(sa.update(t.routers).where(_rt.id == router.id).values(
            gw_port_id=port["id"], enable_snat=info.get("enable_snat", True)))

    def _remove_gateway(self, conn: Connection, work: PortWork, router: Any) -> None:
        if not router.gw_port_id:
            return
        network_id = conn.scalar(sa.select(_p.network_id).where(_p.id == router.gw_port_id))
        if conn.execute(sa.select(_f.id).where(_f.router_id == router.id).limit(1)
                        ).first() is not None:
            raise exc.RouterExternalGatewayInUseByFloatingIp(router_id=router.id,
                                                             net_id=network_id)
        conn.execute(sa.update(t.routers).where(_rt.id == router.id).values(gw_port_id=None))
        self._delete_port(conn, work, router.gw_port_id)

    def _update_gateway(self, conn: Connection, ctx: Context, work: PortWork, router: Any,
                        current: dict[str, Any] | None, info: dict[str, Any] | None,
                        host: str) -> bool:
        """external_gateway_info on update; whether anything changed."""
        if info is None:
            if current is None:
                return False
            self._remove_gateway(conn, work, router)
            return True
        if current is not None and current["network_id"] == info["network_id"]:
            changed = False
            fixed = info.get("external_fixed_ips")
            if fixed is not None and not _same_ips(fixed, current["external_fixed_ips"]):
                port = self.plugin.ports.to_dicts(conn, [conn.execute(
                    sa.select(t.ports).where(_p.id == router.gw_port_id)).one()])[0]
                # the gateway port's addresses, changed through the port service's rules
                # in this transaction: delete and recreate keeps it simple and atomic
                conn.execute(sa.update(t.routers).where(_rt.id == router.id).values(
                    gw_port_id=None))
                self._delete_port(conn, work, port["id"])
                new = self._create_port(
                    conn, work, network_id=info["network_id"], project_id="",
                    device_owner=ROUTER_GATEWAY, device_id=router.id, fixed_ips=fixed,
                    mac_address=port["mac_address"], **{binding.HOST: host})
                conn.execute(sa.update(t.routers).where(_rt.id == router.id).values(
                    gw_port_id=new["id"]))
                changed = True
            snat = info.get("enable_snat", True)
            if snat != current["enable_snat"]:
                conn.execute(sa.update(t.routers).where(_rt.id == router.id).values(
                    enable_snat=snat))
                changed = True
            return changed
        self._remove_gateway(conn, work, router)
        self._add_gateway(conn, ctx, work, router, info, host)
        return True

    # --- create / update / delete ----------------------------------------------------------------
    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        work = PortWork()

        def run(conn: Connection) -> list[dict[str, Any]]:
            work.__init__()  # type: ignore[misc]  # a rerun transaction starts afresh
            if self.quotas is not None:
                self.quotas.check(conn, "router", count_by_project(items))
            out = []
            for data in items:
                ts = records.now()
                router_id = records.new_id()
                # subscribers may refuse (l3-flavors: the flavors plugin's flavor check)
                self.plugin.registry.publish(
                    Resource.ROUTER, Event.BEFORE_CREATE, self,
                    Payload(context=ctx, request_body=data, conn=conn))
                conn.execute(sa.insert(t.routers).values(
                    id=router_id, project_id=data["project_id"], name=data["name"],
                    status="ACTIVE", admin_state_up=data["admin_state_up"], gw_port_id=None,
                    enable_snat=True, flavor_id=data.get("flavor_id"),
                    description=data["description"], created_at=ts,
                    updated_at=ts, revision_number=1,
                    availability_zone_hints=az.stored_hints(
                        conn, self.conf, "router", data.get(az_schema.HINTS))))
                host = self.scheduler.schedule(conn, router_id)
                if data.get("external_gateway_info"):
                    row = conn.execute(sa.select(t.routers).where(_rt.id == router_id)).one()
                    self._add_gateway(conn, ctx, work, row, data["external_gateway_info"],
                                      host)
                out.append(self._load(conn, router_id))
            return out

        created = self.db.write(run)
        self._finish(work, [r["id"] for r in created])
        return created

    def update(self, ctx: Context, router_id: str, data: dict[str, Any]) -> dict[str, Any]:
        work = PortWork()

        def run(conn: Connection) -> dict[str, Any]:
            work.__init__()  # type: ignore[misc]
            row = self._row(conn, ctx, router_id, for_update=True)
            records.check_revision(ctx, row)
            original = self.to_dicts(conn, [row])[0]
            values = {k: data[k] for k in ("name", "admin_state_up", "description")
                      if k in data and data[k] != getattr(row, k)}
            changed = bool(values)
            if "external_gateway_info" in data:
                host = self.scheduler.host_of(conn, router_id)
                changed |= self._update_gateway(conn, ctx, work, row,
                                                original["external_gateway_info"],
                                                data["external_gateway_info"], host)
            if "routes" in data:
                changed |= extraroutes.replace(conn, self.conf, row.id, original["routes"],
                                              data["routes"])
            if changed:
                records.revise(conn, t.routers, row, values)
            return self._load(conn, router_id)

        router = self.db.write(run)
        self._finish(work, [router_id])
        return router

    def delete(self, ctx: Context, router_id: str) -> None:
        work = PortWork()
        hosts: dict[str, str] = {}

        def run(conn: Connection) -> None:
            work.__init__()  # type: ignore[misc]
            row = self._row(conn, ctx, router_id, for_update=True)
            records.check_revision(ctx, row)
            if conn.execute(sa.select(_p.id).where(
                    _p.device_id == router_id, _p.device_owner == ROUTER_INTERFACE,
                    _p.project_id == row.project_id)  # its legs (owners.router_leg)
                    .limit(1)).first() is not None:
                raise exc.RouterInUse(router_id=router_id)
            hosts.update(self.scheduler.hosts_of(conn, [router_id]))
            self._remove_gateway(conn, work, row)
            conn.execute(sa.delete(t.routers).where(_rt.id == router_id))
            tags.delete_of(conn, [router_id])

        self.db.write(run)
        self._finish(work, [], hosts)

    # --- routes (extraroute, extraroute-atomic) ------------------------------------------------
    def change_routes(self, ctx: Context, router_id: str, routes: list[dict[str, str]],
                      *, add: bool, authorize: Authorize | None = None) -> dict[str, Any]:
        """add_extraroutes / remove_extraroutes: one atomic change, idempotent (adding a
        route there, removing one that is not, changes nothing)."""
        def run(conn: Connection) -> dict[str, Any]:
            row = self._row(conn, ctx, router_id, for_update=True)
            if authorize is not None:
                authorize(_target(row))
            records.check_revision(ctx, row)
            current = self.to_dicts(conn, [row])[0]["routes"]
            keys = {(r["destination"], r["nexthop"]) for r in routes}
            if add:
                new = current + [r for r in routes if (r["destination"], r["nexthop"]) not in
                                 {(c["destination"], c["nexthop"]) for c in current}]
            else:
                new = [c for c in current if (c["destination"], c["nexthop"]) not in keys]
            if extraroutes.replace(conn, self.conf, router_id, current, new):
                records.bump_revisions(conn, t.routers, [router_id])
            return self._load(conn, router_id)

        router = self.db.write(run)
        self.scheduler.notify([router_id])
        return router

    # --- interfaces ------------------------------------------------------------------------
    def _interfaces(self, conn: Connection, router_id: str) -> list[Any]:
        """(port_id, subnet_id, ip_address, cidr) of each address of its interfaces."""
        return conn.execute(_INTERFACES, {"router": router_id}).all()

    @staticmethod
    def _check_new_subnets(router_id: str, existing: list[Any],
                           subnets: list[Any]) -> None:
        attached = {e.subnet_id for e in existing}
        for s in subnets:
            if s.id in attached:
                raise _bad(f"Router already has a port on subnet {s.id}")
            cidr = ipaddress.ip_network(s.cidr, strict=False)
            for e in existing:
                other = ipaddress.ip_network(e.cidr, strict=False)
                if cidr.version == other.version and cidr.overlaps(other):
                    raise _bad(f"Cidr {s.cidr} of subnet {s.id} overlaps with cidr "
                               f"{e.cidr} of subnet {e.subnet_id}")

    def _subnet(self, conn: Connection, ctx: Context, subnet_id: str) -> tuple[Any, Any]:
        """The subnet and its network, if the caller sees them (SubnetNotFound)."""
        row = conn.execute(_SUBNET, {"id": subnet_id}).first()
        if row is None:
            raise exc.SubnetNotFound(subnet_id=subnet_id)
        # the network held shared before the caller's access to it is read, as a port
        # create holds it; the subnet (changed or deleted only under the network's
        # exclusive lock) is then read again
        locks.lock(conn, t.networks, [row.network_id], shared=True)
        row = conn.execute(_SUBNET, {"id": subnet_id}).first()
        if row is None:
            raise exc.SubnetNotFound(subnet_id=subnet_id)
        try:
            network = self.plugin.networks.network_row(conn, ctx, row.network_id)
        except exc.NetworkNotFound:
            raise exc.SubnetNotFound(subnet_id=subnet_id) from None
        return row, network

    def add_interface(self, ctx: Context, router_id: str, info: dict[str, str],
                      authorize: Authorize | None = None) -> dict[str, Any]:
        """``authorize``: the policy check of the action, given the router's policy
        target (``_target``) inside the transaction, after its 404."""
        work = PortWork()

        def run(conn: Connection) -> dict[str, Any]:
            work.__init__()  # type: ignore[misc]
            router = self._row(conn, ctx, router_id, for_update=True)
            if authorize is not None:
                authorize(_target(router))
            if "subnet_id" in info and "port_id" in info:
                raise _bad("Cannot specify both subnet-id and port-id")
            if not info:
                raise _bad("Either subnet_id or port_id must be specified")
            existing = self._interfaces(conn, router_id)
            host = self.scheduler.host_of(conn, router_id)
            if "port_id" in info:
                port = self._attach_port(conn, ctx, work, router, existing, info["port_id"],
                                         host)
            else:
                subnet, _ = self._subnet(conn, ctx, info["subnet_id"])
                if not subnet.gateway_ip:
                    raise _bad("Subnet for router interface must have a gateway IP")
                self._check_new_subnets(router_id, existing, [subnet])
                port = self._create_port(
                    conn, work, network_id=subnet.network_id, project_id=router.project_id,
                    device_owner=ROUTER_INTERFACE, device_id=router_id,
                    fixed_ips=[{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}],
                    **{binding.HOST: host})
            records.bump_revisions(conn, t.routers, [router_id])
            return _interface_info(router, port)

        result = self.db.write(run)
        self._finish(work, [router_id])
        return result

    def _attach_port(self, conn: Connection, ctx: Context, work: PortWork, router: Any,
                     existing: list[Any], port_id: str, host: str) -> dict[str, Any]:
        # held until the commit: the same port added to two routers at once is refused
        # to one of them (PortInUse), as one after the other
        row = self.plugin.ports._row(conn, ctx, port_id, lock=True)
        if row.device_id:
            raise exc.PortInUse(port_id=port_id, net_id=row.network_id,
                                device_id=row.device_id)
        if row.project_id != router.project_id:
            # A port of another project would not be one of the router's legs
            # (owners.router_leg): refused, as Neutron refuses it to all but admins.
            raise exc.DeviceIDNotOwnedByTenant(device_id=router.id)
        original = self.plugin.ports.to_dicts(conn, [row])[0]
        if not original["fixed_ips"]:
            raise _bad("Router port must have at least one fixed IP")
        if len({ip["subnet_id"] for ip in original["fixed_ips"]
                if ipaddress.ip_address(ip["ip_address"]).version == 4}) > 1:
            raise _bad("Cannot have multiple IPv4 subnets on router port")
        subnets = conn.execute(sa.select(t.subnets).where(
            _s.id.in_({ip["subnet_id"] for ip in original["fixed_ips"]}))).all()
        self._check_new_subnets(router.id, existing, subnets)
        conn.execute(sa.update(t.ports).where(_p.id == port_id).values(
            device_id=router.id, device_owner=ROUTER_INTERFACE, updated_at=records.now(),
            revision_number=row.revision_number + 1))
        if host and original[binding.HOST] != host:
            # moved to the router's host: bound again there after the commit
            conn.execute(sa.update(t.port_bindings).where(
                t.port_bindings.c.port_id == port_id).values(
                host=host, vif_type=binding.UNBOUND, vif_details="{}"))
        current = self.plugin.ports.to_dicts(conn, [conn.execute(
            sa.select(t.ports).where(_p.id == port_id)).one()])[0]
        work.updated.append((original, current))
        return current

    def remove_interface(self, ctx: Context, router_id: str, info: dict[str, str],
                         authorize: Authorize | None = None) -> dict[str, Any]:
        work = PortWork()

        def run(conn: Connection) -> dict[str, Any]:
            work.__init__()  # type: ignore[misc]
            router = self._row(conn, ctx, router_id, for_update=True)
            if authorize is not None:
                authorize(_target(router))
            if not info:
                raise _bad("Either subnet_id or port_id must be specified")
            existing = self._interfaces(conn, router_id)
            subnet_id = info.get("subnet_id")
            if "port_id" in info:
                port_id = info["port_id"]
                mine = [e for e in existing if e.id == port_id]
                if not mine:
                    raise exc.RouterInterfaceNotFound(router_id=router_id, port_id=port_id)
                if subnet_id is not None and subnet_id not in {e.subnet_id for e in mine}:
                    raise exc.RouterInterfaceNotFoundForSubnet(router_id=router_id,
                                                               subnet_id=subnet_id)
            else:
                assert subnet_id is not None
                mine = [e for e in existing if e.subnet_id == subnet_id]
                if not mine:
                    self._subnet(conn, ctx, subnet_id)  # 404 SubnetNotFound first
                    raise exc.RouterInterfaceNotFoundForSubnet(router_id=router_id,
                                                               subnet_id=subnet_id)
                port_id = mine[0].id
                mine = [e for e in existing if e.id == port_id]
            self._check_not_needed(conn, router_id, existing, mine)
            port_row = conn.execute(sa.select(t.ports).where(_p.id == port_id)).one()
            port = self.plugin.ports.to_dicts(conn, [port_row])[0]
            self._delete_port(conn, work, port_id)
            records.bump_revisions(conn, t.routers, [router_id])
            return _interface_info(router, port)

        result = self.db.write(run)
        self._finish(work, [router_id])
        return result

    @staticmethod
    def _check_not_needed(conn: Connection, router_id: str, existing: list[Any],
                          removed: list[Any]) -> None:
        """Neither a floating IP nor an extra route needs the subnets going away."""
        for e in removed:
            cidr = ipaddress.ip_network(e.cidr, strict=False)
            fips = [*conn.execute(sa.select(_f.fixed_ip_address).where(
                _f.router_id == router_id, _f.fixed_ip_address.is_not(None))).scalars(),
                # port forwardings' targets need the subnet as much (branch portfwd)
                *conn.execute(sa.select(t.port_forwardings.c.internal_ip_address).join(
                    t.floatingips, _f.id == t.port_forwardings.c.floatingip_id).where(
                    _f.router_id == router_id)).scalars()]
            if any(ipaddress.ip_address(ip) in cidr for ip in fips
                   if ipaddress.ip_address(ip).version == cidr.version):
                raise exc.RouterInterfaceInUseByFloatingIP(router_id=router_id,
                                                           subnet_id=e.subnet_id)
            remaining = [ipaddress.ip_network(x.cidr, strict=False) for x in existing
                         if x.id != e.id]
            for hop in conn.execute(sa.select(_rr.nexthop).where(
                    _rr.router_id == router_id)).scalars():
                ip = ipaddress.ip_address(hop)
                if ip.version == cidr.version and ip in cidr and not any(
                        ip.version == n.version and ip in n for n in remaining):
                    raise exc.RouterInterfaceInUseByRoute(router_id=router_id,
                                                          subnet_id=e.subnet_id)


def _same_ips(wanted: list[dict[str, str]], have: list[dict[str, str]]) -> bool:
    """Whether external_fixed_ips asks for what the gateway has (entries without an
    address match any address on their subnet)."""
    if len(wanted) != len(have):
        return False
    left = list(have)
    for w in wanted:
        found = next((h for h in left if all(h.get(k) == v for k, v in w.items())), None)
        if found is None:
            return False
        left.remove(found)
    return True


def _target(r: Any) -> dict[str, Any]:
    """What the policy rules of the member actions read of a router."""
    return {"id": r.id, "name": r.name, "admin_state_up": r.admin_state_up,
            "status": r.status, "project_id": r.project_id, "tenant_id": r.project_id}


def _interface_info(router: Any, port: dict[str, Any]) -> dict[str, Any]:
    """The body of add/remove_router_interface's answer, as Neutron's."""
    subnet_ids = [ip["subnet_id"] for ip in port["fixed_ips"]]
    return {
        "id": router.id,
        "tenant_id": router.project_id,
        "project_id": router.project_id,
        "port_id": port["id"],
        "subnet_id": subnet_ids[0] if subnet_ids else None,
        "subnet_ids": subnet_ids,
        "network_id": port["network_id"],
    }
