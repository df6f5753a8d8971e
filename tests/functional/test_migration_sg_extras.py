"""Migration 0011 (security group extras) on real databases: the template table matches
the tables' metadata, is seeded with Neutron's four default rules (which the service's
own keys agree with: a duplicate of a seeded rule is refused), and downgrades cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from neutrino.db import migrate
from neutrino.db import tables as tables_module
from neutrino.db.engine import create_engine
from neutrino.services.securitygroups.default_rules import template_key

MINE = {"default_security_group_rules", "security_group_rbacs"}


def test_0011(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        migrate.upgrade(engine, "0011")
        with engine.begin() as conn:
            diffs = [d for d in compare_metadata(MigrationContext.configure(conn),
                                                 tables_module.metadata)
                     if any(name in repr(d) for name in MINE)
                     # what 0018 adds to the template later
                     and "remote_address_group_id" not in repr(d)]
            assert diffs == [], diffs
            meta = sa.MetaData()
            meta.reflect(conn)
            table = meta.tables["default_security_group_rules"]
            rows = conn.execute(sa.select(table)).all()
            got = sorted((r.direction, r.ethertype, r.remote_group_id, bool(r.used_in_default_sg),
                          bool(r.used_in_non_default_sg)) for r in rows)
            assert got == [("egress", "IPv4", None, True, True),
                           ("egress", "IPv6", None, True, True),
                           ("ingress", "IPv4", "PARENT", True, False),
                           ("ingress", "IPv6", "PARENT", True, False)]
            for r in rows:
                assert r.rule_key == template_key({
                    "direction": r.direction, "ethertype": r.ethertype, "protocol": None,
                    "port_range_min": None, "port_range_max": None,
                    "remote_ip_prefix": None, "remote_group_id": r.remote_group_id})
        migrate.downgrade(engine, "0008")
        with engine.begin() as conn:
            assert not MINE & set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
