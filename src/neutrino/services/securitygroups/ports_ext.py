"""Ports' ``security_groups``, ``port_security_enabled`` and ``allowed_address_pairs``:
kept in the port's own transaction by hooks the port service calls, read for a page of
ports in one statement.

Cost, as the port paths are hot: a create adds one SELECT (the groups asked for, the
project's default group and the network's port security, together) and one INSERT of the
memberships for the whole bulk; pairs and disabled port security (rare) add one statement
each. A list adds one statement (memberships and pairs of the page, a UNION ALL).

Rules, as Neutron's ML2: ports of the network itself (device_owner "network:*") are in no
group; a port without ``security_groups`` gets its project's default group (made if
missing); ``port_security_enabled`` defaults to the network's; without port security a port
has no groups (asking for some: 400 PortSecurityAndIPRequiredForSecurityGroups; keeping
some: 409 PortSecurityPortHasSecurityGroup) and no address pairs (409
AddressPairAndPortSecurityRequired); a group the port's project does not own is 404
SecurityGroupNotFound (admins may use any).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import constants as const
from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core.extensions import ChildPart, ExtensionDriver
from neutrino.db import tables as t
from neutrino.db.engine import is_duplicate
from neutrino.db.listing import Children
from neutrino.exceptions import security_groups as errors
from neutrino.schema.base import AUTO
from neutrino.services.securitygroups import groups
from neutrino.services.securitygroups import rbac as sg_rbac

SECURITY_GROUPS = "security_groups"
PORT_SECURITY = "port_security_enabled"
PAIRS = "allowed_address_pairs"
KEYS = (SECURITY_GROUPS, PORT_SECURITY, PAIRS)

_p = t.ports.c
_n = t.networks.c
_g = t.security_groups.c
_sp = t.security_group_port_bindings.c
_ap = t.allowed_address_pairs.c


def is_trusted(device_owner: str) -> bool:
    """Ports of the network's own machinery (DHCP, routers): never filtered."""
    return device_owner.startswith(const.DEVICE_OWNER_NETWORK_PREFIX)


def _sg_filter(values: list[Any]) -> sa.ColumnElement[bool]:
    return _p.id.in_(sa.select(_sp.port_id).where(_sp.security_group_id.in_(values)))


# ListSpec custom filters of ports (port_security_enabled is a column of ports)
FILTERS = {SECURITY_GROUPS: _sg_filter}


@dataclass(slots=True)
class Extra:
    security_groups: list[str] = field(default_factory=list)
    pairs: list[dict[str, str]] = field(default_factory=list)


_EMPTY = Extra()


_LOAD = Children(lambda where: sa.union_all(
    sa.select(_sp.port_id, _sp.security_group_id, sa.null().label("mac"),
              sa.null().label("ip")).where(where(_sp.port_id)),
    sa.select(_ap.port_id, sa.null(), _ap.mac_address, _ap.ip_address)
    .where(where(_ap.port_id)),
))


def load(conn: Connection, port_ids: Sequence[str], page: sa.Subquery | None = None
         ) -> dict[str, Extra]:
    """Groups and address pairs of some ports: one statement. (Lists show a thousand
    ports: plain loops, no sorting of single-element lists.)"""
    if not port_ids:
        return {}
    out: dict[str, Extra] = {}
    get = out.get
    for port_id, group_id, mac, ip in _LOAD.execute(conn, port_ids, page).all():
        extra = get(port_id)
        if extra is None:
            extra = out[port_id] = Extra()
        if group_id is not None:
            extra.security_groups.append(group_id)
        else:
            extra.pairs.append({"ip_address": ip, "mac_address": mac})
    for extra in out.values():
        if len(extra.security_groups) > 1:
            extra.security_groups.sort()
        if len(extra.pairs) > 1:
            extra.pairs.sort(key=lambda p: (p["ip_address"], p["mac_address"]))
    return out


def fields(row: Any, extra: Extra | None) -> dict[str, Any]:
    """What a port row shows of these extensions (``extra``'s lists are the caller's:
    load makes them afresh for each read)."""
    if extra is None:
        extra = _EMPTY
    return {SECURITY_GROUPS: extra.security_groups[:], PORT_SECURITY:
            bool(getattr(row, PORT_SECURITY, True)), PAIRS: extra.pairs[:]}


def _pairs_with_macs(pairs: list[dict[str, Any]], mac: str) -> list[dict[str, str]]:
    """A pair without a MAC takes the port's; the same pair twice is one pair."""
    out = {(p["ip_address"], p.get("mac_address") or mac): None for p in pairs}
    return [{"ip_address": ip, "mac_address": m} for ip, m in sorted(out)]


