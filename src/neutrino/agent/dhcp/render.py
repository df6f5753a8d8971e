"""What dnsmasq is given for one network: its command line and its three files, rendered
from the desired state by pure functions (unit-tested exactly).

The split follows what dnsmasq can reload: the hosts file (``--dhcp-hostsfile``), the
options file (``--dhcp-optsfile``) and the extra DNS names (``--addn-hosts``) are re-read on
SIGHUP, so port and option changes do not restart it; the command line (one
``--dhcp-range`` per served subnet, the forced MTU, the tags of ports with options of their
own) changes only when subnets are added or removed, the MTU changes or a port gets its first
option, and only then is dnsmasq restarted.

Formats are Neutron's (neutron/agent/linux/dhcp.py), so an operator's habits carry over:
tags ``subnet-<id>``, hosts ``MAC,NAME,IP``, options ``tag:subnet-<id>,option:NAME,VALUE``,
host names ``host-10-99-0-5``. A port with extra DHCP options (extra_dhcp_opt) has its
options after the subnets' as ``tag:port-<id>,option:NAME,VALUE``; unlike Neutron, the tag is
set by ``--dhcp-mac=set:port-<id>,MAC`` on the command line, not by ``set:port-<id>`` on the
port's hosts lines: dnsmasq 2.90 corrupts its heap on a SIGHUP once it has served a client
whose hosts-file line sets a tag (a reply links the line's tag into a tag list on its stack;
the SIGHUP frees the line's tags by following that link, freeing stack garbage) and crashes
on the next request. Tags on the command line are never freed, and options-file tags are
never linked. So the options are re-read on SIGHUP like everything else, and only a port
getting its first option (its MAC entering the command line) restarts dnsmasq (see
plan.restart_reason).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from neutrino.agent.dhcp.model import ExtraDhcpOpt, Network, Port, Subnet
from neutrino.constants import DEVICE_OWNER_DHCP as DHCP_OWNER

DNSMASQ = "dnsmasq"
DEFAULT_LEASE_MAX = 2**24  # Neutron's dnsmasq_lease_max
IPV4_ANY = "0.0.0.0/0"
WIN2K3_STATIC_ROUTES = "249"  # Microsoft's pre-RFC 3442 classless routes option
ANY_ADDRESSES = {4: "0.0.0.0", 6: "::"}
SUBNET_TAG = "subnet-{}"
PORT_TAG = "port-{}"


@dataclass(frozen=True)
class DnsmasqSettings:
    """The agent options that shape what dnsmasq is given."""

    lease_duration: int = 86400  # seconds; -1: infinite
    domain: str = "openstacklocal"
    lease_max: int = DEFAULT_LEASE_MAX
    dns_servers: tuple[str, ...] = ()  # upstream resolvers (--server); none: no forwarding

    @property
    def lease(self) -> str:
        return "infinite" if self.lease_duration == -1 else f"{self.lease_duration}s"

    @property
    def clean_domain(self) -> str:
        return self.domain.strip().rstrip(".")


@dataclass(frozen=True)
class NetworkFiles:
    """Where one network's dnsmasq files live: ``<state_path>/dhcp/<network-id>/``, with
    Neutron's file names."""

    dir: str

    @classmethod
    def for_network(cls, confs_dir: str, network_id: str) -> NetworkFiles:
        if not network_id or "/" in network_id or network_id in (".", ".."):
            raise ValueError(f"bad network id {network_id!r}")
        return cls(os.path.join(confs_dir, network_id))

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    @property
    def host(self) -> str:
        return self.path("host")

    @property
    def addn_hosts(self) -> str:
        return self.path("addn_hosts")

    @property
    def opts(self) -> str:
        return self.path("opts")

    @property
    def leases(self) -> str:
        return self.path("leases")

    @property
    def pid(self) -> str:
        return self.path("pid")

    @property
    def loaded(self) -> str:
        """What the running dnsmasq has confirmed loading: "<pid> <digest>" (see agent)."""
        return self.path("loaded")


# --- hosts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class HostEntry:
    """One fixed address dnsmasq hands out: a line of the hosts file."""

    port_id: str
    mac: str
    hostname: str
    ip: str
    ip_version: int

    @property
    def dnsmasq_ip(self) -> str:
        # dnsmasq tells an IPv6 address from a MAC by the brackets
        return f"[{self.ip}]" if self.ip_version == 6 else self.ip

    def line(self) -> str:
        # never a ",set:<tag>" here: see the module docstring (port_tags)
        return f"{self.mac},{self.hostname},{self.dnsmasq_ip}"


