"""Address scopes and subnet pools, their prefixes and RBAC entries (services/subnetpools/)."""

from __future__ import annotations

import sqlalchemy as sa

from neutrino.db.tables.base import (
    UUID,
    _id_and_project,
    _parent_key,
    _rbac_table,
    _standard,
    metadata,
)

# address-scope: a space in which addresses are unique and routed without NAT.
address_scopes = sa.Table(
    "address_scopes",
    metadata,
    *_id_and_project(),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("ip_version", sa.Integer, nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()),
    *_standard(),
)

# subnet_allocation: pools subnets are carved from. ``default_version`` is the pool's
# ip_version while it is the default pool (null otherwise): unique, so there is at most
# one default pool per IP version whichever API process sets it. A subnet allocation
# locks its pool's row (services/subnetpools/allocation.py): that serializes allocations
# from one pool across processes.
subnetpools = sa.Table(
    "subnetpools",
    metadata,
    *_id_and_project(),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("ip_version", sa.Integer, nullable=False),
    sa.Column("default_prefixlen", sa.Integer, nullable=False),
    sa.Column("min_prefixlen", sa.Integer, nullable=False),
    sa.Column("max_prefixlen", sa.Integer, nullable=False),
    sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("default_version", sa.Integer, nullable=True, unique=True),
    sa.Column("default_quota", sa.Integer, nullable=True),
    sa.Column(
        # no cascade: a scope with pools is not deleted (AddressScopeInUse)
        "address_scope_id", UUID,
        sa.ForeignKey("address_scopes.id", name="fk_subnetpools_address_scope_id"),
        nullable=True, index=True,
    ),
    *_standard(),
)

subnetpool_prefixes = sa.Table(
    "subnetpool_prefixes",
    metadata,
    _parent_key("subnetpool_id", "subnetpools"),
    sa.Column("cidr", sa.String(64), primary_key=True),
)

subnetpool_rbacs = _rbac_table("subnetpool_rbacs", "subnetpools")
address_scope_rbacs = _rbac_table("address_scope_rbacs", "address_scopes")
