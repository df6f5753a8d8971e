"""What the DHCP agent must do, decided by pure functions from the desired state and what
the host has (the namespace's devices, addresses and route, files on disk, the running
dnsmasq's command line, the last confirmed load), as actions (agent/actions.py).

- Which networks to serve and which to tear down (``plan_host``): a network is served while
  the server lists it with a DHCP port and a DHCP-enabled subnet; a network the host has
  (a qdhcp namespace or a state directory) is torn down when the server no longer lists it
  for this host (on a full resync), or does not list it when asked about it (a partial one).
- What to do to its dnsmasq (``plan_dnsmasq``): start it when none runs; restart it only
  when its command line must change (a subnet's range added or removed, the MTU, the lease
  time, a port getting DHCP options of its own: see ``restart_reason``); send
  SIGHUP when only the hosts/options files changed -- or when the running dnsmasq has not
  confirmably loaded the files on disk (an agent that died between writing them and the
  reload); nothing otherwise. A dnsmasq that loaded a hosts file with ``set:`` tags (written
  by an older agent) is restarted instead: SIGHUP would crash it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from neutrino.agent.actions import (
    Action,
    AddAddress,
    CreateNamespace,
    DeleteDevice,
    RemoveAddress,
    WireVeth,
)
from neutrino.agent.base import HostPlan
from neutrino.agent.base import plan_host as base_plan_host
from neutrino.agent.dhcp import actions as dhcp_actions
from neutrino.agent.dhcp import dnsmasq, render
from neutrino.agent.dhcp.model import Network
from neutrino.agent.linux import names
from neutrino.agent.linux.inventory import DeviceState as ObservedDevice

START = "start"
RESTART = "restart"
RELOAD = "reload"

FILE_NAMES = ("host", "addn_hosts", "opts")
TAG_SET = ",set:"  # in a hosts file line (older agents): dnsmasq 2.90 must not get SIGHUP
DHCP_MAC = "--dhcp-mac="  # the tag of a port with options of its own (render.port_tags)


def plan_host(desired: Mapping[str, Network], network_ids: Collection[str] | None,
              existing: Collection[str], failed: Collection[str] = ()) -> HostPlan[Network]:
    """``desired``: the networks the server listed (parsed); ``network_ids``: what was asked
    (None: everything); ``existing``: networks the host has DHCP state for; ``failed``:
    networks listed but unparseable (left as they are). Networks without a DHCP port or a
    DHCP-enabled subnet are torn down."""
    return base_plan_host({nid: n for nid, n in desired.items() if n.wants_dhcp},
                          network_ids, existing, failed)


@dataclass(frozen=True)
class Observed:
    """One network's dnsmasq as found on the host."""

    pid: int | None = None
    argv: tuple[str, ...] | None = None  # of the running dnsmasq (None: not running)
    files: Mapping[str, str | None] = field(default_factory=dict)  # name -> content
    loaded: str | None = None  # content of the "loaded" marker: "<pid> <digest>"


@dataclass(frozen=True)
class DnsmasqPlan:
    action: str | None  # START, RESTART, RELOAD or None
    argv: tuple[str, ...]
    files: Mapping[str, str]  # name -> content wanted
    write: tuple[str, ...]  # names of the files whose content differs on disk
    digest: str
    ready_ports: tuple[str, ...]  # ports to report ready once the action is done
    reason: str = ""

    def marker(self, pid: int) -> str:
        return f"{pid} {self.digest}"


