"""Ports: MACs, fixed IPs through IPAM, updates of addresses, deletion."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import constants as const
from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import (
    binding,
    port_dict,
    port_owner,
    provisioning,
    records,
    standard_attrs,
    tags,
)
from neutrino.core.common import Service
from neutrino.core.extensions import ChildPart, ExtensionManager
from neutrino.core.ipam import allocator, routed
from neutrino.core.ipam import subnet_math as sm
from neutrino.core.mech.base import DriverContext
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.listing import (
    ListQuery,
    ListSpec,
    fetch_page,
    page_ids,
    page_statement,
)
from neutrino.db.rowdict import RowDict
from neutrino.exceptions import segments as segment_errors
from neutrino.schema import port as port_schema
from neutrino.schema import segment as seg_schema
from neutrino.schema.base import AUTO

_p = t.ports.c
_a = t.ip_allocations.c


def _fixed_ips_filter(values: list[str]) -> sa.ColumnElement[bool]:
    """``fixed_ips=ip_address=10.0.0.5&fixed_ips=subnet_id=...`` (Neutron's key=value
    pairs): each key is a condition of its own on the port's addresses, any of its values
    matching (a port with 10.0.0.5 on one subnet and an address on the other matches
    both); keys Neutron does not know are ignored."""
    wanted: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = (x.strip() for x in item.partition("="))
        if not sep or not key:
            raise exc.InvalidInput(error_message=f"'{item}' is not of the form <key>=[value]")
        wanted.setdefault(key, []).append(value)
    clauses = []
    if "ip_address" in wanted:
        clauses.append(_p.id.in_(sa.select(_a.port_id).where(
            _a.ip_address.in_(wanted["ip_address"]))))
    if "subnet_id" in wanted:
        clauses.append(_p.id.in_(sa.select(_a.port_id).where(
            _a.subnet_id.in_(wanted["subnet_id"]))))
    if "ip_address_substr" in wanted:
        clauses.append(_p.id.in_(sa.select(_a.port_id).where(sa.or_(
            *(_a.ip_address.contains(v, autoescape=True)
              for v in wanted["ip_address_substr"])))))
    return sa.and_(sa.true(), *clauses)


# times formatted by the database (port_dict.api_time_columns)
LIST_SPEC = ListSpec(table=t.ports, custom_filters={"fixed_ips": _fixed_ips_filter},
                     select_from=port_dict.api_time_columns(t.ports))
STANDARD_ATTRS = standard_attrs.register(
    "ports", "port", LIST_SPEC, lambda id_: exc.PortNotFound(port_id=id_))
ROW_DICT = RowDict(port_schema.resource())
_INSERT_PORT = sa.insert(t.ports)  # built once: port create is a hot path
# The network's subnets and pools, and whether a DHCP agent serves it: one round trip.
_SUBNETS_FOR_PORTS = allocator.subnets_statement(provisioning.dhcp_served_column())
# fixed_ips: read with the extensions' lists of the ports (core/port_dict.py)
_ADDRESSES = ChildPart("fixed_ips", _a.port_id, (_a.subnet_id, _a.ip_address),
                       ("subnet_id", "ip_address"))
# Built once, with bind parameters: a show and an update run them. The row comes with
# its binding (binding.with_binding: a statement fewer).
_ROW = binding.with_binding(sa.select(*LIST_SPEC.select_from or ()), frozenset()).where(
    _p.id == sa.bindparam("port_id"))
# SET takes the columns of the parameters given with it
_UPDATE = sa.update(t.ports).where(_p.id == sa.bindparam("port_id"))
# a project sees its ports and the ports on networks it owns
_VISIBLE_ROW = _ROW.where(sa.or_(
    _p.project_id == sa.bindparam("project_id"),
    _p.network_id.in_(sa.select(t.networks.c.id).where(
        t.networks.c.project_id == sa.bindparam("project_id")))))


class _NetworkInfo(NamedTuple):
    """What creating ports on a network reads once per request."""
    owner: str | None
    subnets: list[allocator.SubnetInfo]
    dhcp_served: bool


class PortService(Service):
    # The API authorizes a single create inside its transaction (create(authorize=)).
    authorizes_in_transaction = True

    def __init__(self, *args: Any, extensions: ExtensionManager, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # every attribute an extension adds to ports (core/extensions.py)
        self.extensions = extensions
        # binds ports after their transaction and publishes them (core/binding.py)
        self.binder = binding.PortBinder(self.conf, self.db, self.mech, self._load,
                                         self.registry)
        self.dicts = port_dict.PortDicts(ROW_DICT, extensions, [_ADDRESSES])

    def _load(self, conn: Connection, port_id: str) -> dict[str, Any] | None:
        row = conn.execute(_ROW, {"port_id": port_id}).first()
        return self.to_dicts(conn, [row])[0] if row is not None else None

    @functools.cached_property
    def list_spec(self) -> ListSpec:
        """LIST_SPEC with the extensions' filters (built at the first list: every
        plugin has registered its drivers by then)."""
        return dataclasses.replace(LIST_SPEC, custom_filters={
            **LIST_SPEC.custom_filters, **self.extensions.filters("port")})

    # --- reading -----------------------------------------------------------------------
    @staticmethod
    def _dict(r: Any, fixed_ips: list[dict[str, str]]) -> dict[str, Any]:
        """The port's own attributes (a row, or the values just inserted); those of its
        extensions are added by their drivers."""
        return {**ROW_DICT.one(r), "fixed_ips": fixed_ips}

    def to_dicts(self, conn: Connection, rows: list[Any], page: sa.Subquery | None = None,
                 hidden: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """API dicts of port rows; ``page`` (listing.page_ids) selects the same ports'
        ids, to fetch their addresses without a bind parameter per port; ``hidden``
        (ListQuery.hidden) attributes may be left out."""
        if not rows:
            return []
        # SQLAlchemy's rows as they are: the builder reads them by index, and no driver
        # reads a page's rows by attribute any more (plain_rows would copy them)
        out = self.dicts(conn, rows, page)
        self.extensions.call("extend_port_dicts", conn, rows, out, page, hidden)
        return out

    @staticmethod
    def _visible_list_clause(conn: Connection, ctx: Context) -> sa.ColumnElement[bool]:
        """The same rows as _VISIBLE_ROW's clause, with the caller's networks read once: the
        page's children are selected through the page query, which would otherwise run the
        networks subquery again for each kind of child."""
        owned = list(conn.scalars(
            sa.select(t.networks.c.id).where(t.networks.c.project_id == ctx.project_id)))
        if not owned:
            return _p.project_id == ctx.project_id
        return sa.or_(_p.project_id == ctx.project_id, _p.network_id.in_(owned))

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.sees_all else [self._visible_list_clause(conn, ctx)]
            spec = self.list_spec
            stmt = binding.with_binding(page_statement(
                conn, spec, q, extra_where=extra,
                marker_not_found=lambda m: exc.PortNotFound(port_id=m)), q.hidden)
            rows, more = fetch_page(conn, stmt, q)
            return self.to_dicts(conn, rows, page_ids(spec, stmt, q), q.hidden), more

        return self.db.read(run)

    def _row(self, conn: Connection, ctx: Context, port_id: str, *,
             lock: bool = False, shared: bool = False) -> Any:
        """The port if the caller may see it (PortNotFound otherwise). ``lock``: held
        until the transaction ends (``shared``: against its deletion and changes only),
        and read once held, so that what is checked is the last committed revision."""
        if lock:
            locks.lock(conn, t.ports, [port_id], shared=shared)
        if ctx.sees_all:
            row = conn.execute(_ROW, {"port_id": port_id}).first()
        else:
            row = conn.execute(_VISIBLE_ROW, {"port_id": port_id,
                                              "project_id": ctx.project_id}).first()
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

    def _network_info(self, conn: Connection, ctx: Context, network_id: str) -> _NetworkInfo:
        net = self.network_row(conn, ctx, network_id)
        rows = conn.execute(_SUBNETS_FOR_PORTS, {
            "network_id": network_id, "dhcp_cutoff": provisioning.dhcp_cutoff(self.conf)
        }).all()
        return _NetworkInfo(net.project_id, allocator.subnets_from_rows(rows),
                            bool(rows and rows[0].dhcp_served))

    def _insert(self, conn: Connection, ctx: Context, data: dict[str, Any],
                cache: dict[str, _NetworkInfo]) -> dict[str, Any]:
        network_id = data["network_id"]
        if network_id not in cache:
            cache[network_id] = self._network_info(conn, ctx, network_id)
        _, subnets, _ = cache[network_id]
        port_owner.check_device(conn, ctx, data["project_id"], data["device_owner"],
                                data["device_id"])
        mac = data["mac_address"]
        if mac is AUTO or mac is None:
            # A random MAC colliding within one network is a lost race like any other:
            # the unique key refuses it and the transaction is rerun with a new one.
            mac = allocator.random_mac(self.conf.base_mac)
        else:
            self._check_mac_free(conn, network_id, mac)
        owner = data["device_owner"]
        fixed = None if data["fixed_ips"] is AUTO else data["fixed_ips"]
        # routed networks: the subnets of the host's segment; none yet without a host
        subnets, deferred = routed.for_host(conn, network_id, subnets,
                                            data.get(binding.HOST) or "", fixed)
        port_id = records.new_id()
        ts = records.now()
        row = {
            "id": port_id, "project_id": data["project_id"], "network_id": network_id,
            "name": data["name"], "mac_address": mac,
            "admin_state_up": data["admin_state_up"], "status": "DOWN",
            "device_id": data["device_id"], "device_owner": data["device_owner"],
            "description": data["description"], "created_at": ts, "updated_at": ts,
            "revision_number": 1,
            "ip_allocation": (seg_schema.IP_ALLOCATION_NONE if fixed == [] else
                              seg_schema.IP_ALLOCATION_DEFERRED if deferred else
                              seg_schema.IP_ALLOCATION_IMMEDIATE),
        }
        conn.execute(_INSERT_PORT, row)
        subnets = allocator.for_owner(conn, network_id, subnets, owner)
        if fixed is None:
            requests = allocator.automatic(subnets)
        else:
            requests = allocator.resolve_fixed_ips(conn, network_id, subnets,
                                                   data["fixed_ips"], owner, mac, ctx)
        handled = {r[0][0].id for r in requests if r[1] is not None}
        requests += allocator.auto_address_requests(subnets, owner, handled)
        fixed_ips = allocator.allocate(conn, network_id=network_id, port_id=port_id, mac=mac,
                                       requests=requests, device_owner=owner)
        return self._dict(row, fixed_ips)

    def _precommit_create(self, conn: Connection, ctx: Context,
                          ports: list[dict[str, Any]]) -> list[DriverContext]:
        dctxs = [DriverContext("port", port, None, ctx) for port in ports]
        for dctx in dctxs:
            self.precommit("create_port_precommit", dctx, conn)
        return dctxs

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]], *,
                    check_quota: bool = True,
                    authorize: Callable[[Connection], None] | None = None
                    ) -> list[dict[str, Any]]:
        """``check_quota=False``: the server's own ports (DHCP), which Neutron creates
        outside the API and so outside its quota check (they still count as usage).
        ``authorize``: the API's policy check, run first in the transaction (it reads the
        network's owner; see api/app.py, authorizes_in_transaction)."""
        networks = sorted({d["network_id"] for d in items})

        def run(conn: Connection) -> list[tuple[dict[str, Any], DriverContext]]:
            # the networks held shared before anything about them is read (the policy
            # check reads the owner and sharing): their deletion, subnet changes and
            # RBAC revokes wait for this commit or are seen by the reads below
            locks.lock(conn, t.networks, networks, shared=True)
            if authorize is not None:
                authorize(conn)
            if check_quota:
                self.check_quota(conn, "port", items)
            cache: dict[str, _NetworkInfo] = {}
            ports = [self._insert(conn, ctx, d, cache) for d in items]
            self.extensions.call("process_create_ports", ctx, conn, items, ports)
            provisioning.on_addresses(
                conn, self.conf, ports,
                {net_id: (info.dhcp_served, {s.id for s in info.subnets if s.enable_dhcp})
                 for net_id, info in cache.items()})
            return list(zip(ports, self._precommit_create(conn, ctx, ports), strict=True))

        created = self.db.write(run)
        try:
            for _, dctx in created:
                self.postcommit("create_port_postcommit", dctx)
        except exc.NeutronError:
            for port, _ in created:
                self.delete(Context.admin(), port["id"])
            raise
        return self.binder.after_create([p for p, _ in created])

    # --- for services that own ports (routers, floating IPs: services/l3/) -----------------
    def insert_in(self, conn: Connection, data: dict[str, Any]) -> tuple[dict[str, Any],
                                                                          DriverContext]:
        """A port of the server's own (``data`` complete, as the schema's defaults make
        it) created inside the caller's transaction, as an admin and outside quotas; the
        caller runs ``after_insert`` once committed."""
        locks.lock(conn, t.networks, [data["network_id"]], shared=True)  # as create_bulk
        admin = Context.admin()
        port = self._insert(conn, admin, data, {})
        self.extensions.call("process_create_ports", admin, conn, [data], [port])
        provisioning.on_addresses(conn, self.conf, [port])
        return port, self._precommit_create(conn, admin, [port])[0]

    def after_insert(self, created: list[tuple[dict[str, Any], DriverContext]]
                     ) -> list[dict[str, Any]]:
        for _, dctx in created:
            with contextlib.suppress(exc.NeutronError):
                self.postcommit("create_port_postcommit", dctx)
        return self.binder.after_create([p for p, _ in created])

    def delete_in(self, conn: Connection, port: dict[str, Any], **notes: Any
                  ) -> DriverContext:
        """Delete a port inside the caller's transaction (its owner's own doing:
        ``notes`` tell drivers so); the caller runs ``after_delete`` once committed."""
        dctx = DriverContext("port", port, None, Context.admin())
        dctx.notes.update(notes)
        self.precommit("delete_port_precommit", dctx, conn)
        conn.execute(sa.delete(t.ip_allocations).where(_a.port_id == port["id"]))
        conn.execute(sa.delete(t.ports).where(_p.id == port["id"]))
        tags.delete_of(conn, [port["id"]])
        return dctx

    def after_delete(self, dctxs: list[DriverContext]) -> None:
        for dctx in dctxs:
            with contextlib.suppress(exc.NeutronError):
                self.postcommit("delete_port_postcommit", dctx)

    def create(self, ctx: Context, data: dict[str, Any], *, check_quota: bool = True,
               authorize: Callable[[Connection], None] | None = None) -> dict[str, Any]:
        return self.create_bulk(ctx, [data], check_quota=check_quota,
                                authorize=authorize)[0]

    def update(self, ctx: Context, port_id: str, data: dict[str, Any]) -> dict[str, Any]:
        if "mac_address" in data and data["mac_address"] is None:
            # port-mac-address-regenerate: a new random MAC, then as any MAC change
            data = {**data, "mac_address": allocator.random_mac(self.conf.base_mac)}

        def run(conn: Connection) -> tuple[dict[str, Any], DriverContext]:
            if "fixed_ips" in data or "mac_address" in data or binding.HOST in data:
                # addresses change (with a new host too, on a routed network): the
                # network held shared, as a port create holds it (taken before the port's
                # own lock, in the order every writer takes them: network, then port; a
                # port never changes network)
                locks.lock(conn, t.networks, [conn.scalar(
                    sa.select(_p.network_id).where(_p.id == port_id))], shared=True)
            row = self._row(conn, ctx, port_id, lock=True)
            records.check_revision(ctx, row)
            port_owner.check_update(conn, ctx, row, data)
            original = self.to_dicts(conn, [row])[0]
            owner = data.get("device_owner") or row.device_owner
            # Only what really changes is written, and only a change is a new revision.
            values: dict[str, Any] = {
                k: data[k] for k in ("name", "admin_state_up", "device_id", "device_owner",
                                     "description") if k in data and data[k] != getattr(row, k)
            }
            mac = row.mac_address
            if "mac_address" in data and data["mac_address"] != row.mac_address:
                if owner.startswith(const.DEVICE_OWNER_NETWORK_PREFIX):
                    # The network's own ports (DHCP, routers) are known by their MAC.
                    raise exc.UnsupportedPortDeviceOwner(
                        op="mac address update", port_id=row.id, device_owner=owner)
                mac = data["mac_address"]
                self._check_mac_free(conn, row.network_id, mac)
                values["mac_address"] = mac
            fixed_ips = original["fixed_ips"]
            if "fixed_ips" in data or mac != row.mac_address:
                fixed_ips = self._update_ips(conn, row, mac, original["fixed_ips"],
                                             data.get("fixed_ips"), owner, ctx)
            elif data.get(binding.HOST) and data[binding.HOST] != original.get(binding.HOST):
                fixed_ips = self._ips_for_host(conn, row, original, data[binding.HOST], owner)
            ips_changed = sorted(map(_ip_key, fixed_ips)) != sorted(
                map(_ip_key, original["fixed_ips"]))
            if ips_changed or "mac_address" in values:
                provisioning.on_addresses(conn, self.conf, [{
                    **original, "fixed_ips": fixed_ips, "device_owner": owner}])
            current = {**original, "mac_address": mac, "device_owner": owner,
                       "fixed_ips": fixed_ips}
            ext_changed = self.extensions.call("process_update_port", ctx, conn, data,
                                               original, current)
            if values or ips_changed or ext_changed:
                values["updated_at"] = records.now()
                values["revision_number"] = row.revision_number + 1
                conn.execute(_UPDATE, {"port_id": port_id, **values})
                row = conn.execute(_ROW, {"port_id": port_id}).one()
            current.update(self._dict(row, fixed_ips))
            dctx = DriverContext("port", current, original, ctx)
            self.precommit("update_port_precommit", dctx, conn)
            return current, dctx

        current, dctx = self.db.write(run)
        self.postcommit("update_port_postcommit", dctx)
        return self.binder.after_update(dctx.original, current)  # type: ignore[arg-type]

    @staticmethod
    def _ips_for_host(conn: Connection, row: Any, original: dict[str, Any], host: str,
                      device_owner: str) -> list[dict[str, str]]:
        """A port moves to ``host`` (fixed_ips not asked for), as Neutron's IPAM
        update_port: a port whose allocation was deferred gets its addresses now, from
        the subnets of the host's segment; held addresses must be usable there."""
        held = original["fixed_ips"]
        subnets = allocator.load_subnets(conn, row.network_id)
        usable, _ = routed.for_host(conn, row.network_id, subnets, host)
        if (row.ip_allocation == seg_schema.IP_ALLOCATION_DEFERRED and not held
                and not original.get(binding.HOST)):
            usable = allocator.for_owner(conn, row.network_id, usable, device_owner)
            requests = allocator.automatic(usable)
            requests += allocator.auto_address_requests(usable, device_owner, set())
            return allocator.allocate(conn, network_id=row.network_id, port_id=row.id,
                                      mac=row.mac_address, requests=requests,
                                      device_owner=device_owner)
        ids = {s.id for s in usable}
        if any(ip["subnet_id"] not in ids for ip in held):
            raise segment_errors.HostNotCompatibleWithFixedIps(host=host, port_id=row.id)
        return held

    @staticmethod
    def _update_ips(conn: Connection, row: Any, mac: str, old: list[dict[str, str]],
                    new: list[dict[str, str]] | None, device_owner: str,
                    ctx: Context | None = None) -> list[dict[str, str]]:
        """Neutron's _get_changed_ips_for_port: the new list replaces the old one. An
        entry naming a held address keeps it; an entry naming only a subnet keeps an
        address held there; the rest is allocated anew. Unclaimed addresses are freed,
        except SLAAC ones of a non-router port, which stay unless the MAC changes (their
        EUI-64 address then follows the new MAC). ``new`` None: only the MAC changed."""
        subnets = allocator.load_subnets(conn, row.network_id)
        by_id = {s.id: s for s in subnets}
        mac_changed = mac != row.mac_address
        # the EUI-64 addresses that a new MAC replaces
        redo = {o["subnet_id"] for o in old if mac_changed and o["subnet_id"] in by_id
                and by_id[o["subnet_id"]].auto_address and sm.is_eui64(o["ip_address"])}
        entries = [e for e in (old if new is None else new) if e.get("subnet_id") not in redo]

        add: list[dict[str, str]] = []
        keep: list[dict[str, str]] = []
        by_ip = {o["ip_address"]: o for o in old}
        for entry in entries:
            if "ip_address" in entry:
                held = by_ip.pop(entry["ip_address"], None)
                (keep if held is not None else add).append(held or entry)
        by_subnet: dict[str, list[dict[str, str]]] = {}
        for o in by_ip.values():
            by_subnet.setdefault(o["subnet_id"], []).append(o)
        maybe_free: list[dict[str, str]] = []
        for entry in entries:
            if "ip_address" in entry:
                continue
            held_list = by_subnet.get(entry.get("subnet_id"))  # type: ignore[arg-type]
            if not held_list:
                add.append(entry)
                continue
            held = held_list.pop()
            if sm.is_eui64(held["ip_address"]):
                # re-derived by the allocator (the same address for the same MAC)
                add.append(entry)
                maybe_free.append(held)
            else:
                keep.append(held)
        maybe_free += [o for held_list in by_subnet.values() for o in held_list]
        free: list[dict[str, str]] = []
        for o in maybe_free:
            subnet = by_id.get(o["subnet_id"])
            required = (device_owner in allocator.ROUTER_INTERFACE_OWNERS_SNAT
                        or subnet is None or not subnet.auto_address)
            (free if required or o["subnet_id"] in redo else keep).append(o)

        subnets = allocator.for_owner(conn, row.network_id, subnets, device_owner)
        requests = allocator.resolve_fixed_ips(conn, row.network_id, subnets, add,
                                               device_owner, mac, ctx)
        for o in free:
            conn.execute(sa.delete(t.ip_allocations).where(
                _a.subnet_id == o["subnet_id"], _a.ip_address == o["ip_address"],
                _a.port_id == row.id))
        handled = {o["subnet_id"] for o in keep} | {r[0][0].id for r in requests}
        handled |= {o["subnet_id"] for o in free if o["subnet_id"] not in redo}
        requests += allocator.auto_address_requests(subnets, device_owner, handled)
        added = allocator.allocate(conn, network_id=row.network_id, port_id=row.id, mac=mac,
                                   requests=requests, device_owner=device_owner)
        return [*keep, *added]

    def delete(self, ctx: Context, port_id: str) -> None:
        def run(conn: Connection) -> DriverContext:
            row = self._row(conn, ctx, port_id, lock=True)
            records.check_revision(ctx, row)
            current = self.to_dicts(conn, [row])[0]
            dctx = DriverContext("port", current, None, ctx)
            self.precommit("delete_port_precommit", dctx, conn)
            conn.execute(sa.delete(t.ip_allocations).where(_a.port_id == port_id))
            conn.execute(sa.delete(t.ports).where(_p.id == port_id))
            tags.delete_of(conn, [port_id])
            return dctx

        dctx = self.db.write(run)
        with contextlib.suppress(exc.NeutronError):
            self.postcommit("delete_port_postcommit", dctx)


def _ip_key(entry: dict[str, str]) -> tuple[str, str]:
    return entry["subnet_id"], entry["ip_address"]


