"""What the Linux bridge agent's firewall is given (docs/agent-protocol.md, "Security
groups"), and which hosts hear of a change. Every function is a bounded number of
statements whatever the number of ports, groups and rules: no query per port."""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core import binding
from neutrino.db import tables as t
from neutrino.protocol import linuxbridge as lb
from neutrino.services.agents import L2_AGENT_TYPES
from neutrino.services.securitygroups import ports_ext

_g = t.security_groups.c
_r = t.security_group_rules.c
_sp = t.security_group_port_bindings.c
_ap = t.allowed_address_pairs.c
_a = t.ip_allocations.c
_b = t.port_bindings.c
_ag = t.agents.c

RULE_KEYS = ("id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
             "remote_ip_prefix", "remote_group_id", "remote_address_group_id")
_aa = t.address_associations.c


def _bound_on(host: str | None = None) -> list[sa.ColumnElement[bool]]:
    where = [_b.host != "", _b.vif_type.not_in(binding.NOT_BOUND)]
    if host is not None:
        where.append(_b.host == host)
    return where


# --- get_host_state ------------------------------------------------------------------------
def port_fields(conn: Connection, ports: list[Any]) -> dict[str, dict[str, Any]]:
    """port id -> the keyword arguments port_security_enabled, security_groups,
    allowed_address_pairs of its protocol.linuxbridge.Port (rows of ports with id,
    device_owner, port_security_enabled). One statement."""
    extra = ports_ext.load(conn, [p.id for p in ports])
    out = {}
    for p in ports:
        fields = ports_ext.fields(p, extra.get(p.id))
        if ports_ext.is_trusted(p.device_owner or ""):
            fields[ports_ext.SECURITY_GROUPS] = []
        fields[ports_ext.PAIRS] = [lb.AddressPair(**pair) for pair in fields[ports_ext.PAIRS]]
        out[p.id] = fields
    return out


def _groups(conn: Connection, group_ids: Collection[str]) -> dict[str, lb.SecurityGroup]:
    """The groups ``group_ids`` that exist, with their rules and ``stateful``. One
    statement (groups left-joined to their rules)."""
    if not group_ids:
        return {}
    rules: dict[str, list[lb.Rule]] = {}
    stateful: dict[str, bool] = {}
    for row in conn.execute(
        sa.select(_g.id.label("group_id"), _g.stateful, *(_r[k] for k in RULE_KEYS))
        .select_from(t.security_groups.outerjoin(
            t.security_group_rules, _r.security_group_id == _g.id))
        .where(_g.id.in_(list(group_ids))).order_by(_g.id, _r.id)
    ):
        stateful[row.group_id] = bool(row.stateful)
        group_rules = rules.setdefault(row.group_id, [])
        if row.id is not None:
            group_rules.append(lb.Rule(**{k: getattr(row, k) for k in RULE_KEYS}))
    return {g: lb.SecurityGroup(rules=rs, stateful=stateful[g]) for g, rs in rules.items()}


def address_groups(conn: Connection, groups: Iterable[lb.SecurityGroup]
                   ) -> lb.AddressGroups:
    """The CIDRs of every address group the groups' rules name, by ethertype, sorted.
    One statement, none when no rule names one."""
    ids = sorted({r.remote_address_group_id for g in groups for r in g.rules
                  if r.remote_address_group_id})
    if not ids:
        return {}
    out: dict[str, dict[str, list[str]]] = {i: {"IPv4": [], "IPv6": []} for i in ids}
    for group_id, address in conn.execute(
            sa.select(_aa.address_group_id, _aa.address).where(_aa.address_group_id.in_(ids))):
        net = ipaddress.ip_network(address, strict=False)
        out[group_id][f"IPv{net.version}"].append(str(net))
    for fams in out.values():
        for et, nets in fams.items():
            fams[et] = sorted(nets, key=ipaddress.ip_network)  # type: ignore[arg-type]
    return out


def _members(conn: Connection, group_ids: Collection[str]) -> lb.RemoteGroups:
    """Fixed IPs and address pairs' ip_address of every port in the groups (any host),
    by group and ethertype, sorted. One statement."""
    out: dict[str, dict[str, set[str]]] = {g: {"IPv4": set(), "IPv6": set()}
                                           for g in group_ids}
    if not group_ids:
        return {}
    ids = list(group_ids)
    stmt = sa.union_all(
        sa.select(_sp.security_group_id, _a.ip_address)
        .join(t.ip_allocations, _a.port_id == _sp.port_id)
        .where(_sp.security_group_id.in_(ids)),
        sa.select(_sp.security_group_id, _ap.ip_address)
        .join(t.allowed_address_pairs, _ap.port_id == _sp.port_id)
        .where(_sp.security_group_id.in_(ids)),
    )
    for group_id, address in conn.execute(stmt):
        version = ipaddress.ip_network(address, strict=False).version
        out[group_id][f"IPv{version}"].add(address)
    return {g: {k: sorted(v) for k, v in fam.items()} for g, fam in out.items()}