_INSERT_MEMBERSHIPS = sa.insert(t.security_group_port_bindings)


def _insert_memberships(conn: Connection, rows: list[dict[str, str]]) -> None:
    if not rows:
        return
    try:
        conn.execute(_INSERT_MEMBERSHIPS, rows)
    except sa.exc.IntegrityError as e:
        # a group deleted since it was read: rerun, the rerun's read reports it (404)
        if is_duplicate(e):
            raise
        raise exc.NeedsRetry() from e


def _check_groups(conn: Connection, ctx: Context, project: str | None, wanted: list[str],
                  found: dict[str, Any]) -> None:
    foreign = [g for g in wanted if g in found and not (
        ctx.is_admin or not project or found[g].project_id == project)]
    # rbac-security-groups: a group shared with the port's project (one more statement,
    # only when a port names a group of another project)
    shared = sg_rbac.usable_ids(conn, foreign, project) if foreign else set()
    missing = [g for g in wanted if g not in found or (g in foreign and g not in shared)]
    if missing:
        raise errors.SecurityGroupNotFound(id=", ".join(missing))
    states = {bool(found[g].stateful) for g in wanted}
    if len(states) > 1:
        raise errors.SecurityGroupConflict(
            reason="Cannot apply both stateful and stateless security groups on the same "
                   "port at the same time")


def on_create(ctx: Context, conn: Connection, items: list[dict[str, Any]],
              ports: list[dict[str, Any]]) -> None:
    """After the ports' rows are inserted (same transaction): resolve, check and store
    the three attributes of each; fills them into ``ports`` (the API dicts)."""
    need_default = {d["project_id"] for d in items if d.get("project_id")
                    and d.get(SECURITY_GROUPS, AUTO) is AUTO
                    and d.get(PORT_SECURITY, AUTO) is not False
                    and not is_trusted(d.get("device_owner") or "")
                    and (ctx.is_admin or d["project_id"] == ctx.project_id)}
    wanted = {g for d in items if isinstance(d.get(SECURITY_GROUPS), list)
              for g in d[SECURITY_GROUPS]}
    nets = {d["network_id"] for d in items if d.get(PORT_SECURITY, AUTO) is AUTO}
    found, defaults, net_psec = _read(conn, wanted, need_default, nets)
    for project in sorted(need_default - set(defaults)):
        group_id = groups.create_default(conn, project)
        defaults[project] = group_id
        found[group_id] = _Row(group_id, project, True)
    memberships: list[dict[str, str]] = []
    pair_rows: list[dict[str, str]] = []
    disabled: list[str] = []
    for data, port in zip(items, ports, strict=True):
        psec = data.get(PORT_SECURITY, AUTO)
        if psec is AUTO:
            psec = net_psec.get(data["network_id"], True)
        requested = data.get(SECURITY_GROUPS, AUTO)
        pairs = data.get(PAIRS, AUTO)
        pairs = [] if pairs is AUTO or pairs is None else pairs
        if pairs and not psec:
            raise errors.AddressPairAndPortSecurityRequired()
        sgs: list[str] = []
        if not psec:
            if isinstance(requested, list) and requested:
                raise errors.PortSecurityAndIPRequiredForSecurityGroups()
            disabled.append(port["id"])
        elif not is_trusted(port["device_owner"]):
            if requested is AUTO:
                default = defaults.get(data.get("project_id") or "")
                sgs = [default] if default else []
            else:
                sgs = list(requested)
                _check_groups(conn, ctx, data.get("project_id"), sgs, found)
        memberships += [{"port_id": port["id"], "security_group_id": g} for g in sgs]
        port_pairs = _pairs_with_macs(pairs, port["mac_address"])
        pair_rows += [{"port_id": port["id"], **p} for p in port_pairs]
        port.update({SECURITY_GROUPS: sorted(sgs), PORT_SECURITY: bool(psec),
                     PAIRS: port_pairs})
    _insert_memberships(conn, memberships)
    if pair_rows:
        conn.execute(sa.insert(t.allowed_address_pairs), pair_rows)
    if disabled:
        conn.execute(sa.update(t.ports).where(_p.id.in_(disabled)).values(
            port_security_enabled=False))


class _Row:
    __slots__ = ("default_for", "id", "project_id", "stateful")

    def __init__(self, id_: str, project: str | None, stateful: bool,
                 default_for: str | None = None) -> None:
        self.id, self.project_id, self.stateful = id_, project, stateful
        self.default_for = default_for


