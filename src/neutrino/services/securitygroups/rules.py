"""Security group rules: validation as Neutron's, the normalized key that makes a
duplicate impossible, storage and the rules API (/v2.0/security-group-rules).

A rule's identity (``rule_key``, unique in the table) is its group, direction, ethertype,
protocol as a number (names and their numbers are the same rule), port range, remote group
and remote prefix (0.0.0.0/0 and ::/0 are "any", as no prefix). Two creates of the same
rule racing in different API processes: the second's INSERT hits the unique key, its
transaction is rerun and its check then finds the first's rule (409
SecurityGroupRuleExists). No Python lock.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import standard_attrs
from neutrino.core.callbacks import CallbackRegistry, Event, Payload, Resource
from neutrino.core.common import BulkCreate
from neutrino.core.quotas import QuotaService, count_by_project
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.engine import Database, is_duplicate
from neutrino.db.listing import ListQuery, ListSpec, select_page
from neutrino.exceptions import address_groups as ag_errors
from neutrino.exceptions import security_groups as errors
from neutrino.schema.security_group_rule import IP_PROTOCOL_MAP
from neutrino.services.addressgroups.groups import visible_to

if TYPE_CHECKING:
    from neutrino.services.securitygroups.groups import SecurityGroupService
from neutrino.core import records
from neutrino.db.rowdict import RowDict
from neutrino.schema import security_group_rule as schema
from neutrino.schema.security_group_rule import normalized_cidr

_r = t.security_group_rules.c
_g = t.security_groups.c

# protocols with ports (Neutron's SG_PORT_PROTO_NAMES / _NUMS)
PORT_PROTOCOLS = ("dccp", "sctp", "tcp", "udp", "udplite")
PORT_PROTOCOL_NUMS = tuple(IP_PROTOCOL_MAP[p] for p in PORT_PROTOCOLS)
ICMP_NUMS = (1, 58)
# protocols that only exist over IPv6
IPV6_ONLY = ("ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts",
             "ipv6-route", "41", "44", "58", "59", "60", "43")
ANY_PREFIXES = ("0.0.0.0/0", "::/0")

def _belongs_to_default_filter(values: list[Any]) -> sa.ColumnElement[bool]:
    """security-groups-rules-belongs-to-default-sg: rules of default groups (true) or of
    the others (false); both values given: every rule."""
    in_default = _r.security_group_id.in_(
        sa.select(_g.id).where(_g.default_for.is_not(None)))
    wanted = {bool(v) for v in values}
    if wanted == {True, False}:
        return sa.true()
    return in_default if True in wanted else sa.not_(in_default)


LIST_SPEC = ListSpec(table=t.security_group_rules,
                     custom_filters={"belongs_to_default_sg": _belongs_to_default_filter})
STANDARD_ATTRS = standard_attrs.register(
    "security_group_rules", "security_group_rule", LIST_SPEC,
    lambda id_: errors.SecurityGroupRuleNotFound(id=id_))

# Hints to agents after a commit: the ids of groups whose rules changed.


def protocol_number(protocol: str | None) -> int | None:
    if protocol is None:
        return None
    if protocol in IP_PROTOCOL_MAP:
        return IP_PROTOCOL_MAP[protocol]
    return int(protocol)


def normalize(rule: dict[str, Any]) -> dict[str, Any]:
    """Neutron's canonical forms and checks of a rule (before any lookup): IPv6 ICMP by
    its IPv6 name and number, the whole port range as no range, port ranges, the remote
    prefix (masked to its network, of the rule's ethertype), IPv6-only protocols, one
    remote at most."""
    rule = dict(rule)
    if rule["ethertype"] == "IPv6":
        if rule["protocol"] in ("icmp", "icmpv6"):
            rule["protocol"] = "ipv6-icmp"
        elif rule["protocol"] == "1":
            rule["protocol"] = "58"
    if (rule["port_range_min"], rule["port_range_max"]) == (1, 65535):
        rule["port_range_min"] = rule["port_range_max"] = None
    _check_ports(rule)
    prefix = rule["remote_ip_prefix"]
    if prefix:
        net = ipaddress.ip_network(prefix, strict=False)
        if rule["ethertype"] != f"IPv{net.version}":
            raise errors.SecurityGroupRuleParameterConflict(ethertype=rule["ethertype"],
                                                            cidr=prefix)
    if rule["protocol"] in IPV6_ONLY and rule["ethertype"] == "IPv4":
        raise errors.SecurityGroupEthertypeConflictWithProtocol(
            ethertype=rule["ethertype"], protocol=rule["protocol"])
    remotes = (rule["remote_ip_prefix"], rule["remote_group_id"],
               rule.get("remote_address_group_id"))
    if sum(1 for r in remotes if r) > 1:
        raise errors.SecurityGroupMultipleRemoteEntites()
    return rule


def _check_ports(rule: dict[str, Any]) -> None:
    low, high = rule["port_range_min"], rule["port_range_max"]
    if low is None and high is None:
        return
    if not rule["protocol"]:
        raise errors.SecurityGroupProtocolRequiredWithPorts()
    number = protocol_number(rule["protocol"])
    if number in PORT_PROTOCOL_NUMS:
        if low == 0 or high == 0:
            raise errors.SecurityGroupInvalidPortValue(port=0)
        if low is None or high is None or low > high:
            raise errors.SecurityGroupInvalidPortRange()
    elif number in ICMP_NUMS:
        for attr, field in (("port_range_min", "type"), ("port_range_max", "code")):
            value = rule[attr]
            if value is not None and not 0 <= value <= 255:
                raise errors.SecurityGroupInvalidIcmpValue(field=field, attr=attr,
                                                           value=value)
        if low is None and high is not None:
            raise errors.SecurityGroupMissingIcmpType(value=high)
    else:
        raise errors.SecurityGroupInvalidProtocolForPort(
            protocol=number, valid_port_protocols=", ".join(p.upper() for p in PORT_PROTOCOLS))


def rule_key(rule: dict[str, Any]) -> str:
    """The normalized identity of a (normalized) rule: at most 36+36+~60 characters."""
    def part(value: Any) -> str:
        return "+" if value is None else str(value)

    prefix = normalized_cidr(rule["remote_ip_prefix"])
    return "_".join((
        rule["security_group_id"], rule["direction"], rule["ethertype"],
        part(protocol_number(rule["protocol"])), part(rule["port_range_min"]),
        part(rule["port_range_max"]), part(rule["remote_group_id"]),
        "+" if prefix in (None, *ANY_PREFIXES) else prefix,
        # a remote address group (security-groups-remote-address-group): only then a
        # part, so the keys of every other rule stay what earlier versions stored
        *((rule["remote_address_group_id"],) if rule.get("remote_address_group_id")
          else ()),
    ))


ROW_DICT = RowDict(schema.resource())


def _with_default(dicts: list[dict[str, Any]], defaults: set[str]) -> list[dict[str, Any]]:
    """belongs_to_default_sg: whether the rule's group is among ``defaults``."""
    for d in dicts:
        d["belongs_to_default_sg"] = d["security_group_id"] in defaults
    return dicts


def with_owner(rule: dict[str, Any], owner: str | None) -> dict[str, Any]:
    """What policy rules read of a rule's group (rule:sg_owner); never shown (not an
    attribute of the resource)."""
    rule["security_group:project_id"] = rule["security_group:tenant_id"] = owner
    return rule


def new_row(project_id: str | None, group_id: str, direction: str, ethertype: str, *,
            protocol: str | None = None, port_range_min: int | None = None,
            port_range_max: int | None = None, remote_ip_prefix: str | None = None,
            remote_group_id: str | None = None, description: str = "",
            remote_address_group_id: str | None = None) -> dict[str, Any]:
    """A table row of a (normalized) rule."""
    ts = records.now()
    row = {"id": records.new_id(), "project_id": project_id, "security_group_id": group_id,
           "direction": direction, "ethertype": ethertype, "protocol": protocol,
           "port_range_min": port_range_min, "port_range_max": port_range_max,
           "remote_ip_prefix": remote_ip_prefix, "remote_group_id": remote_group_id,
           "remote_address_group_id": remote_address_group_id,
           "description": description, "created_at": ts, "updated_at": ts,
           "revision_number": 1}
    row["rule_key"] = rule_key(row)
    return row


def insert_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """One INSERT for all. A referenced group deleted since it was read (a foreign key
    failing) reruns the transaction, whose reads then report the group gone."""
    if not rows:
        return
    try:
        conn.execute(sa.insert(t.security_group_rules), list(rows))
    except sa.exc.IntegrityError as e:
        if is_duplicate(e):
            raise
        raise exc.NeedsRetry() from e


def load_by_group(conn: Connection, group_ids: Sequence[str] | sa.Select[Any],
                  defaults: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The rules of some groups, by group (``defaults``: which of them are default
    groups). One statement."""
    out: dict[str, list[dict[str, Any]]] = {}
    rows = conn.execute(
        sa.select(t.security_group_rules).where(_r.security_group_id.in_(group_ids))
        .order_by(_r.security_group_id, _r.created_at, _r.id)).all()
    for d in _with_default(ROW_DICT(rows), defaults):
        out.setdefault(d["security_group_id"], []).append(d)
    return out


def check_address_groups(conn: Connection, ctx: Context, project: str | None,
                         group_ids: set[str]) -> None:
    """Rules' remote address groups must exist and be visible to the rule's project (its
    own or shared with it), an admin's any (Neutron's check_address_group): 404
    otherwise. Held (shared) until the commit, so an RBAC entry going away and a rule
    naming the group serialize (the entry's change locks the group exclusively)."""
    if not group_ids:
        return
    ids = sorted(group_ids)
    locks.lock(conn, t.address_groups, ids, shared=True)
    ag = t.address_groups.c
    stmt = sa.select(ag.id).where(ag.id.in_(ids))
    if not ctx.is_admin:
        stmt = stmt.where(visible_to(project))
    found = set(conn.scalars(stmt))
    for gid in ids:
        if gid not in found:
            raise ag_errors.AddressGroupNotFound(address_group_id=gid)


def publish_changed(registry: CallbackRegistry, trigger: Any, group_ids: set[str]) -> None:
    """After the commit: the rules of these groups changed (SECURITY_GROUP AFTER_UPDATE,
    ``resource_ids``; the agent notifier subscribes)."""
    if group_ids:
        registry.publish(Resource.SECURITY_GROUP, Event.AFTER_UPDATE, trigger,
                         Payload(resource_ids=tuple(sorted(group_ids))))


class RuleService(BulkCreate):
    def __init__(self, db: Database, quotas: QuotaService | None,
                 registry: CallbackRegistry, groups: SecurityGroupService) -> None:
        self.db = db
        self.quotas = quotas  # None: no quota enforcement
        self.registry = registry
        self.groups = groups  # makes sure a project's default group exists

    # --- reading -----------------------------------------------------------------------
    @staticmethod
    def _visible(ctx: Context) -> sa.ColumnElement[bool]:
        # Neutron: the project's own rules and every rule of the project's groups
        return sa.or_(_r.project_id == ctx.project_id, _r.security_group_id.in_(
            sa.select(_g.id).where(_g.project_id == ctx.project_id)))

    def _format(self, conn: Connection, rows: list[Any]) -> list[dict[str, Any]]:
        dicts = ROW_DICT(rows)
        ids = {d["security_group_id"] for d in dicts}
        groups = {g.id: g for g in conn.execute(sa.select(
            _g.id, _g.project_id, _g.default_for).where(_g.id.in_(ids)))} if ids else {}
        _with_default(dicts, {g.id for g in groups.values() if g.default_for is not None})
        for d in dicts:
            group = groups.get(d["security_group_id"])
            with_owner(d, group.project_id if group is not None else None)
        return dicts

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        project = (q.filters.get("project_id") or q.filters.get("tenant_id") or
                   [ctx.project_id])[0]
        if project:
            self.groups.ensure_default(ctx, project)

        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.sees_all else [self._visible(ctx)]
            rows, more = select_page(
                conn, LIST_SPEC, q, extra_where=extra,
                marker_not_found=lambda m: errors.SecurityGroupRuleNotFound(id=m))
            return self._format(conn, rows), more

        return self.db.read(run)

    def _row(self, conn: Connection, ctx: Context, rule_id: str) -> Any:
        stmt = sa.select(t.security_group_rules).where(_r.id == rule_id)
        if not ctx.sees_all:
            stmt = stmt.where(self._visible(ctx))
        row = conn.execute(stmt).first()
        if row is None:
            raise errors.SecurityGroupRuleNotFound(id=rule_id)
        return row

    def get(self, ctx: Context, rule_id: str) -> dict[str, Any]:
        return self.db.read(lambda conn: self._format(conn, [self._row(conn, ctx, rule_id)])[0])

    # --- writing -------------------------------------------------------------------------
    @staticmethod
    def _check_groups(conn: Connection, ctx: Context, project: str | None,
                      group_id: str, remotes: set[str]) -> Any:
        """The rule's group and its remote groups must exist and, for a non-admin, belong
        to the rule's project (Neutron's _check_security_group): 404 otherwise. Returns
        the group's row."""
        wanted = {group_id, *remotes}
        found = {r.id: r for r in conn.execute(
            sa.select(_g.id, _g.project_id, _g.default_for).where(_g.id.in_(wanted)))}
        for gid in [*sorted(remotes), group_id]:
            row = found.get(gid)
            if row is None or not (ctx.is_admin or row.project_id == project):
                raise errors.SecurityGroupNotFound(id=gid)
        return found[group_id]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """All of one group and project (as Neutron's native bulk), all or nothing."""
        groups = {d["security_group_id"] for d in items}
        if len(groups) > 1:
            raise errors.SecurityGroupNotSingleGroupRules()
        if len({d["project_id"] for d in items}) > 1:
            raise errors.SecurityGroupRulesNotSingleProject()
        rules = [normalize(d) for d in items]
        group_id = rules[0]["security_group_id"]
        project = rules[0]["project_id"]

        def run(conn: Connection) -> list[dict[str, Any]]:
            if self.quotas is not None:
                self.quotas.check(conn, "security_group_rule", count_by_project(items))
            check_address_groups(conn, ctx, project,
                                 {r["remote_address_group_id"] for r in rules
                                  if r.get("remote_address_group_id")})
            group = self._check_groups(conn, ctx, project, group_id,
                                       {r["remote_group_id"] for r in rules
                                        if r["remote_group_id"]})
            rows = [new_row(project, group_id, r["direction"], r["ethertype"],
                            protocol=r["protocol"], port_range_min=r["port_range_min"],
                            port_range_max=r["port_range_max"],
                            remote_ip_prefix=r["remote_ip_prefix"],
                            remote_group_id=r["remote_group_id"],
                            remote_address_group_id=r.get("remote_address_group_id"),
                            description=r.get("description") or "") for r in rules]
            keys = [row["rule_key"] for row in rows]
            if len(set(keys)) != len(keys):
                raise errors.DuplicateSecurityGroupRuleInPost()
            existing = conn.scalar(sa.select(_r.id).where(_r.rule_key.in_(keys)).limit(1))
            if existing is not None:
                raise errors.SecurityGroupRuleExists(rule_id=existing)
            insert_rows(conn, rows)
            # the group shows its rules: a new revision of it
            records.bump_revisions(conn, t.security_groups, [group_id])
            default = {group_id} if group.default_for is not None else set()
            return [with_owner(d, group.project_id)
                    for d in _with_default(ROW_DICT.of_values(rows), default)]

        created = self.db.write(run)
        self._changed({group_id})
        return created

    def update(self, ctx: Context, rule_id: str, data: dict[str, Any]) -> dict[str, Any]:
        raise exc.HTTPMethodNotAllowed()

    def delete(self, ctx: Context, rule_id: str) -> None:
        def run(conn: Connection) -> str:
            row = self._row(conn, ctx, rule_id)
            records.check_revision(ctx, row)
            conn.execute(sa.delete(t.security_group_rules).where(_r.id == rule_id))
            records.bump_revisions(conn, t.security_groups, [row.security_group_id])
            return str(row.security_group_id)

        group_id = self.db.write(run)
        self._changed({group_id})

    def _changed(self, group_ids: set[str]) -> None:
        publish_changed(self.registry, self, group_ids)
