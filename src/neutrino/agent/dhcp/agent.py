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

Networks no longer scheduled here lose their dnsmasq, namespace and files. Ports are reported
to the server (``dhcp_ready_on_ports``) once dnsmasq has read their entries.

Nothing lives only in memory: a restarted agent finds its dnsmasq processes by pid file and
command line and adopts them (no restart, no lease lost), and re-derives everything else from
the server and the host.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import shutil
import socket
import time
from typing import Any

from oslo_config import cfg
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.agent import base
from neutrino.agent.base import is_uuid
from neutrino.agent.dhcp import dnsmasq, plan, render
from neutrino.agent.dhcp.model import DesiredStateError, Network, parse_network
from neutrino.agent.linux import devices, names, namespaces
from neutrino.agent.linux.netlink import device_errors, ipr_for
from neutrino.bus import Bus
from neutrino.config import DEFAULT_STATE_PATH
from neutrino.protocol import dhcp as proto
from neutrino.protocol import rpc

LOG = logging.getLogger(__name__)

AGENT_TYPE = proto.AGENT_TYPE
BINARY = "neutrino-dhcp-agent"
TOPIC = "dhcp_agent"
IFA_F_NODAD = 0x02

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


def write_file(path: str, content: str) -> None:
    """Replace ``path`` atomically (dnsmasq never reads half a file), mode 0644: dnsmasq
    re-reads it after dropping root."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, content.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_file(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


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
    binary = BINARY
    topic = TOPIC
    host_state_type = proto.HostState

    def __init__(self, conf: cfg.ConfigOpts, bus: Bus | None = None) -> None:
        register_opts(conf)
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
        """Make ``net``'s namespace, port and dnsmasq as desired; returns the dnsmasq action
        taken and the ports to report ready."""
        ns = self.namespace(net.id)
        files = self.files(net.id)
        namespaces.create_namespace(ns)
        self.ensure_port(net, ns)
        os.makedirs(files.dir, mode=0o755, exist_ok=True)
        for d in (self.confs_dir, files.dir):
            if os.stat(d).st_mode & 0o777 != 0o755:
                os.chmod(d, 0o755)

        proc = dnsmasq.find(files, ns)
        if proc is not None and not proc.in_namespace:
            LOG.warning("network %s: dnsmasq %d serves a namespace that is gone; replacing "
                        "it", net.id, proc.pid)
            dnsmasq.stop(proc.pid, files)
            proc = None
        observed = plan.Observed(
            pid=proc.pid if proc else None,
            argv=proc.argv if proc else None,
            files={n: read_file(files.path(n)) for n in plan.FILE_NAMES},
            loaded=(read_file(files.loaded) or "").strip() or None,
        )
        p = plan.plan_dnsmasq(net, self.settings, files, observed, report_all=report_all)
        for name in p.write:
            write_file(files.path(name), p.files[name])
        entries = render.host_entries(net)
        interface = render.interface_name(net)

        if p.action in (plan.START, plan.RESTART):
            if proc is not None:
                dnsmasq.stop(proc.pid, files)
            for stray in dnsmasq.find_strays(files):
                dnsmasq.stop(stray, files)
            leases = render.bootstrap_leases(read_file(files.leases) or "", entries,
                                             self.settings.lease_duration, int(time.time()))
            write_file(files.leases, leases)
            started = time.monotonic()
            proc = dnsmasq.start(p.argv, ns, files)
            LOG.info("network %s: dnsmasq %s (%s), pid %d, in %.3f s", net.id,
                     "started" if p.action == plan.START else "restarted", p.reason,
                     proc.pid, time.monotonic() - started)
        else:
            assert proc is not None
            stale = render.stale_leases(render.parse_leases(read_file(files.leases) or ""),
                                        entries)
            for lease in stale:
                dnsmasq.release(lease, interface, ns)
            if p.action == plan.RELOAD:
                started = time.monotonic()
                if not dnsmasq.reload(proc, files):
                    raise base.ReconcileIncomplete(
                        f"dnsmasq {proc.pid} did not re-read {files.dir} after SIGHUP "
                        "(dead, or user nobody cannot read the files)")
                LOG.info("network %s: dnsmasq %d reloaded (%s) in %.3f s", net.id, proc.pid,
                         p.reason, time.monotonic() - started)
        if p.action is not None or observed.loaded != p.marker(proc.pid):
            write_file(files.loaded, p.marker(proc.pid) + "\n")
        return p.action, p.ready_ports

    # --- the DHCP port ---------------------------------------------------------------------
    def ensure_port(self, net: Network, ns: str) -> None:
        """The DHCP port's veth: tap in the host namespace, ns- in the qdhcp namespace with
        the port's MAC, addresses and the network's MTU; stale ns- devices removed.

        Read first (one link dump of the qdhcp namespace, one lookup of the tap), changed
        only where it differs: a converged port costs a handful of netlink requests."""
        port = net.dhcp_port
        assert port is not None
        tap, inner = names.tap_name(port.id), names.ns_device_name(port.id)
        found = {d.name: d for d in devices.list_devices(names.NS_DEVICE_PREFIX, ns)}
        for name in sorted(set(found) - {inner}):
            LOG.info("network %s: removing stale DHCP device %s", net.id, name)
            devices.delete_device(name, ns)
        mtu = net.mtu or None
        have_inner, have_tap = found.get(inner), devices.get_device(tap, self.netns)
        if not (have_inner and have_tap and have_inner.kind == have_tap.kind == "veth"
                and have_inner.up and have_tap.up and have_inner.mac == port.mac_address
                and (mtu is None or have_inner.mtu == have_tap.mtu == mtu)):
            if have_inner is None and devices.delete_device(tap, self.netns):
                # a tap without its namespace end: the namespace was deleted under us (the
                # kernel removes that tap asynchronously) or the pair was half-moved
                LOG.info("network %s: replacing %s, whose peer is gone", net.id, tap)
                self._wait_gone(tap)
            devices.ensure_veth(tap, inner, peer_netns=ns, mtu=mtu, netns=self.netns,
                                up=False)
            devices.set_mac_address(inner, port.mac_address, ns)
            devices.set_up(inner, ns)
            devices.set_up(tap, self.netns)
            have_inner = devices.require_device(inner, ns, "configure")
        self.ensure_addresses(net, inner, have_inner.index, ns)
        self.ensure_default_route(net, inner, have_inner.index, ns)

    def _wait_gone(self, device: str, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while devices.get_device(device, self.netns) is not None:
            if time.monotonic() > deadline:
                raise base.ReconcileIncomplete(f"{device} is still being deleted")
            time.sleep(0.01)

    def ensure_addresses(self, net: Network, dev: str, index: int, ns: str) -> None:
        port = net.dhcp_port
        assert port is not None
        wanted = set()
        for fip in port.fixed_ips:
            subnet = net.subnet(fip.subnet_id)
            if subnet is not None:
                wanted.add(str(ipaddress.ip_interface(
                    f"{fip.ip_address}/{subnet.network.prefixlen}")))
        have = set()
        ipr = ipr_for(ns)
        with device_errors(dev, "list addresses", ns):
            msgs = list(ipr.addr("dump", index=index))
        for m in msgs:
            if m["index"] != index:
                continue
            iface = ipaddress.ip_interface(f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}")
            if iface.version == 6 and iface.ip.is_link_local:
                continue
            have.add(str(iface))
        for cidr in sorted(have - wanted):
            devices.delete_address(dev, cidr, ns)
        for cidr in sorted(wanted - have):
            iface = ipaddress.ip_interface(cidr)
            # IPv6 without duplicate address detection: dnsmasq can use it at once
            flags = {"flags": IFA_F_NODAD} if iface.version == 6 else {}
            with device_errors(dev, f"add address {cidr}", ns, ignore=(errno.EEXIST,)):
                ipr.addr("add", index=index, address=str(iface.ip),
                         prefixlen=iface.network.prefixlen,
                         family=socket.AF_INET6 if iface.version == 6 else socket.AF_INET,
                         **flags)

    def ensure_default_route(self, net: Network, dev: str, index: int, ns: str) -> None:
        """A default route via the first IPv4 subnet's gateway (as Neutron's DHCP agent
        sets), so that dnsmasq can reach upstream DNS servers through the router."""
        port = net.dhcp_port
        assert port is not None
        gateway = None
        for fip in port.fixed_ips:
            subnet = net.subnet(fip.subnet_id)
            if subnet and subnet.ip_version == 4 and subnet.gateway_ip and (
                    ipaddress.ip_address(subnet.gateway_ip) in subnet.network):
                gateway = subnet.gateway_ip
                break
        ipr = ipr_for(ns)
        current = [(m.get_attr("RTA_GATEWAY"), m.get_attr("RTA_OIF"))
                   for m in ipr.route("dump", family=socket.AF_INET, table=254)
                   if not m.get_attr("RTA_DST") and m["dst_len"] == 0]
        if current == ([(gateway, index)] if gateway else []):
            return
        with device_errors(dev, "replace default route", ns, ignore=(errno.ESRCH,)):
            for _ in current:
                ipr.route("del", dst="0.0.0.0/0", family=socket.AF_INET, table=254)
            if gateway:
                ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=index,
                          family=socket.AF_INET)

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
