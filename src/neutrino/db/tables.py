"""Tables, as SQLAlchemy Core metadata.

Standard attributes (description, timestamps, revision_number) live inline in each
resource's row: one row per resource, no join on every read. Uniqueness that must hold
across API processes and servers is a database constraint, never a Python lock:
IP allocations (subnet_id, ip_address), MACs (network_id, mac_address), segment
allocation rows.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UUID = sa.String(36)
PROJECT = sa.String(255)


def _id_and_project() -> list[sa.Column]:
    """A project-owned resource's key columns, fresh for each table."""
    return [
        sa.Column("id", UUID, primary_key=True),
        sa.Column("project_id", PROJECT, nullable=True, index=True),
    ]


def _parent_key(name: str, parent: str) -> sa.Column:
    """A primary-key column referring to ``parent``'s id: the row goes with its parent."""
    return sa.Column(
        name, UUID, sa.ForeignKey(f"{parent}.id", ondelete="CASCADE"), primary_key=True
    )


def _standard() -> list[sa.Column]:
    return [
        sa.Column("description", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
    ]


networks = sa.Table(
    "networks",
    metadata,
    *_id_and_project(),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    # no `shared` column: a network is shared with a project through network_rbacs
    sa.Column("mtu", sa.Integer, nullable=False),
    *_standard(),
    # port-security (services/securitygroups, migration 0008): its ports' default
    sa.Column("port_security_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
)

# Who else may use a network (Neutron's networkrbacs): "access_as_shared" lets the
# target project see the network and plug ports into it; "access_as_external" lets it see
# the network and use it as a router gateway. target_project "*" means every project.
network_rbacs = sa.Table(
    "network_rbacs",
    metadata,
    *_id_and_project(),
    sa.Column(
        "object_id", UUID, sa.ForeignKey("networks.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("target_project", PROJECT, nullable=False),
    sa.Column("action", sa.String(255), nullable=False),
    sa.UniqueConstraint("target_project", "object_id", "action"),
)

network_segments = sa.Table(
    "network_segments",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column(
        "network_id", UUID, sa.ForeignKey("networks.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("network_type", sa.String(32), nullable=False),
    sa.Column("physical_network", sa.String(64), nullable=True),
    sa.Column("segmentation_id", sa.BigInteger, nullable=True),
    sa.Column("segment_index", sa.Integer, nullable=False, server_default="0"),
)

subnets = sa.Table(
    "subnets",
    metadata,
    *_id_and_project(),
    sa.Column(
        "network_id", UUID, sa.ForeignKey("networks.id"), nullable=False, index=True
    ),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("ip_version", sa.Integer, nullable=False),
    sa.Column("cidr", sa.String(64), nullable=False),
    sa.Column("gateway_ip", sa.String(64), nullable=True),
    sa.Column("enable_dhcp", sa.Boolean, nullable=False),
    sa.Column("ipv6_ra_mode", sa.String(32), nullable=True),
    sa.Column("ipv6_address_mode", sa.String(32), nullable=True),
    sa.Column("subnetpool_id", UUID, nullable=True, index=True),
    *_standard(),
)

allocation_pools = sa.Table(
    "allocation_pools",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "subnet_id", UUID, sa.ForeignKey("subnets.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("first_ip", sa.String(64), nullable=False),
    sa.Column("last_ip", sa.String(64), nullable=False),
)

dns_nameservers = sa.Table(
    "dns_nameservers",
    metadata,
    _parent_key("subnet_id", "subnets"),
    sa.Column("address", sa.String(128), primary_key=True),
    sa.Column("order", sa.Integer, nullable=False),
)

host_routes = sa.Table(
    "host_routes",
    metadata,
    _parent_key("subnet_id", "subnets"),
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("nexthop", sa.String(64), primary_key=True),
)

ports = sa.Table(
    "ports",
    metadata,
    *_id_and_project(),
    sa.Column(
        "network_id", UUID, sa.ForeignKey("networks.id"), nullable=False, index=True
    ),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("mac_address", sa.String(32), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("device_id", sa.String(255), nullable=False, server_default="", index=True),
    sa.Column("device_owner", sa.String(255), nullable=False, server_default=""),
    *_standard(),
    # port-security (services/securitygroups, migration 0008): filtering and anti-spoofing
    sa.Column("port_security_enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    # branch plugins, migration 0016: port extension drivers' attributes (core/port_columns.py),
    # in the port's own row so that lists read them with the ports
    sa.Column("device_profile", sa.String(255), nullable=True),
    sa.Column("numa_affinity_policy", sa.String(16), nullable=True),
    sa.UniqueConstraint("network_id", "mac_address"),
)

# One row per address; the primary key is what makes a duplicate IP impossible, whatever
# the number of API processes or servers.
ip_allocations = sa.Table(
    "ip_allocations",
    metadata,
    _parent_key("subnet_id", "subnets"),
    sa.Column("ip_address", sa.String(64), primary_key=True),
    sa.Column(
        "port_id", UUID, sa.ForeignKey("ports.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
    sa.Column("network_id", UUID, nullable=False, index=True),
)


class CaseSensitiveString(sa.String):
    """A VARCHAR compared exactly: case-sensitive, trailing spaces significant. That is
    what PostgreSQL and SQLite do anyway; MySQL/MariaDB's usual collations fold case and
    pad with spaces ('a' = 'A ' there), so the column gets a binary, no-pad collation."""


def binary_collation(dialect: Any) -> str:
    """MariaDB's utf8mb4_nopad_bin, MySQL 8's utf8mb4_0900_bin (both compare exactly);
    older MySQL only has utf8mb4_bin, which still pads with spaces."""
    if getattr(dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    if (getattr(dialect, "server_version_info", None) or (0,)) >= (8,):
        return "utf8mb4_0900_bin"
    return "utf8mb4_bin"


@compiles(CaseSensitiveString, "mysql")
def _case_sensitive_mysql(type_: CaseSensitiveString, compiler: Any, **_kw: Any) -> str:
    collation = binary_collation(compiler.dialect)
    return f"VARCHAR({type_.length}) CHARACTER SET utf8mb4 COLLATE {collation}"


# Tags of every resource with standard attributes (networks, subnets, ports, and the
# services' resources): ids are UUIDs, unique across resources, so the resource's id is
# enough to find its tags; services delete their resources' tags with them (core/tags.py).
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("resource_id", UUID, primary_key=True),
    sa.Column("tag", CaseSensitiveString(255), primary_key=True, index=True),
)

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

# --- agents, port bindings, provisioning, DHCP scheduling ------------------------------------

# One row per agent, keyed by (agent_type, host) as Neutron's: report_state upserts it.
# ``configurations`` is the agent's JSON-encoded dict; "alive" is computed from
# heartbeat_timestamp and [DEFAULT] agent_down_time, never stored.
agents = sa.Table(
    "agents",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("agent_type", sa.String(255), nullable=False),
    sa.Column("binary", sa.String(255), nullable=False),
    sa.Column("topic", sa.String(255), nullable=False),
    sa.Column("host", sa.String(255), nullable=False, index=True),
    sa.Column("admin_state_up", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("configurations", sa.Text, nullable=False),
    sa.Column("availability_zone", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("heartbeat_timestamp", sa.DateTime, nullable=False),
    sa.UniqueConstraint("agent_type", "host"),
)

# A port's binding (binding:* attributes), one row per port. ``profile`` and
# ``vif_details`` are JSON-encoded dicts.
port_bindings = sa.Table(
    "port_bindings",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column("host", sa.String(255), nullable=False, server_default="", index=True),
    sa.Column("vnic_type", sa.String(64), nullable=False, server_default="normal"),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("vif_type", sa.String(64), nullable=False, server_default="unbound"),
    sa.Column("vif_details", sa.Text, nullable=False),
)

# What still has to happen before a bound port is ACTIVE: "L2" (its host's L2 agent wired
# it) and "DHCP" (a DHCP agent serves its addresses), as Neutron's provisioning blocks.
provisioning_blocks = sa.Table(
    "provisioning_blocks",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column("entity", sa.String(32), primary_key=True),
)

# Which DHCP agents serve which networks ([DEFAULT] dhcp_agents_per_network of them).
network_dhcp_agent_bindings = sa.Table(
    "network_dhcp_agent_bindings",
    metadata,
    _parent_key("network_id", "networks"),
    sa.Column(
        "dhcp_agent_id", UUID, sa.ForeignKey("agents.id", ondelete="CASCADE"),
        primary_key=True, index=True,
    ),
)

# --- L3: external networks, routers, extra routes, floating IPs, L3 agent scheduling --------
# (services/l3/; migration 0007)

# A network with ``router:external`` true has a row here (as Neutron's externalnetworks).
external_networks = sa.Table(
    "external_networks",
    metadata,
    _parent_key("network_id", "networks"),
)

# A router's interfaces and gateway are ports with device_id = the router's id and
# device_owner network:router_interface / network:router_gateway; ``gw_port_id`` is the
# gateway's (null: no gateway).
routers = sa.Table(
    "routers",
    metadata,
    *_id_and_project(),
    sa.Column("name", sa.String(255), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("admin_state_up", sa.Boolean, nullable=False),
    sa.Column("gw_port_id", UUID, sa.ForeignKey("ports.id"), nullable=True),
    sa.Column("enable_snat", sa.Boolean, nullable=False, server_default=sa.true()),
    *_standard(),
)

# extraroute: a router's static routes
router_routes = sa.Table(
    "router_routes",
    metadata,
    _parent_key("router_id", "routers"),
    sa.Column("destination", sa.String(64), primary_key=True),
    sa.Column("nexthop", sa.String(64), primary_key=True),
)

# A floating IP holds the address of its own port on the external network
# (device_owner network:floatingip); associated, it maps to one fixed address of a port,
# through ``router_id``. One floating IP per fixed address: the unique key.
floatingips = sa.Table(
    "floatingips",
    metadata,
    *_id_and_project(),
    sa.Column("floating_ip_address", sa.String(64), nullable=False),
    sa.Column("floating_network_id", UUID, sa.ForeignKey("networks.id"), nullable=False,
              index=True),
    sa.Column("floating_port_id", UUID, sa.ForeignKey("ports.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("fixed_port_id", UUID, sa.ForeignKey("ports.id"), nullable=True, index=True),
    sa.Column("fixed_ip_address", sa.String(64), nullable=True),
    sa.Column("router_id", UUID, sa.ForeignKey("routers.id"), nullable=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    *_standard(),
    # named: the conventional name is longer than MySQL's 64 characters
    sa.UniqueConstraint("floating_network_id", "fixed_port_id", "fixed_ip_address",
                        name="uq_floatingips_fixed_address"),
)

# Which L3 agent hosts which router (one agent per router).
router_l3_agent_bindings = sa.Table(
    "router_l3_agent_bindings",
    metadata,
    _parent_key("router_id", "routers"),
    sa.Column(
        "l3_agent_id", UUID, sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False,
        index=True,
    ),
)

# --- binding-extended (core/binding_hosts.py) and extra_dhcp_opt (core/extra_dhcp_opts.py) ---

# A port's INACTIVE bindings, one per other host (live migration: bound to its target
# host while the ACTIVE binding, the port's row in port_bindings, stays where it is). The
# primary key is what refuses a second binding for the same host under any concurrency.
port_inactive_bindings = sa.Table(
    "port_inactive_bindings",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("vnic_type", sa.String(64), nullable=False, server_default="normal"),
    sa.Column("profile", sa.Text, nullable=False),
    sa.Column("vif_type", sa.String(64), nullable=False),
    sa.Column("vif_details", sa.Text, nullable=False),
)

# A port's extra DHCP options (dnsmasq option names or numbers), one per name and IP
# version, as Neutron's extradhcpopts.
port_extra_dhcp_opts = sa.Table(
    "port_extra_dhcp_opts",
    metadata,
    _parent_key("port_id", "ports"),
    sa.Column("opt_name", CaseSensitiveString(64), primary_key=True),
    sa.Column("ip_version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("opt_value", sa.String(255), nullable=False),
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


def _rbac_table(name: str, parent: str) -> sa.Table:
    """rbac-subnetpool, rbac-address-scope: entries sharing a pool or a scope with a
    project (or "*"), as network_rbacs do networks; they go with their object."""
    return sa.Table(
        name,
        metadata,
        *_id_and_project(),
        sa.Column("object_id", UUID, sa.ForeignKey(f"{parent}.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("target_project", PROJECT, nullable=False),
        sa.Column("action", sa.String(255), nullable=False),
        sa.UniqueConstraint("target_project", "object_id", "action"),
    )


subnetpool_rbacs = _rbac_table("subnetpool_rbacs", "subnetpools")
address_scope_rbacs = _rbac_table("address_scope_rbacs", "address_scopes")


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
# A rule naming a group: no cascade, so a group deleted while a rule is being created
# fails on the key (the transaction reruns and answers AddressGroupInUse).
security_group_rules.append_column(sa.Column(
    "remote_address_group_id", UUID,
    sa.ForeignKey("address_groups.id", name="fk_sg_rules_remote_address_group_id"),
    nullable=True, index=True))
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

# --- availability zones, agent-resources-synced (migration 0013; branch agentsaz) -----------
# Agents' resources_synced (Neutron's: the outcome of the last sync to Placement; null while
# none was attempted) and the availability_zone_hints of networks and routers, a JSON list
# of zone names as Neutron stores them (null: none given). services/availability_zones.py.
agents.append_column(sa.Column("resources_synced", sa.Boolean, nullable=True))
networks.append_column(sa.Column("availability_zone_hints", sa.String(255), nullable=True))
routers.append_column(sa.Column("availability_zone_hints", sa.String(255), nullable=True))


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
# l3-flavors: a flavor in use by a router is not deleted (Neutron's FlavorInUse)
routers.append_column(sa.Column("flavor_id", UUID, sa.ForeignKey("flavors.id"),
                                nullable=True, index=True))
# auto-allocated-topology: the default external network; default_key is 1 there and
# null elsewhere, so its unique key admits one default whatever races
external_networks.append_column(sa.Column("is_default", sa.Boolean, nullable=False,
                                          server_default=sa.false()))
external_networks.append_column(sa.Column("default_key", sa.Integer, nullable=True,
                                          unique=True))
auto_allocated_topologies = sa.Table(
    "auto_allocated_topologies",
    metadata,
    sa.Column("project_id", PROJECT, primary_key=True),
    sa.Column("network_id", UUID, sa.ForeignKey("networks.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("router_id", UUID, sa.ForeignKey("routers.id", ondelete="SET NULL"),
              nullable=True, index=True),
)
# --- branch portfwd (migration 0014): floating IP port forwardings, subnet service types ---
# A floating IP's port forwardings (floating-ip-port-forwarding): (external_port,
# protocol) once per floating IP, and one internal socket (address, port, protocol) per
# internal port, as Neutron's unique constraints; both go with their floating IP or port.
port_forwardings = sa.Table(
    "port_forwardings",
    metadata,
    sa.Column("id", UUID, primary_key=True),
    sa.Column("floatingip_id", UUID, sa.ForeignKey("floatingips.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("external_port", sa.Integer, nullable=False),
    sa.Column("internal_port_id", UUID, sa.ForeignKey("ports.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("internal_ip_address", sa.String(64), nullable=False),
    sa.Column("internal_port", sa.Integer, nullable=False),
    sa.Column("protocol", sa.String(40), nullable=False),
    sa.Column("description", sa.String(1024), nullable=False, server_default=""),
    sa.UniqueConstraint("floatingip_id", "external_port", "protocol",
                        name="uq_port_forwardings_external"),
    sa.UniqueConstraint("internal_port_id", "internal_ip_address", "internal_port",
                        "protocol", name="uq_port_forwardings_internal"),
)

# subnet-service-types: the device owners a subnet serves (none: any).
subnet_service_types = sa.Table(
    "subnet_service_types",
    metadata,
    _parent_key("subnet_id", "subnets"),
    sa.Column("service_type", sa.String(255), primary_key=True),
)
# --- end branch portfwd ---

# --- branch segments (migration 0017): segments as a resource (segment,
# standard-attr-segment), subnets on segments (routed networks), ports' ip_allocation ----
# A segment's name and standard attributes: the segments a network is created with have
# them too (name and description null, as Neutron's).
for _column in (
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
):
    network_segments.append_column(_column)
# A subnet on a segment; no cascade: a segment with subnets is not deleted (SegmentInUse),
# and a network's deletion removes its subnets before its segments.
subnets.append_column(sa.Column("segment_id", UUID, sa.ForeignKey("network_segments.id"),
                                nullable=True, index=True))
# ip_allocation: immediate, deferred (a routed network's port without a host) or none
ports.append_column(sa.Column("ip_allocation", sa.String(16), nullable=True))
# --- end branch segments ---
