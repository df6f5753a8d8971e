"""device_owner values of the ports L3 creates (as Neutron's)."""

ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATINGIP = "network:floatingip"
ROUTER_PORT_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY)
L3_PORT_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATINGIP)
