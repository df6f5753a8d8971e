"""small API extensions: default SG rule remote address group (branch smallext)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 19:45:00.000000

A template rule of security-groups-default-rules names a remote address group as a
security group rule does (Neutron's securitygroupdefaultrules.remote_address_group_id:
a plain UUID column, no foreign key; a template naming a group deleted since is skipped
when a group is made, services/securitygroups/default_rules.py).

Also: the four seeded legacy templates get Neutron's descriptions, which 0011 seeds since;
a database migrated past 0011 before that has them empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("default_security_group_rules") as batch:
        batch.add_column(sa.Column("remote_address_group_id", sa.String(36), nullable=True))
    table = sa.table("default_security_group_rules", sa.column("direction"),
                     sa.column("protocol"), sa.column("remote_ip_prefix"),
                     sa.column("description"))
    for direction in ("egress", "ingress"):
        op.execute(table.update().where(
            table.c.direction == direction, table.c.protocol.is_(None),
            table.c.remote_ip_prefix.is_(None), table.c.description == "",
        ).values(description=f"Legacy default SG rule for {direction} traffic"))


def downgrade() -> None:
    with op.batch_alter_table("default_security_group_rules") as batch:
        batch.drop_column("remote_address_group_id")
