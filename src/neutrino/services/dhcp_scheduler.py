"""DHCP agent scheduling: each network with a DHCP-enabled subnet is served by
``[DEFAULT] dhcp_agents_per_network`` live, admin-up DHCP agents (the least loaded: fewest
networks), recorded in ``network_dhcp_agent_bindings``. For each agent serving a network
the server keeps one DHCP port there (device_owner ``network:dhcp``, device_id
``dhcp<uuid5(host)>-<network id>``, binding:host_id the agent's host: it is bound at once,
like any port of that host's L2 agent), with an address on each DHCP-enabled subnet. A
network whose last DHCP-enabled subnet goes loses its agents and their ports. A routed
network (subnets on segments) is served that way on each of its segments, by agents of
the hosts mapped to it, each port on its segments' subnets only (services/dhcp_segments.py).

Everything here is "make it so" (``sync_network``): run it twice and nothing changes;
it runs after every subnet change and, through ``auto_schedule``, on every heartbeat of
a DHCP agent, which also repairs whatever an interrupted run left undone (a scheduled
agent without its port, a duplicate port of two concurrent runs).

Failover (``[DEFAULT] allow_automatic_dhcp_failover``, as Neutron's): a DHCP agent with no
heartbeat for ``agent_down_time`` loses its networks to live, admin-up agents (least
loaded), and its DHCP port on each moves with the network: the same port (id, MAC,
addresses) gets the new agent's device_id and host, so that clients renew against the
same server address. A dead agent keeps a network only while no live agent can take it.
``fail_over`` runs on every heartbeat of a live DHCP agent, in each API process. What
keeps two processes from both moving a network is the network's row, locked for the
scheduling transaction (SQLite: one writer), and the conditional delete of the dead
agent's binding (a lost race is retried and then finds nothing to do).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import clock
from neutrino import exceptions as exc
from neutrino.constants import DEVICE_OWNER_DHCP as DHCP_OWNER
from neutrino.context import Context
from neutrino.core import binding
from neutrino.core.provisioning import down_cutoff, live_clause
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.schema import port as port_schema
from neutrino.services import availability_zones as az
from neutrino.services import dhcp_segments as routed_dhcp
from neutrino.services.agents import DHCP_AGENT

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin
    from neutrino.services.agent_notifier import AgentNotifier

LOG = logging.getLogger(__name__)


_n = t.networks.c
_s = t.subnets.c
_p = t.ports.c
_ag = t.agents.c
_nd = t.network_dhcp_agent_bindings.c
_m = t.segment_host_mappings.c

# The device_id of a DHCP port no agent uses (Neutron's DEVICE_ID_RESERVED_DHCP_PORT)
RESERVED_DEVICE_ID = "reserved_dhcp_port"


def dhcp_device_id(host: str, network_id: str) -> str:
    """The device_id of the DHCP port of ``host``'s agent on a network (as Neutron's)."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{network_id}"


