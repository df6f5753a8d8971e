"""The Open vSwitch agent's options, with Neutron's names and sections, so an
``openvswitch_agent.ini`` written for Neutron works:

    [ovs]
    integration_bridge = br-int
    tunnel_bridge = br-tun
    bridge_mappings = physnet1:br-ex
    local_ip = 192.0.2.11
    datapath_type = netdev
    of_interface = native            # accepted; flows always go through ovs-ofctl bundles
    ovsdb_connection = unix:/run/openvswitch/db.sock
    [agent]
    tunnel_types = vxlan,gre,geneve
    l2_population = true
    arp_responder = true
    polling_interval = 2
    [securitygroup]
    firewall_driver = openvswitch    # or noop
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from oslo_config import cfg

from neutrino.agent import base, interface

TUNNEL_TYPES = ("vxlan", "gre", "geneve")
NOOP_DRIVERS = ("noop", "neutron.agent.firewall.NoopFirewallDriver")
# Neutron's names of its OpenFlow conntrack firewall (the alias and the class path)
OVS_DRIVERS = ("openvswitch",
               "neutron.agent.linux.openvswitch_firewall:OVSFirewallDriver",
               "neutron.agent.linux.openvswitch_firewall.OVSFirewallDriver")
FIREWALL_DRIVERS = NOOP_DRIVERS + OVS_DRIVERS
MAX_NAME = 15  # IFNAMSIZ - 1: OVS port names become kernel-visible interface names

INTEGRATION_BRIDGE, OVSDB_CONNECTION = interface.ovs_interface_opts
ovs_opts = [
    INTEGRATION_BRIDGE,
    cfg.StrOpt("tunnel_bridge", default="br-tun", help="The bridge of the tunnel ports."),
    cfg.ListOpt("bridge_mappings", default=[],
                help="physical_network:bridge pairs: the OVS bridge (made by the operator, "
                "with the physical interface in it) each flat/vlan physical network is "
                "reached through."),
    cfg.StrOpt("local_ip", help="This host's tunnel endpoint address."),
    cfg.StrOpt("datapath_type", default="system",
               help="Datapath of the bridges the agent creates: system (kernel) or netdev "
               "(userspace)."),
    cfg.StrOpt("of_interface", default="native",
               help="Accepted for Neutron compatibility; flows are always programmed with "
               "ovs-ofctl bundles (docs/ovs-agent.md)."),
    OVSDB_CONNECTION,
    cfg.StrOpt("ovs_rundir",
               help="OVS run directory of this host's ovs-vswitchd (its <bridge>.mgmt "
               "sockets); unset: ovs-ofctl's default (OVS_RUNDIR or /var/run/openvswitch)."),
    cfg.FloatOpt("ovsdb_timeout", default=10.0, help="Seconds an OVSDB transaction may take."),
]

agent_ovs_opts = [
    cfg.ListOpt("tunnel_types", default=[],
                help="Tunnel network types this host builds: vxlan, gre, geneve."),
    cfg.BoolOpt("l2_population", default=True,
                help="Tunnel flooding and unicast flows from the server's l2population "
                "entries."),
    cfg.BoolOpt("arp_responder", default=True,
                help="Answer ARP requests for remote ports on br-tun from l2population."),
    cfg.PortOpt("vxlan_udp_port", default=4789, help="UDP port of VXLAN tunnels."),
]

securitygroup_opts = [
    cfg.StrOpt("firewall_driver", default="noop",
               help="openvswitch (security groups as OpenFlow flows on OVS conntrack) or "
               "noop (ports unfiltered; vif_details port_filter false)."),
    cfg.BoolOpt("enable_security_group", default=True,
                help="Enforce security groups (firewall_driver openvswitch); false: "
                "nothing is filtered."),
]


def register_opts(conf: cfg.ConfigOpts) -> None:
    base.register_agent_opts(conf)
    for opt in ovs_opts:  # integration_bridge & co. may be there (agent/interface.py)
        with contextlib.suppress(cfg.DuplicateOptError):
            conf.register_opt(opt, group="ovs")
    # oslo.config reads a file's [agent] into the group AGENT (sections match without
    # regard to case), where the base registers polling_interval & co.
    conf.register_opts(agent_ovs_opts, group="AGENT")
    for opt in securitygroup_opts:  # the Linux bridge agent's firewall may have them
        with contextlib.suppress(cfg.DuplicateOptError):
            conf.register_opt(opt, group="securitygroup")


@dataclass(frozen=True)
class OvsConfig:
    integration_bridge: str = "br-int"
    tunnel_bridge: str = "br-tun"
    bridge_mappings: dict[str, str] = field(default_factory=dict)
    local_ip: str | None = None
    datapath_type: str = "system"
    tunnel_types: tuple[str, ...] = ()
    l2_population: bool = True
    arp_responder: bool = True
    vxlan_udp_port: int = 4789
    firewall_driver: str = "noop"


def parse_bridge_mappings(values: Iterable[str]) -> dict[str, str]:
    """``["physnet1:br-ex"]`` -> {"physnet1": "br-ex"}; ValueError on a bad entry, a
    physical network or bridge mapped twice."""
    out: dict[str, str] = {}
    for raw in values:
        item = raw.strip()
        if not item:
            continue
        physnet, sep, bridge = (s.strip() for s in item.partition(":"))
        if not sep or not physnet or not bridge:
            raise ValueError(f"invalid bridge_mappings entry {item!r} "
                             "(want physical_network:bridge)")
        if len(bridge) > MAX_NAME - 4:  # room for the int-/phy- patch port names
            raise ValueError(f"bridge name {bridge!r} too long (at most {MAX_NAME - 4})")
        if physnet in out:
            raise ValueError(f"physical network {physnet} is mapped twice")
        if bridge in out.values():
            raise ValueError(f"bridge {bridge} is mapped to two physical networks")
        out[physnet] = bridge
    return out


def ovs_config(conf: cfg.ConfigOpts) -> OvsConfig:
    agent = conf.AGENT
    tunnel_types = tuple(t.strip().lower() for t in agent.tunnel_types if t.strip())
    bad = [t for t in tunnel_types if t not in TUNNEL_TYPES]
    if bad:
        raise ValueError(f"unsupported tunnel_types {bad} (supported: {list(TUNNEL_TYPES)})")
    local_ip = conf.ovs.local_ip
    if local_ip:
        local_ip = str(ipaddress.ip_address(local_ip))
    if tunnel_types and not local_ip:
        raise ValueError("[agent] tunnel_types needs [ovs] local_ip")
    firewall = conf.securitygroup.firewall_driver or "noop"
    if firewall not in FIREWALL_DRIVERS:
        raise ValueError(f"[securitygroup] firewall_driver {firewall!r} is not supported "
                         "by this agent (supported: openvswitch, noop)")
    firewall = "openvswitch" if firewall in OVS_DRIVERS else "noop"
    if not conf.securitygroup.enable_security_group:
        firewall = "noop"
    if conf.ovs.of_interface not in ("native", "ovs-ofctl"):
        raise ValueError(f"[ovs] of_interface {conf.ovs.of_interface!r} unknown")
    return OvsConfig(
        integration_bridge=conf.ovs.integration_bridge,
        tunnel_bridge=conf.ovs.tunnel_bridge,
        bridge_mappings=parse_bridge_mappings(conf.ovs.bridge_mappings),
        local_ip=local_ip,
        datapath_type=conf.ovs.datapath_type,
        tunnel_types=tunnel_types,
        l2_population=agent.l2_population,
        arp_responder=agent.arp_responder,
        vxlan_udp_port=agent.vxlan_udp_port,
        firewall_driver=firewall,
    )
