"""The l2population mechanism driver: what each host must know of the other hosts on its
tunnelled networks, computed from the database (bindings and agents), never kept in
memory or pushed as deltas (DESIGN.md principle 1; seed 003 is the old design).

For a host H and a network N, the forwarding view is built from the ports of N bound to
hosts other than H:

- ``flood``: the VTEPs (the remote L2 agents' ``configurations.tunneling_ip``) that
  broadcast and unknown traffic is copied to;
- ``unicast``: MAC -> VTEP of each remote port;
- ``neigh``: IP -> MAC of each remote port's fixed IPs (answered locally, no ARP flood).

It also decides who is told about a change (``hosts_for_networks``): only the hosts with
ports bound on the network and the hosts of its DHCP agents, never every agent.

Without this driver in ``[ml2] mechanism_drivers``, get_host_state carries no l2pop view
(``"l2pop": null``) and agents fall back to learning / a multicast group.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from neutrino.core.mech.base import MechanismDriver
from neutrino.db import tables as t

L2_AGENT_TYPES = ("Linux bridge agent", "Open vSwitch agent")
TUNNEL_TYPES = ("vxlan", "gre", "geneve")
NOT_BOUND = ("unbound", "binding_failed")

_p = t.ports.c
_b = t.port_bindings.c
_a = t.ip_allocations.c
_ag = t.agents.c
_nd = t.network_dhcp_agent_bindings.c


def empty_view() -> dict[str, Any]:
    return {"flood": [], "unicast": {}, "neigh": {}}


def _hosts_for_networks_statement() -> sa.CompoundSelect:
    ids = sa.bindparam("network_ids", expanding=True)
    bound = (sa.select(_p.network_id, _b.host)
             .join(t.port_bindings, _b.port_id == _p.id)
             .where(_p.network_id.in_(ids), _b.host != "", _b.vif_type.not_in(NOT_BOUND)))
    dhcp = (sa.select(_nd.network_id, _ag.host)
            .join(t.agents, _ag.id == _nd.dhcp_agent_id)
            .where(_nd.network_id.in_(ids)))
    return sa.union(bound, dhcp)


# built once: asked after every port create and binding (services/agent_notifier.py)
_HOSTS_FOR_NETWORKS = _hosts_for_networks_statement()


def hosts_for_networks(conn: Connection, network_ids: Collection[str]
                       ) -> dict[str, set[str]]:
    """network id -> the hosts concerned by a change of it: those with ports bound on it
    and those of the DHCP agents serving it (one query)."""
    ids = list(network_ids)
    if not ids:
        return {}
    out: dict[str, set[str]] = {}
    for network_id, host in conn.execute(_HOSTS_FOR_NETWORKS, {"network_ids": ids}):
        out.setdefault(network_id, set()).add(host)
    return out


def tunneling_ips(conn: Connection, hosts: Collection[str]) -> dict[str, str]:
    """host -> VTEP address of its L2 agent (hosts without one are left out)."""
    out: dict[str, str] = {}
    if not hosts:
        return out
    for host, configurations in conn.execute(
        sa.select(_ag.host, _ag.configurations)
        .where(_ag.agent_type.in_(L2_AGENT_TYPES), _ag.host.in_(list(hosts)))
        .order_by(_ag.agent_type)
    ):
        try:
            ip = json.loads(configurations or "{}").get("tunneling_ip")
        except (ValueError, AttributeError):
            ip = None
        if ip and host not in out:
            out[host] = str(ip)
    return out


def fdb_views(conn: Connection, network_ids: Collection[str], host: str
              ) -> dict[str, dict[str, Any]]:
    """network id -> the forwarding view of ``host`` on it (module doc); two queries
    whatever the number of networks and ports."""
    ids = list(network_ids)
    views = {nid: empty_view() for nid in ids}
    if not ids:
        return views
    rows = conn.execute(
        sa.select(_p.network_id, _p.mac_address, _b.host, _a.ip_address)
        .join(t.port_bindings, _b.port_id == _p.id)
        .outerjoin(t.ip_allocations, _a.port_id == _p.id)
        .where(_p.network_id.in_(ids), _b.host != "", _b.host != host,
               _b.vif_type.not_in(NOT_BOUND))
    ).all()
    vteps = tunneling_ips(conn, {r.host for r in rows} | {host})
    own = vteps.get(host)
    flood: dict[str, set[str]] = {}
    for network_id, mac, port_host, ip in rows:
        vtep = vteps.get(port_host)
        if vtep is None or vtep == own:
            continue
        view = views[network_id]
        flood.setdefault(network_id, set()).add(vtep)
        view["unicast"][mac] = vtep
        if ip is not None:
            view["neigh"][ip] = mac
    for network_id, vteps_of in flood.items():
        views[network_id]["flood"] = sorted(vteps_of)
    return views


class L2populationMechanismDriver(MechanismDriver):
    """Enables the l2pop view in get_host_state (services/agent_rpc.py); binds nothing."""

    name = "l2population"
    filters_hosts = True  # (leaves it to the agent-based drivers, as Neutron's)

    @staticmethod
    def fdb_views(conn: Connection, network_ids: Collection[str], host: str
                  ) -> dict[str, dict[str, Any]]:
        return fdb_views(conn, network_ids, host)

    @staticmethod
    def hosts_for_networks(conn: Connection, network_ids: Collection[str]
                           ) -> dict[str, set[str]]:
        return hosts_for_networks(conn, network_ids)
