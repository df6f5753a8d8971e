"""The desired state of one host for one agent type (``get_host_state``,
docs/agent-protocol.md), read from the database in a handful of queries whatever the
number of networks and ports: what the agent converges its host to. The replies are the
types of ``neutrino.protocol`` (linuxbridge.HostState, dhcp.HostState, l3.HostState)."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.agent.linux.names import tap_name
from neutrino.core import binding, extra_dhcp_opts
from neutrino.core.mech import l2population, linuxbridge
from neutrino.db import tables as t
from neutrino.protocol import Envelope, dhcp, ovs
from neutrino.protocol import linuxbridge as lb
from neutrino.services.agents import DHCP_AGENT, L3_AGENT, LINUXBRIDGE_AGENT, OVS_AGENT
from neutrino.services.dhcp_scheduler import DHCP_OWNER, dhcp_device_id
from neutrino.services.l3.state import l3_state
from neutrino.services.securitygroups import agent_view as sg_view

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

_n = t.networks.c
_p = t.ports.c
_b = t.port_bindings.c
_a = t.ip_allocations.c
_seg = t.network_segments.c
_ag = t.agents.c
S = TypeVar("S", bound=lb.HostState)


def dhcp_hostname(fixed_ips: list[dict[str, str]]) -> str | None:
    """dnsmasq's name of a port without a DNS name: host-<its first address, dashed>."""
    if not fixed_ips:
        return None
    ip = ipaddress.ip_address(fixed_ips[0]["ip_address"])
    return "host-" + str(ip).replace(".", "-").replace(":", "-")


def _fixed_ips(conn: Connection, port_ids: Collection[str] | sa.Select[Any]
               ) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for port_id, subnet_id, ip in conn.execute(
        sa.select(_a.port_id, _a.subnet_id, _a.ip_address).where(_a.port_id.in_(port_ids))
        .order_by(_a.port_id, _a.subnet_id, _a.ip_address)
    ):
        out.setdefault(port_id, []).append({"subnet_id": subnet_id, "ip_address": ip})
    return out