def default_hostname(ip: str) -> str:
    """Neutron's host name for an address without a DNS name: ``host-10-99-0-5``."""
    return "host-" + ip.replace(".", "-").replace(":", "-")


def port_hostname(port: Port, ip: str) -> str:
    return port.hostname or default_hostname(ip)


def _allocations(network: Network) -> Iterator[tuple[Port, str, Subnet]]:
    """(port, ip, subnet) of every fixed IP on a subnet of this network, ports by id."""
    for port in network.ports:
        for fip in port.fixed_ips:
            subnet = network.subnet(fip.subnet_id)
            if subnet is not None:
                yield port, fip.ip_address, subnet


def host_entries(network: Network) -> list[HostEntry]:
    """The addresses dnsmasq gives out: fixed IPs on subnets it serves addresses on (IPv4
    and DHCPv6-stateful; not SLAAC or DHCPv6-stateless, not DHCP-disabled subnets)."""
    return [HostEntry(port.id, port.mac_address, port_hostname(port, ip), ip,
                      subnet.ip_version)
            for port, ip, subnet in _allocations(network) if subnet.serves_addresses]


def render_hosts(network: Network) -> str:
    return "".join(e.line() + "\n" for e in host_entries(network))


def render_addn_hosts(network: Network, settings: DnsmasqSettings) -> str:
    """Names dnsmasq answers DNS queries for (``IP<TAB>FQDN NAME``, FQDN first so that
    reverse lookups return it): every fixed IP of the network, DHCP-served or not."""
    domain = settings.clean_domain
    lines = []
    for port, ip, _subnet in _allocations(network):
        name = port_hostname(port, ip)
        fqdn = f"{name}.{domain}" if domain else name
        lines.append(f"{ip}\t{fqdn} {name}\n")
    return "".join(lines)


# --- options -------------------------------------------------------------------------------
def format_option(subnet: Subnet, option: str, *values: str) -> str:
    """``tag:subnet-<id>,option:<name>[,values]`` (``option6:`` for IPv6; numeric options
    as they are). No value means "send this option empty" (e.g. no router)."""
    if not option.isdigit():
        option = ("option:" if subnet.ip_version == 4 else "option6:") + option
    return ",".join([f"tag:{SUBNET_TAG.format(subnet.id)}", option, *values])


def _literal(ip: str) -> str:
    return f"[{ip}]" if ipaddress.ip_address(ip).version == 6 else ip


def router_of(subnet: Subnet) -> str | None:
    """The router clients are given: the gateway, else the next hop of a default host
    route (as Neutron does)."""
    if subnet.gateway_ip:
        return subnet.gateway_ip
    for route in subnet.host_routes:
        if route.destination == IPV4_ANY:
            return route.nexthop
    return None


def classless_routes(network: Network, subnet: Subnet) -> list[tuple[str, str]]:
    """The routes of DHCP option 121 (RFC 3442) for an IPv4 subnet, in Neutron's order:
    the other IPv4 subnets of the network on-link (next hop 0.0.0.0) first, then the
    subnet's host routes (a default host route only sets the router), and, when there is any
    route at all, the default route via the router last: a client given option 121 must
    ignore option 3 (RFC 3442), so the default route has to be in the list too.

    (Neutron also adds 169.254.169.254/32 for its metadata service; neutrino has no
    metadata proxy yet, so no route to one is handed out.)"""
    if subnet.ip_version != 4:
        return []
    routes = [(s.cidr, "0.0.0.0") for s in network.subnets
              if s.ip_version == 4 and s.cidr != subnet.cidr]
    routes += [(r.destination, r.nexthop) for r in subnet.host_routes
               if r.destination != IPV4_ANY]
    router = router_of(subnet)
    if routes and router:
        routes.append((IPV4_ANY, router))
    return routes


def dhcp_server_ips(network: Network, subnet: Subnet) -> list[str]:
    ports = [network.dhcp_port] if network.dhcp_port else []
    ports += [p for p in network.ports if p.device_owner == DHCP_OWNER]
    out: list[str] = []
    for port in ports:
        for f in port.fixed_ips:
            if f.subnet_id == subnet.id and f.ip_address not in out:
                out.append(f.ip_address)
    return out


