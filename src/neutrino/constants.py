"""Values with a meaning outside this code base, defined once (as neutron-lib's
``constants`` defines them for Neutron): clients, agents and operators' scripts rely on
these exact strings."""

from __future__ import annotations

# ---- device_owner of ports ----------------------------------------------------------------

DEVICE_OWNER_NETWORK_PREFIX = "network:"  # ports of the network's own machinery
DEVICE_OWNER_COMPUTE_PREFIX = "compute:"  # an instance's port: compute:<availability zone>
DEVICE_OWNER_MANILA_PREFIX = "manila:"  # a share server's port
DEVICE_OWNER_COMPUTE_NOVA = "compute:nova"  # nova's default availability zone

DEVICE_OWNER_DHCP = "network:dhcp"
DEVICE_OWNER_DISTRIBUTED = "network:distributed"  # the metadata port of OVN-style backends
DEVICE_OWNER_AGENT_GW = "network:floatingip_agent_gateway"
DEVICE_OWNER_FLOATINGIP = "network:floatingip"
DEVICE_OWNER_ROUTER_INTF = "network:router_interface"
DEVICE_OWNER_ROUTER_GW = "network:router_gateway"
DEVICE_OWNER_ROUTER_SNAT = "network:router_centralized_snat"
DEVICE_OWNER_HA_REPLICATED_INT = "network:ha_router_replicated_interface"
DEVICE_OWNER_DVR_INTERFACE = "network:router_interface_distributed"
# Ports the network itself owns: deleted with their network or subnet, never "in use".
AUTO_DELETE_PORT_OWNERS = (DEVICE_OWNER_DHCP, DEVICE_OWNER_DISTRIBUTED, DEVICE_OWNER_AGENT_GW)
