"""Neutron's names for devices and namespaces, so an operator's habits and scripts carry over.

Device names are limited by the kernel to IFNAMSIZ-1 = 15 characters; Neutron keeps 3-4
characters of prefix and the first 11 characters of the resource id, so the names stay unique
in practice and an operator can find the port from the device and back.
"""

from __future__ import annotations

MAX_DEVICE_NAME = 15  # IFNAMSIZ (16) minus the terminating NUL
ID_CHARS = 11  # how much of a resource id goes into a device name, as in Neutron
MAX_VNI = 2**24 - 1

BRIDGE_PREFIX = "brq"
TAP_PREFIX = "tap"
VXLAN_PREFIX = "vxlan-"
NS_DEVICE_PREFIX = "ns-"  # namespace end of a DHCP port's veth (bridge end is tap...)
ROUTER_INTERFACE_PREFIX = "qr-"
GATEWAY_INTERFACE_PREFIX = "qg-"
DHCP_NS_PREFIX = "qdhcp-"
ROUTER_NS_PREFIX = "qrouter-"


def _device(prefix: str, resource_id: str) -> str:
    if not resource_id:
        raise ValueError(f"empty id for a {prefix!r} device name")
    return check_device_name(prefix + resource_id[:ID_CHARS])


def check_device_name(name: str) -> str:
    """Return ``name`` if the kernel would accept it as a device name, else raise ValueError."""
    if not name or len(name) > MAX_DEVICE_NAME:
        raise ValueError(f"device name {name!r} must be 1-{MAX_DEVICE_NAME} characters")
    if name in (".", "..") or any(c == "/" or c == ":" or c.isspace() for c in name):
        raise ValueError(f"device name {name!r} contains a character the kernel rejects")
    return name


def bridge_name(network_id: str) -> str:
    """Linux bridge of a network on a linuxbridge host: ``brq<network-id[:11]>``."""
    return _device(BRIDGE_PREFIX, network_id)


def tap_name(port_id: str) -> str:
    """Host end of an instance's (or DHCP port's) veth: ``tap<port-id[:11]>``."""
    return _device(TAP_PREFIX, port_id)


def ns_device_name(port_id: str) -> str:
    """Namespace end of a DHCP port's veth: ``ns-<port-id[:11]>``."""
    return _device(NS_DEVICE_PREFIX, port_id)


def router_interface_name(port_id: str) -> str:
    """Router's internal interface inside qrouter-: ``qr-<port-id[:11]>``."""
    return _device(ROUTER_INTERFACE_PREFIX, port_id)


def gateway_interface_name(port_id: str) -> str:
    """Router's external gateway interface inside qrouter-: ``qg-<port-id[:11]>``."""
    return _device(GATEWAY_INTERFACE_PREFIX, port_id)


def vxlan_name(vni: int) -> str:
    """VXLAN device of a segment: ``vxlan-<vni>`` (at most 14 characters)."""
    if isinstance(vni, bool) or not isinstance(vni, int) or not 1 <= vni <= MAX_VNI:
        raise ValueError(f"{vni!r} is not a valid VXLAN VNI (1 through {MAX_VNI})")
    return f"{VXLAN_PREFIX}{vni}"


def vni_from_vxlan_name(name: str) -> int | None:
    """The VNI of a ``vxlan-<vni>`` device name, or None if ``name`` is not one."""
    if not name.startswith(VXLAN_PREFIX):
        return None
    digits = name[len(VXLAN_PREFIX):]
    if not digits.isdigit() or digits != str(int(digits)):
        return None
    vni = int(digits)
    return vni if 1 <= vni <= MAX_VNI else None


def dhcp_namespace(network_id: str) -> str:
    """Namespace of a network's DHCP server: ``qdhcp-<network-id>`` (the whole id)."""
    if not network_id:
        raise ValueError("empty network id for a qdhcp namespace name")
    return DHCP_NS_PREFIX + network_id


def router_namespace(router_id: str) -> str:
    """Namespace of a router: ``qrouter-<router-id>`` (the whole id)."""
    if not router_id:
        raise ValueError("empty router id for a qrouter namespace name")
    return ROUTER_NS_PREFIX + router_id
