"""Address groups and stateless groups in the firewall's model and renderer (pure, no
kernel), and the protocol's optional fields both ways (older peers)."""

from __future__ import annotations

from typing import Any

import orjson

from neutrino import protocol
from neutrino.agent.l2.firewall import model, render, scripts
from neutrino.protocol import convert
from neutrino.protocol import linuxbridge as lb

SG = "11111111-2222-3333-4444-555555555555"
AG = "aaaaaaaa-2222-3333-4444-555555555555"
MAC = "fa:16:3e:00:00:01"
MAC2 = "fa:16:3e:00:00:02"


def _port(pid: str, ip: str, mac: str, groups: list[str]) -> dict[str, Any]:
    return {"id": pid, "device": f"tap{pid[:11]}", "mac_address": mac,
            "fixed_ips": [{"subnet_id": "s", "ip_address": ip}], "device_owner": "compute:x",
            "port_security_enabled": True, "security_groups": groups}


def _state(*, stateful: bool = True, cidrs: list[str] | None = None,
           extra_ports: list[dict[str, Any]] = ()) -> model.FirewallState:  # type: ignore[assignment]
    raw = {"host": "h1",
           "networks": [{"id": "net-a", "ports": [_port("p1", "10.0.0.5", MAC, [SG]),
                                                  *extra_ports]}],
           "security_groups": {SG: {"stateful": stateful, "rules": [
               {"id": "r1", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                "remote_address_group_id": AG},
               {"id": "r2", "direction": "ingress", "ethertype": "IPv6",
                "remote_address_group_id": AG}]}},
           "address_groups": {AG: {"IPv4": cidrs if cidrs is not None else ["10.1.0.0/16"],
                                   "IPv6": ["2001:db8::/64"]}}}
    return model.parse_host_state(convert(raw, lb.HostState))


def _chain(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(f"\tchain {name} {{")
    return [ln.strip() for ln in lines[start + 1:lines.index("\t}", start)]]


def test_a_remote_address_group_is_a_pair_of_named_sets() -> None:
    rs = render.render(_state(), {"brqnet-a": 1})
    v4, v6 = render.address_set(AG, "IPv4"), render.address_set(AG, "IPv6")
    assert (v4, v6) == (f"ag4-{AG}", f"ag6-{AG}")
    assert rs.sets == {v4: frozenset({"10.1.0.0/16"}), v6: frozenset({"2001:db8::/64"})}
    chain = rs.group_rules[render.group_chain("ingress", SG)]
    assert chain == (f"meta nfproto ipv4 ip saddr @{v4} meta l4proto 6 accept",
                     f"meta nfproto ipv6 ip6 saddr @{v6} accept")
    assert f"set {v4} {{" in rs.text and "flags interval" in rs.text


def test_address_changes_are_element_updates_only() -> None:
    before = _state()
    after = _state(cidrs=["10.1.0.0/16", "10.9.9.9/32"])
    previous = render.render(before, {"brqnet-a": 1})
    ruleset = render.rerender(previous, before, after, {"brqnet-a": 1})
    kernel = render.KernelFirewall(previous.digest, previous.sets, previous.zones)
    script, full = scripts.plan(ruleset, kernel, previous)
    assert not full
    assert script == f"add element inet {render.TABLE} {render.address_set(AG, 'IPv4')} " \
                     "{ 10.9.9.9 }\n"


def test_stateless_ports_are_not_tracked_and_skip_the_established_shortcut() -> None:
    other = _port("p2", "10.0.0.6", MAC2, ["22222222-2222-3333-4444-555555555555"])
    rs = render.render(_state(stateful=False, extra_ports=[other]), {"brqnet-a": 1})
    zone = "\n".join(_chain(rs.text, "zone"))
    ours = 'iifname "brq*"'
    # p2 (stateful) at either end: tracked; p1 (stateless) otherwise not
    assert f"{ours} meta mark and 0xffff0000 {{ 0x00020000 }} ct zone set" in zone
    assert f"{ours} ether daddr {{ {MAC2} }} ct zone set iifname map @zones accept" in zone
    assert f"{ours} meta mark and 0xffff0000 {{ 0x00010000 }} notrack accept" in zone
    assert f"{ours} ether daddr {{ {MAC} }} notrack accept" in zone
    egress = _chain(rs.text, "egress")
    # the stateless port's dispatch comes before "established": its rules see every packet
    assert [line.strip().split(" vmap")[0] if "vmap" in line else line.strip()
            for line in egress[1:]] == [
        f"{ours} meta mark and 0xffff0000", "ct state established,related accept",
        f"{ours} meta mark and 0xffff0000"]
    assert "0x00010000 : jump" in egress[1] and "0x00020000 : jump" in egress[3]
    # all stateful: no notrack at all
    assert "notrack" not in render.render(_state(), {"brqnet-a": 1}).text


def test_model_keeps_address_groups_and_statefulness_through_merges() -> None:
    state = _state(stateful=False)
    assert state.stateless == frozenset({SG}) and AG in state.address_groups
    reply = convert({"host": "h1", "security_groups": {SG: {"rules": [
        {"id": "r1", "direction": "ingress", "ethertype": "IPv4",
         "remote_address_group_id": AG}]}},
        "address_groups": {AG: {"IPv4": ["10.2.0.0/16"], "IPv6": []}}},
        lb.SecurityGroupsState)
    merged = state.merge_groups(reply, [SG])
    assert merged.stateless == frozenset()  # the reply says stateful (the default)
    assert merged.address_groups[AG]["IPv4"] == ("10.2.0.0/16",)
    # a rule no longer naming the group: its CIDRs are dropped
    gone = merged.merge_groups(convert({"host": "h1", "security_groups": {
        SG: {"rules": []}}}, lb.SecurityGroupsState), [SG])
    assert gone.address_groups == {}


def test_protocol_fields_are_optional_both_ways() -> None:
    # an older server's reply (no address_groups, no stateful, no remote_address_group_id)
    old = {"host": "h1", "security_groups": {SG: {"rules": [
        {"direction": "ingress", "ethertype": "IPv4"}]}}, "remote_groups": {},
        "version": protocol.VERSION}
    parsed = protocol.decode(old, lb.SecurityGroupsState, peer="test")
    assert parsed.address_groups == {}
    assert parsed.security_groups[SG].stateful is True
    assert parsed.security_groups[SG].rules[0].remote_address_group_id is None
    # a newer reply read by an older agent: unknown fields are ignored
    new = lb.SecurityGroupsState(host="h1", security_groups={SG: lb.SecurityGroup(
        stateful=False, rules=[lb.Rule(direction="ingress", remote_address_group_id=AG)])},
        address_groups={AG: {"IPv4": ["10.0.0.0/8"], "IPv6": []}})
    wire = orjson.loads(orjson.dumps(protocol.to_wire(new)))
    assert protocol.decode(wire, lb.SecurityGroupsState, peer="test") == new

    class OldRule(protocol.Message, frozen=True, kw_only=True):
        direction: str
        ethertype: str = "IPv4"

    rule = wire["security_groups"][SG]["rules"][0]
    assert convert(rule, OldRule) == OldRule(direction="ingress")
