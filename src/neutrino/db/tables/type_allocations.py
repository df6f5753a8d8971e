"""ML2 type drivers' segmentation id allocations (core/types/)."""

from __future__ import annotations

import sqlalchemy as sa

from neutrino.db.tables.base import metadata

# Segment allocation tables, as ML2's: a row per id in the configured ranges, plus rows for
# provider-chosen ids outside them (allocated, dropped when freed).
vlan_allocations = sa.Table(
    "ml2_vlan_allocations",
    metadata,
    sa.Column("physical_network", sa.String(64), primary_key=True),
    sa.Column("vlan_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("allocated", sa.Boolean, nullable=False, index=True),
)


def _tunnel_table(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("segmentation_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("allocated", sa.Boolean, nullable=False, index=True),
    )


vxlan_allocations = _tunnel_table("ml2_vxlan_allocations")
gre_allocations = _tunnel_table("ml2_gre_allocations")
geneve_allocations = _tunnel_table("ml2_geneve_allocations")

flat_allocations = sa.Table(
    "ml2_flat_allocations",
    metadata,
    sa.Column("physical_network", sa.String(64), primary_key=True),
)
