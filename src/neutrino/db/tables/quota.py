"""Quota limits and the rows that serialize a project's creates (core/quotas.py)."""

from __future__ import annotations

import sqlalchemy as sa

from neutrino.db.tables.base import PROJECT, metadata

# Quotas: a row per (project, resource) whose limit an admin set; anything else has the
# configured default ([QUOTAS] quota_<resource>).
quotas = sa.Table(
    "quotas",
    metadata,
    sa.Column("project_id", PROJECT, primary_key=True),
    sa.Column("resource", sa.String(255), primary_key=True),
    sa.Column("limit", sa.Integer, nullable=False),
)

# What serializes the creates of one project's resource on PostgreSQL and MariaDB/MySQL
# (core/quotas.py): a create locks its (project, resource) row before counting, so
# two creates cannot both see room for one more, whichever API process or server runs
# them. The lock is an UPDATE of ``generation``: a write, which Galera certifies across
# nodes (it does not replicate SELECT ... FOR UPDATE locks).
quota_usage_locks = sa.Table(
    "quota_usage_locks",
    metadata,
    sa.Column("project_id", PROJECT, primary_key=True),
    sa.Column("resource", sa.String(255), primary_key=True),
    sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
)
