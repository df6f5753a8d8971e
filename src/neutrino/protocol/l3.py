"""``get_host_state`` for the "L3 agent": the routers scheduled to the host with their
gateway, interfaces, extra routes and floating IPs (docs/agent-protocol.md, "L3")."""

from __future__ import annotations

from neutrino.protocol.base import Envelope, Message

AGENT_TYPE = "L3 agent"


class FixedIp(Message, frozen=True, kw_only=True):
    subnet_id: str = ""
    ip_address: str
    prefixlen: int | None = None  # None: from cidr
    cidr: str | None = None


class RouterPort(Message, frozen=True, kw_only=True):
    port_id: str
    mac_address: str
    network_id: str = ""
    mtu: int | None = None
    fixed_ips: list[FixedIp] = []
    # the address scope of its IPv4 subnets (their subnet pool's), if any: between legs
    # of one scope the router routes without NAT (optional: older peers leave it out)
    ipv4_address_scope: str | None = None


class Gateway(RouterPort, frozen=True, kw_only=True):
    enable_snat: bool = True
    gateway_ips: list[str] = []  # the external subnets' gateways


class ExtraRoute(Message, frozen=True, kw_only=True):
    destination: str
    nexthop: str


class FloatingIp(Message, frozen=True, kw_only=True):
    id: str
    floating_ip_address: str
    fixed_ip_address: str
    port_id: str = ""


class PortForwarding(Message, frozen=True, kw_only=True):
    """floating-ip-port-forwarding: ``protocol`` traffic to ``floating_ip_address``:
    ``external_port`` is DNATed to ``internal_ip_address``:``internal_port``."""

    id: str
    floatingip_id: str
    floating_ip_address: str
    protocol: str
    external_port: int
    internal_ip_address: str
    internal_port: int


class Router(Message, frozen=True, kw_only=True):
    id: str
    project_id: str = ""
    admin_state_up: bool = True
    gateway: Gateway | None = None
    interfaces: list[RouterPort] = []
    routes: list[ExtraRoute] = []
    floating_ips: list[FloatingIp] = []
    # optional (a peer without port forwardings neither sends nor reads it)
    port_forwardings: list[PortForwarding] = []


class HostState(Envelope, frozen=True, kw_only=True):
    host: str
    routers: list[Router] = []
