"""The Linux bridge agent's planning: desired state + kernel state -> actions (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from neutrino.agent.l2 import bridge_plan as bp
from neutrino.agent.l2.linuxbridge import parse_mappings
from neutrino.agent.linux.devices import Device
from neutrino.agent.linux.fdb import FdbState
from neutrino.agent.linux.vlan import VlanInfo, vlan_device_name
from neutrino.agent.linux.vxlan import VxlanInfo
from neutrino.protocol import convert, rpc
from neutrino.protocol import linuxbridge as lb

NET = "1b2c3d4e-0000-4000-8000-00000000000a"
NET2 = "2b2c3d4e-0000-4000-8000-00000000000b"
P1 = "a1a1a1a1-0000-4000-8000-000000000001"
P2 = "b2b2b2b2-0000-4000-8000-000000000002"
BR = "brq1b2c3d4e-00"
BR2 = "brq2b2c3d4e-00"
TAP1 = "tapa1a1a1a1-00"
TAP2 = "tapb2b2b2b2-00"
LOCAL = "192.0.2.11"
CONFIG = bp.BridgeConfig(interface_mappings={"provider": "eth1"}, local_ip=LOCAL)


def parse_network(raw: dict) -> bp.NetworkSpec:
    return bp.parse_network(convert(raw, lb.Network))


def parse_host_state(raw: dict) -> dict[str, bp.NetworkSpec]:
    return bp.parse_host_state(convert(raw, lb.HostState))


def parse_port(raw: dict) -> bp.PortSpec:
    return bp.parse_port(convert(raw, lb.Port))


def dev(name: str, kind: str | None = None, *, mtu: int = 1500, up: bool = True,
        master: str | None = None, index: int = 0) -> Device:
    return Device(name=name, index=index or abs(hash(name)) % 10000 + 10, kind=kind, mtu=mtu,
                  up=up, operstate="UP" if up else "DOWN", mac=None, master=master)


def vx(vni: int, *, l2pop: bool = True, group: str | None = None,
       lower: str = "ul0") -> VxlanInfo:
    return VxlanInfo(name=f"vxlan-{vni}", vni=vni, local_ip=LOCAL, dev=lower, dstport=4789,
                     group=group, learning=not l2pop, proxy=l2pop)


def kernel(*devs: Device, vxlans: tuple[VxlanInfo, ...] = (),
           fdb: dict[str, FdbState] | None = None,
           vlans: tuple[VlanInfo, ...] = ()) -> bp.KernelState:
    base = [dev("lo"), dev("ul0", "veth")]
    return bp.KernelState(devices={d.name: d for d in [*base, *devs]},
                          vxlans={v.name: v for v in vxlans},
                          vlans={v.name: v for v in vlans},
                          fdb=fdb or {}, addresses={LOCAL: "ul0"})


REMOTE = {"flood": ["192.0.2.12"], "unicast": {"fa:16:3e:00:00:02": "192.0.2.12"},
          "neigh": {"10.99.0.2": "fa:16:3e:00:00:02"}}


def vxlan_net(ports: list[str] = (P1,), *, net: str = NET, vni: int = 101,
              l2pop: dict | None = None, mtu: int = 1450) -> bp.NetworkSpec:
    return parse_network({
        "id": net, "network_type": "vxlan", "physical_network": None,
        "segmentation_id": vni, "mtu": mtu,
        "ports": [{"id": p, "mac_address": "fa:16:3e:00:00:01", "fixed_ips": [],
                   "admin_state_up": True, "device_owner": "compute:nova",
                   "device": "tap" + p[:11]} for p in ports],
        "l2pop": REMOTE if l2pop is None else l2pop,
    })


def converged_vxlan_kernel(*extra: Device) -> bp.KernelState:
    wanted = bp.L2pop(frozenset({"192.0.2.12"}), {"fa:16:3e:00:00:02": "192.0.2.12"},
                      {"10.99.0.2": "fa:16:3e:00:00:02"}).fdb_state()
    return kernel(dev(BR, "bridge", mtu=1450), dev("vxlan-101", "vxlan", mtu=1450, master=BR),
                  dev(TAP1, "veth", mtu=1450, master=BR), *extra, vxlans=(vx(101),),
                  fdb={"vxlan-101": wanted})


def test_parse_host_state_normalizes() -> None:
    nets = parse_host_state({"host": "h1", "networks": [{
        "id": NET, "network_type": "vxlan", "segmentation_id": 7, "mtu": 1450,
        "ports": [{"id": P1, "mac_address": "FA:16:3E:00:00:01"}],
        "l2pop": {"flood": ["192.0.2.012".replace("012", "12")],
                  "unicast": {"FA:16:3E:0:0:2": "192.0.2.12"},
                  "neigh": {"10.99.0.2": "FA:16:3E:00:00:02"}}}]})
    net = nets[NET]
    assert net.bridge == BR
    assert net.ports[0].device == TAP1  # derived when the server leaves it out
    assert net.ports[0].mac_address == "fa:16:3e:00:00:01"
    assert net.l2pop.unicast == {"fa:16:3e:00:00:02": "192.0.2.12"}


def test_fresh_host_builds_bridge_vxlan_fdb_and_attaches_tap() -> None:
    desired = {NET: vxlan_net()}
    k = kernel(dev(TAP1, "veth"))
    plan = bp.plan_host(desired, None, k, CONFIG)
    (net,) = plan.networks
    assert net.error is None
    assert [type(a) for a in net.actions] == [bp.EnsureBridge, bp.EnsureVxlan, bp.SyncFdb,
                                              bp.AttachTap]
    assert net.actions[0] == bp.EnsureBridge(BR, 1450)
    ensure = net.actions[1]
    assert isinstance(ensure, bp.EnsureVxlan)
    assert ensure.want == vx(101) and ensure.bridge == BR and ensure.mtu == 1450
    fdb = net.actions[2]
    assert isinstance(fdb, bp.SyncFdb)
    assert fdb.wanted.flood == frozenset({"192.0.2.12"})
    assert fdb.current == FdbState() and len(fdb.diff) == 3
    assert net.actions[3] == bp.AttachTap(TAP1, BR, 1450, P1)
    assert net.ports_up == [P1] and net.ports_attached == [P1]
    assert plan.cleanup == []


def test_converged_host_gets_an_empty_plan() -> None:
    """What makes an agent restart invisible: nothing to do on a host that is right."""
    plan = bp.plan_host({NET: vxlan_net()}, None, converged_vxlan_kernel(), CONFIG)
    assert not plan
    assert plan.actions == []
    assert plan.networks[0].ports_up == [P1]
    assert plan.networks[0].ports_attached == []


def test_port_without_tap_is_unplugged_but_network_built() -> None:
    plan = bp.plan_host({NET: vxlan_net()}, None, kernel(), CONFIG)
    (net,) = plan.networks
    assert net.ports_unplugged == [P1] and net.ports_up == []
    assert bp.EnsureBridge(BR, 1450) in net.actions


def test_fdb_change_only_syncs_fdb() -> None:
    l2 = {"flood": ["192.0.2.12", "192.0.2.13"],
          "unicast": {"fa:16:3e:00:00:02": "192.0.2.12", "fa:16:3e:00:00:03": "192.0.2.13"},
          "neigh": {"10.99.0.2": "fa:16:3e:00:00:02", "10.99.0.3": "fa:16:3e:00:00:03"}}
    plan = bp.plan_host({NET: vxlan_net(l2pop=l2)}, None, converged_vxlan_kernel(), CONFIG)
    assert [type(a) for a in plan.actions] == [bp.SyncFdb]
    diff = plan.actions[0].diff
    assert diff.flood_add == ("192.0.2.13",) and not diff.flood_del
    assert diff.unicast_set == (("fa:16:3e:00:00:03", "192.0.2.13"),)


def test_wrong_vxlan_parameters_recreate_and_resync_fdb() -> None:
    k = converged_vxlan_kernel()
    k = dataclasses.replace(k, vxlans={"vxlan-101": vx(101, lower="eth9")})
    plan = bp.plan_host({NET: vxlan_net()}, None, k, CONFIG)
    assert [type(a) for a in plan.actions] == [bp.EnsureVxlan, bp.SyncFdb]


def test_mtu_change_reconfigures_bridge_vxlan_and_tap() -> None:
    plan = bp.plan_host({NET: vxlan_net(mtu=1400)}, None, converged_vxlan_kernel(), CONFIG)
    kinds = [type(a) for a in plan.actions]
    assert kinds == [bp.EnsureBridge, bp.EnsureVxlan, bp.AttachTap]
    assert plan.networks[0].ports_attached == [P1]


def test_multicast_mode_without_l2pop() -> None:
    config = dataclasses.replace(CONFIG, l2_population=False, vxlan_group="239.1.1.0/24")
    plan = bp.plan_host({NET: vxlan_net(vni=0x105)}, None, kernel(), config)
    (ensure,) = [a for a in plan.actions if isinstance(a, bp.EnsureVxlan)]
    assert ensure.want.group == "239.1.1.5"  # vni & hostmask spread over the range
    assert ensure.want.learning and not ensure.want.proxy
    assert not any(isinstance(a, bp.SyncFdb) for a in plan.actions)


def test_vxlan_without_l2pop_or_group_is_an_error() -> None:
    config = dataclasses.replace(CONFIG, l2_population=False)
    plan = bp.plan_host({NET: vxlan_net()}, None, kernel(dev(TAP1, "veth")), config)
    assert "l2_population or a vxlan_group" in (plan.networks[0].error or "")
    assert plan.actions == [] and plan.networks[0].ports_up == []


@pytest.mark.parametrize("config, message", [
    (dataclasses.replace(CONFIG, enable_vxlan=False), "VXLAN is disabled"),
    (dataclasses.replace(CONFIG, local_ip=None), "no [vxlan] local_ip"),
    (dataclasses.replace(CONFIG, local_ip="192.0.2.99"), "not an address of any interface"),
])
def test_vxlan_configuration_errors(config: bp.BridgeConfig, message: str) -> None:
    plan = bp.plan_host({NET: vxlan_net()}, None, kernel(), config)
    assert message in (plan.networks[0].error or "")


def test_vxlan_group_for() -> None:
    assert bp.vxlan_group_for("239.1.1.1", 77) == "239.1.1.1"
    assert bp.vxlan_group_for("239.0.0.0/8", 0x010203) == "239.1.2.3"


def flat_net(ports: list[str] = (P1,), physnet: str = "provider") -> bp.NetworkSpec:
    return parse_network({"id": NET2, "network_type": "flat", "physical_network": physnet,
                             "segmentation_id": None, "mtu": 1500,
                             "ports": [{"id": p, "mac_address": "fa:16:3e:00:00:09"}
                                       for p in ports]})


def test_flat_attaches_mapped_interface() -> None:
    k = kernel(dev("eth1", "veth"), dev(TAP1, "veth"))
    plan = bp.plan_host({NET2: flat_net()}, None, k, CONFIG)
    assert plan.actions == [bp.EnsureBridge(BR2, 1500), bp.AttachInterface("eth1", BR2),
                            bp.AttachTap(TAP1, BR2, 1500, P1)]
    converged = kernel(dev("eth1", "veth", master=BR2), dev(TAP1, "veth", master=BR2),
                       dev(BR2, "bridge"))
    assert not bp.plan_host({NET2: flat_net()}, None, converged, CONFIG)


def test_flat_unmapped_or_missing_interface_is_an_error() -> None:
    plan = bp.plan_host({NET2: flat_net(physnet="other")}, None, kernel(), CONFIG)
    assert "not in physical_interface_mappings" in (plan.networks[0].error or "")
    plan = bp.plan_host({NET2: flat_net()}, None, kernel(), CONFIG)
    assert "eth1 of physical network provider does not exist" in (plan.networks[0].error
                                                                  or "")


def vlan_net(vlan: int = 100) -> bp.NetworkSpec:
    return parse_network({"id": NET2, "network_type": "vlan", "physical_network": "provider",
                             "segmentation_id": vlan, "mtu": 1500,
                             "ports": [{"id": P1, "mac_address": "fa:16:3e:00:00:09"}]})


def test_vlan_plans_subinterface() -> None:
    k = kernel(dev("eth1", "veth"), dev(TAP1, "veth"))
    plan = bp.plan_host({NET2: vlan_net()}, None, k, CONFIG)
    assert plan.actions == [bp.EnsureBridge(BR2, 1500), bp.EnsureVlan("eth1", 100, "eth1.100"),
                            bp.AttachInterface("eth1.100", BR2),
                            bp.AttachTap(TAP1, BR2, 1500, P1)]
    converged = kernel(dev("eth1", "veth"), dev("eth1.100", "vlan", master=BR2),
                       dev(TAP1, "veth", master=BR2), dev(BR2, "bridge"),
                       vlans=(VlanInfo("eth1.100", 100, "eth1"),))
    assert not bp.plan_host({NET2: vlan_net()}, None, converged, CONFIG)
    # the wrong tag on the sub-interface: recreated
    wrong = dataclasses.replace(converged, vlans={"eth1.100": VlanInfo("eth1.100", 200,
                                                                       "eth1")})
    assert bp.EnsureVlan("eth1", 100, "eth1.100") in bp.plan_host(
        {NET2: vlan_net()}, None, wrong, CONFIG).actions


def test_vlan_device_name_fits_ifnamsiz() -> None:
    assert vlan_device_name("eth1", 100) == "eth1.100"
    long = vlan_device_name("enp0s31f6-uplink", 4094)
    assert len(long) == 15 and long.endswith(".4094")
    assert long != vlan_device_name("enp0s31f6-uplinK", 4094)
    with pytest.raises(ValueError):
        vlan_device_name("eth1", 4095)


def test_admin_down_port_is_taken_out() -> None:
    net = vxlan_net()
    net = dataclasses.replace(net, ports=(dataclasses.replace(net.ports[0],
                                                              admin_state_up=False),))
    plan = bp.plan_host({NET: net}, None, converged_vxlan_kernel(), CONFIG)
    assert plan.actions == [bp.DetachTap(TAP1, P1)]
    assert plan.networks[0].ports_down == [P1] and plan.networks[0].ports_up == []


def test_network_without_ports_is_removed_with_its_devices() -> None:
    k = converged_vxlan_kernel()
    plan = bp.plan_host({NET: vxlan_net(ports=[])}, None, k, CONFIG, {TAP1: P1})
    assert plan.networks == []
    assert plan.cleanup == [bp.DetachTap(TAP1, P1), bp.DeleteDevice("vxlan-101"),
                            bp.DeleteBridge(BR)]
    assert plan.ports_down == [P1]


def test_full_resync_removes_unknown_bridges_and_orphan_vxlans_only_ours() -> None:
    k = kernel(dev(BR, "bridge"), dev("vxlan-101", "vxlan", master=BR),
               dev("vxlan-7", "vxlan"), dev("br-ex", "bridge"), dev("pvx", "vxlan"),
               vxlans=(vx(101), vx(7)))
    plan = bp.plan_host({}, None, k, CONFIG)
    assert plan.cleanup == [bp.DeleteDevice("vxlan-101"), bp.DeleteBridge(BR),
                            bp.DeleteDevice("vxlan-7")]


def test_flat_bridge_removal_keeps_the_physical_interface() -> None:
    k = kernel(dev(BR2, "bridge"), dev("eth1", "veth", master=BR2))
    plan = bp.plan_host({}, None, k, CONFIG)
    assert plan.cleanup == [bp.DetachInterface("eth1"), bp.DeleteBridge(BR2)]
    k = kernel(dev(BR2, "bridge"), dev("eth1", "veth"), dev("eth1.100", "vlan", master=BR2),
               vlans=(VlanInfo("eth1.100", 100, "eth1"),))
    plan = bp.plan_host({}, None, k, CONFIG)
    assert plan.cleanup == [bp.DeleteDevice("eth1.100"), bp.DeleteBridge(BR2)]


def test_partial_resync_touches_only_its_networks() -> None:
    k = converged_vxlan_kernel(dev(BR2, "bridge"), dev("eth1", "veth", master=BR2))
    # only NET2 asked for, and it is gone: its bridge goes, NET's stays
    plan = bp.plan_host({}, {NET2}, k, CONFIG)
    assert plan.cleanup == [bp.DetachInterface("eth1"), bp.DeleteBridge(BR2)]
    # only NET asked for and still wanted: nothing, NET2 is out of scope
    assert not bp.plan_host({NET: vxlan_net()}, {NET}, k, CONFIG)


def test_stray_tap_in_our_bridge_is_taken_out() -> None:
    k = converged_vxlan_kernel(dev(TAP2, "veth", master=BR))
    plan = bp.plan_host({NET: vxlan_net()}, None, k, CONFIG, {TAP2: P2})
    assert plan.cleanup == [bp.DetachTap(TAP2, P2)]
    assert plan.ports_down == [P2]
    # a tap of a wanted port of another network is not "stray": its network moves it
    net2 = vxlan_net(ports=[P2], net=NET2, vni=102)
    plan = bp.plan_host({NET: vxlan_net(), NET2: net2}, None, k, CONFIG)
    assert not any(isinstance(a, bp.DetachTap) for a in plan.actions)
    assert bp.AttachTap(TAP2, BR2, 1450, P2) in plan.actions


def test_unsupported_network_type() -> None:
    net = parse_network({"id": NET, "network_type": "gre", "segmentation_id": 5,
                            "ports": [{"id": P1}]})
    plan = bp.plan_host({NET: net}, None, kernel(), CONFIG)
    assert "not supported" in (plan.networks[0].error or "")


def test_local_network_is_bridge_only() -> None:
    net = parse_network({"id": NET, "network_type": "local", "ports": [{"id": P1}]})
    plan = bp.plan_host({NET: net}, None, kernel(dev(TAP1, "veth")), CONFIG)
    assert plan.actions == [bp.EnsureBridge(BR, 1500), bp.AttachTap(TAP1, BR, 1500, P1)]


def test_parse_mappings() -> None:
    assert parse_mappings(["provider:eth1", " phys2 : eth2 ", ""]) == {
        "provider": "eth1", "phys2": "eth2"}
    for bad in (["provider"], ["a:eth1", "a:eth2"], ["a:eth1", "b:eth1"],
                ["a:waytoolonginterfacename"]):
        with pytest.raises(ValueError):
            parse_mappings(bad)


class _Casts:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str]]] = []

    def __call__(self, method: str, args: rpc.DevicesUpDown) -> None:
        self.sent.append((method, args.port_ids))


def _agent() -> tuple[object, _Casts]:
    from neutrino.agent.l2.linuxbridge import LinuxBridgeAgent
    from neutrino.config import make_conf

    conf = make_conf([], overrides={"DEFAULT": {"transport_url": "inprocess://unit-report"}})
    agent = LinuxBridgeAgent(conf, bus=None)
    casts = _Casts()
    agent.cast = casts  # type: ignore[method-assign]
    return agent, casts


def test_reports_full_resync_everything_partial_only_news() -> None:
    agent, casts = _agent()
    net = bp.NetworkPlan(NET, BR, ports_up=[P1, P2], ports_attached=[P2],
                         ports_unplugged=["p3"])
    agent._report(bp.Plan(networks=[net]), {}, full=True)  # type: ignore[attr-defined]
    # first full pass after start: everything wired is up, what has no tap is down
    assert casts.sent == [("update_device_up", [P1, P2]), ("update_device_down", ["p3"])]
    agent._first_full_done = True  # type: ignore[attr-defined]
    casts.sent.clear()
    agent._report(bp.Plan(networks=[net]), {}, full=False)  # type: ignore[attr-defined]
    assert casts.sent == [("update_device_up", [P2])]  # attached now; P1 already said
    casts.sent.clear()
    agent._report(bp.Plan(networks=[net]), {NET: "boom"},  # type: ignore[attr-defined]
                  full=True)
    assert casts.sent == []  # a failed network reports nothing up
    gone = bp.NetworkPlan(NET, BR, ports_unplugged=[P1])
    agent._report(bp.Plan(networks=[gone]), {}, full=False)  # type: ignore[attr-defined]
    assert casts.sent == [("update_device_down", [P1])]  # was up, tap gone


P3 = "c3c3c3c3-0000-4000-8000-000000000003"


def three_taps_plan() -> bp.NetworkPlan:
    """A fresh host, three ports with taps: bridge, VXLAN, FDB, then one attach each."""
    spec = vxlan_net([P1, P2, P3])
    taps = [dev(p.device, "veth") for p in spec.ports]
    return bp.plan_host({NET: spec}, None, kernel(*taps), CONFIG).networks[0]


def test_wired_ports_all_but_those_whose_own_change_failed() -> None:
    net = three_taps_plan()
    attach = {a.port_id: a for a in net.actions if isinstance(a, bp.AttachTap)}
    assert net.ports_up == [P1, P2, P3] and set(attach) == {P1, P2, P3}
    assert bp.wired_ports(net, []) == [P1, P2, P3]
    # a tap refused (a full bridge: EXFULL) keeps only itself back
    assert bp.wired_ports(net, [attach[P2]]) == [P1, P3]
    assert bp.wired_ports(net, [attach[P1], attach[P3]]) == [P2]
    # the failure may come from the residual plan made after a batch: matched by port
    assert bp.wired_ports(net, [dataclasses.replace(attach[P3], mtu=9000)]) == [P1, P2]
    # the bridge or the segment failed: no port of the network is wired
    for shared in (a for a in net.actions if not bp.is_port_action(a)):
        assert bp.wired_ports(net, [shared]) == [], shared
        assert bp.wired_ports(net, [attach[P1], shared]) == []
    # a network this host cannot realize has nothing up
    bad = bp.plan_network(vxlan_net([P1]), kernel(dev(TAP1, "veth")),
                          dataclasses.replace(CONFIG, local_ip=None))
    assert bad.error and bp.wired_ports(bad, []) == []


def test_reports_the_plugged_ports_of_a_partly_failed_network() -> None:
    agent, casts = _agent()
    net = three_taps_plan()
    attach = {a.port_id: a for a in net.actions if isinstance(a, bp.AttachTap)}
    plan = bp.Plan(networks=[net])
    agent.failed_actions = {NET: [attach[P2]]}  # type: ignore[attr-defined]
    agent._report(plan, {NET: "1 port change(s) failed"},  # type: ignore[attr-defined]
                  full=True)
    assert casts.sent == [("update_device_up", [P1, P3])]  # P2 held back (retried)
    casts.sent.clear()
    agent.failed_actions = {}  # type: ignore[attr-defined]
    agent._report(plan, {}, full=False)  # type: ignore[attr-defined]
    assert casts.sent == [("update_device_up", [P1, P2, P3])]  # the retry wired P2
    casts.sent.clear()
    # P3 was up; its own change fails now: it goes down, the others are left alone
    agent.failed_actions = {NET: [attach[P3]]}  # type: ignore[attr-defined]
    agent._report(plan, {NET: "1 port change(s) failed"},  # type: ignore[attr-defined]
                  full=False)
    assert casts.sent == [("update_device_up", [P1, P2]), ("update_device_down", [P3])]
    casts.sent.clear()
    # the bridge failed: nothing reported, as for any failed network
    shared = next(a for a in net.actions if not bp.is_port_action(a))
    agent.failed_actions = {NET: [shared]}  # type: ignore[attr-defined]
    agent._report(plan, {NET: "boom"}, full=True)  # type: ignore[attr-defined]
    assert casts.sent == []


def test_batch_commands_render_the_plan() -> None:
    plan = bp.plan_host({NET: vxlan_net()}, None, kernel(dev(TAP1, "veth")), CONFIG)
    ip, br = bp.batch_commands(plan, kernel(dev(TAP1, "veth")))
    assert ip == [
        f"link add {BR} type bridge stp_state 0 forward_delay 0",
        f"link set {BR} mtu 1450 up",
        f"link add vxlan-101 type vxlan id 101 local {LOCAL} dev ul0 dstport 4789 "
        "nolearning proxy",
        f"link set vxlan-101 master {BR} mtu 1450 up",
        "neigh replace 10.99.0.2 lladdr fa:16:3e:00:00:02 dev vxlan-101 nud permanent",
        f"link set {TAP1} mtu 1450 master {BR} up",
    ]
    assert br == [
        "fdb append 00:00:00:00:00:00 dev vxlan-101 dst 192.0.2.12 self permanent",
        "fdb replace fa:16:3e:00:00:02 dev vxlan-101 dst 192.0.2.12 self permanent",
    ]
    gone = converged_vxlan_kernel()
    ip, br = bp.batch_commands(bp.plan_host({}, None, gone, CONFIG, {TAP1: P1}), gone)
    assert ip == [f"link set {TAP1} nomaster", "link del vxlan-101", f"link del {BR}"]
    assert br == []


def test_server_supplied_device_names_are_validated() -> None:
    with pytest.raises(ValueError):
        parse_port({"id": P1, "device": "tap x; reboot"})
