"""The security-group ruleset renderer and planner (pure functions, no kernel)."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.agent.l2.firewall import model, render, scripts
from neutrino.agent.l2.firewall.model import Rule
from neutrino.agent.l2.firewall.nftables import parse_tables
from neutrino.protocol import convert
from neutrino.protocol import linuxbridge as lb

SG = "11111111-2222-3333-4444-555555555555"
WEB = "66666666-2222-3333-4444-555555555555"
MAC = "fa:16:3e:00:00:01"


def port(pid: str, ip: str, *, mac: str = MAC, groups: tuple[str, ...] = (SG,),
         owner: str = "compute:nova", pse: bool | None = True, **extra: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"id": pid, "device": f"tap{pid[:11]}", "mac_address": mac,
                         "fixed_ips": [{"subnet_id": "s", "ip_address": ip}],
                         "device_owner": owner, **extra}
    if pse is not None:
        p["port_security_enabled"] = pse
        p["security_groups"] = list(groups) if pse else []
    return p


DEFAULT_RULES = [
    {"id": "r1", "direction": "egress", "ethertype": "IPv4"},
    {"id": "r2", "direction": "egress", "ethertype": "IPv6"},
    {"id": "r3", "direction": "ingress", "ethertype": "IPv4", "remote_group_id": SG},
    {"id": "r4", "direction": "ingress", "ethertype": "IPv6", "remote_group_id": SG},
]


def parse_host_state(raw: dict[str, Any]) -> model.FirewallState:
    return model.parse_host_state(convert({"host": "h1", **raw}, lb.HostState))


def parse_port(raw: dict[str, Any], network_id: str) -> model.FwPort:
    return model.parse_port(convert(raw, lb.Port), network_id)


def groups_reply(raw: dict[str, Any]) -> lb.SecurityGroupsState:
    return convert({"host": "h1", **raw}, lb.SecurityGroupsState)


def host_state(ports: list[dict[str, Any]], rules: list[dict[str, Any]] | None = None,
               members: list[str] | None = None) -> dict[str, Any]:
    return {"host": "h1",
            "networks": [{"id": "net-a", "ports": ports}],
            "security_groups": {SG: {"rules": rules if rules is not None else DEFAULT_RULES}},
            "remote_groups": {SG: {"IPv4": members if members is not None else ["10.0.0.5"],
                                   "IPv6": []}}}


def rendered(state: dict[str, Any], zones: dict[str, int] | None = None) -> render.Ruleset:
    fw = parse_host_state(state)
    return render.render(fw, render.allocate_zones(fw.bridges.values(), zones or {}))


def chain(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"\tchain {name} {{")
    end = lines.index("\t}", start)
    return [ln.strip() for ln in lines[start + 1:end]]


def test_filtered_port_gets_antispoofing_marks_and_group_jumps() -> None:
    rs = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5", allowed_address_pairs=[
        {"ip_address": "10.0.9.0/24", "mac_address": None}])]))
    tap = "tapp1aaaaaaaaa"
    assert chain(rs.text, f"sp-{tap}") == [
        "meta mark set 0x00010000",
        "jump sp-common",
        "ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 return",
        "ip6 saddr :: icmpv6 type @from_unspecified return",
        f"ether saddr != {MAC} drop",
        f"arp saddr ether != {MAC} drop",
        "arp saddr ip != 0.0.0.0 arp saddr ip != 10.0.0.5 arp saddr ip != 10.0.9.0/24 drop",
        "ip saddr != 10.0.0.5 ip saddr != 10.0.9.0/24 drop",
        "ip6 saddr != fe80::f816:3eff:fe00:1 drop",
    ]
    assert chain(rs.text, "sp-common") == [
        "arp operation != { request, reply } drop",
        "udp sport { 67, 547 } drop",
        "icmpv6 type { nd-router-advert, nd-redirect } drop",
        "ether type != { arp, ip, ip6 } drop",
    ]
    assert chain(rs.text, f"om-{tap}") == ["meta mark set meta mark and 0xffff0000 or 0x1"]
    assert chain(rs.text, f"eg-{tap}") == ["jump eg-common", f"jump sge-{SG}", "drop"]
    assert chain(rs.text, f"in-{tap}") == ["jump in-common", f"jump sgi-{SG}", "drop"]
    assert "ct state invalid drop" in chain(rs.text, "eg-common")
    assert "meta l4proto udp udp sport 67 udp dport 68 accept" in chain(rs.text, "in-common")
    assert chain(rs.text, f"sgi-{SG}") == [
        f"meta nfproto ipv4 ip saddr @rg4-{SG} accept",
        f"meta nfproto ipv6 ip6 saddr @rg6-{SG} accept"]
    assert chain(rs.text, f"sge-{SG}") == ["meta nfproto ipv4 accept",
                                          "meta nfproto ipv6 accept"]
    assert chain(rs.text, "egress") == [
        "type filter hook prerouting priority filter; policy accept;",
        "ct state established,related accept",
        f'iifname "brq*" meta mark and 0xffff0000 vmap {{ 0x00010000 : jump eg-{tap} }}']
    assert chain(rs.text, "ingress")[-1] == \
        f'iifname "brq*" meta mark and 0xffff vmap {{ 0x1 : jump in-{tap} }}'
    assert chain(rs.text, "prerouting")[1:] == ['iifname "vxlan-*" meta mark set 0x0',
                                               "iifname vmap @in_ports"]
    assert chain(rs.text, "zone")[-1] == "ct zone set iifname map @zones"
    zone = render.allocate_zones(["brqnet-a"], {})["brqnet-a"]
    assert f'"brqnet-a" : {zone}' in rs.text
    assert rs.sets == {f"rg4-{SG}": frozenset({"10.0.0.5/32"}), f"rg6-{SG}": frozenset()}


def test_pairs_with_their_own_mac_are_checked_as_pairs() -> None:
    other = "fa:16:3e:00:00:99"
    rs = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5", allowed_address_pairs=[
        {"ip_address": "10.0.0.50", "mac_address": other}])]))
    sp = chain(rs.text, "sp-tapp1aaaaaaaaa")
    assert f"ether saddr != {{ {MAC}, {other} }} drop" in sp
    assert (f"ether type ip ether saddr . ip saddr != {{ {MAC} . 10.0.0.5, "
            f"{other} . 10.0.0.50 }} drop") in sp


def test_port_without_addresses_sends_no_ip() -> None:
    raw = port("p1aaaaaaaaaaaa", "10.0.0.5")
    raw["fixed_ips"] = []
    sp = chain(rendered(host_state([raw])).text, "sp-tapp1aaaaaaaaa")
    assert "ether type ip drop" in sp and "arp saddr ip != 0.0.0.0 drop" in sp


@pytest.mark.parametrize("raw", [
    port("p2bbbbbbbbbbbb", "10.0.0.6", owner="network:dhcp"),
    port("p2bbbbbbbbbbbb", "10.0.0.6", owner="network:router_interface"),
    port("p2bbbbbbbbbbbb", "10.0.0.6", pse=False),
    port("p2bbbbbbbbbbbb", "10.0.0.6", pse=None),  # server without security groups
], ids=["dhcp", "router", "port-security-off", "no-sg-keys"])
def test_unfiltered_ports_get_no_chains(raw: dict[str, Any]) -> None:
    rs = rendered(host_state([raw]))
    assert "tapp2bbbbbbbbb" not in rs.text
    assert "iifname vmap @in_ports" in rs.text  # the base chains are there anyway
    assert '"brqnet-a" : ' in rs.text  # conntrack zone for every network, filtered or not
    assert rs.sets == {}  # no filtered port uses the group: nothing about it


@pytest.mark.parametrize(("rule", "text"), [
    (Rule("ingress", "IPv4", "tcp", 22, 22, "192.0.2.0/24"),
     "meta nfproto ipv4 ip saddr 192.0.2.0/24 meta l4proto 6 th dport 22 accept"),
    (Rule("ingress", "IPv4", "udp", 1000, 2000),
     "meta nfproto ipv4 meta l4proto 17 th dport 1000-2000 accept"),
    (Rule("ingress", "IPv4", "tcp", 1, 65535), "meta nfproto ipv4 meta l4proto 6 accept"),
    (Rule("egress", "IPv4", "icmp", 8, 0, "10.0.0.7/32"),
     "meta nfproto ipv4 ip daddr 10.0.0.7 meta l4proto icmp icmp type 8 icmp code 0 accept"),
    (Rule("ingress", "IPv6", "icmp", 128),
     "meta nfproto ipv6 meta l4proto icmpv6 icmpv6 type 128 accept"),
    (Rule("ingress", "IPv6", "ipv6-icmp"), "meta nfproto ipv6 meta l4proto icmpv6 accept"),
    (Rule("egress", "IPv6", "47", remote_group_id=WEB),
     f"meta nfproto ipv6 ip6 daddr @rg6-{WEB} meta l4proto 47 accept"),
    (Rule("ingress", "IPv4", None, remote_ip_prefix="0.0.0.0/0"), "meta nfproto ipv4 accept"),
    (Rule("ingress", "IPv6", None, remote_ip_prefix="10.0.0.0/8"), None),
    (Rule("ingress", "IPv4", "ipv6-icmp"), None),
])
def test_rule_text(rule: Rule, text: str | None) -> None:
    assert render.rule_text(rule) == text


def test_unknown_protocol_name_is_refused() -> None:
    with pytest.raises(ValueError):
        render.rule_text(Rule("ingress", "IPv4", "carrier-pigeon"))


def test_membership_change_is_a_set_update_not_a_rewrite() -> None:
    before = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")],
                                 members=["10.0.0.5", "10.0.0.6"]))
    after = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")],
                                members=["10.0.0.5", "10.0.0.7", "10.0.1.0/24"]))
    assert before.digest == after.digest and before.text == after.text
    kernel = render.KernelFirewall(before.digest, before.sets, before.zones)
    script, full = scripts.plan(after, kernel)
    assert not full
    assert script == (f"delete element inet neutrino_sg rg4-{SG} {{ 10.0.0.6 }}\n"
                      f"add element inet neutrino_sg rg4-{SG} {{ 10.0.0.7, 10.0.1.0/24 }}\n")
    assert scripts.plan(after, render.KernelFirewall(after.digest, after.sets,
                                                    after.zones)) == ("", False)


def test_overlapping_members_are_collapsed() -> None:
    rs = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")],
                             members=["10.0.1.7", "10.0.1.0/24", "10.0.0.5"]))
    assert rs.sets[f"rg4-{SG}"] == frozenset({"10.0.1.0/24", "10.0.0.5/32"})


def test_rule_change_or_missing_table_rewrites_both_tables_atomically() -> None:
    before = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")]))
    after = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")], rules=[
        *DEFAULT_RULES, {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                         "port_range_min": 22, "port_range_max": 22,
                         "remote_ip_prefix": "192.0.2.0/24"}]))
    assert before.digest != after.digest
    for kernel in (None, render.KernelFirewall(before.digest, before.sets, before.zones)):
        script, full = scripts.plan(after, kernel)
        assert full
        assert script.startswith("add table bridge neutrino_sg\ndelete table bridge "
                                 "neutrino_sg\nadd table inet neutrino_sg\ndelete table inet "
                                 "neutrino_sg\ntable bridge neutrino_sg {")
        assert "elements = { 10.0.0.5 }" in script
        assert "192.0.2.0/24 meta l4proto 6 th dport 22 accept" in script


def test_zones_stay_where_the_kernel_has_them() -> None:
    fresh = render.allocate_zones(["brqa", "brqb", "brqc"], {})
    assert len(set(fresh.values())) == 3 and all(1 <= z <= 0xFFFF for z in fresh.values())
    assert render.allocate_zones(["brqc", "brqa"], {}) == {"brqa": fresh["brqa"],
                                                          "brqc": fresh["brqc"]}
    # the kernel's numbers win (conntrack entries carry them); a collision is probed past
    kept = render.allocate_zones(["brqa", "brqb"], {"brqb": fresh["brqa"], "brqgone": 9})
    assert kept["brqb"] == fresh["brqa"]
    assert kept["brqa"] == fresh["brqa"] % 0xFFFF + 1


def test_two_ports_share_group_chains() -> None:
    rs = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5"),
                              port("p2bbbbbbbbbbbb", "10.0.0.6", mac="fa:16:3e:00:00:02")]))
    assert rs.text.count(f"chain sgi-{SG} {{") == 1
    assert chain(rs.text, "sp-tapp2bbbbbbbbb")[0] == "meta mark set 0x00020000"


def test_merges() -> None:
    full = parse_host_state(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")]))
    # a security-group reply replaces that group's rules and members
    upd = full.merge_groups(groups_reply({"security_groups": {SG: {"rules": DEFAULT_RULES[:1]}},
                             "remote_groups": {}}), [SG])
    assert len(upd.groups[SG]) == 1 and upd.remote_groups == {}
    # a network reply without the port: the port, its group and members go
    empty = full.merge_networks(parse_host_state({"networks": []}), ["net-a"])
    assert empty.ports == {} and empty.groups == {} and empty.bridges == {}


def test_kernel_json_is_read_back() -> None:
    inet = {"nftables": [
        {"metainfo": {}},
        {"set": {"name": "digest", "elem": ["abc"]}},
        {"set": {"name": "rg4-x", "elem": ["10.0.0.5", {"prefix": {"addr": "10.0.1.0",
                                                                     "len": 24}},
                                           {"range": ["10.0.2.0", "10.0.2.3"]}]}},
        {"set": {"name": "rg6-x"}},
        {"map": {"name": "zones", "elem": [["brqa", 3]]}}]}
    bridge = {"nftables": [{"set": {"name": "digest", "elem": ["abc"]}}]}
    k = parse_tables(inet, bridge)
    assert k is not None
    assert k.digest == "abc" and k.zones == {"brqa": 3}
    assert k.sets == {"rg4-x": frozenset({"10.0.0.5/32", "10.0.1.0/24", "10.0.2.0/30"}),
                      "rg6-x": frozenset()}
    assert parse_tables(inet, None).digest is None  # type: ignore[union-attr]
    other = {"nftables": [{"set": {"name": "digest", "elem": ["abd"]}}]}
    assert parse_tables(inet, other).digest is None  # type: ignore[union-attr]
    assert parse_tables(None, None) is None


def test_a_rule_change_rewrites_only_the_group_chains() -> None:
    before = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")]))
    after = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")], rules=[
        *DEFAULT_RULES, {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                         "port_range_min": 22, "port_range_max": 22,
                         "remote_ip_prefix": "192.0.2.0/24"}], members=["10.0.0.6"]))
    assert before.skeleton == after.skeleton and before.digest != after.digest
    kernel = render.KernelFirewall(before.digest, before.sets, before.zones)
    script, full = scripts.plan(after, kernel, before)
    assert not full
    assert script.splitlines() == [
        f"flush chain inet neutrino_sg sgi-{SG}",
        f"add rule inet neutrino_sg sgi-{SG} meta nfproto ipv4 ip saddr @rg4-{SG} accept",
        f"add rule inet neutrino_sg sgi-{SG} meta nfproto ipv6 ip6 saddr @rg6-{SG} accept",
        f"add rule inet neutrino_sg sgi-{SG} meta nfproto ipv4 ip saddr 192.0.2.0/24 "
        "meta l4proto 6 th dport 22 accept",
        f'delete element bridge neutrino_sg digest {{ "{before.digest}" }}',
        f'add element bridge neutrino_sg digest {{ "{after.digest}" }}',
        f'delete element inet neutrino_sg digest {{ "{before.digest}" }}',
        f'add element inet neutrino_sg digest {{ "{after.digest}" }}',
        f"delete element inet neutrino_sg rg4-{SG} {{ 10.0.0.5 }}",
        f"add element inet neutrino_sg rg4-{SG} {{ 10.0.0.6 }}",
    ]
    # without a trustworthy record of what the kernel has: both tables
    stranger = render.KernelFirewall("0" * 15, before.sets, before.zones)
    assert scripts.plan(after, stranger, before)[1]
    # a port more is a structure change
    bigger = rendered(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5"),
                                  port("p2bbbbbbbbbbbb", "10.0.0.6")]))
    assert scripts.plan(bigger, kernel, before)[1]


def test_rerender_reuses_the_structure_only_when_members_alone_changed() -> None:
    one = parse_host_state(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")],
                                            members=["10.0.0.5"]))
    zones = render.allocate_zones(one.bridges.values(), {})
    first = render.render(one, zones)
    two = one.merge_groups(groups_reply({"security_groups": {SG: {"rules": DEFAULT_RULES}},
                            "remote_groups": {SG: {"IPv4": ["10.0.0.5", "10.0.0.6"]}}}), [SG])
    assert render.rerender(first, one, two, zones) == render.render(two, zones)
    three = two.merge_groups(groups_reply({"security_groups": {SG: {"rules": DEFAULT_RULES[:3]}},
                              "remote_groups": {SG: {"IPv4": ["10.0.0.5"]}}}), [SG])
    again = render.rerender(first, one, three, zones)
    assert again == render.render(three, zones) and again.digest != first.digest


def test_newer_group_data_is_kept_over_an_older_reply() -> None:
    older = parse_host_state(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")],
                                              members=["10.0.0.5"]))
    newer = older.merge_groups(groups_reply({"security_groups": {SG: {"rules": DEFAULT_RULES}},
                                "remote_groups": {SG: {"IPv4": ["10.0.0.5", "10.0.0.9"]}}}),
                               [SG])
    kept = older.keep_groups(newer, [SG])
    assert kept.remote_groups[SG]["IPv4"] == ("10.0.0.5/32", "10.0.0.9/32")
    assert kept.ports == older.ports


def test_rules_and_members_are_kept_apart() -> None:
    """A group held only as a remote group (its rules pruned: no port of ours in it yet)
    keeps its newer members without hiding an older reply's rules for it."""
    older = parse_host_state(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")],
                                              members=["10.0.0.5"]))
    newer = older.merge_groups(groups_reply({"remote_groups": {SG: {"IPv4": ["10.0.0.9"]}}}),
                               [], [SG])
    assert newer.groups == older.groups  # rules untouched
    kept = older.keep_groups(newer, [], [SG])
    assert kept.groups == older.groups
    assert kept.remote_groups[SG]["IPv4"] == ("10.0.0.9/32",)


def test_port_without_security_group_keys_is_not_filtered() -> None:
    p = parse_port({"id": "p1", "mac_address": MAC, "device_owner": "compute:nova"},
                         "n")
    assert p.port_security_enabled is None and not p.filtered
    p = parse_port({"id": "p1", "mac_address": MAC, "security_groups": [SG]}, "n")
    assert p.port_security_enabled is True and p.filtered


def test_connections_of_removed_members_are_forgotten_in_the_right_zones() -> None:
    state = parse_host_state(host_state([port("p1aaaaaaaaaaaa", "10.0.0.5")],
                                              members=["10.0.0.5", "10.0.1.0/24"]))
    rs = render.render(state, render.allocate_zones(state.bridges.values(), {}))
    zone = str(rs.zones["brqnet-a"])
    old = {f"rg4-{SG}": frozenset({"10.0.0.5/32", "10.0.0.7/32", "10.0.2.0/24",
                                   "10.0.1.0/24"})}
    # .7 left (ingress rule names the group): what it started in this network's zone;
    # a CIDR that left is not looked up
    assert render.connections_to_forget(old, rs, state) == [
        ["-D", "-s", "10.0.0.7", "-w", zone]]
