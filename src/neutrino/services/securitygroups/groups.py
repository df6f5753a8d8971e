"""Security groups (/v2.0/security-groups) and each project's "default" group.

The default group is made on first need, as Neutron does: the project's first list of
groups or rules, its first group, its first port that gets groups. It holds the rules of the
template (default_rules.py; seeded with Neutron's: egress anything over IPv4 and IPv6,
ingress from members of the group itself) and is counted in the project's usage but
never refused for quota reasons: a project's first port must not fail because of it.
``default_for`` (unique) makes a second default impossible; a lost race reruns the
transaction, which then finds the winner's.
Any other new group gets the template's rules for non-default groups (Neutron's: the two
egress rules).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records, standard_attrs, tags
from neutrino.core.callbacks import CallbackRegistry
from neutrino.core.common import BulkCreate
from neutrino.core.quotas import QuotaService, count_by_project
from neutrino.db import tables as t
from neutrino.db.engine import Database, is_duplicate
from neutrino.db.listing import ListQuery, ListSpec, fetch_page, page_ids, page_statement
from neutrino.db.rowdict import RowDict
from neutrino.exceptions import security_groups as errors
from neutrino.schema import security_group as schema
from neutrino.schema.base import AUTO
from neutrino.schema.security_group import DEFAULT_NAME
from neutrino.services.securitygroups import default_rules, rules
from neutrino.services.securitygroups import rbac as sg_rbac
from neutrino.services.securitygroups.default_statefulness import default_stateful

_g = t.security_groups.c
_r = t.security_group_rules.c
_sp = t.security_group_port_bindings.c

DEFAULT_DESCRIPTION = "Default security group"

LIST_SPEC = ListSpec(table=t.security_groups)
ROW_DICT = RowDict(schema.resource())
STANDARD_ATTRS = standard_attrs.register(
    "security_groups", "security_group", LIST_SPEC,
    lambda id_: errors.SecurityGroupNotFound(id=id_))


def insert_group(conn: Connection, *, project: str | None, name: str, description: str,
                 stateful: bool, default: bool) -> str:
    """A group and its initial rules (two statements)."""
    group_id = records.new_id()
    ts = records.now()
    conn.execute(sa.insert(t.security_groups).values(
        id=group_id, project_id=project, name=name, stateful=stateful,
        default_for=project if default else None, description=description,
        created_at=ts, updated_at=ts, revision_number=1))
    # the template (default-security-group-rules; Neutron's defaults unless an admin
    # changed it)
    rules.insert_rows(conn, default_rules.group_rows(conn, project, group_id,
                                                     default=default))
    return group_id


def create_default(conn: Connection, project: str) -> str:
    """The project's default group, made now (in the caller's transaction). Racing
    another maker: the unique key refuses the second and its transaction is rerun."""
    return insert_group(conn, project=project, name=DEFAULT_NAME,
                        description=DEFAULT_DESCRIPTION, stateful=True, default=True)


def default_id(conn: Connection, project: str) -> str | None:
    return conn.scalar(sa.select(_g.id).where(_g.default_for == project))


class SecurityGroupService(BulkCreate):
    def __init__(self, db: Database, quotas: QuotaService | None,
                 registry: CallbackRegistry) -> None:
        self.db = db
        self.quotas = quotas  # None: no quota enforcement
        self.registry = registry

    # --- the default group -------------------------------------------------------------
    def ensure_default(self, ctx: Context, project: str) -> None:
        """Make ``project``'s default group unless it has one (Neutron: only for the
        caller's own project, or by an admin). A read first: this runs on GETs."""
        if not project or not (ctx.is_admin or project == ctx.project_id):
            return
        if self.db.read(lambda conn: default_id(conn, project)) is not None:
            return

        def run(conn: Connection) -> None:
            if default_id(conn, project) is None:
                create_default(conn, project)

        self.db.write(run)

    # --- reading -----------------------------------------------------------------------
    def to_dicts(self, conn: Connection, rows: list[Any], page: sa.Subquery | None = None,
                 viewer: str | None = None) -> list[dict[str, Any]]:
        """``viewer``: the project whose view ``shared`` is (shared with it or with
        everyone, as a network's)."""
        if not rows:
            return []
        ids = [r.id for r in rows]
        defaults = {r.id for r in rows if r.default_for is not None}
        owners = sa.select(page.c.id) if page is not None else ids
        by_group = rules.load_by_group(conn, owners, defaults)
        tags_of = tags.load(conn, ids, page)
        shared = sg_rbac.shared_ids(conn, ids, viewer)
        out = ROW_DICT(rows)
        for d in out:
            id_ = d["id"]
            d["shared"] = id_ in shared
            d["security_group_rules"] = by_group.get(id_, [])
            d["tags"] = tags_of.get(id_) or []
        return out

    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        project = (q.filters.get("project_id") or q.filters.get("tenant_id") or
                   [ctx.project_id])[0]
        if project:
            self.ensure_default(ctx, project)

        # security-groups-shared-filtering: ``shared`` as the caller sees it
        shared = q.filters.pop("shared", None)

        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            extra = [] if ctx.sees_all else [sg_rbac.visible(ctx)]
            if shared is not None:
                wanted = {bool(v) for v in shared}
                is_shared = sg_rbac.shared_with(ctx.project_id)
                if wanted == {True}:
                    extra.append(is_shared)
                elif wanted == {False}:
                    extra.append(sa.not_(is_shared))
            stmt = page_statement(conn, LIST_SPEC, q, extra_where=extra,
                                  marker_not_found=lambda m: errors.SecurityGroupNotFound(id=m))
            rows, more = fetch_page(conn, stmt, q)
            return self.to_dicts(conn, rows, page_ids(LIST_SPEC, stmt, q),
                                 viewer=ctx.project_id), more

        return self.db.read(run)

    @staticmethod
    def _row(conn: Connection, ctx: Context, group_id: str, *, lock: bool = False) -> Any:
        """The group if the caller may see it; to write (``lock``), if it owns it (a
        project a group is shared with sees it, and may not change it)."""
        stmt = sa.select(t.security_groups).where(_g.id == group_id)
        if lock and conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        row = conn.execute(stmt).first()
        if row is None or not (ctx.sees_all or row.project_id == ctx.project_id or (
                not lock and sg_rbac.shared_ids(conn, [group_id], ctx.project_id))):
            raise errors.SecurityGroupNotFound(id=group_id)
        return row

    def get(self, ctx: Context, group_id: str) -> dict[str, Any]:
        return self.db.read(lambda conn: self.to_dicts(
            conn, [self._row(conn, ctx, group_id)], viewer=ctx.project_id)[0])

    # --- writing -------------------------------------------------------------------------
    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            if self.quotas is not None:
                # before the default group is made, as Neutron's quota check precedes it
                self.quotas.check(conn, "security_group", count_by_project(items))
                # and the rules it gets from the template, as Neutron's: 409 OverQuota
                # when they would exceed the project's rule quota
                per_group = default_rules.rule_count(conn, default=False)
                self.quotas.check(conn, "security_group_rule", {
                    p: n * per_group for p, n in count_by_project(items).items()})
            for project in sorted({d["project_id"] for d in items if d.get("project_id")}):
                if (ctx.is_admin or project == ctx.project_id) and \
                        default_id(conn, project) is None:
                    create_default(conn, project)
            ids = [insert_group(conn, project=d["project_id"], name=d["name"],
                                description=d["description"],
                                stateful=default_stateful(conn, d["project_id"])
                                if d["stateful"] is AUTO else d["stateful"],
                                default=False) for d in items]
            rows = conn.execute(sa.select(t.security_groups).where(_g.id.in_(ids))).all()
            by_id = {d["id"]: d for d in self.to_dicts(conn, list(rows),
                                                       viewer=ctx.project_id)}
            return [by_id[i] for i in ids]

        return self.db.write(run)

    @staticmethod
    def _in_use(conn: Connection, group_id: str) -> bool:
        return conn.scalar(sa.select(_sp.port_id).where(
            _sp.security_group_id == group_id).limit(1)) is not None

    def update(self, ctx: Context, group_id: str, data: dict[str, Any]) -> dict[str, Any]:
        def run(conn: Connection) -> dict[str, Any]:
            row = self._row(conn, ctx, group_id, lock=True)
            records.check_revision(ctx, row)
            if "stateful" in data and bool(data["stateful"]) != bool(row.stateful) and \
                    self._in_use(conn, group_id):
                raise errors.SecurityGroupInUse(id=group_id)
            if row.name == DEFAULT_NAME and "name" in data:
                raise errors.SecurityGroupCannotUpdateDefault()
            values = {k: data[k] for k in ("name", "description", "stateful")
                      if k in data and data[k] != getattr(row, k)}
            if values:
                records.revise(conn, t.security_groups, row, values)
                row = conn.execute(sa.select(t.security_groups).where(_g.id == group_id)).one()
            return self.to_dicts(conn, [row], viewer=ctx.project_id)[0]

        return self.db.write(run)

    def delete(self, ctx: Context, group_id: str) -> None:
        def run(conn: Connection) -> set[str]:
            row = self._row(conn, ctx, group_id, lock=True)
            records.check_revision(ctx, row)
            if self._in_use(conn, group_id):
                raise errors.SecurityGroupInUse(id=group_id)
            if row.name == DEFAULT_NAME and not ctx.is_admin:
                raise errors.SecurityGroupCannotRemoveDefault()
            # groups whose rules name this one as remote lose those rules
            referring = set(conn.scalars(sa.select(_r.security_group_id).where(
                _r.remote_group_id == group_id, _r.security_group_id != group_id)))
            rule_ids = sa.select(_r.id).where(sa.or_(
                _r.security_group_id == group_id, _r.remote_group_id == group_id))
            tags.delete_of(conn, list(conn.scalars(rule_ids)), [group_id])
            conn.execute(sa.delete(t.security_group_rules).where(sa.or_(
                _r.security_group_id == group_id, _r.remote_group_id == group_id)))
            try:
                conn.execute(sa.delete(t.security_groups).where(_g.id == group_id))
            except sa.exc.IntegrityError as e:
                # a port joined the group after the check: rerun, the check then sees it
                if is_duplicate(e):
                    raise
                raise exc.NeedsRetry() from e
            records.bump_revisions(conn, t.security_groups, sorted(referring))
            return referring

        referring = self.db.write(run)
        # a deleted group takes the rules naming it as remote with it
        rules.publish_changed(self.registry, self, referring)


def visible_groups(conn: Connection, ids: Iterable[str]) -> dict[str, Any]:
    """id -> (id, project_id, stateful, default_for) of existing groups."""
    return {r.id: r for r in conn.execute(
        sa.select(_g.id, _g.project_id, _g.stateful, _g.default_for).where(
            _g.id.in_(list(ids))))}