def _segments(conn: Connection, network_ids: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in conn.execute(sa.select(t.network_segments).where(
            _seg.network_id.in_(list(network_ids))).order_by(_seg.network_id,
                                                             _seg.segment_index)):
        out.setdefault(s.network_id, []).append(
            {"id": s.id, "network_type": s.network_type,
             "physical_network": s.physical_network, "segmentation_id": s.segmentation_id})
    return out


def linuxbridge_state(conn: Connection, plugin: Ml2Plugin, host: str,
                      network_ids: list[str] | None) -> lb.HostState:
    """The networks of the ports bound to ``host``, each with its segment (the one this
    host's agent reaches), those ports and, with l2population, the view of the other
    hosts."""
    return _l2_state(conn, plugin, host, network_ids, LINUXBRIDGE_AGENT, lb.HostState)


def ovs_state(conn: Connection, plugin: Ml2Plugin, host: str,
              network_ids: list[str] | None) -> ovs.HostState:
    """As linuxbridge_state, for the host's Open vSwitch agent (the same shape)."""
    return _l2_state(conn, plugin, host, network_ids, OVS_AGENT, ovs.HostState)


def _l2_state(conn: Connection, plugin: Ml2Plugin, host: str,
              network_ids: list[str] | None, agent_type: str, state_type: type[S]) -> S:
    stmt = (sa.select(_p.id, _p.network_id, _p.mac_address, _p.admin_state_up,
                      _p.device_owner, _p.port_security_enabled)
            .join(t.port_bindings, _b.port_id == _p.id)
            .where(_b.host == host, _b.vif_type.not_in(binding.NOT_BOUND))
            .order_by(_p.network_id, _p.id))
    if network_ids is not None:
        stmt = stmt.where(_p.network_id.in_(network_ids))
    ports = conn.execute(stmt).all()
    if not ports:
        return state_type(host=host)
    net_ids = list(dict.fromkeys(p.network_id for p in ports))
    ips = _fixed_ips(conn, [p.id for p in ports])
    # security groups (services/securitygroups/agent_view.py): three statements
    firewall = sg_view.port_fields(conn, ports)
    groups = sorted({g for f in firewall.values() for g in f["security_groups"]})
    rules, remote_groups, address_groups = sg_view.firewall_state(conn, groups)
    nets = {r.id: r for r in conn.execute(sa.select(t.networks).where(_n.id.in_(net_ids)))}
    segments = _segments(conn, net_ids)
    agent_conf = conn.scalar(sa.select(_ag.configurations).where(
        _ag.agent_type == agent_type, _ag.host == host))
    configurations = json.loads(agent_conf) if agent_conf else {}
    l2pop = plugin.l2population
    views = l2pop.fdb_views(conn, net_ids, host) if l2pop is not None else {}
    out = []
    for nid in net_ids:
        net = nets.get(nid)
        if net is None:
            continue
        segs = segments.get(nid, [])
        seg = linuxbridge.first_reachable(segs, configurations) or (segs[0] if segs else {})
        tunnelled = seg.get("network_type") in l2population.TUNNEL_TYPES
        view = (views.get(nid) if tunnelled else l2population.empty_view()) \
            if l2pop is not None else None
        out.append(lb.Network(
            id=nid,
            network_type=seg.get("network_type"),
            physical_network=seg.get("physical_network"),
            segmentation_id=seg.get("segmentation_id"),
            mtu=net.mtu,
            admin_state_up=net.admin_state_up,
            ports=[
                lb.Port(id=p.id, mac_address=p.mac_address,
                        fixed_ips=[lb.FixedIp(**f) for f in ips.get(p.id, [])],
                        admin_state_up=p.admin_state_up, device_owner=p.device_owner or "",
                        device=tap_name(p.id), **firewall[p.id])
                for p in ports if p.network_id == nid
            ],
            l2pop=lb.L2pop(**view) if view is not None else None,
        ))
    return state_type(host=host, networks=out, security_groups=rules,
                      remote_groups=remote_groups, address_groups=address_groups)


def dhcp_state(conn: Connection, plugin: Ml2Plugin, host: str,
               network_ids: list[str] | None) -> dhcp.HostState:
    """The networks scheduled to ``host``'s DHCP agent (admin-up ones: an admin-down
    network gets no DHCP service), with their subnets, their DHCP port on this host and
    every port to serve."""
    stmt = (sa.select(t.networks)
            .join(t.network_dhcp_agent_bindings,
                  t.network_dhcp_agent_bindings.c.network_id == _n.id)
            .join(t.agents, _ag.id == t.network_dhcp_agent_bindings.c.dhcp_agent_id)
            .where(_ag.agent_type == DHCP_AGENT, _ag.host == host,
                   _n.admin_state_up.is_(True))
            .order_by(_n.id))
    if network_ids is not None:
        stmt = stmt.where(_n.id.in_(network_ids))
    nets = conn.execute(stmt).all()
    if not nets:
        return dhcp.HostState(host=host)
    net_ids = [n.id for n in nets]
    subnet_rows = conn.execute(sa.select(t.subnets).where(t.subnets.c.network_id.in_(net_ids))
                               .order_by(t.subnets.c.created_at, t.subnets.c.id)).all()
    # a routed network's agent serves the subnets of the segments its host reaches
    # (Neutron's get_network_info), as its DHCP port has addresses on these only
    if any(r.segment_id for r in subnet_rows):
        reached = set(conn.scalars(sa.select(t.segment_host_mappings.c.segment_id).where(
            t.segment_host_mappings.c.host == host)))
        subnet_rows = [r for r in subnet_rows if r.segment_id in (None, *reached)]
    subnets: dict[str, list[dhcp.Subnet]] = {}
    for s in plugin.subnets.to_dicts(conn, subnet_rows):
        subnets.setdefault(s["network_id"], []).append(dhcp.Subnet(
            id=s["id"], cidr=s["cidr"], ip_version=s["ip_version"], gateway_ip=s["gateway_ip"],
            enable_dhcp=s["enable_dhcp"], dns_nameservers=s["dns_nameservers"],
            host_routes=[dhcp.HostRoute(**r) for r in s["host_routes"]],
            ipv6_address_mode=s["ipv6_address_mode"], ipv6_ra_mode=s["ipv6_ra_mode"],
            allocation_pools=[dhcp.AllocationPool(**a) for a in s["allocation_pools"]]))
    port_stmt = (sa.select(_p.id, _p.network_id, _p.mac_address, _p.device_owner,
                           _p.device_id)
                 .where(_p.network_id.in_(net_ids)).order_by(_p.network_id, _p.id))
    ports = conn.execute(port_stmt).all()
    ips = _fixed_ips(conn, sa.select(_p.id).where(_p.network_id.in_(net_ids)))
    # extra_dhcp_opt: the options dnsmasq gives each port (one query for all networks)
    opts = extra_dhcp_opts.load(conn, [p.id for p in ports], sa.select(_p.id).where(
        _p.network_id.in_(net_ids)).subquery())
    out = []
    for net in nets:
        mine = dhcp_device_id(host, net.id)
        dhcp_port = None
        entries = []
        for p in ports:
            if p.network_id != net.id:
                continue
            raw_ips = ips.get(p.id, [])
            fixed = [dhcp.FixedIp(**f) for f in raw_ips]
            if p.device_owner == DHCP_OWNER and p.device_id == mine and dhcp_port is None:
                dhcp_port = dhcp.DhcpPort(id=p.id, mac_address=p.mac_address, fixed_ips=fixed)
            entries.append(dhcp.Port(
                id=p.id, mac_address=p.mac_address, fixed_ips=fixed,
                device_owner=p.device_owner or "", hostname=dhcp_hostname(raw_ips),
                extra_dhcp_opts=[dhcp.ExtraDhcpOpt(**o) for o in opts.get(p.id, [])]))
        out.append(dhcp.Network(id=net.id, mtu=net.mtu, subnets=subnets.get(net.id, []),
                                dhcp_port=dhcp_port, ports=entries))
    return dhcp.HostState(host=host, networks=out)


STATE_BUILDERS: dict[str, Callable[[Connection, Ml2Plugin, str, list[str] | None],
                                   Envelope]] = {
    LINUXBRIDGE_AGENT: linuxbridge_state,
    OVS_AGENT: ovs_state,
    DHCP_AGENT: dhcp_state,
    # narrowed by ``router_ids`` instead of ``network_ids`` (agent_rpc.get_host_state)
    L3_AGENT: l3_state,
}