def subnet_options(network: Network, subnet: Subnet, settings: DnsmasqSettings) -> list[str]:
    """The options-file lines of one subnet (none for SLAAC or DHCP-disabled subnets)."""
    if not subnet.serves_options:
        return []
    opts = []
    if subnet.dns_nameservers:
        if set(subnet.dns_nameservers) <= {ANY_ADDRESSES[subnet.ip_version]}:
            opts.append(format_option(subnet, "dns-server"))  # "announce no DNS server"
        else:
            opts.append(format_option(subnet, "dns-server",
                                      *(_literal(d) for d in subnet.dns_nameservers)))
    else:
        # dnsmasq itself resolves the network's names: the addresses of the DHCP ports on
        # this subnet (this agent's first, then those of the network's other DHCP agents,
        # so that clients still resolve while one of them is down), as Neutron does
        servers = dhcp_server_ips(network, subnet)
        if servers:
            opts.append(format_option(subnet, "dns-server",
                                      *(_literal(ip) for ip in servers)))
    domain = settings.clean_domain
    if subnet.ip_version == 6:
        if domain:
            opts.append(format_option(subnet, "domain-search", domain))
        return opts
    routes = classless_routes(network, subnet)
    if routes:
        value = ",".join(f"{dest},{hop}" for dest, hop in routes)
        opts.append(format_option(subnet, "classless-static-route", value))
        opts.append(format_option(subnet, WIN2K3_STATIC_ROUTES, value))
    router = router_of(subnet)
    opts.append(format_option(subnet, "router", *([router] if router else [])))
    return opts


def format_port_option(port: Port, opt: ExtraDhcpOpt) -> str:
    """``tag:port-<id>,option:<name>[,value]`` (``option6:`` for IPv6, numeric options as
    they are). A name may carry tags of its own first (``tag:ipxe,bootfile-name``), as
    Neutron allows; an empty value sends the option empty (e.g. no router)."""
    name = opt.name
    extra = []
    while name.startswith("tag:") and "," in name:
        tag, name = name.split(",", 1)
        extra.append(tag)
    if not name.isdigit() and not name.startswith(("option:", "option6:")):
        name = ("option:" if opt.ip_version == 4 else "option6:") + name
    return ",".join([f"tag:{PORT_TAG.format(port.id)}", *extra, name,
                     *([opt.value] if opt.value else [])])


def _served_options(network: Network) -> list[tuple[Port, ExtraDhcpOpt]]:
    """The ports' own options dnsmasq hands out: for each IP version the port gets an
    address of from dnsmasq (a client it gives no address gets no options of its port)."""
    served: dict[str, set[int]] = {}
    for e in host_entries(network):
        served.setdefault(e.port_id, set()).add(e.ip_version)
    return [(port, opt) for port in network.ports
            for opt in port.extra_dhcp_opts if opt.ip_version in served.get(port.id, ())]


def port_options(network: Network) -> list[str]:
    """The options-file lines of the ports' own options."""
    return [format_port_option(port, opt) for port, opt in _served_options(network)]


def port_tags(network: Network) -> list[str]:
    """``--dhcp-mac`` arguments tagging the clients of the ports that have options of
    their own (by MAC, for DHCPv4 and DHCPv6 alike: an ``option6:`` line only ever goes in
    a DHCPv6 reply), in port order. On the command line, never in the hosts file: see the
    module docstring."""
    tagged = {port.id: port for port, _opt in _served_options(network)}
    return [f"set:{PORT_TAG.format(port.id)},{port.mac_address}"
            for port in network.ports if port.id in tagged]


def render_opts(network: Network, settings: DnsmasqSettings) -> str:
    lines = []
    for subnet in network.subnets:
        lines += subnet_options(network, subnet, settings)
    lines += port_options(network)
    return "".join(line + "\n" for line in lines)


# --- command line --------------------------------------------------------------------------
def dhcp_range(subnet: Subnet, settings: DnsmasqSettings) -> str | None:
    """The ``--dhcp-range`` of a subnet, or None if dnsmasq does not serve it (DHCP off,
    SLAAC, or an IPv6 prefix longer than /64, which DHCPv6 cannot serve as Neutron does)."""
    mode = subnet.dhcp_mode
    if mode is None:
        return None
    net = subnet.network
    tag = "set:" + SUBNET_TAG.format(subnet.id)
    if subnet.ip_version == 4:
        return f"{tag},{net.network_address},{mode},{net.netmask},{settings.lease}"
    if net.prefixlen < 64:
        return None
    return f"{tag},{net.network_address},{mode},{net.prefixlen},{settings.lease}"


def interface_name(network: Network) -> str:
    from neutrino.agent.linux.names import ns_device_name

    if network.dhcp_port is None:
        raise ValueError(f"network {network.id} has no DHCP port")
    return ns_device_name(network.dhcp_port.id)


