"""Ports: MACs, fixed IPs through IPAM, updates of addresses, deletion."""

from __future__ import annotations

import contextlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import common
from neutrino.core.common import Service
from neutrino.core.ipam import allocator
from neutrino.core.mech.base import DriverContext
from neutrino.db import tables as t
from neutrino.db.listing import ListQuery, ListSpec, select_page
from neutrino.schema.base import AUTO

_p = t.ports.c
_a = t.ip_allocations.c


def _fixed_ips_filter(values: list[str]) -> sa.ColumnElement[bool]:
    """``fixed_ips=ip_address=10.0.0.5&fixed_ips=subnet_id=...``: ports with an address
    matching all given keys (each key: any of its values), as Neutron reads it."""
    wanted: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or key not in ("ip_address", "subnet_id", "ip_address_substr"):
            raise exc.InvalidInput(error_message=f"Invalid fixed_ips filter '{item}'")
        wanted.setdefault(key, []).append(value)
    stmt = sa.select(_a.port_id)
    if "ip_address" in wanted:
        stmt = stmt.where(_a.ip_address.in_(wanted["ip_address"]))
    if "subnet_id" in wanted:
        stmt = stmt.where(_a.subnet_id.in_(wanted["subnet_id"]))
    if "ip_address_substr" in wanted:
        stmt = stmt.where(sa.or_(*(_a.ip_address.contains(s, autoescape=True)
                                   for s in wanted["ip_address_substr"])))
    return _p.id.in_(stmt)


LIST_SPEC = ListSpec(table=t.ports, custom_filters={"fixed_ips": _fixed_ips_filter})


