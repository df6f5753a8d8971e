"""``get_host_state`` for the "L3 agent" (docs/agent-protocol.md, "L3"): the routers
scheduled to the host's L3 agent with their gateway, interfaces, extra routes,
associated floating IPs and port forwardings, in a fixed number of queries whatever their count."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.db import tables as t
from neutrino.protocol import l3
from neutrino.services.agents import L3_AGENT
from neutrino.services.l3.owners import ROUTER_GATEWAY, ROUTER_INTERFACE, router_leg

if TYPE_CHECKING:
    from neutrino.core.plugin import Ml2Plugin

_rt = t.routers.c
_rb = t.router_l3_agent_bindings.c
_ag = t.agents.c
_p = t.ports.c
_a = t.ip_allocations.c
_s = t.subnets.c
_n = t.networks.c
_rr = t.router_routes.c
_f = t.floatingips.c


def l3_state(conn: Connection, plugin: Ml2Plugin, host: str,
             router_ids: list[str] | None) -> l3.HostState:
    stmt = (sa.select(t.routers)
            .join(t.router_l3_agent_bindings, _rb.router_id == _rt.id)
            .join(t.agents, _ag.id == _rb.l3_agent_id)
            .where(_ag.agent_type == L3_AGENT, _ag.host == host).order_by(_rt.id))
    if router_ids is not None:
        stmt = stmt.where(_rt.id.in_(router_ids))
    routers = conn.execute(stmt).all()
    if not routers:
        return l3.HostState(host=host)
    ids = [r.id for r in routers]
    ports = conn.execute(
        sa.select(_p.id, _p.device_id, _p.device_owner, _p.mac_address, _p.network_id,
                  _n.mtu)
        .join(t.networks, _n.id == _p.network_id)
        .join(t.routers, _rt.id == _p.device_id)
        .where(_p.device_id.in_(ids),
               _p.device_owner.in_((ROUTER_INTERFACE, ROUTER_GATEWAY)),
               router_leg(_p, _rt))
        .order_by(_p.device_id, _p.id)).all()
    ips: dict[str, list[l3.FixedIp]] = {}
    gateway_ips: dict[str, list[str]] = {}
    scopes: dict[str, str] = {}  # port -> the address scope of its IPv4 subnets
    if ports:
        _sp = t.subnetpools.c
        for port_id, subnet_id, ip, cidr, gateway_ip, scope in conn.execute(
                sa.select(_a.port_id, _a.subnet_id, _a.ip_address, _s.cidr, _s.gateway_ip,
                          _sp.address_scope_id)
                .join(t.subnets, _s.id == _a.subnet_id)
                .outerjoin(t.subnetpools, _sp.id == _s.subnetpool_id)
                .where(_a.port_id.in_([p.id for p in ports]))
                .order_by(_a.port_id, _a.subnet_id, _a.ip_address)):
            net = ipaddress.ip_network(cidr, strict=False)
            if scope and net.version == 4:
                scopes[port_id] = scope
            ips.setdefault(port_id, []).append(l3.FixedIp(
                subnet_id=subnet_id, ip_address=ip, prefixlen=net.prefixlen, cidr=str(net)))
            if gateway_ip:
                gateway_ips.setdefault(port_id, []).append(gateway_ip)
    routes: dict[str, list[l3.ExtraRoute]] = {}
    for router_id, dest, hop in conn.execute(
            sa.select(_rr.router_id, _rr.destination, _rr.nexthop)
            .where(_rr.router_id.in_(ids)).order_by(_rr.router_id, _rr.destination)):
        routes.setdefault(router_id, []).append(l3.ExtraRoute(destination=dest, nexthop=hop))
    fips: dict[str, list[l3.FloatingIp]] = {}
    for f in conn.execute(
            sa.select(_f.id, _f.router_id, _f.floating_ip_address, _f.fixed_ip_address,
                      _f.fixed_port_id)
            .where(_f.router_id.in_(ids), _f.fixed_port_id.is_not(None)).order_by(_f.id)):
        fips.setdefault(f.router_id, []).append(l3.FloatingIp(
            id=f.id, floating_ip_address=f.floating_ip_address,
            fixed_ip_address=f.fixed_ip_address, port_id=f.fixed_port_id))

    pfs: dict[str, list[l3.PortForwarding]] = {}
    _pf = t.port_forwardings.c
    for row in conn.execute(
            sa.select(_pf.id, _pf.floatingip_id, _pf.protocol, _pf.external_port,
                      _pf.internal_ip_address, _pf.internal_port, _f.router_id,
                      _f.floating_ip_address)
            .join(t.floatingips, _f.id == _pf.floatingip_id)
            .where(_f.router_id.in_(ids), _f.fixed_port_id.is_(None)).order_by(_pf.id)):
        pfs.setdefault(row.router_id, []).append(l3.PortForwarding(
            id=row.id, floatingip_id=row.floatingip_id,
            floating_ip_address=row.floating_ip_address, protocol=row.protocol,
            external_port=row.external_port, internal_ip_address=row.internal_ip_address,
            internal_port=row.internal_port))

    def leg(p: Any) -> dict[str, Any]:
        return {"port_id": p.id, "mac_address": p.mac_address, "network_id": p.network_id,
                "mtu": p.mtu, "fixed_ips": ips.get(p.id, []),
                "ipv4_address_scope": scopes.get(p.id)}

    out = []
    for r in routers:
        gateway = None
        gw = next((p for p in ports if p.id == r.gw_port_id), None)
        if gw is not None:
            gateway = l3.Gateway(**leg(gw), enable_snat=bool(r.enable_snat),
                                 gateway_ips=gateway_ips.get(gw.id, []))
        out.append(l3.Router(
            id=r.id,
            project_id=r.project_id,
            admin_state_up=bool(r.admin_state_up),
            gateway=gateway,
            interfaces=[l3.RouterPort(**leg(p)) for p in ports
                        if p.device_id == r.id and p.device_owner == ROUTER_INTERFACE],
            routes=routes.get(r.id, []),
            floating_ips=fips.get(r.id, []),
            port_forwardings=pfs.get(r.id, []),
        ))
    return l3.HostState(host=host, routers=out)
