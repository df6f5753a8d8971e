"""The L3 agent: one ``qrouter-<router-id>`` namespace per router scheduled to this host.

    neutrino agent --role l3 --config-file /etc/neutrino/l3_agent.ini

    [DEFAULT]
    host = network1
    transport_url = rabbit://neutron:secret@controller:5672/
    interface_driver = linuxbridge   # or openvswitch (agent/interface.py)
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

import logging
import subprocess
import time
from typing import Any

from oslo_config import cfg
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent import actions, base, interface
from neutrino.agent.base import is_uuid
from neutrino.agent.l3 import nat, plan
from neutrino.agent.l3.model import DesiredStateError, Router, parse_router
from neutrino.agent.linux import devices, inventory, names, namespaces
from neutrino.agent.linux.errors import LinuxNetError
from neutrino.bus import Bus
from neutrino.protocol import l3 as proto
from neutrino.protocol import rpc

LOG = logging.getLogger(__name__)

AGENT_TYPE = proto.AGENT_TYPE
BINARY = "neutrino-l3-agent"
TOPIC = "l3_agent"


l3_opts = [
    cfg.StrOpt(
        "namespace_prefix",
        default="",
        help="Prefix of the qdhcp-/qrouter- namespace names the agents make, so that the "
        "agents of several simulated hosts on one machine do not share namespaces. Empty "
        "on a real host.",
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
    interface.register_opts(conf)
    for opt in l3_opts:
        try:
            conf.register_opt(opt)
        except cfg.DuplicateOptError:  # namespace_prefix: the DHCP agent's, same meaning
            LOG.debug("option %s already registered", opt.name)


class L3Agent(base.Agent):
    agent_type = AGENT_TYPE
    reports_availability_zone = True  # a zone of networks / routers
    binary = BINARY
    topic = TOPIC
    resource_key = "routers"
    resource_ids_arg = "router_ids"
    host_state_type = proto.HostState

    def __init__(self, conf: cfg.ConfigOpts, bus: Bus | None = None) -> None:
        register_opts(conf)
        self.interface = interface.make_interface(conf)  # ValueError: unknown driver
        self.interface_driver = interface.driver_name(conf)
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
            "interface_driver": self.interface_driver,
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
        """One router's namespace as it is, read through agent/linux: its devices with
        their addresses (a link and an address dump), its routes via gateways (a route
        dump per IP version), the forwarding sysctls, the NAT table, and the taps of
        ``router``'s ports in the host namespace."""
        ns = self.namespace(router_id)
        if not namespaces.namespace_exists(ns):
            return plan.Observed()
        found = {name: d for name, d in inventory.devices_with_addresses(ns).items()
                 if name != "lo"}
        taps = {}
        for _, port in (router.ports if router is not None else ()):
            tap = devices.get_device(names.tap_name(port.port_id), self.netns)
            if tap is not None:
                taps[tap.name] = plan.ObservedTap(kind=tap.kind, mtu=tap.mtu, up=tap.up)
        return plan.Observed(
            namespace=True, devices=found, taps=taps, routes=inventory.gateway_routes(ns),
            sysctls=inventory.read_sysctls(plan.FORWARDING_SYSCTLS, ns),
            nat=nat.parse_listing(inventory.nft_table(nat.FAMILY, nat.TABLE, ns)))

    # --- changing it -----------------------------------------------------------------------
    def apply(self, p: plan.RouterPlan) -> None:
        """Run the plan's actions in the router's namespace; a failed extra route does
        not stop the rest (it is reported after)."""
        target = actions.Target(self.namespace(p.router_id), self.netns,
                                interface=self.interface)
        try:
            failures = actions.execute(p.actions(self.garp_count), target)
        except actions.ExecutionError as e:
            raise e.cause from None
        finally:
            self._garps += target.background
        if failures:
            raise base.ReconcileIncomplete("; ".join(failures))

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
                if self.interface is not None:
                    self.interface.unplug_device(dev)
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
