"""Security groups, their rules, RBAC entries and default rules, port security, allowed
address pairs, address groups, default statefulness (services/securitygroups/,
services/addressgroups/)."""

from __future__ import annotations

import sqlalchemy as sa

from neutrino.db.tables.base import (
    PROJECT,
    UUID,
    _id_and_project,
    _parent_key,
    _rbac_table,
    _standard,
    metadata,
)

# --- security groups, port security, allowed address pairs (services/securitygroups/) ------
# (migration 0008; networks.port_security_enabled and ports.port_security_enabled above)

# ``default_for`` is the project id of the project's "default" group (null for any other
# group): the unique key is what makes a second default impossible, whichever API process
# or server races to create it.
security_groups = sa.Table(
    "security_groups",
    metadata,
    *_id_and_project(),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("stateful", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("default_for", PROJECT, nullable=True, unique=True),
    *_standard(),
)

# ``rule_key`` is the rule's normalized identity (direction, ethertype, protocol number,
# ports, remote; services/securitygroups/rules.py): unique, so two identical rules cannot
# both be created under any concurrency. Rules referring to a group as remote go with it.
security_group_rules = sa.Table(
    "security_group_rules",
    metadata,
    *_id_and_project(),
    sa.Column(
        "security_group_id", UUID, sa.ForeignKey("security_groups.id", ondelete="CASCADE"),
        nullable=False, index=True,
    ),
    sa.Column(
        "remote_group_id", UUID, sa.ForeignKey("security_groups.id", ondelete="CASCADE"),
        nullable=True, index=True,
    ),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("ethertype", sa.String(8), nullable=False),
    sa.Column("protocol", sa.String(40), nullable=True),
    sa.Column("port_range_min", sa.Integer, nullable=True),
    sa.Column("port_range_max", sa.Integer, nullable=True),
    sa.Column("remote_ip_prefix", sa.String(64), nullable=True),
    sa.Column("rule_key", sa.String(255), nullable=False, unique=True),
    *_standard(),
    # security-groups-remote-address-group (migration 0012): no cascade, so a group deleted
    # while a rule is being created fails on the key (the transaction reruns and answers
    # AddressGroupInUse)
    sa.Column(
        "remote_address_group_id", UUID,
        sa.ForeignKey("address_groups.id", name="fk_sg_rules_remote_address_group_id"),
        nullable=True, index=True,
    ),
)

# Which groups a port is in (no cascade from the group: a group in use is not deleted).
security_group_port_bindings = sa.Table(
    "security_group_port_bindings",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column(
        # named: the conventional name is longer than MySQL's 64 characters
        "security_group_id", UUID,
        sa.ForeignKey("security_groups.id", name="fk_sg_port_bindings_security_group_id"),
        primary_key=True, index=True,
    ),
)

# rbac-security-groups (migration 0011, services/securitygroups/rbac.py): who else may use
# a group, as network_rbacs for networks; entries go with their group.
security_group_rbacs = sa.Table(
    "security_group_rbacs",
    metadata,
    *_id_and_project(),
    sa.Column(
        "object_id", UUID, sa.ForeignKey("security_groups.id", ondelete="CASCADE"),
        nullable=False, index=True,
    ),
    sa.Column("target_project", PROJECT, nullable=False, index=True),
    sa.Column("action", sa.String(255), nullable=False),
    sa.UniqueConstraint("target_project", "object_id", "action"),
)

# security-groups-default-rules (migration 0011, services/securitygroups/default_rules.py):
# the template new groups' rules are made from. ``remote_group_id`` is "PARENT" (the group
# being made) or a group's id (no foreign key: "PARENT" is no id; a template naming a
# group since deleted is skipped). ``rule_key`` as security_group_rules' (the template's
# normalized identity): a duplicate template rule is impossible under any concurrency.
default_security_group_rules = sa.Table(
    "default_security_group_rules",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("ethertype", sa.String(8), nullable=False),
    sa.Column("protocol", sa.String(40), nullable=True),
    sa.Column("port_range_min", sa.Integer, nullable=True),
    sa.Column("port_range_max", sa.Integer, nullable=True),
    sa.Column("remote_ip_prefix", sa.String(64), nullable=True),
    sa.Column("remote_group_id", sa.String(36), nullable=True),
    # branch smallext: a template rule's remote address group (migration 0018)
    sa.Column("remote_address_group_id", sa.String(36), nullable=True),
    sa.Column("used_in_default_sg", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("used_in_non_default_sg", sa.Boolean, nullable=False,
              server_default=sa.true()),
    sa.Column("description", sa.String(255), nullable=False, server_default=""),
    sa.Column("rule_key", sa.String(255), nullable=False, unique=True),
)

# allowed-address-pairs: addresses (or CIDRs) a port may also send from, with a MAC.
allowed_address_pairs = sa.Table(
    "allowed_address_pairs",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column("mac_address", sa.String(32), primary_key=True),
    sa.Column("ip_address", sa.String(64), primary_key=True),
)


# --- address groups (branch addrgroups; migration 0012) -------------------------------------
# address-group: named sets of CIDRs a security group rule may name as its remote
# (security-groups-remote-address-group). ``shared`` is Neutron's hidden attribute: true
# while a "*" access_as_shared entry exists (rbac-address-group). Addresses are rows of
# address_associations (canonical network text), as Neutron's.
address_groups = sa.Table(
    "address_groups",
    metadata,
    *_id_and_project(),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("shared", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("description", sa.String(1024), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
)
address_associations = sa.Table(
    "address_associations",
    metadata,
    _parent_key("address_group_id", "address_groups"),
    sa.Column("address", sa.String(64), primary_key=True),
)
address_group_rbacs = _rbac_table("address_group_rbacs", "address_groups")
# security-groups-default-statefulness: the ``stateful`` a new group gets when none is
# given, per project (project_id) or system-wide (project_id null; at most one of each).
security_groups_default_statefulness = sa.Table(
    "security_groups_default_statefulness",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("project_id", PROJECT, nullable=True, unique=True),
    # the unique key on project_id does not stop two null rows: this column does
    sa.Column("scope_key", PROJECT, nullable=False, unique=True),
    sa.Column("stateful", sa.Boolean, nullable=False, server_default=sa.true()),
)
# --- end address groups ---------------------------------------------------------------------
