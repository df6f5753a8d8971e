"""Default security group rules (/v2.0/default-security-group-rules, extension
security-groups-default-rules): the template the rules of a new security group are made
from. A project's default group gets the template rules ``used_in_default_sg``, any other
new group those ``used_in_non_default_sg``; ``remote_group_id`` "PARENT" becomes the new
group itself. The template is seeded with Neutron's defaults by migration 0011 and managed
by admins (policy). A change applies to groups made afterwards, as in Neutron. A template
rule may name a remote address group (one remote at most, as a rule); one naming a
security group or address group deleted since gives no rule.

A duplicate template rule is refused: 409. As in Neutron, the same rule may be in the
template twice if the two apply to different groups (one ``used_in_default_sg`` only,
the other ``used_in_non_default_sg`` only), not if both apply to one kind of group. The
unique ``rule_key`` keeps this atomic (see _template_rule_key and _create_rows).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records
from neutrino.db import locks
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import ListSpec
from neutrino.db.rowdict import RowDict
from neutrino.exceptions import security_groups as errors
from neutrino.schema import default_security_group_rule as schema
from neutrino.schema.default_security_group_rule import PARENT
from neutrino.services.securitygroups import rules
from neutrino.services.table_service import TableService

_d = t.default_security_group_rules.c
_g = t.security_groups.c
_ag = t.address_groups.c

LIST_SPEC = ListSpec(table=t.default_security_group_rules)
ROW_DICT = RowDict(schema.resource())
# the columns a template rule is made of (the table's, less its key)
FIELDS = tuple(key for key, _, _ in ROW_DICT.fields)


def template_key(rule: dict[str, Any]) -> str:
    """A template rule's identity: its rule_key without a group (migration 0011 seeds
    keys of this form)."""
    return rules.rule_key({**rule, "security_group_id": ""})[1:]


# rule_key of a template rule: its template_key when it is used in default groups (all
# that migration 0011 seeds), with a suffix when not -- so two rules both used in default
# groups collide on the unique key; the one overlap the key cannot express (used in both
# kinds against used in non-default groups only) is checked by _create_rows.
_NON_DEFAULT_ONLY, _UNUSED = "|non-default", "|unused"


def _template_rule_key(rule: dict[str, Any], rule_id: str) -> str:
    base = template_key(rule)
    if rule.get("used_in_default_sg", True):
        return base
    if rule.get("used_in_non_default_sg", True):
        return base + _NON_DEFAULT_ONLY
    # used in no group: overlaps nothing, so never a duplicate (Neutron checks the two
    # templates only); its key is its own
    return f"{base}{_UNUSED}|{rule_id}"


def _claims(rule: dict[str, Any]) -> list[tuple[str, str]]:
    """The (rule, kind of group) pairs a template rule makes rules for."""
    base = template_key(rule)
    out = []
    if rule.get("used_in_default_sg", True):
        out.append((base, "default"))
    if rule.get("used_in_non_default_sg", True):
        out.append((base, "non-default"))
    return out


def _create_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Insert template rows unless one overlaps a rule already there (409).

    Atomic without a parent row to lock: a rule used in non-default groups only first
    takes the key its own rule would have if it were used in default groups too -- the
    existing row, locked, when there is one (it is checked); otherwise a probe row
    inserted and deleted again, whose uncommitted key makes a concurrent insert of a
    rule used in both kinds wait for this transaction (or this one wait for it, and
    rerun on the duplicate key). A rule used in both kinds checks for a non-default-only
    twin after inserting its own row, so after any such wait it reads the other's
    commit."""
    for row in rows:
        if row["used_in_default_sg"] or not row["used_in_non_default_sg"]:
            continue
        base = row["rule_key"][: -len(_NON_DEFAULT_ONLY)]
        twin = conn.execute(sa.select(_d.id).where(_d.rule_key == base)).first()
        if twin is not None:
            locks.lock(conn, t.default_security_group_rules, [twin.id])
            held = conn.execute(sa.select(_d.id, _d.used_in_non_default_sg).where(
                _d.id == twin.id)).first()
            if held is not None and held.used_in_non_default_sg:
                raise errors.DefaultSecurityGroupRuleExists(rule_id=held.id)
        else:
            probe = {**row, "id": records.new_id(), "rule_key": base}
            conn.execute(sa.insert(t.default_security_group_rules), [probe])
            conn.execute(sa.delete(t.default_security_group_rules).where(
                _d.id == probe["id"]))
    keys = [row["rule_key"] for row in rows]
    existing = conn.scalar(sa.select(_d.id).where(_d.rule_key.in_(keys)).limit(1))
    if existing is not None:
        raise errors.DefaultSecurityGroupRuleExists(rule_id=existing)
    conn.execute(sa.insert(t.default_security_group_rules), rows)
    both = [row["rule_key"] + _NON_DEFAULT_ONLY for row in rows
            if row["used_in_default_sg"] and row["used_in_non_default_sg"]]
    if both:
        twin_id = conn.scalar(sa.select(_d.id).where(_d.rule_key.in_(both)).limit(1))
        if twin_id is not None:
            raise errors.DefaultSecurityGroupRuleExists(rule_id=twin_id)


