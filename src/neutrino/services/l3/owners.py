"""device_owner values of the ports L3 creates (as Neutron's)."""

from neutrino.constants import DEVICE_OWNER_FLOATINGIP as FLOATINGIP
from neutrino.constants import DEVICE_OWNER_ROUTER_GW as ROUTER_GATEWAY
from neutrino.constants import DEVICE_OWNER_ROUTER_INTF as ROUTER_INTERFACE

ROUTER_PORT_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY)
L3_PORT_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATINGIP)
