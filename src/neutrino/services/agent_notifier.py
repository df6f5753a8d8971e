"""Hints to agents after commits (``protocol.rpc.Hint``): ``{"networks": [ids]}`` on fanout
topic ``host.<host>``
to each host concerned (docs/agent-protocol.md), which then asks the server for the
desired state of those networks. A hint carries no state: losing one only delays
convergence until the agent's next resync.

Who is concerned (core/mech/l2population.py ``hosts_for_networks``): the hosts with ports
bound on the network and the hosts of its DHCP agents, plus a changed port's old and new
host; never every agent.

The notifier subscribes to the core's events (core/callbacks.py), after every other
subscriber: in PRECOMMIT_DELETE it reads, inside the transaction, what the delete is about
to make unreadable (the hosts of a network or port) into the payload's metadata, which the
same write's AFTER_DELETE then publishes to. Subnet changes also (re)schedule the
network's DHCP agents (services/dhcp_scheduler.py, subscribed before the notifier). Port
creates and updates come from the port binder (PORT_BINDING AFTER_UPDATE), once the port
is bound (core/binding.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import protocol
from neutrino.bus import Bus
from neutrino.core import binding
from neutrino.core.callbacks import CallbackRegistry, Payload
from neutrino.core.callbacks import Event as E
from neutrino.core.callbacks import Resource as R
from neutrino.core.mech import l2population
from neutrino.db.engine import Database
from neutrino.protocol import rpc
from neutrino.services.securitygroups import agent_view as sg_view

LOG = logging.getLogger(__name__)
PRIORITY_LAST = 10_000

# What agents are given of a port / network / subnet: a change elsewhere (a name, a
# description, tags) is nothing to them.
PORT_KEYS = ("network_id", "mac_address", "fixed_ips", "admin_state_up", "device_owner",
             "device_id", binding.HOST, binding.VIF_TYPE,
             "extra_dhcp_opts",  # the DHCP agent serves them
             # the firewall of the port's host (services/securitygroups)
             "security_groups", "port_security_enabled", "allowed_address_pairs")
# What makes a port's groups change members (the remote-group sets of other hosts).
MEMBER_KEYS = ("fixed_ips", "security_groups", "allowed_address_pairs")
NETWORK_KEYS = ("admin_state_up", "mtu", "provider:network_type", "provider:physical_network",
                "provider:segmentation_id", "segments")
SUBNET_KEYS = ("cidr", "gateway_ip", "allocation_pools", "dns_nameservers", "host_routes",
               "enable_dhcp", "ipv6_ra_mode", "ipv6_address_mode")


def subnet_changed(event: E, p: Payload) -> bool:
    """A subnet event that concerns agents (and the DHCP scheduling of its network)."""
    return event != E.AFTER_UPDATE or _changed(*p.states, SUBNET_KEYS)


def _changed(original: dict[str, Any] | None, current: dict[str, Any],
             keys: Iterable[str]) -> bool:
    return original is None or any(original.get(k) != current.get(k) for k in keys)


class AgentNotifier:
    def __init__(self, conf: cfg.ConfigOpts, db: Database, bus: Bus | None) -> None:
        self.conf = conf
        self.db = db
        self.bus = bus

    # --- publishing ------------------------------------------------------------------------
    def publish(self, hosts: Iterable[str], network_ids: Iterable[str] | None) -> None:
        if self.bus is None:
            return
        nets = None if network_ids is None else sorted(set(network_ids))
        for host in sorted({h for h in hosts if h}):
            try:
                self.bus.publish(rpc.hint_topic(host), protocol.to_wire(rpc.Hint(networks=nets)))
            except Exception:
                LOG.exception("hint to host %s failed", host)

    def hosts(self, conn: Connection, network_ids: Iterable[str]) -> set[str]:
        found = l2population.hosts_for_networks(conn, list(network_ids))
        return set().union(*found.values()) if found else set()

    def hint_networks(self, network_ids: Iterable[str], extra_hosts: Iterable[str] = ()
                      ) -> None:
        """Hint every host concerned by these networks (read after the commit)."""
        if self.bus is None:
            return
        ids = list(network_ids)
        hosts = self.db.read(lambda conn: self.hosts(conn, ids))
        self.publish(hosts | set(extra_hosts), ids)

    def ports_changed(self, changes: list[tuple[dict[str, Any] | None, dict[str, Any]]]
                      ) -> None:
        """Ports were created or changed (and bound): their networks' hosts, and their
        old and new hosts, hear of it (one read for a whole bulk)."""
        if self.bus is None:
            return
        networks: set[str] = set()
        own: dict[str, set[str]] = {}
        # groups whose members changed: hosts whose ports' rules name them as remote
        member_groups = {g for original, port in changes
                         if _changed(original, port, MEMBER_KEYS)
                         for p in (original, port) if p
                         for g in p.get("security_groups") or ()}
        for original, port in changes:
            if not _changed(original, port, PORT_KEYS):
                continue
            nets = {port["network_id"], *([original["network_id"]] if original else [])}
            networks |= nets
            for p in (original, port):
                if p and p.get(binding.HOST):
                    own.setdefault(p[binding.HOST], set()).update(nets)
        if not networks and not member_groups:
            return

        def read(conn: Connection) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
            found = l2population.hosts_for_networks(conn, networks) if networks else {}
            return found, sg_view.hosts_referencing(conn, member_groups)

        found, sg_hosts = self.db.read(read)
        per_host: dict[str, set[str]] = {h: set(n) for h, n in own.items()}
        for network_id, hosts in found.items():
            for host in hosts:
                per_host.setdefault(host, set()).add(network_id)
        # one message per host: its networks and/or its firewall's groups
        self.publish_hints({host: {"networks": sorted(per_host.get(host, ())),
                                   "security_groups": sorted(sg_hosts.get(host, ()))}
                            for host in set(per_host) | set(sg_hosts)})

    def publish_hints(self, per_host: dict[str, dict[str, list[str]]]) -> None:
        """One hint per host, with the keys whose lists are not empty (security groups:
        ``{"security_groups": [ids]}``, docs/agent-protocol.md)."""
        if self.bus is None:
            return
        for host in sorted(h for h in per_host if h):
            keys = {k: v for k, v in per_host[host].items() if v}
            if not keys:
                continue
            message = protocol.to_wire(rpc.Hint(**keys))
            try:
                self.bus.publish(rpc.hint_topic(host), message)
            except Exception:
                LOG.exception("hint to host %s failed", host)

    def security_groups_changed(self, group_ids: set[str]) -> None:
        """Rules of these groups changed: the hosts with ports in them hear of it."""
        if self.bus is None or not group_ids:
            return

        def run() -> None:
            hosts = self.db.read(lambda conn: sg_view.hosts_with_members(conn, group_ids))
            self.publish_hints({h: {"security_groups": sorted(g)} for h, g in hosts.items()})

        self._safely("security group change", run)

    # --- the core's events (core/callbacks.py) ---------------------------------------------
    def subscribe(self, registry: CallbackRegistry) -> None:
        for resource, event, callback in (
                (R.NETWORK, E.AFTER_UPDATE, self._network_updated),
                (R.NETWORK, E.PRECOMMIT_DELETE, self._network_deleting),
                (R.NETWORK, E.AFTER_DELETE, self._network_deleted),
                (R.SUBNET, E.AFTER_CREATE, self._subnet),
                (R.SUBNET, E.AFTER_UPDATE, self._subnet),
                (R.SUBNET, E.AFTER_DELETE, self._subnet),
                (R.PORT, E.PRECOMMIT_DELETE, self._port_deleting),
                (R.PORT, E.AFTER_DELETE, self._port_deleted),
                (R.PORT_BINDING, E.AFTER_UPDATE, self._ports_bound),
                (R.SECURITY_GROUP, E.AFTER_UPDATE, self._groups_changed)):
            # last: after every other subscriber, as the notifier followed the
            # configured mechanism drivers
            registry.subscribe(callback, resource, event, priority=PRIORITY_LAST)

    def _network_updated(self, resource: R, event: E, trigger: Any, p: Payload) -> None:
        original, current = p.states
        if _changed(original, current, NETWORK_KEYS):
            self.hint_networks([current["id"]])

    def _network_deleting(self, resource: R, event: E, trigger: Any, p: Payload) -> None:
        if self.bus is not None and p.conn is not None:
            # read now: once the network is gone, who served it is unreadable
            p.metadata["hosts"] = self.hosts(p.conn, [p.resource_id])  # type: ignore[list-item]

    def _network_deleted(self, resource: R, event: E, trigger: Any, p: Payload) -> None:
        self.publish(p.metadata.get("hosts", ()), [p.resource_id])  # type: ignore[list-item]

    def _subnet(self, resource: R, event: E, trigger: Any, p: Payload) -> None:
        if subnet_changed(event, p):
            self.hint_networks([p.latest_state["network_id"]])

    def _port_deleting(self, resource: R, event: E, trigger: Any, p: Payload) -> None:
        if self.bus is not None and p.conn is not None:
            port = p.latest_state
            hosts = self.hosts(p.conn, [port["network_id"]])
            if port.get(binding.HOST):
                hosts.add(port[binding.HOST])
            p.metadata["hosts"] = hosts
            p.metadata["sg_hosts"] = sg_view.hosts_referencing(
                p.conn, port.get("security_groups") or ())

    def _port_deleted(self, resource: R, event: E, trigger: Any, p: Payload) -> None:
        net = p.latest_state["network_id"]
        sg_hosts: dict[str, set[str]] = p.metadata.get("sg_hosts", {})
        hosts = set(p.metadata.get("hosts", ()))
        self.publish_hints({h: {"networks": [net] if h in hosts else [],
                                "security_groups": sorted(sg_hosts.get(h, ()))}
                            for h in hosts | set(sg_hosts)})

    def _ports_bound(self, resource: R, event: E, trigger: Any, p: Payload) -> None:
        self.ports_changed(list(p.states))

    def _groups_changed(self, resource: R, event: E, trigger: Any, p: Payload) -> None:
        self.security_groups_changed(set(p.resource_ids))

    def _safely(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception:  # never fails the request: agents resync periodically anyway
            LOG.exception("agent notification (%s) failed", what)
