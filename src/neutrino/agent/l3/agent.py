"""The L3 agent: one ``qrouter-<router-id>`` namespace per router scheduled to this host.

    neutrino agent --role l3 --config-file /etc/neutrino/l3_agent.ini

    [DEFAULT]
    host = network1
    transport_url = rabbit://neutron:secret@controller:5672/
    interface_driver = linuxbridge
    agent_mode = legacy

For each router the server lists for this host (``get_host_state`` for "L3 agent",
docs/agent-protocol.md), idempotently:

- namespace ``<namespace_prefix>qrouter-<router-id>`` with IPv4 and IPv6 forwarding on;
- per port a veth: ``tap<port-id[:11]>`` in the host namespace (``host_namespace``), which
  the Linux bridge agent plugs into the network's bridge as it does any port bound to this
  host, and ``qr-<port-id[:11]>`` (interfaces) or ``qg-<port-id[:11]>`` (the gateway) in the
  router namespace with the port's MAC, MTU and addresses; floating IPs as /32 on ``qg-``;
- the default route via the external subnet's gateway, and the extra routes;
- NAT as one nftables table (``nat``), replaced atomically when it must change;
- gratuitous ARPs (``arping -U``) for the gateway address and each new floating IP.

What to change is decided by ``plan`` from what the namespace has, so a converged router is
not touched and a restarted agent drops no connection. Routers no longer listed (or listed
admin-down) lose their namespace; the veth pairs, taps included, go with it. Floating IP
statuses are reported with ``update_floatingip_statuses``.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import subprocess
import time
from typing import Any

from oslo_config import cfg
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent import base
from neutrino.agent.base import is_uuid
from neutrino.agent.l3 import nat, plan
from neutrino.agent.l3.model import DesiredStateError, Router, parse_router
from neutrino.agent.linux import devices, names, namespaces
from neutrino.agent.linux.errors import LinuxNetError
from neutrino.agent.linux.netlink import device_errors, ipr_for
from neutrino.bus import Bus
from neutrino.protocol import l3 as proto
from neutrino.protocol import rpc

LOG = logging.getLogger(__name__)

AGENT_TYPE = proto.AGENT_TYPE
BINARY = "neutrino-l3-agent"
TOPIC = "l3_agent"
IFA_F_NODAD = 0x02

# Neutron's interface driver for Linux bridge hosts, by its alias and its class path.
INTERFACE_DRIVERS = ("linuxbridge", "neutron.agent.linux.interface.BridgeInterfaceDriver")

l3_opts = [
    cfg.StrOpt(
        "namespace_prefix",
        default="",
        help="Prefix of the qdhcp-/qrouter- namespace names the agents make, so that the "
        "agents of several simulated hosts on one machine do not share namespaces. Empty "
        "on a real host.",
    ),
    cfg.StrOpt(
        "interface_driver",
        default="linuxbridge",
        help="How router ports are plugged: 'linuxbridge' (a veth whose tap end the Linux "
        "bridge agent attaches), the only driver; Neutron's class path for it is accepted.",
    ),
    cfg.StrOpt(
        "agent_mode",
        default="legacy",
        help="L3 agent mode; only 'legacy' (centralized routers, no DVR) is supported.",
    ),
    cfg.IntOpt(
        "send_arp_for_ha",
        default=3,
        min=0,
        help="Gratuitous ARPs sent for the gateway address and each new floating IP on "
        "the external leg; 0 disables them.",
    ),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    base.register_agent_opts(conf)
    for opt in l3_opts:
        try:
            conf.register_opt(opt)
        except cfg.DuplicateOptError:  # namespace_prefix: the DHCP agent's, same meaning
            LOG.debug("option %s already registered", opt.name)


class L3Agent(base.Agent):
    agent_type = AGENT_TYPE
    binary = BINARY
    topic = TOPIC
    resource_key = "routers"
    resource_ids_arg = "router_ids"
    host_state_type = proto.HostState

    def __init__(self, conf: cfg.ConfigOpts, bus: Bus | None = None) -> None:
        register_opts(conf)
        if conf.interface_driver not in INTERFACE_DRIVERS:
            raise ValueError(f"interface_driver {conf.interface_driver!r} is not supported "
                             f"(one of {', '.join(INTERFACE_DRIVERS)})")
        if conf.agent_mode != "legacy":
            raise ValueError(f"agent_mode {conf.agent_mode!r} is not supported (legacy only)")
        super().__init__(conf, bus)
        self.namespace_prefix: str = conf.namespace_prefix or ""
        self.garp_count: int = conf.send_arp_for_ha
        self._served: dict[str, tuple[int, int, int]] = {}  # id -> (gw, interfaces, fips)
        self._reported: dict[str, str] = {}  # floating ip id -> last status cast
        self._garps: list[subprocess.Popen[bytes]] = []
        self.failed_routers: dict[str, str] = {}
        self.last_plans: dict[str, plan.RouterPlan] = {}

    # --- names -----------------------------------------------------------------------------
    def namespace(self, router_id: str) -> str:
        return self.namespace_prefix + names.router_namespace(router_id)

    def configurations(self) -> dict[str, Any]:
        served = dict(self._served)
        return {
            "agent_mode": "legacy",
            "routers": len(served),
            "ex_gw_ports": sum(g for g, _, _ in served.values()),
            "interfaces": sum(i for _, i, _ in served.values()),
            "floating_ips": sum(f for _, _, f in served.values()),
            "interface_driver": "linuxbridge",
        }

    def existing_routers(self) -> set[str]:
        """Routers this agent has a namespace for (named by a router id: anything else
        with the prefix is not this agent's to remove)."""
        prefix = self.namespace_prefix + names.ROUTER_NS_PREFIX
        return {rid for rid in (ns[len(prefix):] for ns in namespaces.list_namespaces(prefix))
                if is_uuid(rid)}

    # --- reconcile -------------------------------------------------------------------------
    def reconcile(self, state: proto.HostState, network_ids: set[str] | None,
                  invalid: dict[str, str]) -> None:
        router_ids = network_ids  # the base class's name for the resources asked about
        full = router_ids is None
        self._reap_garps()
        desired, errors = base.parse_desired(state.routers, parse_router,
                                             DesiredStateError, LOG, invalid)
        host_plan = plan.plan_host(desired, router_ids, self.existing_routers(), errors)
        plans: dict[str, plan.RouterPlan] = {}
        for router in host_plan.converge:
            try:
                plans[router.id] = self.converge(router, report_all=full)
            except Exception as e:
                LOG.error("router %s: %s", router.id, e, exc_info=not isinstance(
                    e, LinuxNetError | NetlinkError | base.ReconcileIncomplete))
                errors[router.id] = str(e)
                self._report(router.id, {f.id: plan.ERROR for f in router.floating_ips})
                continue
            self._served[router.id] = (int(router.gateway is not None),
                                       len(router.interfaces), len(router.floating_ips))
        for rid in host_plan.teardown:
            try:
                self.teardown(rid)
            except Exception as e:
                LOG.error("router %s: teardown failed: %s", rid, e)
                errors[rid] = f"teardown: {e}"
        base.forget_unserved(self._served, {r.id for r in host_plan.converge}, router_ids)
        self.last_plans = plans
        self.failed_routers = errors
        if errors:
            raise base.ReconcileIncomplete("routers not converged: " + "; ".join(
                f"{rid}: {why}" for rid, why in sorted(errors.items())))

    def converge(self, router: Router, *, report_all: bool = False) -> plan.RouterPlan:
        observed = self.observe(router.id, router)
        p = plan.plan_router(router, observed, report_all=report_all)
        started = time.monotonic()
        self.apply(p)
        if p.changes:
            LOG.info("router %s converged in %.3f s", router.id, time.monotonic() - started)
        statuses = dict(p.floating_ip_statuses)
        for f in router.ipv4_floating_ips:  # recovered from an earlier ERROR, or unknown
            if self._reported.get(f.id) != plan.ACTIVE:
                statuses.setdefault(f.id, plan.ACTIVE)
        self._report(router.id, statuses)
        return p

    def _report(self, router_id: str, statuses: dict[str, str]) -> None:
        if not statuses:
            return
        for fid, status in statuses.items():
            if status == plan.DOWN:
                self._reported.pop(fid, None)
            else:
                self._reported[fid] = status
        self.cast(rpc.UPDATE_FLOATINGIP_STATUSES, rpc.FloatingIpStatuses(
            host=self.host, router_id=router_id, statuses=statuses))  # type: ignore[arg-type]

    # --- what the host has -----------------------------------------------------------------
    def observe(self, router_id: str, router: Router | None = None) -> plan.Observed:
        """One router's namespace as it is: a link dump, an address dump, a route dump per
        IP version, the taps of ``router``'s ports, and one command for the forwarding
        sysctls and the NAT table."""
        ns = self.namespace(router_id)
        if not namespaces.namespace_exists(ns):
            return plan.Observed()
        ipr = ipr_for(ns)
        with device_errors(ns, "list devices", ns):
            links = list(ipr.link("dump"))
            addrs = list(ipr.addr("dump"))
        by_index: dict[int, set[str]] = {}
        for m in addrs:
            iface = ipaddress.ip_interface(f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}")
            if iface.version == 6 and iface.ip.is_link_local:
                continue
            by_index.setdefault(m["index"], set()).add(f"{iface.ip}/{iface.network.prefixlen}")
        found = {}
        for m in links:
            d = devices.device_from_message(m, {})
            if d.name == "lo":
                continue
            found[d.name] = plan.ObservedDevice(
                name=d.name, kind=d.kind, mac=d.mac, mtu=d.mtu, up=d.up,
                addresses=frozenset(by_index.get(d.index, ())))
        taps = {}
        for _, port in (router.ports if router is not None else ()):
            tap = devices.get_device(names.tap_name(port.port_id), self.netns)
            if tap is not None:
                taps[tap.name] = plan.ObservedTap(kind=tap.kind, mtu=tap.mtu, up=tap.up)
        routes = set()
        for family in (socket.AF_INET, socket.AF_INET6):
            with device_errors(ns, "list routes", ns):
                dump = list(ipr.route("dump", family=family, table=254))
            for m in dump:
                via = m.get_attr("RTA_GATEWAY")
                if not via:
                    continue
                dst = m.get_attr("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET
                                                else "::")
                routes.add((str(ipaddress.ip_network(f"{dst}/{m['dst_len']}",
                                                     strict=False)), via))
        out = namespaces.execute(["sh", "-c", (
            "cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo -; "
            "cat /proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null || echo -; "
            f"{' '.join(nat.list_command())} 2>/dev/null; exit 0")], ns).stdout
        lines = out.split("\n", 2)
        sysctls: dict[str, str | None] = {}
        for key, value in zip(plan.FORWARDING_SYSCTLS, lines[:2], strict=False):
            sysctls[key] = None if value.strip() == "-" else value.strip()
        return plan.Observed(namespace=True, devices=found, taps=taps,
                             routes=frozenset(routes), sysctls=sysctls,
                             nat=nat.parse_listing(lines[2] if len(lines) > 2 else None))

    # --- changing it -----------------------------------------------------------------------
    def apply(self, p: plan.RouterPlan) -> None:
        ns = self.namespace(p.router_id)
        failures: list[str] = []
        if p.create_namespace:
            namespaces.create_namespace(ns)
        if p.sysctls:
            # IPv6 may be missing from the kernel: set what exists, check what matters
            namespaces.execute(["sysctl", "-q", "-w", *(f"{k}=1" for k in p.sysctls)], ns,
                               check=False)
        for dev in p.delete_devices:
            LOG.info("router %s: removing stale %s", p.router_id, dev)
            devices.delete_device(dev, ns)
        for w in p.wire:
            self._wire(w, ns)
        for dev, cidr in p.remove_addresses:
            devices.delete_address(dev, cidr, ns)
        for dev, cidr in p.add_addresses:
            self._add_address(dev, cidr, ns)
        for dst, via in p.remove_routes:
            with contextlib.suppress(LinuxNetError):  # gone with its device meanwhile
                devices.delete_route(dst, via=via, netns=ns)
        for dst, via in p.add_routes:
            try:
                devices.add_route(dst, via=via, netns=ns)
            except LinuxNetError as e:  # e.g. a nexthop not on any subnet of the router
                failures.append(f"route {dst} via {via}: {e}")
        if p.nat_script is not None:
            namespaces.execute(["nft", "-f", "-"], ns, input=p.nat_script)
        if p.flush_conntrack:
            self._flush_conntrack(p.flush_conntrack, ns)
        if p.garp:
            self._garp(p.garp, ns)
        if failures:
            raise base.ReconcileIncomplete("; ".join(failures))

    def _wire(self, w: plan.PortWiring, ns: str) -> None:
        if w.recreate:
            LOG.info("router %s: re-making %s/%s", w.port.port_id, w.tap, w.device)
            devices.delete_device(w.device, ns)
            if devices.delete_device(w.tap, self.netns):
                self._wait_gone(w.tap)
        devices.ensure_veth(w.tap, w.device, peer_netns=ns, mtu=w.port.mtu,
                            netns=self.netns, up=False)
        devices.set_mac_address(w.device, w.port.mac_address, ns)
        devices.set_up(w.device, ns)
        devices.set_up(w.tap, self.netns)

    def _wait_gone(self, device: str, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while devices.get_device(device, self.netns) is not None:
            if time.monotonic() > deadline:
                raise base.ReconcileIncomplete(f"{device} is still being deleted")
            time.sleep(0.01)

    def _add_address(self, dev: str, cidr: str, ns: str) -> None:
        iface = ipaddress.ip_interface(cidr)
        index = devices.require_device(dev, ns, f"add address {cidr}").index
        # IPv6 without duplicate address detection: usable at once
        flags = {"flags": IFA_F_NODAD} if iface.version == 6 else {}
        with device_errors(dev, f"add address {cidr}", ns, ignore=(errno.EEXIST,)):
            ipr_for(ns).addr("add", index=index, address=str(iface.ip),
                             prefixlen=iface.network.prefixlen,
                             family=socket.AF_INET6 if iface.version == 6 else socket.AF_INET,
                             **flags)

    def _flush_conntrack(self, addresses: tuple[str, ...], ns: str) -> None:
        """End the tracked connections of these floating IPs: inbound (to the address)
        and outbound (replies to it), so that NAT bindings of a floating IP gone or moved
        stop at once. One command for all (conntrack exits 1 when nothing matched)."""
        script = "; ".join(f"conntrack -D -d {a}; conntrack -D -q {a}"
                           for a in (str(ipaddress.ip_address(x)) for x in addresses))
        namespaces.execute(["sh", "-c", f"({script}) >/dev/null 2>&1; exit 0"], ns)

    def _garp(self, announce: tuple[tuple[str, str], ...], ns: str) -> None:
        """Announce each (device, address) with gratuitous ARPs, in the background
        (arping takes a second per ARP; the reconcile does not wait): one shell running
        them in parallel."""
        if self.garp_count <= 0:
            return
        cmds = [f"arping -U -q -c {int(self.garp_count)} -I {names.check_device_name(dev)} "
                f"{ipaddress.ip_address(address)} &" for dev, address in announce
                if ipaddress.ip_address(address).version == 4]
        if not cmds:
            return
        try:
            proc = namespaces.spawn(["sh", "-c", " ".join(cmds) + " wait"], ns,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as e:  # the router works; neighbours learn the addresses later
            LOG.warning("router namespace %s: gratuitous ARPs not sent: %s", ns, e)
            return
        self._garps.append(proc)

    def _reap_garps(self) -> None:
        self._garps = [p for p in self._garps if p.poll() is None]

    # --- teardown --------------------------------------------------------------------------
    def teardown(self, router_id: str) -> None:
        """Remove the router's namespace; its veth pairs (taps included) go with their
        namespace ends, deleted first so the taps are gone when this returns."""
        ns = self.namespace(router_id)
        if not namespaces.namespace_exists(ns):
            return
        observed = self.observe(router_id)
        for dev in observed.devices:
            if dev.startswith((names.ROUTER_INTERFACE_PREFIX, names.GATEWAY_INTERFACE_PREFIX)):
                devices.delete_device(dev, ns)
        namespaces.delete_namespace(ns)
        fips = observed.nat.floating_ips if observed.nat is not None else {}
        self._report(router_id, {fid: plan.DOWN for fid in fips})
        LOG.info("router %s: removed", router_id)

    def stop_workers(self) -> None:
        for p in self._garps:  # our own arping children, by their Popen
            try:
                p.wait(timeout=max(1, self.garp_count) + 1)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._garps = []

    def stop_all(self) -> None:
        """Tear down every router this agent has (tests, decommissioning a host); a normal
        stop leaves routers running for the next agent to adopt."""
        for rid in sorted(self.existing_routers()):
            self.teardown(rid)
        self.stop_workers()


def make_agent(conf: cfg.ConfigOpts, bus: Bus | None = None) -> L3Agent:
    return L3Agent(conf, bus)
