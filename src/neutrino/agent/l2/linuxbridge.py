"""The Linux bridge L2 agent: networks as Linux bridges, VXLAN in l2population form.

    neutrino agent --role linuxbridge --config-file /etc/neutrino/linuxbridge_agent.ini

    [DEFAULT]
    host = compute1
    transport_url = rabbit://neutron:secret@controller:5672/
    [AGENT]
    polling_interval = 2
    [linux_bridge]
    physical_interface_mappings = provider:eth1
    [vxlan]
    enable_vxlan = true
    local_ip = 192.0.2.11
    l2_population = true
    [securitygroup]
    enable_security_group = true
    firewall_driver = nftables

What it builds is decided by ``bridge_plan`` (pure functions, unit-tested) from the server's
desired state and what the kernel has; this module reads the kernel, applies plans and
tells the server which ports it wired (``update_device_up``) or unwired
(``update_device_down``).

Nothing it needs lives only in its memory: desired state comes from the server, the rest
from the kernel. The memory it has (the last desired state, the ports it reported up) only
saves work; a restarted agent re-derives everything, finds a converged host converged and
changes nothing, so traffic through it does not notice.

Devices appearing or disappearing (an instance plugged or unplugged) are noticed by netlink
link events in the host namespace, with a device-list diff every ``polling_interval`` as the
fallback; a new tap resyncs the networks of its port from the server, not the whole host.

Security groups (``firewall/``) are converged with the rest on every resync, and on their
own on a ``{"security_groups": [...]}`` hint (see ``update_security_groups``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import msgspec
from oslo_config import cfg
from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import RTMGRP_LINK

from neutrino import protocol
from neutrino.agent import actions, base
from neutrino.agent.l2 import bridge_plan as bp
from neutrino.agent.l2 import firewall
from neutrino.agent.l2.firewall import model as fwmodel
from neutrino.agent.linux import names, snapshot
from neutrino.agent.linux.fdb import normalize_ip
from neutrino.bus import Bus
from neutrino.protocol import linuxbridge as lb
from neutrino.protocol import rpc

LOG = logging.getLogger(__name__)

AGENT_TYPE = lb.AGENT_TYPE
# Plans with at least this many actions go through iproute2's batch mode first.
BATCH_THRESHOLD = 12
BINARY = "neutrino-linuxbridge-agent"

linux_bridge_opts = [
    cfg.ListOpt(
        "physical_interface_mappings",
        default=[],
        help="physical_network:interface pairs: the host interface each physical network "
        "(of flat and vlan networks) is reached through.",
    ),
]

vxlan_opts = [
    cfg.BoolOpt("enable_vxlan", default=True, help="Build VXLAN networks on this host."),
    cfg.StrOpt(
        "local_ip",
        help="This host's tunnel endpoint address (an address of one of its interfaces; "
        "the VXLAN devices are bound to that interface).",
    ),
    cfg.BoolOpt(
        "l2_population",
        default=True,
        help="VXLAN forwarding from the server's l2population entries (no flooding to a "
        "multicast group, ARP answered locally). Needs the l2population mechanism driver.",
    ),
    cfg.StrOpt(
        "vxlan_group",
        help="Multicast group (or CIDR range of groups, spread by VNI) for VXLAN when "
        "l2_population is off.",
    ),
    cfg.PortOpt("udp_dstport", default=4789, help="UDP port of VXLAN tunnels."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    base.register_agent_opts(conf)
    conf.register_opts(linux_bridge_opts, group="linux_bridge")
    conf.register_opts(vxlan_opts, group="vxlan")
    firewall.register_opts(conf)


def parse_mappings(values: Iterable[str]) -> dict[str, str]:
    """``["physnet1:eth1", ...]`` -> {"physnet1": "eth1"}; ValueError on a bad entry,
    a physical network mapped twice or an interface used twice."""
    out: dict[str, str] = {}
    for raw in values:
        item = raw.strip()
        if not item:
            continue
        physnet, sep, iface = item.partition(":")
        physnet, iface = physnet.strip(), iface.strip()
        if not sep or not physnet or not iface:
            raise ValueError(f"invalid physical_interface_mappings entry {item!r} "
                             "(want physical_network:interface)")
        names.check_device_name(iface)
        if physnet in out:
            raise ValueError(f"physical network {physnet} is mapped twice")
        if iface in out.values():
            raise ValueError(f"interface {iface} is mapped to two physical networks")
        out[physnet] = iface
    return out


def bridge_config(conf: cfg.ConfigOpts) -> bp.BridgeConfig:
    return bp.BridgeConfig(
        interface_mappings=parse_mappings(conf.linux_bridge.physical_interface_mappings),
        enable_vxlan=conf.vxlan.enable_vxlan,
        local_ip=normalize_ip(conf.vxlan.local_ip) if conf.vxlan.local_ip else None,
        l2_population=conf.vxlan.l2_population,
        vxlan_group=conf.vxlan.vxlan_group or None,
        udp_dstport=conf.vxlan.udp_dstport,
    )


# --- reading the kernel --------------------------------------------------------------------
def read_kernel(netns: str | None, fdb_of: Iterable[str] = ()) -> bp.KernelState:
    """Everything a plan needs, in four bulk reads (see linux/snapshot.py): links (with
    VXLAN/VLAN parameters), addresses, and the fdb/neighbour entries of the VXLAN devices
    named in ``fdb_of``."""
    snap = snapshot.read(netns, fdb_of)
    vxlans = {n: v for n, v in snap.vxlans.items() if names.vni_from_vxlan_name(n) is not None}
    return bp.KernelState(devices=snap.devices, vxlans=vxlans, vlans=snap.vlans,
                          fdb=snap.fdb, addresses=snap.addresses)


class LinuxBridgeAgent(base.Agent):
    agent_type = AGENT_TYPE
    binary = BINARY
    host_state_type = lb.HostState

    def __init__(self, conf: cfg.ConfigOpts, bus: Bus | None = None) -> None:
        register_opts(conf)
        super().__init__(conf, bus)
        self.config = bridge_config(conf)
        # Caches, rebuilt from the server and the kernel after a restart (see module doc).
        self._desired: dict[str, bp.NetworkSpec] = {}
        self._tap_ports: dict[str, tuple[str, str]] = {}  # tap -> (port id, network id)
        self._reported_up: set[str] = set()
        self._first_full_done = False
        self._events_lock = threading.Lock()
        self._appeared: set[str] = set()
        self._gone: set[str] = set()
        self._wake = threading.Event()
        self._event_ipr: IPRoute | None = None
        self.last_plan: bp.Plan | None = None
        self.failed_networks: dict[str, str] = {}  # network id -> why, from the last pass
        # network id -> its actions that failed in the last apply (_report: which ports
        # are wired)
        self.failed_actions: dict[str, list[actions.Action]] = {}
        self._devices = 0
        # Security groups (firewall/): the last desired firewall state, merged like
        # _desired, and the groups hinted as changed (guarded by _events_lock).
        self.firewall = firewall.make_firewall(conf, self.netns)
        self._fw_state = fwmodel.FirewallState()
        self._sg_hinted: set[str] = set()
        self.firewall_error: str | None = None
        # Security-group hints are served by a thread of their own, so a membership
        # change does not wait behind a network resync (hundreds of ms with 1000 ports);
        # _fw_lock serializes the two writers of the firewall. Data of a group is never
        # replaced by data from a fetch that started earlier (_rules_fetched and
        # _members_fetched: group -> start of the fetch its rules / members came from,
        # for groups the state holds them of): every commit after a fetch started is
        # hinted again, so the later fetch is never the staler one. Rules and members
        # are tracked apart: a group can be held as a remote group (its members) while
        # its rules were pruned (no port of ours in it yet).
        self._fw_lock = threading.Lock()
        self._rules_fetched: dict[str, float] = {}
        self._members_fetched: dict[str, float] = {}
        self._fetch_started = 0.0
        self._sg_wake = threading.Event()

    def configurations(self) -> dict[str, Any]:
        c = self.config
        return {
            "interface_mappings": dict(c.interface_mappings),
            "bridge_mappings": {},
            # only what this host can build: VXLAN needs its endpoint address, or ports
            # would bind here and never be wired
            "tunnel_types": ["vxlan"] if c.enable_vxlan and c.local_ip else [],
            "tunneling_ip": c.local_ip,
            "l2_population": c.l2_population,
            "devices": self._devices,  # ports wired, as of the last pass
        }

    # --- reconcile ---------------------------------------------------------------------------
    def reconcile(self, state: lb.HostState, network_ids: set[str] | None,
                  invalid: dict[str, str]) -> None:
        if invalid:
            # a network left out would look unwanted: its bridge would go; change nothing
            raise base.ReconcileIncomplete("networks not understood: " + "; ".join(
                f"{nid}: {why}" for nid, why in sorted(invalid.items())))
        desired = bp.parse_host_state(state)
        # The firewall first: a port's rules are in place before its tap joins the bridge.
        fw = fwmodel.parse_host_state(state)
        with self._fw_lock:
            fetched = self._fetch_started
            old = self._fw_state
            newer_rules = {g for g, at in self._rules_fetched.items()
                           if at > fetched and g in old.groups}
            newer_members = {g for g, at in self._members_fetched.items()
                             if at > fetched and g in old.remote_groups}
            fw = fw.keep_groups(old, newer_rules, newer_members)
            self._fw_state = fw if network_ids is None else old.merge_networks(fw, network_ids)
            for g in set(fw.groups) - newer_rules:
                self._rules_fetched[g] = fetched
            for g in set(fw.remote_groups) - newer_members:
                self._members_fetched[g] = fetched
            self._forget_fetches()
            self._converge_firewall(from_kernel=network_ids is None)
        if network_ids is None:
            self._desired = dict(desired)
        else:
            for nid in network_ids:
                self._desired.pop(nid, None)
            self._desired.update(desired)
        for net in desired.values():
            for p in net.ports:
                self._tap_ports[p.device] = (p.id, net.id)
        fdb_of = [names.vxlan_name(n.segmentation_id) for n in desired.values()
                  if n.network_type == "vxlan" and n.segmentation_id and n.ports]
        kernel = read_kernel(self.netns, fdb_of)
        known = {tap: pid for tap, (pid, _) in self._tap_ports.items()}
        plan = bp.plan_host(desired, network_ids, kernel, self.config, known)
        self.last_plan = plan
        if len(plan.actions) >= BATCH_THRESHOLD:
            # Many changes (a fresh host, a reboot): iproute2 batches first, then whatever
            # is still not right one request at a time, with per-network errors.
            self.apply_batch(plan, kernel)
            kernel = read_kernel(self.netns, fdb_of)
            residual = bp.plan_host(desired, network_ids, kernel, self.config, known)
            if residual:
                LOG.info("%d change(s) left after the batch", len(residual.actions))
            errors = self.apply(residual)
        else:
            errors = self.apply(plan)
        self._report(plan, errors, full=network_ids is None)
        self._devices = sum(1 for n in self._desired.values() for p in n.ports
                            if p.id in self._reported_up)
        if network_ids is None:
            self._first_full_done = True
            live = {p.device for n in self._desired.values() for p in n.ports}
            self._tap_ports = {t: v for t, v in self._tap_ports.items() if t in live}
        if errors:
            raise base.ReconcileIncomplete("networks not converged: " + "; ".join(
                f"{nid}: {why}" for nid, why in sorted(errors.items())))
        if self.firewall_error:
            raise base.ReconcileIncomplete(f"firewall not converged: {self.firewall_error}")

    # --- security groups ---------------------------------------------------------------------
    def _converge_firewall(self, *, from_kernel: bool) -> None:
        """Program ``_fw_state``; a failure is remembered (the bridges are still
        converged) and makes the pass incomplete, so it is retried."""
        try:
            self.firewall.converge(self._fw_state, from_kernel=from_kernel)
            self.firewall_error = None
        except Exception as e:
            LOG.error("firewall update failed: %s", e)
            self.firewall_error = str(e)

    def _forget_fetches(self) -> None:
        """Keep fetch times only of what the firewall state holds."""
        state = self._fw_state
        self._rules_fetched = {g: t for g, t in self._rules_fetched.items()
                               if g in state.groups}
        self._members_fetched = {g: t for g, t in self._members_fetched.items()
                                 if g in state.remote_groups}

    def get_host_state(self, network_ids: set[str] | None
                       ) -> tuple[lb.HostState, dict[str, str]]:
        started = time.monotonic()
        reply = super().get_host_state(network_ids)
        self._fetch_started = started  # read by reconcile, in this (the worker) thread
        return reply

    def on_hint(self, hint: rpc.Hint) -> None:
        super().on_hint(hint)
        groups = hint.security_groups
        if groups is not msgspec.UNSET and groups:
            with self._events_lock:
                self._sg_hinted.update(groups)
            self._sg_wake.set()

    def _security_group_worker(self) -> None:
        while self.running:
            self._sg_wake.wait(1.0)
            self._sg_wake.clear()
            with self._events_lock:
                hinted, self._sg_hinted = self._sg_hinted, set()
            if not hinted or not self.running:
                continue
            if not self._first_full_done:
                # before the first full resync the firewall state knows no ports: an
                # update now would unfilter them; that resync brings the groups anyway
                with self._events_lock:
                    self._sg_hinted |= hinted
                continue
            try:
                self.update_security_groups(hinted)
            except Exception as e:
                # a full resync brings every group's rules and members too
                LOG.warning("security group update of %s failed (%s); resyncing",
                            sorted(hinted), e)
                self.request_resync(None, "security group update failed")

    def get_security_groups(self, group_ids: Iterable[str]) -> lb.SecurityGroupsState:
        """get_host_state narrowed to security groups: rules and remote-group members
        only, no networks (docs/agent-protocol.md)."""
        reply = self.call(rpc.GET_HOST_STATE, rpc.GetHostState(
            host=self.host, agent_type=self.agent_type,
            security_group_ids=sorted(group_ids)))
        if not isinstance(reply, dict) or "networks" in reply:
            raise ValueError("get_host_state ignored security_group_ids (a server without "
                             "security groups?)")
        return protocol.decode(reply, lb.SecurityGroupsState, peer="server")

    def update_security_groups(self, group_ids: set[str]) -> None:
        """A security-group hint: new rules / members of ``group_ids``, firewall only
        (remote-group membership changes become set element updates)."""
        if isinstance(self.firewall, firewall.NoopFirewall):
            return
        t0 = time.monotonic()
        reply = self.get_security_groups(group_ids)
        fetched = time.monotonic() - t0
        with self._fw_lock:
            rules = [g for g in group_ids if self._rules_fetched.get(g, -1.0) <= t0]
            members = [g for g in group_ids if self._members_fetched.get(g, -1.0) <= t0]
            self._fw_state = self._fw_state.merge_groups(reply, rules, members)
            # only what is kept counts as newer: rules pruned here (no port of ours in
            # the group yet, its network resync still to come) must not hide that
            # resync's rules for it, even if the group's members are kept
            self._rules_fetched.update((g, t0) for g in rules if g in self._fw_state.groups)
            self._members_fetched.update(
                (g, t0) for g in members if g in self._fw_state.remote_groups)
            self._forget_fetches()
            self._converge_firewall(from_kernel=False)
        LOG.info("security groups %s: fetched in %.3f s, firewall updated in %.3f s",
                 sorted(group_ids), fetched, time.monotonic() - t0 - fetched)
        if self.firewall_error:
            raise RuntimeError(f"firewall not converged: {self.firewall_error}")

    def apply(self, plan: bp.Plan) -> dict[str, str]:
        """Apply ``plan``, one action at a time; returns {network id: error} of the
        networks that failed. A failing network does not stop the others."""
        errors: dict[str, str] = {}
        self.failed_actions = {}
        target = actions.Target(self.netns)
        for net in plan.networks:
            if net.error:
                errors[net.network_id] = net.error
                continue
            try:  # the bridge and segment first: every port needs them
                actions.execute([a for a in net.actions if not bp.is_port_action(a)],
                                target)
            except actions.ExecutionError as e:
                LOG.error("network %s: %s failed: %s", net.network_id, e.action, e)
                errors[net.network_id] = str(e)
                self.failed_actions[net.network_id] = [e.action]
                continue
            # then each port on its own: one tap refused (a full bridge: EXFULL) does not
            # keep the others unwired, nor down (_report)
            bad: list[actions.Action] = []
            first = ""
            for action in (a for a in net.actions if bp.is_port_action(a)):
                try:
                    action.apply(target)
                except Exception as e:
                    if not bad:
                        first = f"{action} failed: {e}"
                    bad.append(action)
            if bad:
                LOG.error("network %s: %d port change(s) failed, the first: %s",
                          net.network_id, len(bad), first)
                errors[net.network_id] = f"{len(bad)} port change(s) failed, the first: {first}"
                self.failed_actions[net.network_id] = bad
        cleanup_failed = False
        for action in plan.cleanup:  # each on its own: one failure does not stop the rest
            try:
                action.apply(target)
            except Exception as e:
                LOG.error("cleanup %s failed: %s", action, e)
                cleanup_failed = True
        if cleanup_failed:
            errors["<cleanup>"] = "removing devices of networks no longer here failed"
        if plan.actions:
            LOG.info("applied %d change(s)%s", len(plan.actions),
                     f", {len(errors)} network(s) failed" if errors else "")
        self.failed_networks = errors
        return errors

    def apply_batch(self, plan: bp.Plan, kernel: bp.KernelState) -> None:
        """Render the plan into ``ip -batch`` / ``bridge -batch`` and run it (best effort:
        the caller re-reads the kernel and applies what is left one by one)."""
        batch = actions.Batch(observed=kernel)
        batch.add(plan.actions)
        batch.run(self.netns)
        LOG.info("batched %d change(s)", len(plan.actions))

    def _report(self, plan: bp.Plan, errors: dict[str, str], *, full: bool) -> None:
        up: list[str] = []
        down: list[str] = list(plan.ports_down)
        for net in plan.networks:
            down.extend(net.ports_down)
            failed = self.failed_actions.get(net.network_id, [])
            if net.network_id in errors and not (
                    failed and all(bp.is_port_action(a) for a in failed)):
                continue  # its planning, bridge or segment failed: left as it was
            wired = bp.wired_ports(net, failed)
            # a port reported up earlier whose own change failed now is not wired either
            down.extend(p for p in net.ports_up
                        if p not in wired and p in self._reported_up)
            if full:
                up.extend(wired)
            else:
                up.extend(p for p in wired
                          if p in net.ports_attached or p not in self._reported_up)
            for pid in net.ports_unplugged:
                if pid in self._reported_up or (full and not self._first_full_done):
                    down.append(pid)
        if up:
            self.cast(rpc.UPDATE_DEVICE_UP, rpc.DevicesUpDown(
                host=self.host, agent_type=self.agent_type, port_ids=sorted(set(up))))
            self._reported_up.update(up)
        if down:
            self.cast(rpc.UPDATE_DEVICE_DOWN, rpc.DevicesUpDown(
                host=self.host, agent_type=self.agent_type, port_ids=sorted(set(down))))
            self._reported_up.difference_update(down)

    # --- devices appearing / disappearing ------------------------------------------------------
    def start_workers(self) -> None:
        self._spawn("devices", self._watch_devices)
        self._spawn("link-events", self._link_events)
        self._spawn("security-groups", self._security_group_worker)

    def stop_workers(self) -> None:
        self._wake.set()
        self._sg_wake.set()
        ipr, self._event_ipr = self._event_ipr, None
        if ipr is not None:
            try:
                ipr.close()
            except Exception:
                LOG.debug("closing the link event socket failed", exc_info=True)

    def _list_taps(self) -> set[tuple[str, int]]:
        return snapshot.link_names(self.netns, names.TAP_PREFIX)

    def _watch_devices(self) -> None:
        """Diff the host's tap devices every polling_interval (sooner on a link event)."""
        previous: set[tuple[str, int]] | None = None
        while self.running:
            try:
                current = self._list_taps()
            except Exception as e:
                LOG.warning("listing devices failed: %s", e)
                current = None
            if current is not None:
                if previous is not None and current != previous:
                    appeared = {n for n, _ in current - previous}
                    gone = {n for n, _ in previous - current}
                    with self._events_lock:
                        self._appeared |= appeared
                        self._gone |= gone
                    self.request_local()
                previous = current
            self._wake.wait(self.polling_interval)
            self._wake.clear()

    def _link_events(self) -> None:
        """Wake the device diff as soon as the kernel says a link changed."""
        while self.running:
            try:
                ipr = IPRoute(netns=self.netns, flags=0, groups=RTMGRP_LINK) if self.netns \
                    else IPRoute(groups=RTMGRP_LINK)
                ipr.bind(groups=RTMGRP_LINK)
                self._event_ipr = ipr
                while self.running:
                    msgs = ipr.get()
                    if any(m.get("event") in ("RTM_NEWLINK", "RTM_DELLINK")
                           and (m.get_attr("IFLA_IFNAME") or "").startswith(names.TAP_PREFIX)
                           for m in msgs):
                        self._wake.set()
            except Exception as e:
                if not self.running:
                    return
                LOG.debug("link event socket failed (%s); polling only for a while", e)
                time.sleep(max(1.0, self.polling_interval))
            finally:
                ipr_now, self._event_ipr = self._event_ipr, None
                if ipr_now is not None:
                    with contextlib.suppress(Exception):
                        ipr_now.close()

    def local_work(self) -> None:
        with self._events_lock:
            appeared, gone = self._appeared, self._gone
            self._appeared, self._gone = set(), set()
        if gone:
            present = {n for n, _ in self._list_taps()}
            down = sorted({self._tap_ports[t][0] for t in gone
                           if t in self._tap_ports and t not in present
                           and self._tap_ports[t][0] in self._reported_up})
            if down:
                LOG.info("ports unplugged: %s", down)
                self.cast(rpc.UPDATE_DEVICE_DOWN, rpc.DevicesUpDown(
                    host=self.host, agent_type=self.agent_type, port_ids=down))
                self._reported_up.difference_update(down)
        if appeared:
            nets = {self._tap_ports[t][1] for t in appeared if t in self._tap_ports}
            unknown = sorted(t for t in appeared if t not in self._tap_ports)
            if unknown:
                self.request_resync(None, f"new devices {unknown}")
            elif nets:
                self.request_resync(nets, f"new devices {sorted(appeared)}")


def make_agent(conf: cfg.ConfigOpts, bus: Bus | None = None) -> LinuxBridgeAgent:
    return LinuxBridgeAgent(conf, bus)