def digest(files: Mapping[str, str]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return h.hexdigest()[:32]


def render_files(network: Network, settings: render.DnsmasqSettings) -> dict[str, str]:
    return {
        "host": render.render_hosts(network),
        "addn_hosts": render.render_addn_hosts(network, settings),
        "opts": render.render_opts(network, settings),
    }


def restart_reason(running: tuple[str, ...], wanted: tuple[str, ...]) -> str | None:
    """Why a dnsmasq running with ``running`` cannot serve as one started with ``wanted``
    (None: it can). Tags of ports with options of their own (``--dhcp-mac``) the running
    one has in excess are harmless -- no options line names them any more, and a new port
    reusing such a MAC gets a tag nothing matches -- so a port losing its options or going
    away is a SIGHUP; only a tag it lacks (a port's first option, or a tagged port's new
    MAC) restarts it."""
    if running == wanted:
        return None

    def split(argv: tuple[str, ...]) -> tuple[tuple[str, ...], set[str]]:
        return (tuple(a for a in argv if not a.startswith(DHCP_MAC)),
                {a for a in argv if a.startswith(DHCP_MAC)})

    (rest_running, tags_running), (rest_wanted, tags_wanted) = split(running), split(wanted)
    if rest_running != rest_wanted:
        return "command line changed"
    if not tags_wanted <= tags_running:
        return "a port got DHCP options of its own"
    return None


def port_lines(network: Network, files: Mapping[str, str]) -> dict[str, set[str]]:
    """For each port, the lines of the rendered files that are about it (by MAC in the
    hosts file, by address in the extra hosts, by its tag in the options file)."""
    host_lines = files.get("host", "").splitlines()
    addn_lines = files.get("addn_hosts", "").splitlines()
    opts_lines = files.get("opts", "").splitlines()
    out: dict[str, set[str]] = {}
    for port in network.ports:
        ips = {f.ip_address for f in port.fixed_ips}
        tag = "tag:" + render.PORT_TAG.format(port.id) + ","
        lines = {ln for ln in host_lines if ln.startswith(port.mac_address + ",")}
        lines |= {ln for ln in addn_lines if ln.split("\t", 1)[0] in ips}
        lines |= {ln for ln in opts_lines if ln.startswith(tag)}
        out[port.id] = lines
    return out


def plan_dnsmasq(network: Network, settings: render.DnsmasqSettings,
                 paths: render.NetworkFiles, observed: Observed, *,
                 report_all: bool = False) -> DnsmasqPlan:
    """See the module docstring. ``report_all``: report every port of the network ready
    once it is converged (full resyncs do, so a lost report is repeated); otherwise only the
    ports whose entries the action (re)loads."""
    argv = tuple(render.dnsmasq_argv(network, paths, settings))
    files = render_files(network, settings)
    dig = digest(files)
    write = tuple(n for n in FILE_NAMES if observed.files.get(n) != files[n])
    all_ports = tuple(p.id for p in network.ports)
    if observed.argv is None or observed.pid is None:
        return DnsmasqPlan(START, argv, files, write, dig, all_ports, "not running")
    why = restart_reason(observed.argv, argv)
    if why:
        return DnsmasqPlan(RESTART, argv, files, write, dig, all_ports, why)
    if write or observed.loaded != f"{observed.pid} {dig}":
        old = {n: observed.files.get(n) or "" for n in FILE_NAMES}
        if TAG_SET in old["host"]:
            # written by an agent that tagged hosts lines: dnsmasq 2.90 crashes on the
            # first request after a SIGHUP once it has served a client whose hosts line
            # set a tag (see render), so this one is started afresh, once
            return DnsmasqPlan(RESTART, argv, files, write, dig, all_ports,
                               "tagged hosts file (no safe SIGHUP)")
        if observed.loaded == f"{observed.pid} {digest(old)}":
            # this dnsmasq has the files on disk loaded: report the ports they lack
            before = port_lines(network, old)
            after = port_lines(network, files)
            ready = tuple(pid for pid in all_ports
                          if not after[pid] or not after[pid] <= before[pid])
        else:
            ready = all_ports  # we cannot tell what this dnsmasq has loaded
        if report_all:
            ready = all_ports
        return DnsmasqPlan(RELOAD, argv, files, write, dig, ready,
                           "files changed" if write else "files not confirmed loaded")
    return DnsmasqPlan(None, argv, files, write, dig, all_ports if report_all else ())


# --- one network: namespace, port, files, dnsmasq -----------------------------------------------
@dataclass(frozen=True)
class NetworkObserved:
    """One network's DHCP service as found on the host (agent.observe)."""

    namespace: bool = False
    devices: Mapping[str, ObservedDevice] = field(default_factory=dict)  # ns-*, qdhcp ns
    tap: ObservedDevice | None = None  # the DHCP port's tap, host namespace
    default_routes: tuple[tuple[str | None, int], ...] = ()  # (gateway, oif index), IPv4
    dirs: Mapping[str, int | None] = field(default_factory=dict)  # path -> mode (None: none)
    process: dnsmasq.Process | None = None  # by its pid file (any namespace)
    dnsmasq: Observed = field(default_factory=Observed)  # files, loaded marker
    leases: str | None = None  # the lease file


@dataclass(frozen=True)
class NetworkPlan:
    actions: tuple[Action, ...]
    dnsmasq: DnsmasqPlan

    @property
    def ready_ports(self) -> tuple[str, ...]:
        return self.dnsmasq.ready_ports


def _port_ok(inner: ObservedDevice | None, tap: ObservedDevice | None, mac: str,
             mtu: int | None) -> bool:
    return bool(inner and tap and inner.kind == tap.kind == "veth" and inner.up and tap.up
                and inner.mac == mac and (mtu is None or inner.mtu == tap.mtu == mtu))


def wanted_addresses(network: Network) -> set[str]:
    """The DHCP port's addresses with their subnets' prefix lengths."""
    port = network.dhcp_port
    assert port is not None
    out = set()
    for fip in port.fixed_ips:
        subnet = network.subnet(fip.subnet_id)
        if subnet is not None:
            out.add(str(ipaddress.ip_interface(f"{fip.ip_address}/{subnet.network.prefixlen}")))
    return out


def default_gateway(network: Network) -> str | None:
    """A default route via the first IPv4 subnet's gateway (as Neutron's DHCP agent
    sets), so that dnsmasq can reach upstream DNS servers through the router."""
    port = network.dhcp_port
    assert port is not None
    for fip in port.fixed_ips:
        subnet = network.subnet(fip.subnet_id)
        if subnet and subnet.ip_version == 4 and subnet.gateway_ip and (
                ipaddress.ip_address(subnet.gateway_ip) in subnet.network):
            return subnet.gateway_ip
    return None


def plan_network(network: Network, observed: NetworkObserved,
                 settings: render.DnsmasqSettings, paths: render.NetworkFiles,
                 state_dirs: tuple[str, ...], *, report_all: bool = False) -> NetworkPlan:
    """Everything ``network`` (served: it has a DHCP port) needs that ``observed``
    lacks, in order: namespace, the DHCP port's veth (stale ns- devices removed, changed
    in place or re-made), its addresses and default route, the state directories and
    files, then dnsmasq (``plan_dnsmasq``). A converged network gets no action."""
    port = network.dhcp_port
    assert port is not None
    out: list[Action] = []
    if not observed.namespace:
        out.append(CreateNamespace())
    tap, inner = names.tap_name(port.id), names.ns_device_name(port.id)
    out += [DeleteDevice(d) for d in sorted(observed.devices) if d != inner]
    have_inner = observed.devices.get(inner)
    mtu = network.mtu or None
    fresh = False
    if not _port_ok(have_inner, observed.tap, port.mac_address, mtu):
        # a tap without its namespace end: the namespace was deleted under us (the kernel
        # removes that tap asynchronously) or the pair was half-moved: made anew
        replace = have_inner is None and observed.tap is not None
        out.append(WireVeth(inner, tap, port.mac_address, mtu, replace=replace,
                            port_id=port.id))
        fresh = have_inner is None
    have = set() if fresh or have_inner is None else set(have_inner.addresses)
    wanted = wanted_addresses(network)
    out += [RemoveAddress(inner, c) for c in sorted(have - wanted)]
    out += [AddAddress(inner, c) for c in sorted(wanted - have)]
    gateway = default_gateway(network)
    current = list(observed.default_routes)
    if fresh or have_inner is None:
        route_ok = not gateway and not current
    else:
        route_ok = current == ([(gateway, have_inner.index)] if gateway else [])
    if not route_ok:
        out.append(dhcp_actions.ReplaceDefaultRoute(inner, gateway, len(current)))
    if any(mode != 0o755 for mode in (observed.dirs.get(d) for d in state_dirs)):
        out.append(dhcp_actions.EnsureDirectories(state_dirs))

    proc = observed.process
    seen = observed.dnsmasq
    if proc is not None and not proc.in_namespace:
        out.append(dhcp_actions.StopDnsmasq(proc.pid, paths, "serves a namespace that is gone"))
        proc, seen = None, replace_observed(seen, pid=None, argv=None)
    p = plan_dnsmasq(network, settings, paths, seen, report_all=report_all)
    out += [dhcp_actions.WriteFile(paths.path(n), p.files[n]) for n in p.write]
    entries = tuple(render.host_entries(network))
    if p.action in (START, RESTART):
        out.append(dhcp_actions.StartDnsmasq(
            network.id, p.argv, paths, entries, settings.lease_duration, p.digest,
            old_pid=proc.pid if proc is not None else None, reason=p.reason,
            restart=p.action == RESTART))
    else:
        assert proc is not None
        stale = render.stale_leases(render.parse_leases(observed.leases or ""), entries)
        if stale:
            out.append(dhcp_actions.ReleaseLeases(tuple(stale), render.interface_name(network)))
        if p.action == RELOAD:
            out.append(dhcp_actions.ReloadDnsmasq(network.id, proc, paths, p.reason))
        if p.action is not None or seen.loaded != p.marker(proc.pid):
            out.append(dhcp_actions.WriteFile(paths.loaded, p.marker(proc.pid) + "\n"))
    return NetworkPlan(tuple(out), p)


def replace_observed(seen: Observed, **changes: object) -> Observed:
    return dataclasses.replace(seen, **changes)  # type: ignore[arg-type]