def firewall_state(conn: Connection, group_ids: Collection[str]
                   ) -> tuple[dict[str, lb.SecurityGroup], lb.RemoteGroups, lb.AddressGroups]:
    """The rules of ``group_ids`` (the groups of a host's ports), the members of every
    group their rules name as remote and the CIDRs of every address group they name. Two
    statements, a third when a rule names an address group."""
    groups = _groups(conn, group_ids)
    remotes = {r.remote_group_id for g in groups.values() for r in g.rules
               if r.remote_group_id}
    return groups, _members(conn, remotes), address_groups(conn, groups.values())


def narrowed_state(conn: Connection, host: str, ids: list[str]) -> lb.SecurityGroupsState:
    """The ``security_group_ids`` form of get_host_state: of ``ids``, the rules of those
    this host's ports are in, and the members of those its groups' rules name as remote
    (plus the remote groups of the rules given), and the CIDRs of the address groups the
    rules given name (an address group's change is hinted as its groups' change). Three
    statements, a fourth when a rule given names an address group."""
    host_groups = set(conn.scalars(
        sa.select(_sp.security_group_id).distinct()
        .join(t.port_bindings, _b.port_id == _sp.port_id).where(*_bound_on(host))))
    wanted = set(ids)
    groups = _groups(conn, host_groups)
    remotes = {r.remote_group_id for g, sg in groups.items() for r in sg.rules
               if r.remote_group_id and (r.remote_group_id in wanted or g in wanted)}
    given = {g: sg for g, sg in groups.items() if g in wanted}
    return lb.SecurityGroupsState(
        host=host,
        security_groups=given,
        remote_groups=_members(conn, remotes),
        address_groups=address_groups(conn, given.values()))


# --- who hears of a change ----------------------------------------------------------------------
# Driven by the Linux bridge agents' hosts (few) with an EXISTS each, through the index on
# port_bindings.host and the memberships' primary key: the cost does not grow with the
# number of members of a group (a port create in a project's default group of thousands
# of ports asks this after every commit).
def _has_member(host: sa.ColumnElement[Any], group: sa.ColumnElement[Any]) -> sa.Exists:
    return sa.exists().where(
        _b.host == host, _b.vif_type.not_in(binding.NOT_BOUND),
        _sp.port_id == _b.port_id, _sp.security_group_id == group)


def hosts_with_members(conn: Connection, group_ids: Iterable[str]) -> dict[str, set[str]]:
    """host -> the groups of ``group_ids`` it has bound ports in. One statement."""
    ids = list(group_ids)
    out: dict[str, set[str]] = {}
    if not ids:
        return out
    for host, group_id in conn.execute(
        sa.select(_ag.host, _g.id).select_from(t.agents.join(t.security_groups, sa.true()))
        .where(
            _ag.agent_type.in_(L2_AGENT_TYPES), _g.id.in_(ids), _has_member(_ag.host, _g.id))
    ):
        out.setdefault(host, set()).add(group_id)
    return out


def _hosts_referencing_statement() -> sa.Select[Any]:
    refs = (sa.select(_r.security_group_id.label("group_id"),
                      _r.remote_group_id.label("remote_id")).distinct()
            .where(_r.remote_group_id.in_(sa.bindparam("group_ids", expanding=True)))
            .subquery("refs"))
    # every agent host against every referring group (both few), on purpose
    return (sa.select(_ag.host, refs.c.remote_id).distinct()
            .select_from(t.agents.join(refs, sa.true())).where(
                _ag.agent_type.in_(L2_AGENT_TYPES), _has_member(_ag.host, refs.c.group_id)))


# built once: asked after every port create (services/agent_notifier.py)
_HOSTS_REFERENCING = _hosts_referencing_statement()


def hosts_referencing(conn: Connection, group_ids: Iterable[str]) -> dict[str, set[str]]:
    """host -> the groups of ``group_ids`` that rules of its ports' groups name as
    remote (their membership is what it needs). One statement."""
    ids = list(group_ids)
    out: dict[str, set[str]] = {}
    if not ids:
        return out
    for host, remote in conn.execute(_HOSTS_REFERENCING, {"group_ids": ids}):
        out.setdefault(host, set()).add(remote)
    return out
