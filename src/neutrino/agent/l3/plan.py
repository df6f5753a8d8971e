"""What the L3 agent must do to one router, decided by pure functions from the router's
desired state and what its namespace has (devices, addresses, routes, sysctls, NAT table).

The plan changes only what differs, so a converged router costs reads and no writes, and an
agent restart changes nothing: established connections, their conntrack entries and NAT
bindings survive. Devices are converged in place (MTU, MAC, up), never recreated, unless one
end of the veth is missing or a device of another kind holds the name.

Which routers to converge or tear down (``plan_host``): a router the server lists admin-up
is converged; one it lists admin-down, or no longer lists (on a full resync), or does not
list when asked about it (a partial resync), is torn down when the host has its namespace.
"""

from __future__ import annotations

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
from neutrino.agent.l3 import actions as l3a
from neutrino.agent.l3 import nat
from neutrino.agent.l3.model import FloatingIp, Router, RouterPort
from neutrino.agent.linux import names
from neutrino.agent.linux.inventory import DeviceState as ObservedDevice

FORWARDING_SYSCTLS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")

ACTIVE = "ACTIVE"
DOWN = "DOWN"
ERROR = "ERROR"


def plan_host(desired: Mapping[str, Router], router_ids: Collection[str] | None,
              existing: Collection[str], failed: Collection[str] = ()) -> HostPlan[Router]:
    """``desired``: routers the server listed (parsed); ``router_ids``: what was asked
    (None: everything); ``existing``: routers the host has a namespace for; ``failed``:
    listed but unparseable (left as they are). Admin-down routers are torn down."""
    return base_plan_host({rid: r for rid, r in desired.items() if r.admin_state_up},
                          router_ids, existing, failed)


# --- what a router namespace has -----------------------------------------------------------
@dataclass(frozen=True)
class ObservedTap:
    kind: str | None
    mtu: int
    up: bool


@dataclass(frozen=True)
class Observed:
    """One router as found on the host. ``namespace``: whether its namespace exists (if
    not, everything else is empty)."""

    namespace: bool = False
    devices: Mapping[str, ObservedDevice] = field(default_factory=dict)  # router namespace
    taps: Mapping[str, ObservedTap] = field(default_factory=dict)  # host namespace
    routes: frozenset[tuple[str, str]] = frozenset()  # (destination, via): routes via a gateway
    sysctls: Mapping[str, str | None] = field(default_factory=dict)  # None: not there
    nat: nat.NatState | None = None


# --- what to do -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PortWiring:
    """Make the veth of ``port``: ``tap`` in the host namespace, ``device`` in the router
    namespace, with the port's MAC and MTU, both up. ``recreate``: delete what holds the
    names first (a half pair, or a device of another kind)."""

    device: str
    tap: str
    port: RouterPort
    recreate: bool = False


@dataclass(frozen=True)
class RouterPlan:
    router_id: str
    create_namespace: bool = False
    sysctls: tuple[str, ...] = ()  # to set to 1
    delete_devices: tuple[str, ...] = ()  # stale qr-/qg- in the router namespace
    wire: tuple[PortWiring, ...] = ()
    remove_addresses: tuple[tuple[str, str], ...] = ()  # (device, cidr)
    add_addresses: tuple[tuple[str, str], ...] = ()
    remove_routes: tuple[tuple[str, str], ...] = ()  # (destination, via)
    add_routes: tuple[tuple[str, str], ...] = ()
    nat_script: str | None = None  # nft -f input (replace or delete the table)
    flush_conntrack: tuple[str, ...] = ()  # floating IPs whose connections must end now
    garp: tuple[tuple[str, str], ...] = ()  # (device, address): announce after the change
    floating_ip_statuses: Mapping[str, str] = field(default_factory=dict)

    def actions(self, garp_count: int = 0) -> list[Action]:
        """The plan as actions, in the order they run (agent/actions.py)."""
        out: list[Action] = []
        if self.create_namespace:
            out.append(CreateNamespace())
        if self.sysctls:
            out.append(l3a.EnableForwarding(self.sysctls))
        out += [DeleteDevice(d) for d in self.delete_devices]
        out += [WireVeth(w.device, w.tap, w.port.mac_address, w.port.mtu, w.recreate,
                         port_id=w.port.port_id) for w in self.wire]
        out += [RemoveAddress(d, c) for d, c in self.remove_addresses]
        out += [AddAddress(d, c) for d, c in self.add_addresses]
        out += [l3a.RemoveRoute(d, v) for d, v in self.remove_routes]
        out += [l3a.AddRoute(d, v) for d, v in self.add_routes]
        if self.nat_script is not None:
            out.append(l3a.LoadNat(self.nat_script))
        if self.flush_conntrack:
            out.append(l3a.FlushConntrack(self.flush_conntrack))
        if self.garp and garp_count > 0:
            out.append(l3a.AnnounceAddresses(self.garp, garp_count))
        return out

    @property
    def changes(self) -> bool:
        return bool(self.create_namespace or self.sysctls or self.delete_devices or self.wire
                    or self.remove_addresses or self.add_addresses or self.remove_routes
                    or self.add_routes or self.nat_script is not None
                    or self.flush_conntrack)


def _normal(cidr: str) -> str:
    iface = ipaddress.ip_interface(cidr)
    return f"{iface.ip}/{iface.network.prefixlen}"


def wanted_addresses(router: Router) -> dict[str, set[str]]:
    """device -> addresses: each port's fixed IPs; floating IPs as /32 on ``qg-``."""
    out: dict[str, set[str]] = {}
    for dev, port in router.ports:
        out[dev] = {_normal(f.interface) for f in port.fixed_ips}
    if router.gateway_device is not None:
        out[router.gateway_device].update(
            f"{f.floating_ip_address}/32" for f in router.ipv4_floating_ips)
    return out


