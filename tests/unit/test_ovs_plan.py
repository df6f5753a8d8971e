"""The Open vSwitch agent's planning (agent/ovs/plan.py), pure: no OVS, no root."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from neutrino.agent.ovs import config as oc
from neutrino.agent.ovs import plan as p
from neutrino.agent.ovs.config import OvsConfig
from neutrino.agent.ovs.model import (
    DEAD_VLAN,
    L2pop,
    NetworkSpec,
    Observed,
    ObservedPort,
    PortSpec,
    parse_host_state,
)
from neutrino.protocol import ovs as proto

CONF = OvsConfig(bridge_mappings={"physnet1": "br-ex"}, local_ip="192.0.2.1",
                 datapath_type="netdev", tunnel_types=("vxlan", "gre"))
NET_A, NET_B, NET_V = "a" * 8 + "-0000-0000-0000-000000000000", "b" * 8 + "-x", "v" * 8


def vxlan(nid: str, vni: int, *ports: str, flood: tuple[str, ...] = (),
          unicast: dict[str, str] | None = None, neigh: dict[str, str] | None = None
          ) -> NetworkSpec:
    return NetworkSpec(id=nid, network_type="vxlan", physical_network=None,
                       segmentation_id=vni, mtu=1450,
                       ports=tuple(PortSpec(x, f"fa:16:3e:00:00:{i:02x}")
                                   for i, x in enumerate(ports)),
                       l2pop=L2pop(flood=flood, unicast=unicast or {}, neigh=neigh or {}))


def base_ports(**extra: ObservedPort) -> dict[str, ObservedPort]:
    ports = {
        "patch-tun": ObservedPort("patch-tun", "br-int", "patch", 1, options={"peer": "patch-int"}),
        "patch-int": ObservedPort("patch-int", "br-tun", "patch", 1, options={"peer": "patch-tun"}),
        "int-br-ex": ObservedPort("int-br-ex", "br-int", "patch", 2,
                                  options={"peer": "phy-br-ex"}),
        "phy-br-ex": ObservedPort("phy-br-ex", "br-ex", "patch", 1,
                                  options={"peer": "int-br-ex"}),
    }
    ports.update(extra)
    return ports


def observed(**ports: ObservedPort) -> Observed:
    return Observed(bridges={"br-int": "netdev", "br-tun": "netdev", "br-ex": "netdev"},
                    ports=base_ports(**ports), cookie=0x42)


def vm(name: str, iface_id: str, ofport: int = 10, tag: int | None = None,
       other: dict[str, str] | None = None, mtu: int | None = None) -> ObservedPort:
    return ObservedPort(name, "br-int", "", ofport, tag=tag, iface_id=iface_id,
                        other_config=other or {}, mtu_request=mtu)


def test_a_fresh_host_gets_bridges_patches_and_the_cookie() -> None:
    plan = p.plan_ovsdb({}, None, Observed(), CONF, new_cookie=7)
    assert plan.ops[:3] == [p.AddBridge("br-int", "netdev"), p.AddBridge("br-tun", "netdev"),
                            p.AddBridge("br-ex", "netdev")]
    assert p.SetCookie("br-int", 7) in plan.ops
    assert p.AddPort("br-int", "patch-tun", "patch", {"peer": "patch-int"}) in plan.ops
    assert p.AddPort("br-ex", "phy-br-ex", "patch", {"peer": "int-br-ex"}) in plan.ops
    # an existing host with everything: nothing to do
    assert not p.plan_ovsdb({}, None, observed(), CONF, new_cookie=7)


def test_local_vlans_are_recorded_and_read_back() -> None:
    a = vxlan(NET_A, 1001, "pa", flood=("192.0.2.2",), unicast={"fa:16:3e:99:00:01": "192.0.2.2"})
    b = vxlan(NET_B, 1002, "pb")
    obs = observed(tapa=vm("tapa", "pa", 10), tapb=vm("tapb", "pb", 11))
    plan = p.plan_ovsdb({NET_A: a, NET_B: b}, None, obs, CONF, 7)
    assert plan.lvids == {NET_A: 1, NET_B: 2}
    assert p.SetPort("tapa", 1, {"net_uuid": NET_A, "network_type": "vxlan",
                                 "segmentation_id": "1001", "tag": "1"}) in plan.ops
    assert p.SetMtu("tapa", 1450) in plan.ops
    assert p.AddPort("br-tun", "vxlan-c0000202", "vxlan",
                     {"remote_ip": "192.0.2.2", "local_ip": "192.0.2.1", "in_key": "flow",
                      "out_key": "flow"}) in plan.ops
    assert sorted(plan.ports_up) == ["pa", "pb"]
    # after a restart: what OVSDB recorded is kept, whatever the order of networks now
    rec_b = {"net_uuid": NET_B, "network_type": "vxlan", "segmentation_id": "1002", "tag": "1"}
    rec_a = {"net_uuid": NET_A, "network_type": "vxlan", "segmentation_id": "1001", "tag": "2"}
    obs2 = observed(tapa=vm("tapa", "pa", 10, 2, rec_a, 1450),
                    tapb=vm("tapb", "pb", 11, 1, rec_b, 1450),
                    **{"vxlan-c0000202": ObservedPort(
                        "vxlan-c0000202", "br-tun", "vxlan", 5,
                        options={"remote_ip": "192.0.2.2", "local_ip": "192.0.2.1",
                                 "in_key": "flow", "out_key": "flow"})})
    again = p.plan_ovsdb({NET_A: a, NET_B: b}, None, obs2, CONF, 7)
    assert again.ops == [] and again.lvids == {NET_A: 2, NET_B: 1}


def test_unknown_and_admin_down_ports_go_to_the_dead_vlan() -> None:
    a = vxlan(NET_A, 1001, "pa")
    rec = {"net_uuid": NET_A, "network_type": "vxlan", "segmentation_id": "1001", "tag": "1"}
    obs = observed(tapa=vm("tapa", "pa", 10, 1, rec, 1450),
                   tapx=vm("tapx", "gone", 11, 1, rec))
    plan = p.plan_ovsdb({NET_A: a}, None, obs, CONF, 7)
    assert plan.ops == [p.SetPort("tapx", DEAD_VLAN, {})]
    # a partial resync of another network leaves them alone
    assert p.plan_ovsdb({}, {NET_B}, obs, CONF, 7).ops == []
    down = NetworkSpec(**{**a.__dict__, "ports": (PortSpec("pa", admin_state_up=False),)})
    plan = p.plan_ovsdb({NET_A: down}, {NET_A}, obs, CONF, 7)
    assert p.SetPort("tapa", DEAD_VLAN, {}) in plan.ops and plan.ports_down == ["pa"]


def test_a_moved_or_retyped_port_is_recreated_and_stale_tunnels_go() -> None:
    wrong = ObservedPort("patch-tun", "br-int", "patch", 1, options={"peer": "elsewhere"})
    stale = ObservedPort("gre-c0000209", "br-tun", "gre", 7,
                         options={"remote_ip": "192.0.2.9"})
    plan = p.plan_ovsdb({}, None, observed(**{"patch-tun": wrong, "gre-c0000209": stale}),
                        CONF, 7)
    assert plan.ops == [p.DelPort("br-int", "patch-tun"),
                        p.AddPort("br-int", "patch-tun", "patch", {"peer": "patch-int"}),
                        p.DelPort("br-tun", "gre-c0000209")]
    # a partial resync too (desired is the whole host's): none of its networks needs it
    partial = p.plan_ovsdb({}, {NET_A}, observed(**{"gre-c0000209": stale}), CONF, 7)
    assert partial.ops == [p.DelPort("br-tun", "gre-c0000209")]
    # and one a network still needs stays
    a = vxlan(NET_A, 1001, "pa", flood=("192.0.2.9",))
    tun = ObservedPort("vxlan-c0000209", "br-tun", "vxlan", 8, options={
        "remote_ip": "192.0.2.9", "local_ip": "192.0.2.1", "in_key": "flow",
        "out_key": "flow"})
    rec = {"net_uuid": NET_A, "network_type": "vxlan", "segmentation_id": "1001", "tag": "1"}
    kept = p.plan_ovsdb({NET_A: a}, {NET_B}, observed(
        tapa=vm("tapa", "pa", 10, 1, rec, 1450), **{"vxlan-c0000209": tun}), CONF, 7)
    assert kept.ops == []


def test_flows_of_a_vxlan_network_with_l2population() -> None:
    a = vxlan(NET_A, 1001, "pa", flood=("192.0.2.2", "192.0.2.3"),
              unicast={"fa:16:3e:99:00:01": "192.0.2.2"},
              neigh={"10.0.0.5": "fa:16:3e:99:00:01"})
    tun2 = ObservedPort("vxlan-c0000202", "br-tun", "vxlan", 5)
    tun3 = ObservedPort("vxlan-c0000203", "br-tun", "vxlan", 6)
    obs = observed(tapa=vm("tapa", "pa"), **{"vxlan-c0000202": tun2, "vxlan-c0000203": tun3})
    flows = p.plan_flows({NET_A: a}, {NET_A: 3}, obs, CONF)
    tun = flows["br-tun"]
    assert "table=0,priority=1,in_port=5 actions=resubmit(,4)" in tun
    assert ("table=4,priority=1,tun_id=0x3e9 "
            "actions=push_vlan:0x8100,set_field:4099->vlan_vid,output:1") in tun
    assert ("table=22,priority=1,dl_vlan=3 actions=pop_vlan,set_field:0x3e9->tun_id,"
            "output:5,output:6") in tun
    assert ("table=20,priority=2,dl_vlan=3,dl_dst=fa:16:3e:99:00:01 "
            "actions=pop_vlan,set_field:0x3e9->tun_id,output:5") in tun
    assert any(f.startswith("table=21,priority=1,arp,dl_vlan=3,arp_tpa=10.0.0.5") for f in tun)
    assert "table=3,priority=0 actions=drop" in tun  # gre configured, no network yet
    # a tunnel port not there yet: the flows wait for it
    with pytest.raises(p.MissingPort):
        p.plan_flows({NET_A: a}, {NET_A: 3}, observed(tapa=vm("tapa", "pa")), CONF)


def test_flows_of_provider_networks_translate_vlans() -> None:
    v = NetworkSpec(id=NET_V, network_type="vlan", physical_network="physnet1",
                    segmentation_id=100, mtu=1500, ports=(PortSpec("pv"),))
    f = NetworkSpec(id=NET_B, network_type="flat", physical_network="physnet1",
                    segmentation_id=None, mtu=1500, ports=(PortSpec("pf"),))
    flows = p.plan_flows({NET_V: v, NET_B: f}, {NET_V: 4, NET_B: 5}, observed(), CONF)
    assert ("table=0,priority=3,in_port=2,dl_vlan=100 "
            "actions=set_field:4100->vlan_vid,resubmit(,60)" in flows["br-int"])
    assert ("table=0,priority=3,in_port=2,vlan_tci=0x0000/0x1fff "
            "actions=push_vlan:0x8100,set_field:4101->vlan_vid,resubmit(,60)" in flows["br-int"])
    assert flows["br-ex"] == [
        "table=0,priority=2,in_port=1 actions=drop", "table=0,priority=0 actions=NORMAL",
        "table=0,priority=4,in_port=1,dl_vlan=5 actions=pop_vlan,NORMAL",
        "table=0,priority=4,in_port=1,dl_vlan=4 actions=set_field:4196->vlan_vid,NORMAL"]


def test_unreachable_networks_get_no_local_vlan() -> None:
    v = NetworkSpec(id=NET_V, network_type="vlan", physical_network="other",
                    segmentation_id=100, mtu=1500, ports=(PortSpec("pv"),))
    plan = p.plan_ovsdb({NET_V: v}, None, observed(tapv=vm("tapv", "pv")), CONF, 7)
    assert plan.lvids == {} and plan.ports_down == ["pv"]


def test_tunnel_port_names() -> None:
    assert p.tunnel_port_name("vxlan", "192.0.2.2") == "vxlan-c0000202"
    assert p.tunnel_port_name("geneve", "10.0.0.1") == "geneve-0a000001"
    assert len(p.tunnel_port_name("geneve", "2001:db8::1")) == 15


def test_parse_host_state_and_config() -> None:
    state = proto.HostState(host="h", networks=[proto.Network(
        id=NET_A, network_type="vxlan", segmentation_id=5, mtu=1450,
        ports=[proto.Port(id="pa", mac_address="FA:16:3E:00:00:01")],
        l2pop=proto.L2pop(flood=["192.0.2.3", "192.0.2.2"]))])
    [net] = parse_host_state(state).values()
    assert net.ports[0].mac_address == "fa:16:3e:00:00:01"
    assert net.l2pop is not None and net.l2pop.flood == ("192.0.2.2", "192.0.2.3")
    conf = cfg.ConfigOpts()
    oc.register_opts(conf)
    conf([], default_config_files=[])
    conf.set_override("bridge_mappings", ["physnet1:br-ex"], "ovs")
    conf.set_override("tunnel_types", ["vxlan"], "AGENT")
    with pytest.raises(ValueError, match="local_ip"):
        oc.ovs_config(conf)
    conf.set_override("local_ip", "192.0.2.1", "ovs")
    assert oc.ovs_config(conf).bridge_mappings == {"physnet1": "br-ex"}
    conf.set_override("firewall_driver", "iptables_hybrid", "securitygroup")
    with pytest.raises(ValueError, match="not supported"):
        oc.ovs_config(conf)
    with pytest.raises(ValueError, match="mapped twice"):
        oc.parse_bridge_mappings(["a:br-1", "a:br-2"])
