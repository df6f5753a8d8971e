"""The Open vSwitch L2 agent: ``neutrino agent --role openvswitch`` (options:
agent/ovs/config.py; layout and flows: agent/ovs/plan.py; docs/ovs-agent.md).

Each resync: the server's desired state (get_host_state, protocol.ovs) and OVSDB's rows ->
phase 1, a pure plan of OVSDB operations (bridges, patch and tunnel ports, each instance
port's local VLAN tag recorded in its other_config) applied in one ovsdbapp transaction ->
phase 2, every flow of every bridge planned from the desired state and the ofports, applied
per bridge as one atomic ``ovs-ofctl --bundle replace-flows`` (only differences are sent).

Nothing lives only in memory: local VLANs are in OVSDB, flows carry the agent's cookie
(kept in br-int's external_ids), so a restarted agent plans exactly what is there and
changes nothing. Its memory (the last desired state, the ports reported up) only saves
work and is rebuilt by the first (full) resync.

Instances are noticed by polling the IDL replica's ``iface-id`` of br-int's ports every
``polling_interval`` (cheap: no round trip); a missing canary flow (br-int table 23) means
ovs-vswitchd lost its flows (restarted), and brings a full resync.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

import msgspec
from oslo_config import cfg

from neutrino.agent import base
from neutrino.agent.l2.firewall import model as fwmodel
from neutrino.agent.ovs import config as ovs_config
from neutrino.agent.ovs import plan as p
from neutrino.agent.ovs.model import NetworkSpec, Observed, parse_host_state
from neutrino.agent.ovs.ofctl import Ofctl
from neutrino.agent.ovs.ovsdb import Ovsdb
from neutrino.bus import Bus
from neutrino.protocol import ovs as proto
from neutrino.protocol import rpc

LOG = logging.getLogger(__name__)
BINARY = "neutrino-openvswitch-agent"


class OvsAgent(base.Agent):
    agent_type = proto.AGENT_TYPE
    binary = BINARY
    host_state_type = proto.HostState

    def __init__(self, conf: cfg.ConfigOpts, bus: Bus | None = None) -> None:
        ovs_config.register_opts(conf)
        super().__init__(conf, bus)
        self.config = ovs_config.ovs_config(conf)
        self.ovsdb: Ovsdb | None = None
        self.ofctl = Ofctl(conf.ovs.ovs_rundir)
        self._desired: dict[str, NetworkSpec] = {}
        # security groups (firewall_driver openvswitch), merged like _desired
        self._fw_state = fwmodel.FirewallState()
        self._reported_up: set[str] = set()
        self._known_ifaces: dict[str, str] = {}
        self._desired_ids: frozenset[str] = frozenset()  # for other threads: a snapshot
        # bridge -> (cookie, flows) last programmed there (to skip a partial pass's no-op)
        self._programmed: dict[str, tuple[int, tuple[str, ...]]] = {}
        self._devices = 0
        self._wake = threading.Event()
        self.cookie: int | None = None
        # for tests and benchmarks: the last pass's plan sizes and timings
        self.last_ovsdb_ops = 0
        self.last_flow_counts: dict[str, int] = {}
        self.last_timings: dict[str, float] = {}

    def _db(self) -> Ovsdb:
        if self.ovsdb is None:
            self.ovsdb = Ovsdb(self.conf.ovs.ovsdb_connection, self.conf.ovs.ovsdb_timeout,
                               on_interface=self._wake.set)
        return self.ovsdb

    def configurations(self) -> dict[str, Any]:
        c = self.config
        return {
            "bridge_mappings": dict(c.bridge_mappings),
            "tunnel_types": list(c.tunnel_types),
            "tunneling_ip": c.local_ip,
            "l2_population": c.l2_population,
            "arp_responder_enabled": c.arp_responder,
            "enable_distributed_routing": False,
            "integration_bridge": c.integration_bridge,
            "tunnel_bridge": c.tunnel_bridge,
            "datapath_type": c.datapath_type,
            "ovs_hybrid_plug": False,
            "firewall_driver": c.firewall_driver,
            "of_interface": "native",
            "devices": self._devices,
        }

    def _bridges(self) -> list[str]:
        c = self.config
        return [c.integration_bridge, c.tunnel_bridge, *c.bridge_mappings.values()]

    # --- reconcile ---------------------------------------------------------------------------
    def reconcile(self, state: proto.HostState, network_ids: set[str] | None,
                  invalid: dict[str, str]) -> None:
        if invalid:
            raise base.ReconcileIncomplete("networks not understood: " + "; ".join(
                f"{nid}: {why}" for nid, why in sorted(invalid.items())))
        t0 = time.monotonic()
        desired = parse_host_state(state)
        fw = fwmodel.parse_host_state(state)
        if network_ids is None:
            self._desired = dict(desired)
            self._fw_state = fw
        else:
            for nid in network_ids:
                self._desired.pop(nid, None)
            self._desired.update(desired)
            self._fw_state = self._fw_state.merge_networks(fw, network_ids)
        self._desired_ids = frozenset(self._desired)
        db = self._db()
        observed = db.read(self._bridges())
        # the ports this plan saw: one plugged after this read differs from them, so the
        # watcher resyncs it (read at the end, it would be taken as handled)
        seen = {x.name: x.iface_id for x in observed.on(self.config.integration_bridge)
                if x.iface_id}
        plan1 = p.plan_ovsdb(self._desired, network_ids, observed, self.config,
                             random.getrandbits(63) | 1)
        db.apply(plan1.ops)
        t1 = time.monotonic()
        if plan1.ops:
            observed = db.read(self._bridges())
        self.cookie = observed.cookie
        if self.cookie is None:
            raise base.ReconcileIncomplete("br-int has no agent cookie yet")
        self._program_flows(observed, plan1.lvids, full=network_ids is None)
        t2 = time.monotonic()
        self.last_ovsdb_ops = len(plan1.ops)
        self.last_timings = {"ovsdb": t1 - t0, "flows": t2 - t1}
        if network_ids is not None:
            # a partial pass handled only its networks' ports: others plugged meanwhile
            # stay unknown to the watcher, which resyncs them
            mine = {x.id for nid in network_ids if nid in self._desired
                    for x in self._desired[nid].ports}
            seen = {n: iid for n, iid in seen.items()
                    if iid in mine or self._known_ifaces.get(n) == iid}
        self._known_ifaces = seen
        self._report(plan1, full=network_ids is None)
        self._devices = len(self._reported_up)

    def _program_flows(self, observed: Observed, lvids: dict[str, int], *,
                       full: bool) -> None:
        """Every bridge's flows; a partial pass skips a bridge whose planned flows are
        the ones it last programmed there (no ovs-ofctl process for a pass that changes
        nothing there, e.g. a port bound before it is plugged). A full pass always
        replaces: it repairs what anyone else changed."""
        assert self.cookie is not None
        try:
            firewall = (self._fw_state if self.config.firewall_driver == "openvswitch"
                        else None)
            flows = p.plan_flows(self._desired, lvids, observed, self.config, firewall)
        except p.MissingPort as e:
            raise base.ReconcileIncomplete(f"port {e} has no ofport yet") from None
        for bridge, lines in flows.items():
            key = (self.cookie, tuple(lines))
            if not full and self._programmed.get(bridge) == key:
                continue
            self._programmed.pop(bridge, None)  # unknown until replace has succeeded
            self.ofctl.replace(bridge, lines, self.cookie)
            self._programmed[bridge] = key
        self.last_flow_counts = {b: len(f) for b, f in flows.items()}

    def _report(self, plan1: p.OvsdbPlan, *, full: bool) -> None:
        up = [pid for pid in plan1.ports_up if full or pid not in self._reported_up]
        down = [pid for pid in plan1.ports_down if pid in self._reported_up or full]
        if full:
            # ports reported up that are no longer plugged here
            plugged = set(self._known_ifaces.values())
            down += [pid for pid in self._reported_up if pid not in plugged]
        if up:
            self.cast(rpc.UPDATE_DEVICE_UP, rpc.DevicesUpDown(
                host=self.host, agent_type=self.agent_type, port_ids=sorted(set(up))))
            self._reported_up.update(up)
        if down:
            self.cast(rpc.UPDATE_DEVICE_DOWN, rpc.DevicesUpDown(
                host=self.host, agent_type=self.agent_type, port_ids=sorted(set(down))))
            self._reported_up.difference_update(down)

    def on_hint(self, hint: rpc.Hint) -> None:
        super().on_hint(hint)
        groups = hint.security_groups
        if (groups is not msgspec.UNSET and groups
                and self.config.firewall_driver == "openvswitch"):
            # rules or members changed: the state of every network with ports here
            # brings every group's rules and members they use; replace-flows then
            # changes only the flows that differ (a member joining a group: its
            # address's two conjunction flows). A partial pass, so bridges whose flows
            # do not change are not rewritten. No network here: nothing is filtered.
            nets = self._desired_ids
            if nets:
                self.request_resync(nets, f"security groups {sorted(groups)}")

    # --- instances plugged / unplugged, vswitchd restarts -----------------------------------------
    def start_workers(self) -> None:
        self._spawn("ports", self._watch_ports)

    def stop_workers(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        if self.ovsdb is not None:
            self.ovsdb.close()
            self.ovsdb = None

    def _canary_lost(self) -> bool:
        if self.cookie is None:
            return False
        flows = self.ofctl.dump(self.config.integration_bridge, self.cookie)
        return not any(f"table={p.T_CANARY}," in f for f in flows)

    def _watch_ports(self) -> None:
        while self.running:
            self._wake.wait(self.polling_interval)
            self._wake.clear()
            if not self.running or self.last_success is None:
                continue
            try:
                current = self._db().iface_ids(self.config.integration_bridge)
                if self._canary_lost():
                    self.request_resync(None, "flows lost (ovs-vswitchd restarted?)")
                    continue
            except Exception as e:
                LOG.warning("watching br-int failed: %s", e)
                continue
            known = self._known_ifaces
            if current == known or not self.idle():
                continue
            changed = ({iid for n, iid in current.items() if known.get(n) != iid}
                       | {iid for n, iid in known.items() if current.get(n) != iid})
            nets = {net.id for net in self._desired.values()
                    for port in net.ports if port.id in changed}
            unknown = changed - {port.id for net in self._desired.values()
                                 for port in net.ports}
            gone = [iid for n, iid in known.items() if n not in current
                    and iid in self._reported_up]
            if gone:
                self.cast(rpc.UPDATE_DEVICE_DOWN, rpc.DevicesUpDown(
                    host=self.host, agent_type=self.agent_type, port_ids=sorted(gone)))
                self._reported_up.difference_update(gone)
            self._known_ifaces = current
            if unknown:
                self.request_resync(None, f"new ports {sorted(unknown)}")
            elif nets:
                self.request_resync(nets, "ports plugged/unplugged")


def make_agent(conf: cfg.ConfigOpts, bus: Bus | None = None) -> OvsAgent:
    return OvsAgent(conf, bus)


def register_opts(conf: cfg.ConfigOpts) -> None:
    ovs_config.register_opts(conf)
