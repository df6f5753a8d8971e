"""``get_host_state`` for the "DHCP agent": the networks scheduled to the host, their
subnets, their DHCP port on this host and every port to serve (docs/agent-protocol.md)."""

from __future__ import annotations

from neutrino.protocol.base import Envelope, Message

AGENT_TYPE = "DHCP agent"


class FixedIp(Message, frozen=True, kw_only=True):
    subnet_id: str
    ip_address: str


class HostRoute(Message, frozen=True, kw_only=True):
    destination: str
    nexthop: str


class AllocationPool(Message, frozen=True, kw_only=True):
    start: str
    end: str


class Subnet(Message, frozen=True, kw_only=True):
    id: str
    cidr: str
    ip_version: int | None = None
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    dns_nameservers: list[str] = []
    host_routes: list[HostRoute] = []
    ipv6_address_mode: str | None = None
    ipv6_ra_mode: str | None = None
    allocation_pools: list[AllocationPool] = []


class ExtraDhcpOpt(Message, frozen=True, kw_only=True):
    opt_name: str
    opt_value: str | None = None  # None / "": the option is sent empty
    ip_version: int = 4


class DhcpPort(Message, frozen=True, kw_only=True):
    id: str
    mac_address: str
    fixed_ips: list[FixedIp] = []


class Port(DhcpPort, frozen=True, kw_only=True):
    device_owner: str = ""
    hostname: str | None = None
    extra_dhcp_opts: list[ExtraDhcpOpt] = []


class Network(Message, frozen=True, kw_only=True):
    id: str
    mtu: int | None = None
    subnets: list[Subnet] = []
    dhcp_port: DhcpPort | None = None  # None until the server has made it
    ports: list[Port] = []


class HostState(Envelope, frozen=True, kw_only=True):
    host: str
    networks: list[Network] = []
