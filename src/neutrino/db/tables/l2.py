"""Networks, their RBAC entries and segments, subnets, ports, IP allocations, tags, and the
port and subnet extensions' rows."""

from __future__ import annotations

import sqlalchemy as sa

from neutrino.db.tables.base import (
    PROJECT,
    UUID,
    CaseSensitiveString,
    _id_and_project,
    _parent_key,
    _standard,
    metadata,
)

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
    # availability zones (migration 0013, services/availability_zones.py): a JSON list of
    # zone names as Neutron stores them (null: none given)
    sa.Column("availability_zone_hints", sa.String(255), nullable=True),
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
    # segment, standard-attr-segment (migration 0017): a segment's name and standard
    # attributes; the segments a network is created with have them too (name and
    # description null, as Neutron's)
    sa.Column("name", sa.String(255), nullable=True),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=True),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.Column("revision_number", sa.BigInteger, nullable=False, server_default="0"),
)

# Which hosts reach a segment (Neutron's segmenthostmappings): the segments whose physical
# network an agent of the host maps, for agents whose mechanism driver supports the
# segment's type (services/segments/host_mappings.py keeps it, migration 0019). Routed
# networks' IPAM and DHCP scheduling read it.
segment_host_mappings = sa.Table(
    "segmenthostmappings",
    metadata,
    sa.Column("segment_id", UUID, sa.ForeignKey("network_segments.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("host", sa.String(255), primary_key=True, index=True),
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
    # routed networks (migration 0017): a subnet on a segment; no cascade: a segment with
    # subnets is not deleted (SegmentInUse), a network's deletion removes its subnets first
    sa.Column("segment_id", UUID, sa.ForeignKey("network_segments.id"), nullable=True,
              index=True),
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
    # ip_allocation (migration 0017): immediate, deferred (a routed network's port without
    # a host) or none
    sa.Column("ip_allocation", sa.String(16), nullable=True),
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


# Tags of every resource with standard attributes (networks, subnets, ports, and the
# services' resources): ids are UUIDs, unique across resources, so the resource's id is
# enough to find its tags; services delete their resources' tags with them (core/tags.py).
tags = sa.Table(
    "tags",
    metadata,
    sa.Column("resource_id", UUID, primary_key=True),
    sa.Column("tag", CaseSensitiveString(255), primary_key=True, index=True),
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

# subnet-service-types: the device owners a subnet serves (none: any).
subnet_service_types = sa.Table(
    "subnet_service_types",
    metadata,
    _parent_key("subnet_id", "subnets"),
    sa.Column("service_type", sa.String(255), primary_key=True),
)
