"""Tables, as SQLAlchemy Core metadata, one module per area; every table is importable from
here (``from neutrino.db.tables import ports``, ``from neutrino.db import tables as t``).

Standard attributes (description, timestamps, revision_number) live inline in each
resource's row: one row per resource, no join on every read. Uniqueness that must hold
across API processes and servers is a database constraint, never a Python lock:
IP allocations (subnet_id, ip_address), MACs (network_id, mac_address), segment
allocation rows. A new table goes in the module of its area (or a new module imported
here), its columns in its one definition (no ``append_column`` from elsewhere).
"""

from neutrino.db.tables.base import PROJECT, UUID, CaseSensitiveString, binary_collation, metadata
from neutrino.db.tables.binding import (
    agents,
    network_dhcp_agent_bindings,
    port_bindings,
    port_inactive_bindings,
    provisioning_blocks,
)
from neutrino.db.tables.l2 import (
    allocation_pools,
    dns_nameservers,
    host_routes,
    ip_allocations,
    network_rbacs,
    network_segments,
    networks,
    port_extra_dhcp_opts,
    ports,
    segment_host_mappings,
    subnet_service_types,
    subnets,
    tags,
)
from neutrino.db.tables.l3 import (
    auto_allocated_topologies,
    external_networks,
    floatingips,
    port_forwardings,
    router_l3_agent_bindings,
    router_routes,
    routers,
)
from neutrino.db.tables.quota import (
    quota_usage_locks,
    quotas,
)
from neutrino.db.tables.security import (
    address_associations,
    address_group_rbacs,
    address_groups,
    allowed_address_pairs,
    default_security_group_rules,
    security_group_port_bindings,
    security_group_rbacs,
    security_group_rules,
    security_groups,
    security_groups_default_statefulness,
)
from neutrino.db.tables.service_flavors import (
    flavor_service_profile_bindings,
    flavors,
    service_profiles,
)
from neutrino.db.tables.subnet_allocation import (
    address_scope_rbacs,
    address_scopes,
    subnetpool_prefixes,
    subnetpool_rbacs,
    subnetpools,
)
from neutrino.db.tables.type_allocations import (
    flat_allocations,
    geneve_allocations,
    gre_allocations,
    vlan_allocations,
    vxlan_allocations,
)

__all__ = [
    "PROJECT",
    "UUID",
    "CaseSensitiveString",
    "address_associations",
    "address_group_rbacs",
    "address_groups",
    "address_scope_rbacs",
    "address_scopes",
    "agents",
    "allocation_pools",
    "allowed_address_pairs",
    "auto_allocated_topologies",
    "binary_collation",
    "default_security_group_rules",
    "dns_nameservers",
    "external_networks",
    "flat_allocations",
    "flavor_service_profile_bindings",
    "flavors",
    "floatingips",
    "geneve_allocations",
    "gre_allocations",
    "host_routes",
    "ip_allocations",
    "metadata",
    "network_dhcp_agent_bindings",
    "network_rbacs",
    "network_segments",
    "networks",
    "port_bindings",
    "port_extra_dhcp_opts",
    "port_forwardings",
    "port_inactive_bindings",
    "ports",
    "provisioning_blocks",
    "quota_usage_locks",
    "quotas",
    "router_l3_agent_bindings",
    "router_routes",
    "routers",
    "security_group_port_bindings",
    "security_group_rbacs",
    "security_group_rules",
    "security_groups",
    "security_groups_default_statefulness",
    "segment_host_mappings",
    "service_profiles",
    "subnet_service_types",
    "subnetpool_prefixes",
    "subnetpool_rbacs",
    "subnetpools",
    "subnets",
    "tags",
    "vlan_allocations",
    "vxlan_allocations",
]