class PortService(Service):
    # --- reading -----------------------------------------------------------------------
    @staticmethod
    def _dict(r: Any, fixed_ips: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "id": r.id,
            "name": r.name,
            "network_id": r.network_id,
            "admin_state_up": r.admin_state_up,
            "mac_address": r.mac_address,
            "fixed_ips": fixed_ips,
            "device_id": r.device_id,
            "device_owner": r.device_owner,
            **common.project_fields(r.project_id),
            "status": r.status,
            **common.standard_fields(r),
        }

    def to_dicts(self, conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
        if not rows:
            return []
        ips: dict[str, list[dict[str, str]]] = {}
        ids = [r.id for r in rows]
        for chunk in range(0, len(ids), 5000):
            for a in conn.execute(
                sa.select(_a.port_id, _a.subnet_id, _a.ip_address)
                .where(_a.port_id.in_(ids[chunk:chunk + 5000]))
            ):
                ips.setdefault(a.port_id, []).append(
                    {"subnet_id": a.subnet_id, "ip_address": a.ip_address})
        return [self._dict(r, ips.get(r.id, [])) for r in rows]

    @staticmethod
    def _visible_clause(ctx: Context) -> sa.ColumnElement[bool]:
        # a project sees its ports and the ports on networks it owns
        return sa.or_(
            _p.project_id == ctx.project_id,
            _p.network_id.in_(
                sa.select(t.networks.c.id).where(t.networks.c.project_id == ctx.project_id)),
        )

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.is_admin else [self._visible_clause(ctx)]
            rows, more = select_page(conn, LIST_SPEC, q, extra_where=extra,
                                     marker_not_found=lambda m: exc.PortNotFound(port_id=m))
            return self.to_dicts(conn, rows), more

        return self.db.read(run)

    def _row(self, conn: Connection, ctx: Context, port_id: str) -> Any:
        stmt = sa.select(t.ports).where(_p.id == port_id)
        if not ctx.is_admin:
            stmt = stmt.where(self._visible_clause(ctx))
        row = conn.execute(stmt).first()
        if row is None:
            raise exc.PortNotFound(port_id=port_id)
        return row

    def get(self, ctx: Context, port_id: str) -> dict[str, Any]:
        return self.db.read(lambda conn: self.to_dicts(conn, [self._row(conn, ctx, port_id)])[0])

    # --- writing -------------------------------------------------------------------------
    @staticmethod
    def _check_mac_free(conn: Connection, network_id: str, mac: str) -> None:
        taken = conn.execute(sa.select(_p.id).where(
            _p.network_id == network_id, _p.mac_address == mac).limit(1)).first()
        if taken is not None:
            raise exc.MacAddressInUse(net_id=network_id, mac=mac)

    def _insert(self, conn: Connection, ctx: Context, data: dict[str, Any],
                subnets_cache: dict[str, list[allocator.SubnetInfo]]
                ) -> tuple[dict[str, Any], DriverContext]:
        network_id = data["network_id"]
        if network_id not in subnets_cache:
            self.network_row(conn, ctx, network_id)
            subnets_cache[network_id] = allocator.load_subnets(conn, network_id)
        subnets = subnets_cache[network_id]
        mac = data["mac_address"]
        if mac is AUTO:
            # A random MAC colliding within one network is a lost race like any other:
            # the unique key refuses it and the transaction is rerun with a new one.
            mac = allocator.random_mac(self.conf.base_mac)
        else:
            self._check_mac_free(conn, network_id, mac)
        port_id = common.new_id()
        ts = common.now()
        row = {
            "id": port_id, "project_id": data["project_id"], "network_id": network_id,
            "name": data["name"], "mac_address": mac,
            "admin_state_up": data["admin_state_up"], "status": "DOWN",
            "device_id": data["device_id"], "device_owner": data["device_owner"],
            "description": data["description"], "created_at": ts, "updated_at": ts,
            "revision_number": 0,
        }
        conn.execute(sa.insert(t.ports).values(**row))
        requested = None if data["fixed_ips"] is AUTO else data["fixed_ips"]
        fixed_ips = allocator.allocate(
            conn, network_id=network_id, port_id=port_id, mac=mac, requested=requested,
            subnets=subnets, device_owner=data["device_owner"],
        )
        current = self._dict(_Obj(row), fixed_ips)
        dctx = DriverContext("port", current, None, ctx)
        self.precommit("create_port_precommit", dctx, conn)
        return current, dctx

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[tuple[dict[str, Any], DriverContext]]:
            cache: dict[str, list[allocator.SubnetInfo]] = {}
            return [self._insert(conn, ctx, d, cache) for d in items]

        created = self.db.write(run)
        try:
            for _, dctx in created:
                self.mech.call("create_port_postcommit", dctx)
        except exc.NeutronError:
            for port, _ in created:
                self.delete(Context.admin(), port["id"])
            raise
        return [p for p, _ in created]

    def create(self, ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [data])[0]

    def update(self, ctx: Context, port_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> tuple[dict[str, Any], DriverContext]:
            row = self._row(conn, ctx, port_id)
            original = self.to_dicts(conn, [row])[0]
            values: dict[str, Any] = {
                k: data[k] for k in ("name", "admin_state_up", "device_id", "device_owner",
                                     "description") if k in data
            }
            mac = row.mac_address
            if "mac_address" in data and data["mac_address"] != row.mac_address:
                mac = data["mac_address"]
                self._check_mac_free(conn, row.network_id, mac)
                values["mac_address"] = mac
            fixed_ips = original["fixed_ips"]
            if "fixed_ips" in data:
                fixed_ips = self._update_ips(conn, row, mac, original["fixed_ips"],
                                             data["fixed_ips"],
                                             data.get("device_owner", row.device_owner))
            values["updated_at"] = common.now()
            values["revision_number"] = row.revision_number + 1
            conn.execute(sa.update(t.ports).where(_p.id == port_id).values(**values))
            new_row = conn.execute(sa.select(t.ports).where(_p.id == port_id)).one()
            current = self._dict(new_row, fixed_ips)
            dctx = DriverContext("port", current, original, ctx)
            self.precommit("update_port_precommit", dctx, conn)
            return current, dctx

        current, dctx = self.db.write(run)
        self.mech.call("update_port_postcommit", dctx)
        return current

    @staticmethod
    def _update_ips(conn: Connection, row: Any, mac: str, old: list[dict[str, str]],
                    new: list[dict[str, str]], device_owner: str) -> list[dict[str, str]]:
        """Keep addresses named again, keep an address of a subnet named without an
        address, free the rest, allocate what is new."""
        old_pairs = [(o["subnet_id"], o["ip_address"]) for o in old]
        claimed: set[tuple[str, str]] = set()
        requested: list[dict[str, Any]] = []
        for entry in new:
            ip = entry.get("ip_address")
            sid = entry.get("subnet_id")
            match = next((p for p in old_pairs if p not in claimed and p[1] == ip
                          and (sid is None or p[0] == sid)), None) if ip else None
            if match is None and ip is None:
                match = next((p for p in old_pairs if p not in claimed and p[0] == sid), None)
            if match is not None:
                claimed.add(match)
                requested.append({"subnet_id": match[0], "ip_address": match[1]})
            else:
                requested.append(entry)
        for sid, ip in old_pairs:
            if (sid, ip) not in claimed:
                conn.execute(sa.delete(t.ip_allocations).where(
                    _a.subnet_id == sid, _a.ip_address == ip, _a.port_id == row.id))
        subnets = allocator.load_subnets(conn, row.network_id)
        return allocator.allocate(
            conn, network_id=row.network_id, port_id=row.id, mac=mac, requested=requested,
            subnets=subnets, device_owner=device_owner, keep=list(claimed),
        )

    def delete(self, ctx: Context, port_id: str) -> None:
        def run(conn: Connection) -> DriverContext:
            row = self._row(conn, ctx, port_id)
            current = self.to_dicts(conn, [row])[0]
            dctx = DriverContext("port", current, None, ctx)
            self.precommit("delete_port_precommit", dctx, conn)
            conn.execute(sa.delete(t.ip_allocations).where(_a.port_id == port_id))
            conn.execute(sa.delete(t.ports).where(_p.id == port_id))
            return dctx

        dctx = self.db.write(run)
        with contextlib.suppress(exc.NeutronError):
            self.mech.call("delete_port_postcommit", dctx)


class _Obj:
    """Attribute access over a dict, so freshly inserted values format like a row."""

    def __init__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)
