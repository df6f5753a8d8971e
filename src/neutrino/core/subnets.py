"""Subnets: CIDR, gateway and pool validation, nameservers, host routes, deletion rules."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.constants import AUTO_DELETE_PORT_OWNERS, DEVICE_OWNER_ROUTER_SNAT
from neutrino.context import Context
from neutrino.core import rbac_sql, records, standard_attrs, tags, visibility
from neutrino.core.callbacks import Event, Payload, Resource
from neutrino.core.common import Service
from neutrino.core.ipam import routed
from neutrino.core.ipam import subnet_math as sm
from neutrino.core.mech.base import DriverContext
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.listing import ListQuery, ListSpec, select_page
from neutrino.db.rowdict import RowDict
from neutrino.schema import subnet as subnet_schema
from neutrino.schema.base import AUTO

_s = t.subnets.c

# (`shared`, the network's as the caller sees it, is filtered per request: see list)
LIST_SPEC = ListSpec(table=t.subnets, custom_filters={
    # subnet-external-network: whether the subnet's network is external (branch portfwd)
    "router:external": lambda values: _external_filter(bool(values[0]))})


def _external_filter(external: bool) -> sa.ColumnElement[bool]:
    found = sa.exists().where(t.external_networks.c.network_id == t.subnets.c.network_id)
    return found if external else ~found
ROW_DICT = RowDict(subnet_schema.resource())
STANDARD_ATTRS = standard_attrs.register(
    "subnets", "subnet", LIST_SPEC, lambda id_: exc.SubnetNotFound(subnet_id=id_))


class SubnetService(Service):
    # --- reading -----------------------------------------------------------------------
    def to_dicts(self, conn: Connection, rows: list[Any], ctx: Context | None = None
                 ) -> list[dict[str, Any]]:
        """API dicts of subnet rows; ``shared`` is their network's as ``ctx``'s project
        sees it (None: as a caller of no project, for whom only "*" entries count)."""
        if not rows:
            return []
        ids = [r.id for r in rows]
        tags_of = tags.load(conn, ids)
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
        # branch portfwd: subnet-service-types, subnet-external-network
        types: dict[str, list[str]] = {}
        sst = t.subnet_service_types.c
        for sid, kind in conn.execute(sa.select(sst.subnet_id, sst.service_type).where(
                sst.subnet_id.in_(ids)).order_by(sst.subnet_id, sst.service_type)):
            types.setdefault(sid, []).append(kind)
        rc, n = t.network_rbacs.c, t.networks.c
        caller = ctx.project_id if ctx is not None else None
        # the networks' shared (as the caller sees it) and router:external, in one read
        shared, external = set(), set()
        for nid, is_shared, is_external in conn.execute(sa.select(
                n.id,
                sa.exists().where(rc.object_id == n.id, rc.action == rbac_sql.ACCESS_SHARED,
                                  sa.or_(rc.target_project == rbac_sql.WILDCARD,
                                         rc.target_project == caller)),
                sa.exists().where(t.external_networks.c.network_id == n.id),
        ).where(n.id.in_(net_ids))):
            if is_shared:
                shared.add(nid)
            if is_external:
                external.add(nid)
        out = ROW_DICT(rows)
        for d in out:
            id_ = d["id"]
            d["allocation_pools"] = pools.get(id_, [])
            d["dns_nameservers"] = dns.get(id_, [])
            d["host_routes"] = routes.get(id_, [])
            d["shared"] = d["network_id"] in shared  # never shown: policy reads it
            d["tags"] = tags_of.get(id_, [])
            d["router:external"] = d["network_id"] in external  # subnet-external-network
            d["service_types"] = types.get(id_, [])  # subnet-service-types
        return out

    def _visible_clause(self, ctx: Context) -> sa.ColumnElement[bool]:
        return sa.or_(
            _s.project_id == ctx.project_id,
            _s.network_id.in_(sa.select(t.networks.c.id).where(
                visibility.network_visible_clause(ctx))),
        )

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.sees_all else [self._visible_clause(ctx)]
            spec = dataclasses.replace(LIST_SPEC, custom_filters={
                **LIST_SPEC.custom_filters,
                "shared": lambda v: visibility.network_shared_filter(ctx, v, _s.network_id)})
            rows, more = select_page(conn, spec, q, extra_where=extra,
                                     marker_not_found=lambda m: exc.SubnetNotFound(subnet_id=m))
            return self.to_dicts(conn, rows, ctx), more

        return self.db.read(run)

    def _row(self, conn: Connection, ctx: Context, subnet_id: str) -> Any:
        stmt = sa.select(t.subnets).where(_s.id == subnet_id)
        if not ctx.sees_all:
            stmt = stmt.where(self._visible_clause(ctx))
        row = conn.execute(stmt).first()
        if row is None:
            raise exc.SubnetNotFound(subnet_id=subnet_id)
        return row

    def get(self, ctx: Context, subnet_id: str) -> dict[str, Any]:
        return self.db.read(
            lambda conn: self.to_dicts(conn, [self._row(conn, ctx, subnet_id)], ctx)[0])

    # --- writing -------------------------------------------------------------------------
    def _limits(self) -> dict[str, int]:
        return {"max_dns_nameservers": self.conf.max_dns_nameservers,
                "max_subnet_host_routes": self.conf.max_subnet_host_routes}

    @staticmethod
    def _network_for_write(conn: Connection, ctx: Context, network_id: str, action: str
                           ) -> Any:
        """The subnet's network (who may add subnets to it is the create_subnet rule on
        ``network:project_id``, see api/app.py). Returns None for a missing network when
        an admin asks, so that the request is validated first, as Neutron does (its
        ownership hook, which skips admins, reads the network first for the others).

        The network is held exclusively until the commit: port creates and address
        changes on it hold it shared (core/ports.py), so none allocates on a subnet
        while subnets come, change or go (db/locks.py)."""
        locks.lock(conn, t.networks, [network_id])
        row = conn.execute(sa.select(t.networks).where(t.networks.c.id == network_id)
                           ).first()
        if row is None and not ctx.is_admin:
            raise exc.NetworkNotFound(net_id=network_id)
        return row

    @staticmethod
    def _check_overlap(conn: Connection, network_id: str, net: sm.IPNetwork) -> None:
        for other in conn.execute(sa.select(_s.cidr).where(_s.network_id == network_id)):
            if net.overlaps(sm.network(other.cidr)):
                raise exc.InvalidInput(
                    error_message=f"Requested subnet with cidr: {net} for network: "
                    f"{network_id} overlaps with another subnet"
                )

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
        if data.get("service_types") is not None:  # subnet-service-types (branch portfwd)
            conn.execute(sa.delete(t.subnet_service_types).where(
                t.subnet_service_types.c.subnet_id == subnet_id))
            if data["service_types"]:
                conn.execute(sa.insert(t.subnet_service_types), [
                    {"subnet_id": subnet_id, "service_type": k} for k in data["service_types"]])
        if "host_routes" in data:
            conn.execute(sa.delete(t.host_routes).where(t.host_routes.c.subnet_id == subnet_id))
            if data["host_routes"]:
                conn.execute(sa.insert(t.host_routes), [
                    {"subnet_id": subnet_id, **r} for r in data["host_routes"]])

    def _insert(self, conn: Connection, ctx: Context, data: dict[str, Any]
                ) -> tuple[dict[str, Any], DriverContext]:
        """Neutron's create_subnet, step by step in its order (the first error wins)."""
        network = self._network_for_write(conn, ctx, data["network_id"], "create_subnet")
        has_cidr = data["cidr"] is not AUTO
        if has_cidr and data["prefixlen"] is not AUTO:
            raise exc.BadRequest(resource="subnets", msg="cidr and prefixlen must not be "
                                 "supplied together")
        # "10.0.0.5/24" names 10.0.0.0/24
        cidr = str(sm.network(data["cidr"])) if has_cidr else None
        pool_id = data["subnetpool_id"]
        if not pool_id and cidr is None and not data.get("use_default_subnetpool"):
            raise exc.BadRequest(resource="subnets", msg="a subnetpool must be specified in "
                                 "the absence of a cidr")
        if pool_id and cidr is None and data["allocation_pools"] is not AUTO:
            raise exc.BadRequest(resource="subnets", msg="allocation_pools allowed only for "
                                 "specific subnet requests.")
        version = data["ip_version"]
        gateway = data["gateway_ip"]
        sm.validate_subnet(sm.SubnetSpec(
            ip_version=version, cidr=cidr, enable_dhcp=data["enable_dhcp"],
            gateway_ip=gateway if gateway is not AUTO else None,
            dns_nameservers=data["dns_nameservers"], host_routes=data["host_routes"],
            ipv6_ra_mode=data["ipv6_ra_mode"], ipv6_address_mode=data["ipv6_address_mode"],
        ), **self._limits())
        if network is None:
            raise exc.NetworkNotFound(net_id=data["network_id"])
        if network.mtu:
            sm.check_network_mtu(network.id, network.mtu, [version])
        # subnet pools (services/subnetpools) put the subnet's cidr and pool in metadata
        asked = Payload(context=ctx, resource_id=network.id, request_body=data, conn=conn,
                        metadata={"cidr": cidr, "subnetpool_id": None})
        self.registry.publish(Resource.SUBNET, Event.BEFORE_CREATE, self, asked)
        cidr, allocated_from = asked.metadata["cidr"], asked.metadata["subnetpool_id"]
        if pool_id and not allocated_from:
            raise exc.SubnetPoolNotFound(subnetpool_id=pool_id)
        pool_id = allocated_from
        assert cidr is not None
        net = sm.network(cidr)
        if gateway is AUTO:
            gateway = sm.default_gateway(net)
        if data["allocation_pools"] is AUTO:
            pools = sm.default_pools(net, gateway)
        else:
            pools = sm.parse_pools(net, data["allocation_pools"])
            sm.check_gateway_outside_pools(gateway, pools, version)
        sm.check_default_gateway(net, gateway)
        sm.check_prefixlen(net)
        self._check_overlap(conn, network.id, net)
        # routed networks: all of the network's subnets on segments, or none
        routed.check_subnet_segment(conn, network.id, data.get("segment_id"),
                                    sees_all=ctx.sees_all)

        # Neutron keeps the IPv6 modes only where DHCP serves the subnet.
        modes = (data["ipv6_ra_mode"], data["ipv6_address_mode"]) if data["enable_dhcp"] \
            else (None, None)
        subnet_id = records.new_id()
        ts = records.now()
        conn.execute(sa.insert(t.subnets).values(
            id=subnet_id, project_id=data["project_id"], network_id=network.id,
            name=data["name"], ip_version=version, cidr=cidr, gateway_ip=gateway,
            enable_dhcp=data["enable_dhcp"], ipv6_ra_mode=modes[0],
            ipv6_address_mode=modes[1], subnetpool_id=pool_id or None,
            description=data["description"], created_at=ts, updated_at=ts, revision_number=1,
            segment_id=data.get("segment_id"),
        ))
        self._write_children(conn, subnet_id, data, pools, version)
        if version == 6 and sm.is_auto_address(*modes):
            self._add_auto_addresses(conn, network.id, subnet_id, net,
                                     data.get("segment_id"))
        records.bump_revisions(conn, t.networks, [network.id])
        current = self.to_dicts(conn, [conn.execute(
            sa.select(t.subnets).where(_s.id == subnet_id)).one()])[0]
        dctx = DriverContext("subnet", current, None, ctx)
        self.precommit("create_subnet_precommit", dctx, conn)
        return current, dctx

    @staticmethod
    def _add_auto_addresses(conn: Connection, network_id: str, subnet_id: str,
                            net: sm.IPNetwork, segment_id: str | None = None) -> None:
        """A new SLAAC subnet gives every port on the network (router legs aside) its
        EUI-64 address there, as Neutron's add_auto_addrs_on_network_ports; on a
        segment, only the ports of that segment (routed networks)."""
        p = t.ports.c
        ports = conn.execute(sa.select(p.id, p.mac_address).where(
            p.network_id == network_id,
            p.device_owner.not_in((*sm.ROUTER_INTERFACE_OWNERS, DEVICE_OWNER_ROUTER_SNAT)),
        )).all()
        if ports and segment_id:
            served = routed.reach(conn, network_id, segment_id, [pid for pid, _ in ports])
            ports = [(pid, mac) for pid, mac in ports if pid in served]
        if ports:
            conn.execute(sa.insert(t.ip_allocations), [
                {"subnet_id": subnet_id, "ip_address": sm.eui64(net, mac), "port_id": pid,
                 "network_id": network_id} for pid, mac in ports])
            records.bump_revisions(conn, t.ports, [pid for pid, _ in ports])

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[tuple[dict[str, Any], DriverContext]]:
            self.check_quota(conn, "subnet", items)
            return [self._insert(conn, ctx, d) for d in items]

        created = self.db.write(run)
        try:
            for _, dctx in created:
                self.postcommit("create_subnet_postcommit", dctx)
        except exc.NeutronError:
            for sub, _ in created:
                self._delete(ctx, sub["id"], force=True)
            raise
        return [s for s, _ in created]

    def _writable_row(self, conn: Connection, ctx: Context, subnet_id: str, action: str
                      ) -> Any:
        """The subnet if the caller sees it (404 otherwise); whether it may change it is
        the update_subnet / delete_subnet rule, decided by the API before.

        Held until the commit: its network exclusively (as a subnet create holds it),
        then the subnet itself (tags change it too); read once both are held."""
        locks.lock(conn, t.networks, [conn.scalar(
            sa.select(_s.network_id).where(_s.id == subnet_id))])
        locks.lock(conn, t.subnets, [subnet_id])
        return self._row(conn, ctx, subnet_id)

    def update(self, ctx: Context, subnet_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> tuple[dict[str, Any], DriverContext]:
            row = self._writable_row(conn, ctx, subnet_id, "update_subnet")
            records.check_revision(ctx, row)
            original = self.to_dicts(conn, [row])[0]
            net = sm.network(row.cidr)
            version = row.ip_version
            sm.validate_subnet(sm.SubnetSpec(
                ip_version=version, cidr=row.cidr,
                enable_dhcp=data.get("enable_dhcp", row.enable_dhcp),
                gateway_ip=data.get("gateway_ip"),
                dns_nameservers=data.get("dns_nameservers"),
                host_routes=data.get("host_routes"), subnet_id=row.id,
            ), **self._limits(), dhcp_was_enabled=row.enable_dhcp, updating=True,
                had_ipv6_modes=bool(row.ipv6_ra_mode or row.ipv6_address_mode))
            gateway = data.get("gateway_ip", row.gateway_ip)
            if "gateway_ip" in data and gateway != row.gateway_ip and row.gateway_ip:
                self._check_gateway_unused(conn, row)
            pools = None
            if "allocation_pools" in data:
                pools = sm.parse_pools(net, data["allocation_pools"])
            if gateway != row.gateway_ip or pools is not None:
                current_pools = pools if pools is not None else [
                    sm.Pool(int(ipaddress.ip_address(p["start"])),
                            int(ipaddress.ip_address(p["end"])))
                    for p in original["allocation_pools"]
                ]
                sm.check_gateway_outside_pools(gateway, current_pools, version)

            # Only what really changes is written, and only a change is a new revision.
            values = {k: data[k] for k in ("name", "description", "enable_dhcp", "gateway_ip",
                                           "segment_id")
                      if k in data and data[k] != getattr(row, k)}
            if "segment_id" in values:  # subnet-segmentid-writable
                routed.check_subnet_segment(conn, row.network_id, values["segment_id"],
                                            subnet_id=row.id, old=row.segment_id,
                                            sees_all=ctx.sees_all)
            children = {k: data[k] for k in ("dns_nameservers", "host_routes",
                                             "service_types")
                        if k in data and data[k] != original[k]}
            if pools is not None and [p.as_dict(version) for p in pools] == \
                    original["allocation_pools"]:
                pools = None
            if values or children or pools is not None:
                self._write_children(conn, subnet_id, children, pools, version)
                records.revise(conn, t.subnets, row, values)
                records.bump_revisions(conn, t.networks, [row.network_id])
            current = self.to_dicts(conn, [conn.execute(
                sa.select(t.subnets).where(_s.id == subnet_id)).one()])[0]
            dctx = DriverContext("subnet", current, original, ctx)
            self.precommit("update_subnet_precommit", dctx, conn)
            return current, dctx

        current, dctx = self.db.write(run)
        self.postcommit("update_subnet_postcommit", dctx)
        return current

    @staticmethod
    def _check_gateway_unused(conn: Connection, row: Any) -> None:
        a = t.ip_allocations.c
        p = t.ports.c
        user = conn.execute(
            sa.select(a.port_id).join(t.ports, p.id == a.port_id).where(
                a.subnet_id == row.id, a.ip_address == row.gateway_ip,
                p.device_owner.in_(sm.ROUTER_INTERFACE_OWNERS),
            ).limit(1)
        ).first()
        if user is not None:
            raise exc.GatewayIpInUse(ip_address=row.gateway_ip, port_id=user.port_id)

    def delete(self, ctx: Context, subnet_id: str) -> None:
        self._delete(ctx, subnet_id, force=False)

    def _delete(self, ctx: Context, subnet_id: str, *, force: bool) -> None:
        def run(conn: Connection) -> DriverContext:
            row = self._writable_row(conn, ctx, subnet_id, "delete_subnet")
            records.check_revision(ctx, row)
            a = t.ip_allocations.c
            p = t.ports.c
            users = sa.select(a.port_id).join(t.ports, p.id == a.port_id).where(
                a.subnet_id == subnet_id)
            if not force:
                # Router legs always hold a subnet. Other ports only where their address
                # was chosen: SLAAC addresses are simply withdrawn, and the network's own
                # ports (DHCP) let go of theirs.
                if conn.execute(users.where(p.device_owner.in_(sm.ROUTER_INTERFACE_OWNERS))
                                .limit(1)).first() is not None:
                    raise exc.SubnetInUse(subnet_id=subnet_id)
                if not sm.is_auto_address(row.ipv6_ra_mode, row.ipv6_address_mode) and \
                        conn.execute(users.where(p.device_owner.not_in(AUTO_DELETE_PORT_OWNERS))
                                     .limit(1)).first() is not None:
                    raise exc.SubnetInUse(subnet_id=subnet_id)
            current = self.to_dicts(conn, [row])[0]
            dctx = DriverContext("subnet", current, None, ctx)
            self.precommit("delete_subnet_precommit", dctx, conn)
            holders = list(conn.scalars(users.distinct()))
            conn.execute(sa.delete(t.ip_allocations).where(a.subnet_id == subnet_id))
            conn.execute(sa.delete(t.subnets).where(_s.id == subnet_id))
            tags.delete_of(conn, [subnet_id])
            records.bump_revisions(conn, t.ports, holders)
            records.bump_revisions(conn, t.networks, [row.network_id])
            return dctx

        dctx = self.db.write(run)
        with contextlib.suppress(exc.NeutronError):
            self.postcommit("delete_subnet_postcommit", dctx)


def _pool_row(p: sm.Pool, version: int) -> dict[str, str]:
    d = p.as_dict(version)
    return {"first_ip": d["start"], "last_ip": d["end"]}
