"""The DHCP agent: one dnsmasq per network, in a ``qdhcp-<network-id>`` namespace.

    neutrino agent --role dhcp --config-file /etc/neutrino/dhcp_agent.ini

    [DEFAULT]
    host = network1
    transport_url = rabbit://neutron:secret@controller:5672/
    state_path = /var/lib/neutrino
    dhcp_lease_duration = 86400
    dns_domain = openstacklocal

For each network the server schedules to this host's DHCP agent it makes, idempotently:

- namespace ``<namespace_prefix>qdhcp-<network-id>``;
- the DHCP port as a veth: ``tap<port-id[:11]>`` in the host namespace (``host_namespace``,
  where the L2 agent attaches it to the network's bridge, as it does any port bound to this
  host) and ``ns-<port-id[:11]>`` in the qdhcp namespace with the port's MAC, addresses and
  the network's MTU;
- ``<state_path>/dhcp/<network-id>/``: host, addn_hosts, opts, leases, pid (Neutron's
  names) and ``loaded`` (which files the running dnsmasq has confirmed reading);
- a dnsmasq serving that port (see ``render`` for its command line and files, ``plan`` for
  when it is started, reloaded with SIGHUP or restarted).

Each network is observed (``observe``, through ``agent/linux``), planned (``plan``, pure)
and the plan's actions executed (``actions``, agent/actions.py).

Networks no longer scheduled here lose their dnsmasq, namespace and files. Ports are reported
to the server (``dhcp_ready_on_ports``) once dnsmasq has read their entries.

Nothing lives only in memory: a restarted agent finds its dnsmasq processes by pid file and
command line and adopts them (no restart, no lease lost), and re-derives everything else from
the server and the host.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from typing import Any

from oslo_config import cfg
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent import actions, base, interface
from neutrino.agent.base import is_uuid
from neutrino.agent.dhcp import dnsmasq, plan, render
from neutrino.agent.dhcp.actions import read_file
from neutrino.agent.dhcp.model import DesiredStateError, Network, parse_network
from neutrino.agent.linux import devices, inventory, names, namespaces
from neutrino.bus import Bus
from neutrino.config import DEFAULT_STATE_PATH
from neutrino.protocol import dhcp as proto
from neutrino.protocol import rpc

LOG = logging.getLogger(__name__)

AGENT_TYPE = proto.AGENT_TYPE
BINARY = "neutrino-dhcp-agent"
TOPIC = "dhcp_agent"

dhcp_opts = [
    cfg.StrOpt(
        "namespace_prefix",
        default="",
        help="Prefix of the qdhcp- namespace names this agent makes "
        "(<prefix>qdhcp-<network-id>), so that the agents of several simulated hosts on "
        "one machine do not share namespaces. Empty on a real host.",
    ),
    cfg.IntOpt(
        "dhcp_lease_duration",
        default=86400,
        min=-1,
        help="DHCP lease time in seconds; -1: infinite.",
    ),
    cfg.StrOpt(
        "dns_domain",
        default="openstacklocal",
        help="Domain of the host names dnsmasq hands out and resolves.",
    ),
    cfg.IntOpt(
        "dnsmasq_lease_max",
        default=render.DEFAULT_LEASE_MAX,
        min=1,
        help="Most leases one dnsmasq keeps.",
    ),
    cfg.ListOpt(
        "dnsmasq_dns_servers",
        default=[],
        help="Upstream DNS servers dnsmasq forwards other names to; none: it answers only "
        "for the network's own names.",
    ),
]

state_opts = [
    cfg.StrOpt("state_path", default=DEFAULT_STATE_PATH, help="Where neutrino keeps its "
               "state."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    base.register_agent_opts(conf)
    interface.register_opts(conf)
    for opt in dhcp_opts + state_opts:
        try:
            conf.register_opt(opt)
        except cfg.DuplicateOptError:  # defined elsewhere too (the server's dns_domain)
            LOG.debug("option %s already registered", opt.name)


def settings_from(conf: cfg.ConfigOpts) -> render.DnsmasqSettings:
    return render.DnsmasqSettings(
        lease_duration=conf.dhcp_lease_duration,
        domain=conf.dns_domain or "",
        lease_max=conf.dnsmasq_lease_max,
        dns_servers=tuple(s.strip() for s in conf.dnsmasq_dns_servers if s.strip()),
    )


def unreadable_for_others(path: str) -> str | None:
    """The first directory on the way to ``path`` that users other than root cannot
    traverse (dnsmasq reads its files as "nobody" after a SIGHUP), or None."""
    path = os.path.abspath(path)
    parts = []
    while True:
        parts.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for p in reversed(parts):
        try:
            mode = os.stat(p).st_mode
        except FileNotFoundError:
            return None  # created by us, with the right mode
        if not mode & 0o001:
            return p
    return None


class DhcpAgent(base.Agent):
    agent_type = AGENT_TYPE
    reports_availability_zone = True  # a zone of networks / routers
    binary = BINARY
    topic = TOPIC
    host_state_type = proto.HostState

    def __init__(self, conf: cfg.ConfigOpts, bus: Bus | None = None) -> None:
        register_opts(conf)
        self.interface = interface.make_interface(conf)  # ValueError: unknown driver
        self.interface_driver = interface.driver_name(conf)
        super().__init__(conf, bus)
        self.settings = settings_from(conf)
        self.namespace_prefix: str = conf.namespace_prefix or ""
        self.confs_dir = os.path.join(conf.state_path, "dhcp")
        # for configurations() only; the last desired state served
        self._served: dict[str, tuple[int, int]] = {}  # network id -> (subnets, ports)
        self.failed_networks: dict[str, str] = {}
        self.last_actions: dict[str, str | None] = {}  # network id -> action of last pass
        blocked = unreadable_for_others(self.confs_dir)
        if blocked:
            LOG.warning("%s is not searchable by other users: dnsmasq, which drops root "
                        "for 'nobody', cannot re-read its files there (chmod o+x it, or "
                        "choose another state_path)", blocked)

    # --- names -----------------------------------------------------------------------------
    def namespace(self, network_id: str) -> str:
        return self.namespace_prefix + names.dhcp_namespace(network_id)

    def files(self, network_id: str) -> render.NetworkFiles:
        return render.NetworkFiles.for_network(self.confs_dir, network_id)

    def configurations(self) -> dict[str, Any]:
        served = dict(self._served)
        return {
            "networks": len(served),
            "subnets": sum(s for s, _ in served.values()),
            "ports": sum(p for _, p in served.values()),
            "dhcp_driver": "dnsmasq",
        }

    # --- what the host has -----------------------------------------------------------------
    def existing_networks(self) -> set[str]:
        """Networks this agent has anything of: a state directory or a namespace (named
        by a network id: anything else there is not this agent's to remove)."""
        found = set()
        with contextlib.suppress(FileNotFoundError):
            found.update(e for e in os.listdir(self.confs_dir)
                         if is_uuid(e) and os.path.isdir(os.path.join(self.confs_dir, e)))
        ns_prefix = self.namespace_prefix + names.DHCP_NS_PREFIX
        found.update(nid for nid in (ns[len(ns_prefix):] for ns in
                                     namespaces.list_namespaces(ns_prefix)) if is_uuid(nid))
        return found

    # --- reconcile -------------------------------------------------------------------------
    def reconcile(self, state: proto.HostState, network_ids: set[str] | None,
                  invalid: dict[str, str]) -> None:
        desired, errors = base.parse_desired(state.networks, parse_network,
                                             DesiredStateError, LOG, invalid)
        host_plan = plan.plan_host(desired, network_ids, self.existing_networks(), errors)
        full = network_ids is None
        ready: list[str] = []
        actions: dict[str, str | None] = {}
        for net in host_plan.converge:
            try:
                action, ports = self.converge(net, report_all=full)
            except Exception as e:
                LOG.error("network %s: %s", net.id, e, exc_info=not isinstance(
                    e, OSError | NetlinkError | base.ReconcileIncomplete))
                errors[net.id] = str(e)
                continue
            actions[net.id] = action
            ready.extend(ports)
            self._served[net.id] = (len(net.subnets), len(net.ports))
        for nid in host_plan.teardown:
            try:
                self.teardown(nid)
                actions[nid] = "teardown"
            except Exception as e:
                LOG.error("network %s: teardown failed: %s", nid, e)
                errors[nid] = f"teardown: {e}"
        base.forget_unserved(self._served, {n.id for n in host_plan.converge}, network_ids)
        self.last_actions = actions
        self.failed_networks = errors
        if ready:
            self.cast(rpc.DHCP_READY_ON_PORTS,
                      rpc.DhcpReady(host=self.host, port_ids=sorted(set(ready))))
        if errors:
            raise base.ReconcileIncomplete("networks not converged: " + "; ".join(
                f"{nid}: {why}" for nid, why in sorted(errors.items())))

    def converge(self, net: Network, *, report_all: bool = False
                 ) -> tuple[str | None, tuple[str, ...]]:
        """Make ``net``'s namespace, port and dnsmasq as desired: observe, plan (pure:
        ``plan.plan_network``), execute. Returns the dnsmasq action taken and the ports
        to report ready."""
        p = plan.plan_network(net, self.observe(net), self.settings, self.files(net.id),
                              self.state_dirs(net.id), report_all=report_all)
        try:
            actions.execute(p.actions, actions.Target(self.namespace(net.id), self.netns,
                                                      interface=self.interface))
        except actions.ExecutionError as e:
            raise e.cause from None
        return p.dnsmasq.action, p.ready_ports

    def state_dirs(self, network_id: str) -> tuple[str, ...]:
        return (self.confs_dir, self.files(network_id).dir)

    def observe(self, net: Network) -> plan.NetworkObserved:
        """The network's DHCP service as the host has it, read through agent/linux (a
        link and an address dump of the namespace, its default routes, the tap) and from
        the state directory and /proc (dnsmasq by its pid file)."""
        ns, files = self.namespace(net.id), self.files(net.id)
        port = net.dhcp_port
        assert port is not None
        exists = namespaces.namespace_exists(ns)
        found: dict[str, plan.ObservedDevice] = {}
        routes: list[tuple[str | None, int]] = []
        if exists:
            found = {name: d for name, d in inventory.devices_with_addresses(ns).items()
                     if name.startswith(names.NS_DEVICE_PREFIX)}
            routes = inventory.default_routes(ns)
        tap = devices.get_device(names.tap_name(port.id), self.netns)
        proc = dnsmasq.find(files, ns)
        dirs: dict[str, int | None] = {}
        for d in self.state_dirs(net.id):
            try:
                dirs[d] = os.stat(d).st_mode & 0o777
            except FileNotFoundError:
                dirs[d] = None
        return plan.NetworkObserved(
            namespace=exists, devices=found,
            tap=inventory.DeviceState.of(tap) if tap else None,
            default_routes=tuple(routes), dirs=dirs, process=proc,
            dnsmasq=plan.Observed(
                pid=proc.pid if proc else None, argv=proc.argv if proc else None,
                files={n: read_file(files.path(n)) for n in plan.FILE_NAMES},
                loaded=(read_file(files.loaded) or "").strip() or None),
            leases=read_file(files.leases))

    # --- teardown --------------------------------------------------------------------------
    def teardown(self, network_id: str) -> None:
        """Stop the network's dnsmasq (by pid, checked), delete its namespace (its devices
        and the tap in the host namespace go with it) and its files."""
        files = self.files(network_id)
        for pid in dnsmasq.find_strays(files):
            dnsmasq.stop(pid, files)
        ns = self.namespace(network_id)
        if namespaces.namespace_exists(ns):
            for dev in devices.list_devices(names.NS_DEVICE_PREFIX, ns):
                devices.delete_device(dev.name, ns)
                if self.interface is not None:
                    self.interface.unplug_device(dev.name)
            namespaces.delete_namespace(ns)
        shutil.rmtree(files.dir, ignore_errors=True)
        LOG.info("network %s: DHCP removed", network_id)

    def stop_all(self) -> None:
        """Tear down every network this agent has (for tests and decommissioning a host);
        a normal stop leaves dnsmasq running, for the next agent to adopt."""
        for nid in sorted(self.existing_networks()):
            self.teardown(nid)


def make_agent(conf: cfg.ConfigOpts, bus: Bus | None = None) -> DhcpAgent:
    return DhcpAgent(conf, bus)
