"""Subnets: CIDR, gateway and pool validation, nameservers, host routes, deletion rules."""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import common
from neutrino.core.common import AUTO_DELETE_PORT_OWNERS, Service
from neutrino.core.ipam import subnet_math as sm
from neutrino.core.ipam.allocator import ROUTER_INTERFACE_OWNERS
from neutrino.core.mech.base import DriverContext
from neutrino.db import tables as t
from neutrino.db.listing import ListQuery, ListSpec, select_page
from neutrino.schema.base import AUTO

_s = t.subnets.c

LIST_SPEC = ListSpec(
    table=t.subnets,
    custom_filters={
        "shared": lambda v: _s.network_id.in_(
            sa.select(t.networks.c.id).where(t.networks.c.shared.in_(v))
        ),
        "dns_nameservers": lambda v: _s.id.in_(
            sa.select(t.dns_nameservers.c.subnet_id).where(t.dns_nameservers.c.address.in_(v))
        ),
    },
)


class SubnetService(Service):
    # --- reading -----------------------------------------------------------------------
    def to_dicts(self, conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        pools: dict[str, list[dict[str, str]]] = {}
        ap = t.allocation_pools.c
        for p in conn.execute(sa.select(t.allocation_pools).where(ap.subnet_id.in_(ids))
                              .order_by(ap.id)):
            pools.setdefault(p.subnet_id, []).append({"start": p.first_ip, "end": p.last_ip})
        dns: dict[str, list[str]] = {}
        dn = t.dns_nameservers.c
        for d in conn.execute(sa.select(t.dns_nameservers).where(dn.subnet_id.in_(ids))
                              .order_by(dn.order)):
            dns.setdefault(d.subnet_id, []).append(d.address)
        routes: dict[str, list[dict[str, str]]] = {}
        hr = t.host_routes.c
        for h in conn.execute(sa.select(t.host_routes).where(hr.subnet_id.in_(ids))):
            routes.setdefault(h.subnet_id, []).append(
                {"destination": h.destination, "nexthop": h.nexthop})
        net_ids = list({r.network_id for r in rows})
        shared = dict(conn.execute(
            sa.select(t.networks.c.id, t.networks.c.shared).where(t.networks.c.id.in_(net_ids))
        ).tuples().all())
        return [
            {
                "id": r.id,
                "name": r.name,
                "network_id": r.network_id,
                "ip_version": r.ip_version,
                "subnetpool_id": r.subnetpool_id,
                "cidr": r.cidr,
                "gateway_ip": r.gateway_ip,
                "allocation_pools": pools.get(r.id, []),
                "dns_nameservers": dns.get(r.id, []),
                "host_routes": routes.get(r.id, []),
                **common.project_fields(r.project_id),
                "enable_dhcp": r.enable_dhcp,
                "ipv6_ra_mode": r.ipv6_ra_mode,
                "ipv6_address_mode": r.ipv6_address_mode,
                "shared": bool(shared.get(r.network_id, False)),
                **common.standard_fields(r),
            }
            for r in rows
        ]

    def _visible_clause(self, ctx: Context) -> sa.ColumnElement[bool]:
        return sa.or_(
            _s.project_id == ctx.project_id,
            _s.network_id.in_(sa.select(t.networks.c.id).where(
                common.network_visible_clause(ctx))),
        )

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.is_admin else [self._visible_clause(ctx)]
            rows, more = select_page(conn, LIST_SPEC, q, extra_where=extra,
                                     marker_not_found=lambda m: exc.SubnetNotFound(subnet_id=m))
            return self.to_dicts(conn, rows), more

        return self.db.read(run)

    def _row(self, conn: Connection, ctx: Context, subnet_id: str) -> Any:
        stmt = sa.select(t.subnets).where(_s.id == subnet_id)
        if not ctx.is_admin:
            stmt = stmt.where(self._visible_clause(ctx))
        row = conn.execute(stmt).first()
        if row is None:
            raise exc.SubnetNotFound(subnet_id=subnet_id)
        return row

    def get(self, ctx: Context, subnet_id: str) -> dict[str, Any]:
        return self.db.read(lambda conn: self.to_dicts(conn, [self._row(conn, ctx, subnet_id)])[0])

    # --- validation ----------------------------------------------------------------------
    def _check_limits(self, subnet_id: str, data: dict[str, Any]) -> None:
        if len(data.get("dns_nameservers") or []) > self.conf.max_dns_nameservers:
            raise exc.DNSNameServersExhausted(subnet_id=subnet_id,
                                              quota=self.conf.max_dns_nameservers)
        if len(data.get("host_routes") or []) > self.conf.max_subnet_host_routes:
            raise exc.HostRoutesExhausted(subnet_id=subnet_id,
                                          quota=self.conf.max_subnet_host_routes)

    @staticmethod
    def _check_overlap(conn: Connection, network_id: str, net: sm.IPNetwork,
                       exclude: str | None = None) -> None:
        for other in conn.execute(sa.select(_s.id, _s.cidr).where(_s.network_id == network_id)):
            if other.id != exclude and net.overlaps(ipaddress.ip_network(other.cidr)):
                raise exc.InvalidInput(
                    error_message=f"Requested subnet with cidr: {net} for network: "
                    f"{network_id} overlaps with another subnet"
                )

    # --- writing -------------------------------------------------------------------------
    def _write_children(self, conn: Connection, subnet_id: str, data: dict[str, Any],
                        pools: list[sm.Pool] | None, version: int) -> None:
        if pools is not None:
            conn.execute(sa.delete(t.allocation_pools).where(
                t.allocation_pools.c.subnet_id == subnet_id))
            if pools:
                conn.execute(sa.insert(t.allocation_pools), [
                    {"subnet_id": subnet_id, **_pool_row(p, version)} for p in pools])
        if "dns_nameservers" in data:
            conn.execute(sa.delete(t.dns_nameservers).where(
                t.dns_nameservers.c.subnet_id == subnet_id))
            if data["dns_nameservers"]:
                conn.execute(sa.insert(t.dns_nameservers), [
                    {"subnet_id": subnet_id, "address": a, "order": i}
                    for i, a in enumerate(data["dns_nameservers"])])
        if "host_routes" in data:
            conn.execute(sa.delete(t.host_routes).where(t.host_routes.c.subnet_id == subnet_id))
            if data["host_routes"]:
                conn.execute(sa.insert(t.host_routes), [
                    {"subnet_id": subnet_id, **r} for r in data["host_routes"]])

    def _insert(self, conn: Connection, ctx: Context, data: dict[str, Any]
                ) -> tuple[dict[str, Any], DriverContext]:
        network = self.network_row(conn, ctx, data["network_id"], for_update=True)
        if not ctx.is_admin and network.project_id != ctx.project_id:
            raise exc.PolicyNotAuthorized(action="create_subnet")
        if data.get("subnetpool_id") is not None:
            raise exc.NotFound(f"Subnet pool {data['subnetpool_id']} could not be found.")
        if data["cidr"] is AUTO or data["cidr"] is None:
            raise exc.BadRequest(resource="subnets", msg="a subnetpool must be specified in "
                                 "the absence of a cidr")
        version = data["ip_version"]
        net = sm.validate_cidr(data["cidr"], version)
        sm.validate_ipv6_modes(version, data["ipv6_ra_mode"], data["ipv6_address_mode"],
                               data["enable_dhcp"], net)
        gateway = data["gateway_ip"]
        if gateway is AUTO:
            gateway = sm.default_gateway(net)
        elif gateway is not None:
            sm.validate_gateway(net, gateway)
        if data["allocation_pools"] is AUTO or data["allocation_pools"] is None:
            pools = sm.default_pools(net, gateway)
        else:
            pools = sm.parse_pools(net, data["allocation_pools"])
            sm.check_gateway_outside_pools(gateway, pools, version)
        sm.validate_host_routes(data["host_routes"], version)
        subnet_id = common.new_id()
        self._check_limits(subnet_id, data)
        self._check_overlap(conn, network.id, net)
        ts = common.now()
        conn.execute(sa.insert(t.subnets).values(
            id=subnet_id, project_id=data["project_id"], network_id=network.id,
            name=data["name"], ip_version=version, cidr=str(net), gateway_ip=gateway,
            enable_dhcp=data["enable_dhcp"], ipv6_ra_mode=data["ipv6_ra_mode"],
            ipv6_address_mode=data["ipv6_address_mode"], subnetpool_id=None,
            description=data["description"], created_at=ts, updated_at=ts, revision_number=0,
        ))
        self._write_children(conn, subnet_id, data, pools, version)
        current = self.to_dicts(conn, [conn.execute(
            sa.select(t.subnets).where(_s.id == subnet_id)).one()])[0]
        dctx = DriverContext("subnet", current, None, ctx)
        self.precommit("create_subnet_precommit", dctx, conn)
        return current, dctx

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        created = self.db.write(lambda conn: [self._insert(conn, ctx, d) for d in items])
        try:
            for _, dctx in created:
                self.mech.call("create_subnet_postcommit", dctx)
        except exc.NeutronError:
            for sub, _ in created:
                self._delete(ctx, sub["id"], force=True)
            raise
        return [s for s, _ in created]

    def create(self, ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [data])[0]

    def update(self, ctx: Context, subnet_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> tuple[dict[str, Any], DriverContext]:
            row = self._row(conn, ctx, subnet_id)
            if not ctx.is_admin and row.project_id != ctx.project_id:
                raise exc.PolicyNotAuthorized(action="update_subnet")
            original = self.to_dicts(conn, [row])[0]
            net = sm.network(row.cidr)
            version = row.ip_version
            values: dict[str, Any] = {
                k: data[k] for k in ("name", "description", "enable_dhcp") if k in data
            }
            if data.get("enable_dhcp") is False and (row.ipv6_ra_mode or row.ipv6_address_mode):
                raise exc.InvalidInput(error_message="Cannot disable enable_dhcp with ipv6 "
                                       "attributes set")
            gateway = row.gateway_ip
            if "gateway_ip" in data:
                gateway = data["gateway_ip"]
                if gateway is not None:
                    sm.validate_gateway(net, gateway)
                if row.gateway_ip and gateway != row.gateway_ip:
                    self._check_gateway_unused(conn, row)
                values["gateway_ip"] = gateway
            pools = None
            if "allocation_pools" in data:
                pools = sm.parse_pools(net, data["allocation_pools"] or [])
                sm.check_gateway_outside_pools(gateway, pools, version)
            elif "gateway_ip" in data and gateway is not None:
                current_pools = [
                    sm.Pool(int(ipaddress.ip_address(p["start"])),
                            int(ipaddress.ip_address(p["end"])))
                    for p in original["allocation_pools"]
                ]
                sm.check_gateway_outside_pools(gateway, current_pools, version)
            if "host_routes" in data:
                sm.validate_host_routes(data["host_routes"], version)
            self._check_limits(subnet_id, data)
            self._write_children(conn, subnet_id, data, pools, version)
            values["updated_at"] = common.now()
            values["revision_number"] = row.revision_number + 1
            conn.execute(sa.update(t.subnets).where(_s.id == subnet_id).values(**values))
            current = self.to_dicts(conn, [conn.execute(
                sa.select(t.subnets).where(_s.id == subnet_id)).one()])[0]
            dctx = DriverContext("subnet", current, original, ctx)
            self.precommit("update_subnet_precommit", dctx, conn)
            return current, dctx

        current, dctx = self.db.write(run)
        self.mech.call("update_subnet_postcommit", dctx)
        return current

    @staticmethod
    def _check_gateway_unused(conn: Connection, row: Any) -> None:
        a = t.ip_allocations.c
        p = t.ports.c
        user = conn.execute(
            sa.select(a.port_id).join(t.ports, p.id == a.port_id).where(
                a.subnet_id == row.id, a.ip_address == row.gateway_ip,
                p.device_owner.in_(ROUTER_INTERFACE_OWNERS),
            ).limit(1)
        ).first()
        if user is not None:
            raise exc.GatewayIpInUse(ip_address=row.gateway_ip, port_id=user.port_id)

    def delete(self, ctx: Context, subnet_id: str) -> None:
        self._delete(ctx, subnet_id, force=False)

    def _delete(self, ctx: Context, subnet_id: str, *, force: bool) -> None:
        def run(conn: Connection) -> DriverContext:
            row = self._row(conn, ctx, subnet_id)
            if not ctx.is_admin and row.project_id != ctx.project_id:
                raise exc.PolicyNotAuthorized(action="delete_subnet")
            a = t.ip_allocations.c
            p = t.ports.c
            users = sa.select(a.port_id).join(t.ports, p.id == a.port_id).where(
                a.subnet_id == subnet_id)
            auto = sm.is_auto_address(row.ipv6_address_mode) and row.ip_version == 6
            if not force:
                # Router interfaces always hold a subnet; others only when their address
                # was chosen (SLAAC addresses are simply withdrawn).
                blocking = (p.device_owner.in_(ROUTER_INTERFACE_OWNERS) if auto else
                            p.device_owner.not_in(AUTO_DELETE_PORT_OWNERS))
                if conn.execute(users.where(blocking).limit(1)).first() is not None:
                    raise exc.SubnetInUse(subnet_id=subnet_id)
            current = self.to_dicts(conn, [row])[0]
            dctx = DriverContext("subnet", current, None, ctx)
            self.precommit("delete_subnet_precommit", dctx, conn)
            conn.execute(sa.delete(t.ip_allocations).where(a.subnet_id == subnet_id))
            conn.execute(sa.delete(t.subnets).where(_s.id == subnet_id))
            return dctx

        dctx = self.db.write(run)
        with contextlib.suppress(exc.NeutronError):
            self.mech.call("delete_subnet_postcommit", dctx)


def _pool_row(p: sm.Pool, version: int) -> dict[str, str]:
    d = p.as_dict(version)
    return {"first_ip": d["start"], "last_ip": d["end"]}