def wanted_routes(router: Router) -> set[tuple[str, str]]:
    """(destination, via): the default route of each IP version via the external gateway,
    and the extra routes."""
    routes: set[tuple[str, str]] = set()
    if router.gateway is not None:
        for version, via in router.gateway.default_gateways().items():
            routes.add(("default" if version == 4 else "default6", via))
    for r in router.routes:
        routes.add((r.destination, r.nexthop))
    return {(_route_dst(d), v) for d, v in routes}


def _route_dst(dst: str) -> str:
    if dst == "default":
        return "0.0.0.0/0"
    if dst == "default6":
        return "::/0"
    return str(ipaddress.ip_network(dst, strict=False))


def _port_ok(port: RouterPort, dev: ObservedDevice | None, tap: ObservedTap | None) -> bool:
    if dev is None or tap is None or dev.kind != "veth" or tap.kind != "veth":
        return False
    if (dev.mac or "").lower() != port.mac_address or not dev.up or not tap.up:
        return False
    return port.mtu is None or dev.mtu == tap.mtu == port.mtu


def plan_router(router: Router, observed: Observed, *, report_all: bool = False) -> RouterPlan:
    """Everything ``router`` needs that ``observed`` lacks. ``report_all``: give the status
    of every floating IP (a full resync), not only of those that change."""
    wiring = []
    fresh: set[str] = set()  # devices (re)made now: no address on them yet
    for dev_name, port in router.ports:
        dev = observed.devices.get(dev_name)
        tap_name = names.tap_name(port.port_id)
        tap = observed.taps.get(tap_name)
        if _port_ok(port, dev, tap):
            continue
        broken = (dev is not None and (dev.kind != "veth" or tap is None)) or (
            dev is None and tap is not None)
        wiring.append(PortWiring(device=dev_name, tap=tap_name, port=port, recreate=broken))
        if dev is None or broken:
            fresh.add(dev_name)

    wanted_devs = {d for d, _ in router.ports}
    stale = sorted(d for d in observed.devices
                   if d not in wanted_devs and d.startswith(
                       (names.ROUTER_INTERFACE_PREFIX, names.GATEWAY_INTERFACE_PREFIX)))

    remove_addr, add_addr = [], []
    for dev_name, wanted in sorted(wanted_addresses(router).items()):
        have = set() if dev_name in fresh or dev_name not in observed.devices else set(
            observed.devices[dev_name].addresses)
        remove_addr += [(dev_name, a) for a in sorted(have - wanted)]
        add_addr += [(dev_name, a) for a in sorted(wanted - have)]

    want_routes = wanted_routes(router)
    remove_routes = sorted(set(observed.routes) - want_routes)
    # a re-made device took its routes with it: then every route is (re)placed
    add_routes = sorted(want_routes - (set(observed.routes) if not fresh else set()))

    sysctls = tuple(k for k in FORWARDING_SYSCTLS
                    if observed.sysctls.get(k, "0") not in ("1", None)) \
        if observed.namespace else FORWARDING_SYSCTLS

    rendered = nat.render(router)
    have_nat = observed.nat
    if rendered is None:
        nat_script = nat.delete_script() if have_nat is not None else None
    else:
        nat_script = None if (have_nat is not None and have_nat.digest == rendered.digest) \
            else rendered.script

    # floating IPs: those gone or moved lose their connections at once; new ones are
    # announced and start clean (an unanswered attempt made before the association would
    # otherwise keep matching its un-NATed conntrack entry)
    want_fips = {f.id: f for f in router.ipv4_floating_ips}
    had = dict(have_nat.floating_ips) if have_nat is not None else {}
    flush: set[str] = set()
    statuses: dict[str, str] = {}
    for fid, (fip, fixed) in had.items():
        f = want_fips.get(fid)
        if f is None or (f.floating_ip_address, f.fixed_ip_address) != (fip, fixed):
            flush.add(fip)
            if f is None:
                statuses[fid] = DOWN
    garp: list[tuple[str, str]] = []
    qg = router.gateway_device
    new_fips: list[FloatingIp] = []
    for fid, f in want_fips.items():
        if had.get(fid) != (f.floating_ip_address, f.fixed_ip_address):
            new_fips.append(f)
            flush.add(f.floating_ip_address)
        if report_all or fid not in had or had[fid] != (f.floating_ip_address,
                                                         f.fixed_ip_address):
            statuses[fid] = ACTIVE
    if qg is not None:
        added = {a.split("/")[0] for d, a in add_addr if d == qg}
        gw = router.gateway.address(4) if router.gateway else None
        if gw is not None and gw in added:
            garp.append((qg, gw))
        garp += [(qg, f.floating_ip_address) for f in new_fips
                 if f.floating_ip_address in added]
    for f in router.floating_ips:
        if f.id not in want_fips:
            statuses[f.id] = ERROR  # IPv6, or no gateway: nothing to NAT it with

    return RouterPlan(
        router_id=router.id,
        create_namespace=not observed.namespace,
        sysctls=sysctls,
        delete_devices=tuple(stale),
        wire=tuple(wiring),
        remove_addresses=tuple(remove_addr),
        add_addresses=tuple(add_addr),
        remove_routes=tuple(remove_routes),
        add_routes=tuple(add_routes),
        nat_script=nat_script,
        flush_conntrack=tuple(sorted(flush)) if observed.namespace else (),
        garp=tuple(garp),
        floating_ip_statuses=statuses,
    )