# Built once (a port create's hot path); an empty list selects nothing from its part.
_READ = sa.union_all(
    sa.select(_g.id, _g.project_id, _g.default_for, _g.stateful.label("flag"),
              sa.literal(1).label("kind"))
    .where(sa.or_(_g.id.in_(sa.bindparam("wanted", expanding=True)),
                  _g.default_for.in_(sa.bindparam("projects", expanding=True)))),
    sa.select(_n.id, sa.null(), sa.null(), _n.port_security_enabled, sa.literal(2))
    .where(_n.id.in_(sa.bindparam("nets", expanding=True))),
)


def _read(conn: Connection, wanted: set[str], projects: set[str], nets: set[str]
          ) -> tuple[dict[str, Any], dict[str, str], dict[str, bool]]:
    """Groups by id or as a project's default, and networks' port security: one
    statement (a UNION ALL; ``kind`` tells a group's row (1) from a network's (2))."""
    found: dict[str, Any] = {}
    defaults: dict[str, str] = {}
    net_psec: dict[str, bool] = {}
    if not (wanted or projects or nets):
        return found, defaults, net_psec
    for id_, project, default_for, flag, kind in conn.execute(_READ, {
            "wanted": list(wanted), "projects": list(projects), "nets": list(nets)}):
        if kind == 2:
            net_psec[id_] = bool(flag)
            continue
        found[id_] = _Row(id_, project, bool(flag), default_for)
        if default_for is not None:
            defaults[default_for] = id_
    return found, defaults, net_psec


class PortSecurityDriver(ExtensionDriver):
    """[ml2] extension_drivers ``port_security`` (Neutron's name): port_security_enabled,
    security_groups and allowed_address_pairs of ports (module doc)."""

    name = "port_security"
    aliases = ("port-security", "allowed-address-pairs", "port-security-groups-filtering",
               "aap-reject-multicast")
    filters = {"port": FILTERS}
    # shown by the port dict builder (core/port_dict.py), read with the port's other lists
    port_columns = {PORT_SECURITY: (PORT_SECURITY, True)}
    port_children = (
        ChildPart(SECURITY_GROUPS, _sp.port_id, (_sp.security_group_id,), sort=True),
        ChildPart(PAIRS, _ap.port_id, (_ap.ip_address, _ap.mac_address),
                  ("ip_address", "mac_address"),
                  key=lambda p: (p["ip_address"], p["mac_address"])),
    )

    def process_create_ports(self, ctx: Context, conn: Connection,
                             items: list[dict[str, Any]], results: list[dict[str, Any]]
                             ) -> None:
        on_create(ctx, conn, items, results)

    def process_update_port(self, ctx: Context, conn: Connection, data: dict[str, Any],
                            original: dict[str, Any], result: dict[str, Any]) -> bool:
        """An update of a port (in its transaction, before its row is written)."""
        port_id = original["id"]
        psec = data.get(PORT_SECURITY, original[PORT_SECURITY])
        old_sgs = list(original[SECURITY_GROUPS])
        old_pairs = original[PAIRS]
        mac, device_owner = result["mac_address"], result["device_owner"]
        result.update({SECURITY_GROUPS: old_sgs, PORT_SECURITY: psec, PAIRS: old_pairs})
        changed = psec != original[PORT_SECURITY]
        if changed:
            conn.execute(sa.update(t.ports).where(_p.id == port_id).values(
                port_security_enabled=psec))
        if not psec:
            if data.get(PAIRS) or (PAIRS not in data and old_pairs):
                raise errors.AddressPairAndPortSecurityRequired()
            if data.get(SECURITY_GROUPS):
                raise errors.PortSecurityAndIPRequiredForSecurityGroups()
            if SECURITY_GROUPS not in data and old_sgs:
                raise errors.PortSecurityPortHasSecurityGroup()
        if SECURITY_GROUPS in data and set(data[SECURITY_GROUPS]) != set(old_sgs):
            new = [] if is_trusted(device_owner) else list(data[SECURITY_GROUPS])
            if new:
                _check_groups(conn, ctx, original.get("project_id"), new,
                              groups.visible_groups(conn, new))
            conn.execute(sa.delete(t.security_group_port_bindings).where(
                _sp.port_id == port_id))
            _insert_memberships(conn, [{"port_id": port_id, "security_group_id": g}
                                       for g in new])
            result[SECURITY_GROUPS] = sorted(new)
            changed = True
        if PAIRS in data:
            new_pairs = _pairs_with_macs(data[PAIRS], mac)
            if new_pairs != old_pairs:
                conn.execute(sa.delete(t.allowed_address_pairs).where(_ap.port_id == port_id))
                if new_pairs:
                    conn.execute(sa.insert(t.allowed_address_pairs),
                                 [{"port_id": port_id, **p} for p in new_pairs])
                result[PAIRS] = new_pairs
                changed = True
        return changed
