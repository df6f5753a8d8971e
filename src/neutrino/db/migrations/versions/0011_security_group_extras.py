"""security group extras: the default security group rules (the template of new groups),
security group RBAC entries

Revision ID: 0011
Revises: 0008 (the integrator rechains it after 0010)
Create Date: 2026-12-07 14:30:00.000000
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def _key(direction: str, ethertype: str, remote: str | None) -> str:
    # services/securitygroups/default_rules.py template_key of the same rule
    return "_".join((direction, ethertype, "+", "+", "+", remote or "+", "+"))


def upgrade() -> None:
    op.create_table(
        "security_group_rbacs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=True),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("target_project", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["object_id"], ["security_groups.id"],
            name=op.f("fk_security_group_rbacs_object_id_security_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_group_rbacs")),
        sa.UniqueConstraint(
            "target_project", "object_id", "action",
            name=op.f("uq_security_group_rbacs_target_project_object_id_action"),
        ),
    )
    for column in ("project_id", "object_id", "target_project"):
        op.create_index(op.f(f"ix_security_group_rbacs_{column}"), "security_group_rbacs",
                        [column], unique=False)
    table = op.create_table(
        "default_security_group_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=8), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=64), nullable=True),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("used_in_default_sg", sa.Boolean(), server_default=sa.true(),
                  nullable=False),
        sa.Column("used_in_non_default_sg", sa.Boolean(), server_default=sa.true(),
                  nullable=False),
        sa.Column("description", sa.String(length=255), server_default="", nullable=False),
        sa.Column("rule_key", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_default_security_group_rules")),
        sa.UniqueConstraint("rule_key", name=op.f("uq_default_security_group_rules_rule_key")),
    )
    # Neutron's defaults: egress anything (every group), ingress from the group's own
    # members (the default group only), with the descriptions Neutron's migration gives
    # them (neutron-tempest-plugin's test_legacy_default_sg_rules_created_by_default
    # compares them); the rules made from them do not copy the description
    rows = []
    for ethertype in ("IPv4", "IPv6"):
        rows.append({"direction": "egress", "ethertype": ethertype, "remote_group_id": None,
                     "used_in_default_sg": True, "used_in_non_default_sg": True,
                     "description": "Legacy default SG rule for egress traffic"})
        rows.append({"direction": "ingress", "ethertype": ethertype,
                     "remote_group_id": "PARENT", "used_in_default_sg": True,
                     "used_in_non_default_sg": False,
                     "description": "Legacy default SG rule for ingress traffic"})
    op.bulk_insert(table, [
        {**r, "id": str(uuid.uuid4()),
         "rule_key": _key(r["direction"], r["ethertype"], r["remote_group_id"])}
        for r in rows])


def downgrade() -> None:
    op.drop_table("default_security_group_rules")
    op.drop_table("security_group_rbacs")
