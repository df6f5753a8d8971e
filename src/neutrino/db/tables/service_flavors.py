"""Flavors and service profiles (services/flavors/, migration 0015)."""

from __future__ import annotations

import sqlalchemy as sa

from neutrino.db.tables.base import UUID, _parent_key, metadata

# --- flavors, service profiles, auto-allocated topologies (migration 0015, branch flavors)
flavors = sa.Table(
    "flavors",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("description", sa.String(1024), nullable=False, server_default=""),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("service_type", sa.String(36), nullable=True),
)
service_profiles = sa.Table(
    "service_profiles",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("description", sa.String(1024), nullable=False, server_default=""),
    sa.Column("driver", sa.String(1024), nullable=False, server_default=""),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("metainfo", sa.String(4096), nullable=False, server_default=""),
)
flavor_service_profile_bindings = sa.Table(
    "flavor_service_profile_bindings",
    metadata,
    _parent_key("flavor_id", "flavors"),
    sa.Column("service_profile_id", UUID,
              sa.ForeignKey("service_profiles.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)