def dnsmasq_argv(network: Network, files: NetworkFiles, settings: DnsmasqSettings) -> list[str]:
    """dnsmasq's full command line for ``network``. Deterministic: it is compared with the
    running process's /proc/<pid>/cmdline to decide whether a restart is needed.

    Differences from Neutron, on purpose: ``--interface=ns-...`` with ``--bind-dynamic``
    (dnsmasq serves only its port, picks up addresses added later and does not fail on an
    IPv6 address still in DAD), ``--no-resolv`` always (names outside the network are only
    forwarded to ``dnsmasq_dns_servers``), and the MTU is forced (option 26 even to clients
    that do not ask, as Neutron does) on the command line, because an options file cannot
    force an option; the tags of ports with options of their own are set by MAC here too
    (``port_tags``)."""
    argv = [
        DNSMASQ,
        "--no-hosts",
        "--no-resolv",
        f"--pid-file={files.pid}",
        f"--dhcp-hostsfile={files.host}",
        f"--addn-hosts={files.addn_hosts}",
        f"--dhcp-optsfile={files.opts}",
        f"--dhcp-leasefile={files.leases}",
        f"--interface={interface_name(network)}",
        "--except-interface=lo",
        "--bind-dynamic",
    ]
    possible = 0
    for subnet in network.subnets:
        rng = dhcp_range(subnet, settings)
        if rng is not None:
            argv.append(f"--dhcp-range={rng}")
            possible += subnet.network.num_addresses
    argv += [f"--dhcp-mac={tag}" for tag in port_tags(network)]
    if network.mtu > 0:
        argv.append(f"--dhcp-option-force=option:mtu,{network.mtu}")
    argv.append(f"--dhcp-lease-max={min(possible, settings.lease_max)}")
    argv.append("--conf-file=/dev/null")
    argv += [f"--server={s}" for s in settings.dns_servers]
    if settings.clean_domain:
        argv.append(f"--domain={settings.clean_domain}")
    return argv


# --- leases --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lease:
    """An IPv4 line of dnsmasq's lease file: ``EXPIRY MAC IP HOSTNAME CLIENT-ID``."""

    expiry: int
    mac: str
    ip: str
    hostname: str = "*"
    client_id: str = "*"

    def line(self) -> str:
        return f"{self.expiry} {self.mac} {self.ip} {self.hostname} {self.client_id}"


def parse_leases(text: str) -> list[Lease]:
    """The IPv4 leases of a dnsmasq lease file (IPv6 lines, after ``duid``, are skipped)."""
    leases = []
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "duid":
            break  # IPv6 leases follow the duid line
        if len(parts) < 3:
            continue
        try:
            expiry = int(parts[0])
            ip = str(ipaddress.IPv4Address(parts[2]))
        except ValueError:
            continue
        leases.append(Lease(expiry, parts[1].lower(), ip, *parts[3:5]))
    return leases


def stale_leases(leases: Iterable[Lease], entries: Iterable[HostEntry]) -> list[Lease]:
    """Leases no host entry backs any more (port deleted, or its MAC/IP changed): dnsmasq
    must be told to drop them (dhcp_release), or it refuses the address to the next port
    that is given it until the old lease runs out."""
    wanted = {(e.mac, e.ip) for e in entries if e.ip_version == 4}
    return [lease for lease in leases if (lease.mac, lease.ip) not in wanted]


def bootstrap_leases(existing: str, entries: Sequence[HostEntry], lease_duration: int,
                     now: int) -> str:
    """The lease file to start dnsmasq with: the existing leases that are still wanted
    (their expiry and client id kept), plus one made-up lease for every other IPv4 host
    entry, as Neutron writes, so that a client renewing across a dnsmasq (re)start or a move
    of the network to this agent is acknowledged rather than refused. IPv6 leases are left
    to the clients to renew."""
    expiry = 0 if lease_duration == -1 else now + lease_duration  # 0: infinite
    v4 = [e for e in entries if e.ip_version == 4]
    wanted = {(e.mac, e.ip) for e in v4}
    kept = [lease for lease in parse_leases(existing) if (lease.mac, lease.ip) in wanted]
    have = {(lease.mac, lease.ip) for lease in kept}
    lines = [lease.line() for lease in kept]
    for e in v4:
        if (e.mac, e.ip) not in have:
            have.add((e.mac, e.ip))
            lines.append(Lease(expiry, e.mac, e.ip).line())
    return "".join(line + "\n" for line in lines)
