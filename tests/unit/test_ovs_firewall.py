"""The openvswitch firewall driver's planning (agent/ovs/firewall.py), pure: no OVS, no
root (the flows are checked by ovs-ofctl's own parser where it is installed)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from oslo_config import cfg

from neutrino.agent.l2.firewall.model import AddressPair, FirewallState, FwPort, Rule
from neutrino.agent.ovs import config as oc
from neutrino.agent.ovs import firewall as fw
from neutrino.agent.ovs import plan as p
from neutrino.agent.ovs.firewall import PortWiring, plan_firewall
from neutrino.agent.ovs.model import ObservedPort

SG, OTHER = "sg-web", "sg-db"
MAC1, MAC2 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"


def port(pid: str, mac: str, *ips: str, groups: tuple[str, ...] = (SG,),
         pse: bool | None = True, pairs: tuple[AddressPair, ...] = (),
         owner: str = "compute:nova") -> FwPort:
    return FwPort(pid, f"tap{pid}", "net", mac, tuple(ips), owner, pse, groups, pairs)


def state(ports: list[FwPort], groups: dict[str, tuple[Rule, ...]],
          members: dict[str, dict[str, tuple[str, ...]]] | None = None) -> FirewallState:
    return FirewallState({x.device: x for x in ports}, {}, groups, members or {})


WIRING = {"p1": PortWiring(5, 3), "p2": PortWiring(6, 3)}


def of_port(flows: list[str], reg5: int) -> list[str]:
    return [f for f in flows if f"reg5={reg5:#x}" in f]


def test_port_masks_cover_exactly_the_range() -> None:
    for lo, hi in [(22, 22), (1000, 1999), (1, 65535), (0, 65535), (80, 81), (1024, 65535),
                   (3, 17)]:
        covered = set()
        for m in fw.port_masks(lo, hi):
            value, _, mask = m.partition("/")
            v = int(value, 0)
            k = int(mask, 0) if mask else 0xFFFF
            covered |= {x for x in range(65536) if x & k == v}
        if not fw.port_masks(lo, hi):  # the whole range: no match at all
            assert lo <= 0 and hi >= 65535
            continue
        assert covered == set(range(lo, hi + 1)), (lo, hi)


def test_rule_matches() -> None:
    assert fw.rule_matches(Rule("ingress", "IPv4", "tcp", 22, 22)) == ["tcp,tp_dst=22"]
    assert fw.rule_matches(Rule("egress", "IPv4", None, remote_ip_prefix="10.0.0.0/8")) == [
        "ip,nw_dst=10.0.0.0/8"]
    assert fw.rule_matches(Rule("ingress", "IPv4", "icmp", 8, 0)) == [
        "icmp,icmp_type=8,icmp_code=0"]
    assert fw.rule_matches(Rule("ingress", "IPv6", "icmp")) == ["icmp6"]
    assert fw.rule_matches(Rule("ingress", "IPv6", "tcp", remote_ip_prefix="::/0")) == [
        "tcp6"]
    assert fw.rule_matches(Rule("ingress", "IPv4", "112")) == ["ip,nw_proto=112"]
    # a prefix of the other family can match nothing
    assert fw.rule_matches(Rule("ingress", "IPv4", remote_ip_prefix="fd00::/64")) == []


def test_closed_by_default_and_a_rule_opens() -> None:
    closed = plan_firewall(state([port("p1", MAC1, "10.0.0.1")], {SG: ()}), WIRING)
    rules = [f for f in of_port(closed, 5) if f.startswith(("table=72,", "table=82,"))]
    # only the connections already allowed pass (replies, related); no rule flows
    assert all("ct_mark=0" in f for f in rules), rules
    opened = plan_firewall(state([port("p1", MAC1, "10.0.0.1")],
                                 {SG: (Rule("ingress", "IPv4", "tcp", 22, 22),)}), WIRING)
    new = set(opened) - set(closed)
    assert new == {
        "table=82,priority=70,ct_state=+new-est,tcp,tp_dst=22,reg5=0x5 "
        "actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:5",
        "table=82,priority=70,ct_state=+est-rel-rpl,tcp,tp_dst=22,reg5=0x5 actions=output:5",
    }
    assert set(closed) <= set(opened)


def test_anti_spoofing_from_fixed_ips_and_address_pairs() -> None:
    pair = AddressPair("10.1.0.0/24", "fa:16:3e:00:00:09")
    flows = plan_firewall(state([port("p1", MAC1, "10.0.0.1", pairs=(pair,))], {SG: ()}),
                          WIRING)
    base = [f for f in flows if f.startswith("table=71,") and "in_port=5" in f]
    ct = [f for f in base if "actions=ct(table=72" in f]
    assert {f.split("dl_src=")[1].split(" ")[0] for f in ct} == {
        f"{MAC1},nw_src=10.0.0.1", "fa:16:3e:00:00:09,nw_src=10.1.0.0/24",
        f"{MAC1},ipv6_src=fe80::f816:3eff:fe00:1"}
    arp = [f for f in base if ",arp," in f]
    assert {f.split("arp_spa=")[1].split(" ")[0] for f in arp} == {"10.0.0.1", "10.1.0.0/24"}
    # everything else it sends is dropped; DHCP servers and router advertisements too
    assert "table=71,priority=10,reg5=0x5,in_port=5 actions=resubmit(,93)" in base
    assert any("tp_src=67,tp_dst=68 actions=resubmit(,93)" in f for f in base)
    assert any("icmp_type=134 actions=resubmit(,93)" in f for f in base)


def test_port_security_disabled_and_network_ports_bypass() -> None:
    ports = [port("p1", MAC1, "10.0.0.1", pse=False),
             port("p2", MAC2, "10.0.0.2", owner="network:router_interface")]
    flows = plan_firewall(state(ports, {SG: (Rule("ingress", "IPv4"),)}), WIRING)
    mine = [f for f in flows if "0x5" in f or "0x6" in f or "in_port=5" in f]
    # only their registers are loaded (what they send to filtered ports is filtered
    # there); no anti-spoofing, no rules, nothing steers frames to them
    assert mine == [
        "table=60,priority=100,in_port=5 actions=load:0x5->NXM_NX_REG5[],"
        "load:0x3->NXM_NX_REG6[],resubmit(,73)",
        "table=60,priority=100,in_port=6 actions=load:0x6->NXM_NX_REG5[],"
        "load:0x3->NXM_NX_REG6[],resubmit(,73)"]


def _group_state(n_members: int, extra: tuple[str, ...] = ()) -> FirewallState:
    members = tuple(f"10.{i // 250}.{i % 250}.1/32" for i in range(n_members)) + extra
    rules = (Rule("ingress", "IPv4", "tcp", 5432, 5432, remote_group_id=SG),
             Rule("ingress", "IPv4", "icmp", remote_group_id=SG))
    return state([port("p1", MAC1, "10.0.0.1"), port("p2", MAC2, "10.0.0.2")],
                 {SG: rules}, {SG: {"IPv4": members, "IPv6": ()}})


def test_a_member_joining_a_group_of_1000_changes_two_flows() -> None:
    before = plan_firewall(_group_state(1000), WIRING)
    after = plan_firewall(_group_state(1000, ("10.200.0.7/32",)), WIRING)
    added, removed = set(after) - set(before), set(before) - set(after)
    assert not removed
    # one flow per member address for new connections, one for established ones (both
    # ports are on one network: one local VLAN)
    assert len(added) == 2, added
    assert all("nw_src=10.200.0.7/32" in f and "conjunction(" in f for f in added)


def test_conjunction_ids_are_stable_and_merged() -> None:
    base = _group_state(3)
    a = plan_firewall(base, WIRING)
    # another group with rules referencing it does not renumber the first's conjunctions
    other = state(list(base.ports.values()),
                  {**base.groups, OTHER: (Rule("egress", "IPv4", remote_group_id=OTHER),)},
                  {**base.remote_groups, OTHER: {"IPv4": ("10.9.9.9/32",)}})
    other = FirewallState({**other.ports, "tapp3": port("p3", "fa:16:3e:00:00:03",
                                                        groups=(OTHER,))},
                          {}, other.groups, other.remote_groups)
    b = plan_firewall(other, {**WIRING, "p3": PortWiring(7, 3)})
    assert set(a) <= set(b)
    # a member address in two conjunctions of one table is one flow with both actions
    two = state([port("p1", MAC1, "10.0.0.1", groups=(SG, OTHER))],
                {SG: (Rule("ingress", "IPv4", remote_group_id=SG),),
                 OTHER: (Rule("ingress", "IPv4", "tcp", remote_group_id=OTHER),)},
                {SG: {"IPv4": ("10.0.0.5/32",)}, OTHER: {"IPv4": ("10.0.0.5/32",)}})
    flows = plan_firewall(two, WIRING)
    dim1 = [f for f in flows if "nw_src=10.0.0.5/32" in f and "+new-est" in f]
    assert len(dim1) == 1 and dim1[0].count("conjunction(") == 2


def test_plan_flows_carries_the_firewall_only_when_asked() -> None:
    from tests.unit.test_ovs_plan import CONF, NET_A, observed, vm, vxlan
    net = vxlan(NET_A, 5000, "p1", flood=("192.0.2.2",))
    obs = observed(tap1=vm("tap1", "p1", ofport=5, tag=1), **{
        "vxlan-c0000202": ObservedPort("vxlan-c0000202", "br-tun", "vxlan", 3)})
    fws = state([port("p1", "fa:16:3e:00:00:00", "10.0.0.1")], {SG: ()})
    plain = p.plan_flows({NET_A: net}, {NET_A: 1}, obs, CONF)["br-int"]
    with_fw = p.plan_flows({NET_A: net}, {NET_A: 1}, obs, CONF, fws)["br-int"]
    assert not any(f.startswith("table=71,") for f in plain)
    assert set(plain) < set(with_fw)
    assert any(f.startswith("table=60,priority=100,in_port=5 ") for f in with_fw)


def test_config_accepts_neutrons_driver_names() -> None:
    for name, want in [("openvswitch", "openvswitch"), ("noop", "noop"),
                       ("neutron.agent.linux.openvswitch_firewall:OVSFirewallDriver",
                        "openvswitch")]:
        conf = cfg.ConfigOpts()
        oc.register_opts(conf)
        conf([], default_config_files=[])
        conf.set_override("firewall_driver", name, group="securitygroup")
        assert oc.ovs_config(conf).firewall_driver == want
    conf.set_override("firewall_driver", "openvswitch", group="securitygroup")
    conf.set_override("enable_security_group", False, group="securitygroup")
    assert oc.ovs_config(conf).firewall_driver == "noop"
    conf.set_override("firewall_driver", "iptables_hybrid", group="securitygroup")
    with pytest.raises(ValueError, match="firewall_driver"):
        oc.ovs_config(conf)


@pytest.mark.skipif(shutil.which("ovs-ofctl") is None, reason="ovs-ofctl not installed")
def test_ovs_parses_every_flow(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pair = AddressPair("10.1.0.0/24", "fa:16:3e:00:00:09")
    rules = (Rule("ingress", "IPv4", "tcp", 1000, 1999, remote_group_id=SG),
             Rule("ingress", "IPv6", "udp", 53, 53), Rule("egress", "IPv4"),
             Rule("egress", "IPv6", "icmp", 128, 0, remote_group_id=SG),
             Rule("ingress", "IPv4", "icmp", 8, None, "10.0.0.0/8"))
    st = state([port("p1", MAC1, "10.0.0.1", "fd00::1", pairs=(pair,)),
                port("p2", MAC2, "10.0.0.2", pse=False)], {SG: rules},
               {SG: {"IPv4": ("10.0.0.1/32",), "IPv6": ("fd00::1/128",)}})
    text = tmp_path / "flows.txt"
    text.write_text("".join(f + "\n" for f in plan_firewall(st, WIRING)))
    res = subprocess.run(["ovs-ofctl", "-O", "OpenFlow14", "parse-flows", str(text)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr


# --- address groups (remote_address_group_id) ---------------------------------------------------
AG = "a9000000-0000-4000-8000-000000000001"


def _ag_state(cidrs: tuple[str, ...], v6: tuple[str, ...] = (),
              stateless: frozenset[str] = frozenset()) -> FirewallState:
    rules = (Rule("ingress", "IPv4", "tcp", 22, 22, remote_address_group_id=AG),
             Rule("ingress", "IPv6", "tcp", 22, 22, remote_address_group_id=AG),
             Rule("egress", "IPv4", "udp", 53, 53, remote_address_group_id=AG))
    return FirewallState({x.device: x for x in [port("p1", MAC1, "10.0.0.1"),
                                                 port("p2", MAC2, "10.0.0.2")]},
                         {}, {SG: rules}, {}, {AG: {"IPv4": cidrs, "IPv6": v6}}, stateless)


def test_an_address_group_is_a_conjunction_over_its_cidrs() -> None:
    flows = plan_firewall(_ag_state(("10.1.0.0/16", "192.0.2.7/32"), ("fd00:1::/64",)),
                          WIRING)
    # dimension 1: each CIDR of the rule's family, as source (ingress) or destination
    # (egress), for new and established connections
    dim1 = [f for f in flows if "conjunction(" in f and ",1/2)" in f]
    assert {f.split(" ")[0].split(",")[-1] for f in dim1} == {
        "nw_src=10.1.0.0/16", "nw_src=192.0.2.7/32", "ipv6_src=fd00:1::/64",
        "nw_dst=10.1.0.0/16", "nw_dst=192.0.2.7/32"}
    assert len(dim1) == 2 * 5
    # dimension 2: the rule per port; the conjunction accepts for that port
    for reg in (5, 6):
        dim2 = [f for f in of_port(flows, reg) if ",2/2)" in f]
        assert any("table=82" in f and "tcp,tp_dst=22" in f for f in dim2)
        assert any("table=82" in f and "tcp6,tp_dst=22" in f for f in dim2)
        assert any("table=72" in f and "udp,tp_dst=53" in f for f in dim2)
        accepts = [f for f in of_port(flows, reg) if "conj_id=" in f]
        assert len(accepts) == 3 * 2  # three rule families, new and established
    # no plain (unconditional) rule flow: the group alone admits nothing
    assert not [f for f in flows if f.startswith(("table=72,", "table=82,"))
                and f"priority={fw.P_RULE}," in f]


def test_an_address_added_to_the_group_changes_two_flows_per_rule_family() -> None:
    cidrs = tuple(f"10.2.{i}.0/24" for i in range(200))
    before = plan_firewall(_ag_state(cidrs), WIRING)
    after = plan_firewall(_ag_state((*cidrs, "10.9.9.9/32")), WIRING)
    added, removed = set(after) - set(before), set(before) - set(after)
    assert not removed
    # one ingress and one egress IPv4 rule name the group: new + established each
    assert len(added) == 4, added
    assert all("10.9.9.9/32" in f and "conjunction(" in f for f in added)
    # and an empty group: no dimension 1 flow, so nothing matches
    empty = plan_firewall(_ag_state(()), WIRING)
    assert not [f for f in empty if ",1/2)" in f]


def test_address_group_and_remote_group_conjunctions_stay_apart() -> None:
    # a remote group and an address group in one group's rules: different ids even if
    # their addresses coincide
    rules = (Rule("ingress", "IPv4", "icmp", remote_group_id=SG),
             Rule("ingress", "IPv4", "icmp", remote_address_group_id=AG))
    st = FirewallState({"tapp1": port("p1", MAC1, "10.0.0.1")}, {}, {SG: rules},
                       {SG: {"IPv4": ("10.0.0.5/32",)}}, {AG: {"IPv4": ("10.0.0.5/32",)}})
    flows = plan_firewall(st, WIRING)
    dim1 = [f for f in flows if "nw_src=10.0.0.5/32" in f and "+new-est" in f]
    # one flow (same match) with both conjunctions
    assert len(dim1) == 1 and dim1[0].count("conjunction(") == 2
    ids = fw.conj_ids([(SG, SG, "ingress", "IPv4"),
                       (fw.AG_PREFIX + AG, SG, "ingress", "IPv4")])
    assert len(set(ids.values())) == 2


# --- stateless security groups (stateful = false) -----------------------------------------------
def _stateless(rules: tuple[Rule, ...], members: dict[str, dict[str, tuple[str, ...]]]
               | None = None) -> FirewallState:
    return FirewallState({"tapp1": port("p1", MAC1, "10.0.0.1"),
                          "tapp2": port("p2", MAC2, "10.0.0.2", groups=(OTHER,))}, {},
                         {SG: rules, OTHER: ()}, members or {}, {}, frozenset({SG}))


def test_a_stateless_port_has_no_conntrack_and_no_established_shortcut() -> None:
    flows = plan_firewall(_stateless((Rule("ingress", "IPv4", "tcp", 22, 22),
                                      Rule("egress", "IPv4", "tcp"))), WIRING)
    mine, other = of_port(flows, 5), of_port(flows, 6)
    # its sources go to its rules without a conntrack lookup
    assert "table=71,priority=65,ip,reg5=0x5,in_port=5,dl_src=fa:16:3e:00:00:01," \
        "nw_src=10.0.0.1 actions=resubmit(,72)" in mine
    assert not [f for f in mine if "ct(table=" in f]
    # its rules match every packet, whatever its connection state
    assert "table=82,priority=70,tcp,tp_dst=22,reg5=0x5 actions=output:5" in mine
    assert "table=72,priority=70,tcp,reg5=0x5 actions=resubmit(,73)" in mine
    assert not [f for f in mine if f.startswith(("table=72,", "table=82,"))
                and "ct_state" in f]
    # nothing else passes: no reply shortcut, a drop above the conntrack flows
    assert "table=82,priority=60,reg5=0x5 actions=resubmit(,93)" in mine
    assert "table=72,priority=60,reg5=0x5 actions=resubmit(,93)" in mine
    # the only conntrack action left: committing a tracked new connection of a stateful
    # sender of ours (whose own ingress then sees the replies as established)
    commits = [f for f in mine if "ct(commit" in f]
    assert commits == [
        "table=81,priority=92,ct_state=+new-est,ip,reg5=0x5 "
        "actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,82)",
        "table=81,priority=92,ct_state=+new-est,ipv6,reg5=0x5 "
        "actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,82)"]
    # the stateful port next to it keeps its conntrack pipeline
    assert any("ct(table=72" in f for f in other)
    assert any("ct_state=+est-rel+rpl,ct_mark=0,reg5=0x6 actions=output:6" in f
               for f in other)


def test_replies_of_a_stateful_port_go_through_the_receivers_ingress() -> None:
    # the established shortcut of 72 ends in 73 (which sends frames for a filtered port
    # of ours to its ingress), never straight in NORMAL
    flows = plan_firewall(_stateless(()), WIRING)
    est = [f for f in flows if f.startswith("table=72,priority=50,ct_state=+est-rel+rpl")
           or f.startswith("table=72,priority=50,ct_state=-new-est+rel")]
    assert len(est) == 2 and all(f.endswith("actions=resubmit(,73)") for f in est)


def test_stateless_conjunctions_have_no_ct_state() -> None:
    st = _stateless((Rule("ingress", "IPv4", "icmp", remote_group_id=OTHER),
                     Rule("ingress", "IPv4", "icmp", remote_address_group_id=AG)),
                    {OTHER: {"IPv4": ("10.0.0.2/32",)}})
    st = FirewallState(st.ports, {}, st.groups, st.remote_groups,
                       {AG: {"IPv4": ("192.0.2.0/24",)}}, st.stateless)
    flows = plan_firewall(st, WIRING)
    conj = [f for f in flows if "conj" in f]
    assert conj and not [f for f in conj if "ct_state" in f]
    # one id per family (no new/established pair)
    assert len([f for f in conj if "conj_id=" in f]) == 2
    assert "table=82,priority=71,icmp,reg5=0x5 actions=conjunction(" in "\n".join(conj)
    # the same rules on a stateful port: keys of their own, so different ids
    stateful = plan_firewall(FirewallState(st.ports, {}, st.groups, st.remote_groups,
                                           st.address_groups), WIRING)
    ids = {f.split("conj_id=")[1].split(",")[0] for f in flows if "conj_id=" in f}
    ids2 = {f.split("conj_id=")[1].split(",")[0] for f in stateful if "conj_id=" in f}
    assert not ids & ids2


@pytest.mark.skipif(shutil.which("ovs-ofctl") is None, reason="ovs-ofctl not installed")
def test_ovs_parses_address_group_and_stateless_flows(tmp_path) -> None:  # type: ignore[no-untyped-def]
    st = _ag_state(("10.1.0.0/16", "0.0.0.0/0"), ("fd00:1::/64",), frozenset({SG}))
    text = tmp_path / "flows.txt"
    lines = plan_firewall(st, WIRING) + plan_firewall(_ag_state(("10.1.0.0/16",)), WIRING)
    text.write_text("".join(f + "\n" for f in lines))
    res = subprocess.run(["ovs-ofctl", "-O", "OpenFlow14", "parse-flows", str(text)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