class DhcpScheduler:
    def __init__(self, conf: cfg.ConfigOpts, db: Database, plugin: Ml2Plugin,
                 notifier: AgentNotifier) -> None:
        self.conf = conf
        self.db = db
        self.plugin = plugin
        self.notifier = notifier
        self._defaults = port_schema.resource().post_defaults()
        self._clock = clock.from_conf(conf)
        self._started = self._clock.monotonic()

    def _failover_on(self) -> bool:
        """Whether dead agents lose their networks now: the option, and this process up
        for ``agent_down_time`` (a process just started may not have handled yet the
        heartbeats queued for it while it was down, so live agents would look dead)."""
        return bool(self.conf.allow_automatic_dhcp_failover) and (
            self._clock.monotonic() - self._started >= self.conf.agent_down_time)

    # --- scheduling ----------------------------------------------------------------------------
    def _candidates(self, conn: Connection, net: Any, taken: list[str], limit: int,
                    hosts: set[str] | None = None) -> list[tuple[str, str]]:
        """Up to ``limit`` live, admin-up DHCP agents not in ``taken``, in the network's
        zones (on ``hosts`` if given), the least loaded first."""
        load = (sa.select(sa.func.count()).select_from(t.network_dhcp_agent_bindings)
                .where(_nd.dhcp_agent_id == _ag.id).scalar_subquery())
        zones = az.wanted_zones(self.conf, net.availability_zone_hints)
        stmt = (sa.select(_ag.id, _ag.host)
                .where(_ag.agent_type == DHCP_AGENT, _ag.admin_state_up.is_(True),
                       live_clause(self.conf), _ag.id.not_in(taken or [""]),
                       az.in_zones(zones))
                .order_by(load, _ag.created_at, _ag.id).limit(limit))
        if hosts is not None:
            stmt = stmt.where(_ag.host.in_(sorted(hosts)))
        return [(a, h) for a, h in conn.execute(stmt)]

    def _schedule(self, conn: Connection, network_id: str
                  ) -> tuple[Any, dict[str, list[str]], list[tuple[str, str]], list[str]] | None:
        """In one transaction: the network's agents brought to what it needs. Returns
        (network row, {host: DHCP-enabled subnet ids its port gets} of the agents serving
        it, [(agent id, host)] serving it, hosts of the dead agents it was taken from), or
        None when the network is gone."""
        stmt = sa.select(t.networks).where(_n.id == network_id)
        if self.db.backend != "sqlite":
            stmt = stmt.with_for_update()  # one scheduler at a time per network
        net = conn.execute(stmt).first()
        if net is None:
            return None
        subnets = routed_dhcp.dhcp_subnets(conn, network_id)
        if not subnets:
            conn.execute(sa.delete(t.network_dhcp_agent_bindings).where(
                _nd.network_id == network_id))
            return net, {}, [], []
        rows = conn.execute(
            sa.select(_ag.id, _ag.host, _ag.heartbeat_timestamp)
            .join(t.network_dhcp_agent_bindings, _nd.dhcp_agent_id == _ag.id)
            .where(_nd.network_id == network_id).order_by(_ag.host)).all()
        agents = [(r.id, r.host) for r in rows]
        dead: list[tuple[str, str]] = []
        if self._failover_on():
            cutoff = down_cutoff(self.conf)
            # the most recently seen first: they are the ones kept if not all can go
            dead = [(r.id, r.host) for r in sorted(rows, key=lambda r: r.heartbeat_timestamp,
                                                   reverse=True)
                    if r.heartbeat_timestamp < cutoff]
        live = [a for a in agents if a not in dead]
        per_network = self.conf.dhcp_agents_per_network
        segments = routed_dhcp.segments_of(subnets)
        chosen: list[tuple[str, str]] = []
        if segments:
            # a routed network: that many agents on hosts of each segment (Neutron's
            # scheduling with the segment's hosts as candidates)
            reach = routed_dhcp.hosts_of(conn, segments)
            for segment in segments:
                hosts = reach.get(segment, set())
                need = per_network - sum(1 for _, h in live + chosen if h in hosts)
                if need > 0 and hosts:
                    chosen += self._candidates(conn, net, [a for a, _ in agents + chosen],
                                               need, hosts)
            drop = routed_dhcp.replaced(dead, live + chosen, segments, reach, per_network)
        else:
            need = per_network - len(live)
            if need > 0:
                chosen = self._candidates(conn, net, [a for a, _ in agents], need)
            # dead agents keep only the places no live agent could take
            drop = dead[max(0, need - len(chosen)):]
        if chosen:
            conn.execute(sa.insert(t.network_dhcp_agent_bindings), [
                {"network_id": network_id, "dhcp_agent_id": a} for a, _ in chosen])
            LOG.info("network %s scheduled to DHCP agent(s) on %s", network_id,
                     ", ".join(h for _, h in chosen))
            agents += chosen
        if drop:
            ids = [a for a, _ in drop]
            gone = conn.execute(sa.delete(t.network_dhcp_agent_bindings).where(
                _nd.network_id == network_id, _nd.dhcp_agent_id.in_(ids))).rowcount
            if gone != len(ids):  # another process moved it meanwhile: start over
                raise exc.NeedsRetry()
            LOG.warning("network %s failed over from dead DHCP agent(s) on %s", network_id,
                        ", ".join(h for _, h in drop))
            agents = [a for a in agents if a[0] not in ids]
        by_host = routed_dhcp.subnets_by_host(conn, subnets, [h for _, h in agents])
        return net, by_host, agents, [h for _, h in drop]

    def _idle(self, conn: Connection, network_id: str) -> bool:
        """Nothing to do for the network: no DHCP agent serves it, none could, and it has
        no DHCP port (one read, so that deployments without DHCP agents pay no write)."""
        served = sa.exists().where(_nd.network_id == network_id)
        ports = sa.exists().where(_p.network_id == network_id, _p.device_owner == DHCP_OWNER)
        candidates = sa.exists().where(_ag.agent_type == DHCP_AGENT,
                                       _ag.admin_state_up.is_(True), live_clause(self.conf))
        row = conn.execute(sa.select(served, ports, candidates)).one()
        return not any(row)

    def sync_network(self, network_id: str) -> None:
        """Make the network's DHCP service what its subnets ask for (module doc)."""
        if self.db.read(lambda conn: self._idle(conn, network_id)):
            return
        result = self.db.write(lambda conn: self._schedule(conn, network_id))
        if result is None:
            return
        net, by_host, _, dropped = result
        self._sync_ports(net, by_host)
        if dropped:
            # the dead agents' hosts, should they be back (their DHCP port, if it moved,
            # already told them: this covers a network that had none)
            self.notifier.publish(dropped, [net.id])

    def fail_over(self) -> None:
        """Networks of dead DHCP agents that a live admin-up agent could take are
        scheduled again (module doc); one query when there are none."""
        if not self._failover_on():
            return

        def find(conn: Connection) -> list[str]:
            cutoff = down_cutoff(self.conf)
            taker, taken = t.agents.alias("taker"), t.network_dhcp_agent_bindings.alias("taken")
            # on a routed network, only an agent whose host reaches one of its segments
            routed = sa.exists().where(_s.network_id == _nd.network_id,
                                       _s.enable_dhcp.is_(True), _s.segment_id.is_not(None))
            reaches = sa.exists().where(_s.network_id == _nd.network_id,
                                        _s.enable_dhcp.is_(True),
                                        _s.segment_id == _m.segment_id,
                                        _m.host == taker.c.host)
            can_take = sa.exists().where(
                taker.c.agent_type == DHCP_AGENT, taker.c.admin_state_up.is_(True),
                taker.c.heartbeat_timestamp >= cutoff,
                # (two levels down: SQLAlchemy would not correlate the binding by itself)
                sa.not_(sa.exists().where(taken.c.network_id == _nd.network_id,
                                          taken.c.dhcp_agent_id == taker.c.id)
                        .correlate_except(taken)),
                sa.or_(sa.not_(routed.correlate_except(t.subnets)),
                       reaches.correlate_except(t.subnets, t.segment_host_mappings)))
            return list(conn.scalars(
                sa.select(_nd.network_id).distinct()
                .join(t.agents, _ag.id == _nd.dhcp_agent_id)
                .where(_ag.agent_type == DHCP_AGENT, _ag.heartbeat_timestamp < cutoff,
                       can_take)
                .order_by(_nd.network_id)))

        for network_id in self.db.read(find):
            try:
                self.sync_network(network_id)
            except Exception:
                LOG.exception("failing network %s over to a live DHCP agent failed",
                              network_id)

    def _dhcp_ports(self, network_id: str) -> list[dict[str, Any]]:
        def run(conn: Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sa.select(t.ports).where(
                _p.network_id == network_id, _p.device_owner == DHCP_OWNER)
                .order_by(_p.id)).all()
            return self.plugin.ports.to_dicts(conn, rows)

        return self.db.read(run)

    def _sync_ports(self, net: Any, by_host: dict[str, list[str]]) -> None:
        """The DHCP ports of the network: one on each host of ``by_host`` that has
        subnets to serve (a routed network's: those of the segments its host reaches),
        with an address on each of them."""
        wanted = {dhcp_device_id(h, net.id): h for h, subnets in by_host.items() if subnets}
        ports = self._dhcp_ports(net.id)
        admin = Context.admin()
        seen: set[str] = set()
        stale: list[dict[str, Any]] = []
        reserved: list[dict[str, Any]] = []
        for port in ports:
            device_id = port["device_id"]
            ours = device_id.startswith("dhcp") and device_id.endswith(f"-{net.id}")
            if device_id in seen:
                # a duplicate (two runs at once: the lowest id stays)
                self._delete_port(admin, port["id"])
                continue
            if ours and device_id not in wanted:
                stale.append(port)  # of an agent that serves the network no longer
                continue
            if device_id == RESERVED_DEVICE_ID:
                reserved.append(port)  # of an agent an admin took the network off
                continue
            if device_id not in wanted:
                continue  # a DHCP port someone else manages
            seen.add(device_id)
            self._fix_port(admin, port, by_host[wanted[device_id]], wanted[device_id])
        missing = [(d, h) for d, h in sorted(wanted.items()) if d not in seen]
        # an agent's port goes to the agent that took its place (failover): same id, MAC
        # and addresses, so clients renew with the server they know. Ports and places are
        # paired in a fixed order, so that concurrent runs make the same moves.
        # A reserved port (Neutron's) is taken next, else kept for a later agent.
        movable = stale + reserved
        for port, (device_id, host) in zip(movable, missing, strict=False):
            self._fix_port(admin, port, by_host[host], host, device_id)
        for port in stale[len(missing):]:
            self._delete_port(admin, port["id"])
        for device_id, host in missing[len(movable):]:
            self._create_port(admin, net, by_host[host], host, device_id)

    def _create_port(self, admin: Context, net: Any, subnets: list[str], host: str,
                     device_id: str) -> None:
        data = {**self._defaults,
                "network_id": net.id, "project_id": net.project_id, "tenant_id": net.project_id,
                "device_owner": DHCP_OWNER, "device_id": device_id,
                "fixed_ips": [{"subnet_id": s} for s in subnets],
                binding.HOST: host}
        try:
            port = self.plugin.ports.create(admin, data, check_quota=False)
        except exc.NeutronError as e:
            LOG.error("could not create the DHCP port of host %s on network %s: %s", host,
                      net.id, e)
            return
        LOG.info("DHCP port %s of host %s on network %s created (%s)", port["id"], host,
                 net.id, port.get(binding.VIF_TYPE))
        # a concurrent run may have created the same port: keep the lowest id only
        same = [p for p in self._dhcp_ports(net.id) if p["device_id"] == device_id]
        for extra in same[1:]:
            self._delete_port(admin, extra["id"])

    def _fix_port(self, admin: Context, port: dict[str, Any], subnets: list[str],
                  host: str, device_id: str | None = None) -> None:
        changes: dict[str, Any] = {}
        if device_id is not None and port["device_id"] != device_id:
            changes["device_id"] = device_id
        have = [ip for ip in port["fixed_ips"] if ip["subnet_id"] in subnets]
        missing = [s for s in subnets if s not in {ip["subnet_id"] for ip in have}]
        if missing or len(have) != len(port["fixed_ips"]):
            changes["fixed_ips"] = [*have, *({"subnet_id": s} for s in missing)]
        if port[binding.HOST] != host:
            changes[binding.HOST] = host
        if not changes:
            return
        try:
            self.plugin.ports.update(admin, port["id"], changes)
        except exc.NeutronError as e:
            LOG.error("could not update DHCP port %s: %s", port["id"], e)

    def _delete_port(self, admin: Context, port_id: str) -> None:
        try:
            self.plugin.ports.delete(admin, port_id)
        except exc.NotFound:
            pass
        except exc.NeutronError as e:
            LOG.error("could not delete DHCP port %s: %s", port_id, e)

    # --- manual scheduling (services/agent_scheduler.py) --------------------------------------
    def reconcile_ports(self, network_id: str) -> None:
        """The network's DHCP ports made what its agents as they are bound now need
        (nothing scheduled): after an admin added or removed an agent."""
        def read(conn: Connection) -> tuple[Any, dict[str, list[str]]] | None:
            net = conn.execute(sa.select(t.networks).where(_n.id == network_id)).first()
            if net is None:
                return None
            hosts = list(conn.scalars(
                sa.select(_ag.host).join(t.network_dhcp_agent_bindings,
                                         _nd.dhcp_agent_id == _ag.id)
                .where(_nd.network_id == network_id).order_by(_ag.host)))
            # without a DHCP-enabled subnet a served network needs no port
            subnets = routed_dhcp.dhcp_subnets(conn, network_id)
            return net, routed_dhcp.subnets_by_host(conn, subnets, hosts)

        found = self.db.read(read)
        if found is not None:
            self._sync_ports(*found)

    def reserve_port(self, network_id: str, host: str) -> None:
        """The DHCP port of ``host``'s agent on the network, that no longer serves it,
        kept for the next agent (Neutron's reserved_dhcp_port: same address)."""
        admin = Context.admin()
        for port in self._dhcp_ports(network_id):
            if port["device_id"] == dhcp_device_id(host, network_id):
                with contextlib.suppress(exc.NotFound):
                    self.plugin.ports.update(admin, port["id"], {
                        "device_id": RESERVED_DEVICE_ID, binding.HOST: ""})

    # --- on a DHCP agent's heartbeat -----------------------------------------------------------
    def auto_schedule(self, agent_id: str, host: str, *, fill: bool = True) -> None:
        """Its networks whose DHCP port is missing get it (a few queries when there is
        nothing to do) and, with ``fill`` (the agent (re)started, came back or was
        enabled: when Neutron's agent resyncs and is auto-scheduled), networks short of
        DHCP agents whose zones it is in get this live one. Not on every heartbeat: a
        network an admin took off an agent stays off until then, as in Neutron."""
        per_network = self.conf.dhcp_agents_per_network

        def find(conn: Connection) -> list[str]:
            short: list[str] = []
            has_dhcp = sa.exists().where(_s.network_id == _n.id, _s.enable_dhcp.is_(True))
            if fill:
                serving = (sa.select(sa.func.count())
                           .select_from(t.network_dhcp_agent_bindings)
                           .where(_nd.network_id == _n.id).scalar_subquery())
                served_here = sa.exists().where(_nd.network_id == _n.id,
                                                _nd.dhcp_agent_id == agent_id)
                zone = conn.scalar(sa.select(_ag.availability_zone).where(_ag.id == agent_id))
                # a routed network's segments count apiece (sync_network): one that
                # this host reaches may need it whatever the network's total
                routed = sa.exists().where(_s.network_id == _n.id, _s.enable_dhcp.is_(True),
                                           _s.segment_id.is_not(None))
                reached_here = sa.exists().where(
                    _s.network_id == _n.id, _s.enable_dhcp.is_(True),
                    _s.segment_id.in_(sa.select(_m.segment_id).where(_m.host == host)))
                short = [n for n, hints in conn.execute(
                    sa.select(_n.id, _n.availability_zone_hints).where(
                        has_dhcp, sa.not_(served_here),
                        sa.or_(sa.and_(sa.not_(routed), serving < per_network),
                               reached_here)))
                    if zone in (az.wanted_zones(self.conf, hints) or [zone])]
            # (a network an admin gave it without DHCP-enabled subnets needs no port)
            mine = list(conn.scalars(sa.select(_nd.network_id).where(
                _nd.dhcp_agent_id == agent_id,
                sa.exists().where(_s.network_id == _nd.network_id,
                                  _s.enable_dhcp.is_(True)))))
            if not mine:
                return short
            have_port = set(conn.scalars(sa.select(_p.device_id).where(
                _p.network_id.in_(mine), _p.device_owner == DHCP_OWNER)))
            return short + [n for n in mine if dhcp_device_id(host, n) not in have_port]

        for network_id in dict.fromkeys(self.db.read(find)):
            try:
                self.sync_network(network_id)
            except Exception:
                LOG.exception("scheduling network %s to DHCP agents failed", network_id)