def rule_count(conn: Connection, *, default: bool) -> int:
    """How many rules a new group gets from the template (for its quota check)."""
    used = _d.used_in_default_sg if default else _d.used_in_non_default_sg
    return conn.scalar(sa.select(sa.func.count()).select_from(
        t.default_security_group_rules).where(used == sa.true())) or 0


def group_rows(conn: Connection, project: str | None, group_id: str, *, default: bool
               ) -> list[dict[str, Any]]:
    """The rule rows a new group gets from the template (one statement). A template rule
    naming a group deleted since is skipped (it could name nothing)."""
    used = _d.used_in_default_sg if default else _d.used_in_non_default_sg
    template = conn.execute(sa.select(t.default_security_group_rules).where(
        used == sa.true()).order_by(_d.direction, _d.ethertype, _d.id)).all()
    named = {r.remote_group_id for r in template
             if r.remote_group_id not in (None, PARENT)}
    existing = set(conn.scalars(sa.select(_g.id).where(_g.id.in_(named)))) if named \
        else set()
    address_groups = {r.remote_address_group_id for r in template
                      if r.remote_address_group_id}
    if address_groups:
        address_groups = set(conn.scalars(sa.select(_ag.id).where(
            _ag.id.in_(address_groups))))
    out = []
    for r in template:
        remote = group_id if r.remote_group_id == PARENT else r.remote_group_id
        if remote is not None and remote != group_id and remote not in existing:
            continue
        if r.remote_address_group_id and r.remote_address_group_id not in address_groups:
            continue
        out.append(rules.new_row(
            project, group_id, r.direction, r.ethertype, protocol=r.protocol,
            port_range_min=r.port_range_min, port_range_max=r.port_range_max,
            remote_ip_prefix=r.remote_ip_prefix, remote_group_id=remote,
            remote_address_group_id=r.remote_address_group_id))
    return out


class DefaultRuleService(TableService):
    def __init__(self, db: Database) -> None:
        super().__init__(db, schema.resource(), LIST_SPEC,
                         lambda id_: errors.DefaultSecurityGroupRuleNotFound(id=id_))

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        normalized = []
        for item in items:
            remote = item.get("remote_group_id")
            # normalize() checks one remote at most; PARENT is a remote group
            rule = rules.normalize({**item, "remote_group_id": remote})
            normalized.append(rule)

        def run(conn: Connection) -> list[dict[str, Any]]:
            named = {r["remote_group_id"] for r in normalized
                     if r["remote_group_id"] not in (None, PARENT)}
            found = set(conn.scalars(sa.select(_g.id).where(_g.id.in_(named)))) if named \
                else set()
            for gid in sorted(named - found):
                raise errors.SecurityGroupNotFound(id=gid)
            # a remote address group must exist and be visible, as a rule's (the
            # template is no project's: an admin's request sees every group)
            rules.check_address_groups(conn, ctx, ctx.project_id, {
                r["remote_address_group_id"] for r in normalized
                if r.get("remote_address_group_id")})
            rows = []
            for r in normalized:
                row = {name: r.get(name) for name in FIELDS if name != "id"}
                row["id"] = records.new_id()
                row["description"] = r.get("description") or ""
                row["rule_key"] = _template_rule_key(r, row["id"])
                rows.append(row)
            claims = [c for r in normalized for c in _claims(r)]
            if len(set(claims)) != len(claims):
                raise errors.DuplicateDefaultSgRuleInPost()
            _create_rows(conn, rows)
            return self.row_dict.of_values(rows)

        return self.db.write(run)

    def update(self, ctx: Context, rule_id: str, data: dict[str, Any]) -> dict[str, Any]:
        raise exc.HTTPMethodNotAllowed()

    def delete(self, ctx: Context, rule_id: str) -> None:
        def run(conn: Connection) -> None:
            if conn.execute(sa.delete(t.default_security_group_rules).where(
                    _d.id == rule_id)).rowcount == 0:
                raise errors.DefaultSecurityGroupRuleNotFound(id=rule_id)

        self.db.write(run)
