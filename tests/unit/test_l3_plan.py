"""The L3 agent's pure parts: parsing the desired router, rendering its nftables table, and
planning the changes to a router namespace from what it has."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from neutrino.agent.actions import WireVeth
from neutrino.agent.l3 import model, nat, plan
from neutrino.agent.l3.model import DesiredStateError
from neutrino.agent.linux import names
from neutrino.protocol import ProtocolError, convert
from neutrino.protocol import l3 as proto

GW_PORT = "aaaaaaaa-1111-4000-8000-000000000001"
QR_PORT = "bbbbbbbb-2222-4000-8000-000000000002"
ROUTER = "cccccccc-3333-4000-8000-000000000003"
FIP_ID = "dddddddd-4444-4000-8000-000000000004"
QG = names.gateway_interface_name(GW_PORT)
QR = names.router_interface_name(QR_PORT)


def parse_router(raw: dict[str, Any]) -> model.Router:
    """One router as the bus carries it: its type checked (protocol), then parsed."""
    try:
        typed = convert(raw, proto.Router, what=f"router {raw.get('id')}")
    except ProtocolError as e:
        raise DesiredStateError(str(e)) from None
    return model.parse_router(typed)


def router_dict(**kw: Any) -> dict[str, Any]:
    r = {
        "id": ROUTER, "project_id": "p1", "admin_state_up": True,
        "gateway": {"port_id": GW_PORT, "mac_address": "FA:16:3E:00:00:01",
                    "network_id": "ext", "mtu": 1500, "enable_snat": True,
                    "fixed_ips": [{"subnet_id": "s-ext", "ip_address": "203.0.113.2",
                                   "prefixlen": 24, "cidr": "203.0.113.0/24"}],
                    "gateway_ips": ["203.0.113.1"]},
        "interfaces": [{"port_id": QR_PORT, "mac_address": "fa:16:3e:00:00:02",
                        "network_id": "n1", "mtu": 1450,
                        "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.1",
                                       "prefixlen": 24, "cidr": "10.0.0.0/24"}]}],
        "routes": [],
        "floating_ips": [],
    }
    r.update(kw)
    return r


def fip(address: str = "203.0.113.10", fixed: str = "10.0.0.5",
        fid: str = FIP_ID) -> dict[str, Any]:
    return {"id": fid, "floating_ip_address": address, "fixed_ip_address": fixed,
            "port_id": str(uuid.uuid4())}


def converged(router: Any) -> plan.Observed:
    """What a namespace looks like after the plan for ``router`` was applied."""
    devs = {}
    for dev, port in router.ports:
        devs[dev] = plan.ObservedDevice(name=dev, kind="veth", mac=port.mac_address,
                                        mtu=port.mtu or 1500, up=True,
                                        addresses=frozenset(plan.wanted_addresses(router)[dev]))
    taps = {names.tap_name(p.port_id): plan.ObservedTap(kind="veth", mtu=p.mtu or 1500,
                                                        up=True) for _, p in router.ports}
    rendered = nat.render(router)
    state = nat.parse_listing(rendered.script.split("delete table ip neutrino_l3\n")[1]) \
        if rendered else None
    return plan.Observed(namespace=True, devices=devs, taps=taps,
                         routes=frozenset(plan.wanted_routes(router)),
                         sysctls={k: "1" for k in plan.FORWARDING_SYSCTLS}, nat=state)


# --- model ------------------------------------------------------------------------------------
def test_parse_normalizes_and_names_devices() -> None:
    r = parse_router(router_dict(routes=[{"destination": "192.168.7.9/24",
                                          "nexthop": "10.0.0.20"}]))
    assert r.gateway is not None and r.gateway.port.mac_address == "fa:16:3e:00:00:01"
    assert r.gateway_device == QG == "qg-aaaaaaaa-11"
    assert [d for d, _ in r.ports] == [QG, QR]
    assert r.routes[0].destination == "192.168.7.0/24"
    assert r.gateway.default_gateways() == {4: "203.0.113.1"}


@pytest.mark.parametrize("broken", [
    {"gateway": {"port_id": GW_PORT, "mac_address": "zz", "fixed_ips": []}},
    {"interfaces": [{"port_id": QR_PORT, "mac_address": "fa:16:3e:00:00:02",
                     "fixed_ips": [{"ip_address": "10.0.0.1", "prefixlen": 33}]}]},
    {"routes": [{"destination": "nonsense", "nexthop": "10.0.0.2"}]},
    {"floating_ips": [{"id": "x", "floating_ip_address": "203.0.113.9"}]},
])
def test_parse_rejects_what_cannot_be_programmed(broken: dict[str, Any]) -> None:
    with pytest.raises(DesiredStateError, match=ROUTER):
        parse_router(router_dict(**broken))


# --- nat ---------------------------------------------------------------------------------------
def test_snat_only_renders_general_snat_and_hairpin() -> None:
    body = nat.render_body(parse_router(router_dict()))
    assert body is not None
    assert f'oifname "{QG}" snat to 203.0.113.2' in body
    assert f'iifname != "{QG}" ct status dnat snat to 203.0.113.2' in body
    assert "dnat to" not in body


def test_floating_ip_rules_come_before_the_general_snat() -> None:
    body = nat.render_body(parse_router(router_dict(floating_ips=[fip()])))
    assert body is not None
    assert f'ip daddr 203.0.113.10 dnat to 10.0.0.5 comment "fip {FIP_ID}"' in body
    fip_snat = body.index(f'ip saddr 10.0.0.5 oifname "{QG}" snat to 203.0.113.10')
    assert fip_snat < body.index(f'oifname "{QG}" snat to 203.0.113.2')
    # the output chain DNATs too: the router itself reaches the floating IP
    assert body.count("ip daddr 203.0.113.10 dnat to 10.0.0.5") == 2


def test_snat_disabled_keeps_only_floating_ips() -> None:
    gw = router_dict()["gateway"] | {"enable_snat": False}
    body = nat.render_body(parse_router(router_dict(gateway=gw)))
    assert body is not None and "203.0.113.2" not in body
    body = nat.render_body(parse_router(router_dict(gateway=gw, floating_ips=[fip()])))
    assert body is not None and "snat to 203.0.113.10" in body and "203.0.113.2" not in body


def test_no_gateway_no_table_and_ipv6_floating_ips_ignored() -> None:
    assert nat.render(parse_router(router_dict(gateway=None))) is None
    r = parse_router(router_dict(floating_ips=[fip("2001:db8::10", "fd00::5")]))
    assert r.ipv4_floating_ips == ()


def test_script_replaces_the_table_atomically_and_reads_back() -> None:
    rendered = nat.render(parse_router(router_dict(floating_ips=[fip()])))
    assert rendered is not None
    lines = rendered.script.splitlines()
    assert lines[:3] == ["table ip neutrino_l3", "delete table ip neutrino_l3",
                         "table ip neutrino_l3 {"]
    listing = "\n".join(lines[2:])  # what `nft list table` prints, near enough
    state = nat.parse_listing(listing)
    assert state is not None and state.digest == rendered.digest
    assert state.floating_ips == {FIP_ID: ("203.0.113.10", "10.0.0.5")}
    assert nat.parse_listing("") is None


def test_parse_listing_of_real_nft_output() -> None:
    text = (f'table ip neutrino_l3 {{\n\tcomment "neutrino router {ROUTER} abc123"\n'
            "\tchain prerouting {\n"
            "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
            f'\t\tip daddr 203.0.113.10 dnat to 10.0.0.5 comment "fip {FIP_ID}"\n'
            "\t}\n}\n")
    state = nat.parse_listing(text)
    assert state == nat.NatState(digest="abc123",
                                 floating_ips={FIP_ID: ("203.0.113.10", "10.0.0.5")})


def test_digest_changes_with_what_matters() -> None:
    a = nat.render(parse_router(router_dict()))
    b = nat.render(parse_router(router_dict(floating_ips=[fip()])))
    c = nat.render(parse_router(router_dict()))
    assert a and b and c and a.digest != b.digest and a.digest == c.digest


# --- plan ----------------------------------------------------------------------------------------
def test_fresh_router_gets_everything() -> None:
    r = parse_router(router_dict(floating_ips=[fip()],
                                 routes=[{"destination": "192.168.7.0/24",
                                          "nexthop": "10.0.0.20"}]))
    p = plan.plan_router(r, plan.Observed())
    assert p.create_namespace and set(p.sysctls) == set(plan.FORWARDING_SYSCTLS)
    assert [w.device for w in p.wire] == [QG, QR] and not any(w.recreate for w in p.wire)
    assert set(p.add_addresses) == {(QG, "203.0.113.2/24"), (QG, "203.0.113.10/32"),
                                    (QR, "10.0.0.1/24")}
    assert set(p.add_routes) == {("0.0.0.0/0", "203.0.113.1"),
                                 ("192.168.7.0/24", "10.0.0.20")}
    assert p.nat_script is not None and p.flush_conntrack == ()
    assert set(p.garp) == {(QG, "203.0.113.2"), (QG, "203.0.113.10")}
    assert p.floating_ip_statuses == {FIP_ID: "ACTIVE"}


def test_converged_router_plans_nothing() -> None:
    r = parse_router(router_dict(floating_ips=[fip()]))
    p = plan.plan_router(r, converged(r))
    assert not p.changes and p.garp == () and p.floating_ip_statuses == {}
    # a full resync reports statuses again, still without touching anything
    p = plan.plan_router(r, converged(r), report_all=True)
    assert not p.changes and p.floating_ip_statuses == {FIP_ID: "ACTIVE"}


def test_disassociation_flushes_and_reports_down() -> None:
    before = parse_router(router_dict(floating_ips=[fip()]))
    after = parse_router(router_dict())
    p = plan.plan_router(after, converged(before))
    assert p.nat_script is not None and "203.0.113.10" not in p.nat_script
    assert p.remove_addresses == ((QG, "203.0.113.10/32"),)
    assert p.flush_conntrack == ("203.0.113.10",)
    assert p.floating_ip_statuses == {FIP_ID: "DOWN"}
    assert p.wire == () and not p.create_namespace


def test_moved_floating_ip_flushes_its_connections() -> None:
    before = parse_router(router_dict(floating_ips=[fip()]))
    after = parse_router(router_dict(floating_ips=[fip(fixed="10.0.0.6")]))
    p = plan.plan_router(after, converged(before))
    assert p.flush_conntrack == ("203.0.113.10",) and p.nat_script is not None
    assert p.add_addresses == () and p.garp == ()


def test_device_converged_in_place_or_remade_when_half_gone() -> None:
    r = parse_router(router_dict())
    obs = converged(r)
    wrong_mtu = dict(obs.devices)
    wrong_mtu[QR] = plan.ObservedDevice(name=QR, kind="veth", mac="fa:16:3e:00:00:02",
                                        mtu=1500, up=True,
                                        addresses=frozenset({"10.0.0.1/24"}))
    p = plan.plan_router(r, dataclasses.replace(obs, devices=wrong_mtu))
    assert [(w.device, w.recreate) for w in p.wire] == [(QR, False)]
    assert p.add_addresses == () and p.add_routes == ()

    taps = {k: v for k, v in obs.taps.items() if k != names.tap_name(QR_PORT)}
    p = plan.plan_router(r, dataclasses.replace(obs, taps=taps))
    assert [(w.device, w.recreate) for w in p.wire] == [(QR, True)]
    assert p.add_addresses == ((QR, "10.0.0.1/24"),)


def test_stale_devices_routes_and_table_removed() -> None:
    with_gw = parse_router(router_dict(routes=[{"destination": "192.168.7.0/24",
                                                "nexthop": "10.0.0.20"}]))
    without = parse_router(router_dict(gateway=None))
    p = plan.plan_router(without, converged(with_gw))
    assert p.delete_devices == (QG,)
    assert set(p.remove_routes) == {("0.0.0.0/0", "203.0.113.1"),
                                    ("192.168.7.0/24", "10.0.0.20")}
    assert p.nat_script == nat.delete_script()


def test_plan_host_scopes_teardown() -> None:
    up = parse_router(router_dict())
    down = parse_router(router_dict(id=str(uuid.uuid4()), admin_state_up=False))
    other = str(uuid.uuid4())
    desired = {up.id: up, down.id: down}
    full = plan.plan_host(desired, None, {up.id, down.id, other})
    assert full.converge == (up,) and set(full.teardown) == {down.id, other}
    partial = plan.plan_host({}, {up.id}, {up.id, other})
    assert partial.converge == () and partial.teardown == (up.id,)
    failed = plan.plan_host({}, None, {other}, failed={other})
    assert failed.teardown == ()


def test_plan_as_actions_in_the_order_they_run() -> None:
    """RouterPlan.actions: namespace, sysctls, devices, addresses, routes, NAT,
    conntrack, announcements; a converged router has none."""
    r = parse_router(router_dict(floating_ips=[fip()],
                                 routes=[{"destination": "192.168.7.0/24",
                                          "nexthop": "10.0.0.9"}]))
    fresh = plan.plan_router(r, plan.Observed())
    acts = fresh.actions(garp_count=3)
    assert [type(a).__name__ for a in acts] == [
        "CreateNamespace", "EnableForwarding", "WireVeth", "WireVeth", "AddAddress",
        "AddAddress", "AddAddress", "AddRoute", "AddRoute", "LoadNat", "AnnounceAddresses"]
    assert acts[2] == WireVeth(QG, names.tap_name(GW_PORT), "fa:16:3e:00:00:01", 1500)
    assert [a.soft for a in acts].count(True) == 2  # an unreachable extra route: the rest goes on
    assert not [a for a in fresh.actions(garp_count=0) if type(a).__name__ == "AnnounceAddresses"]
    assert plan.plan_router(r, converged(r)).actions(garp_count=3) == []


# --- port forwardings (floating-ip-port-forwarding) ---------------------------------------
PF_ID = "eeeeeeee-5555-4000-8000-000000000005"


def pf(external: int = 2222, internal: int = 22, proto_: str = "tcp",
       pf_id: str = PF_ID, address: str = "203.0.113.20") -> dict[str, Any]:
    return {"id": pf_id, "floatingip_id": FIP_ID, "floating_ip_address": address,
            "protocol": proto_, "external_port": external,
            "internal_ip_address": "10.0.0.5", "internal_port": internal}


def test_port_forwarding_renders_dnat_reads_back_and_reports() -> None:
    r = parse_router(router_dict(port_forwardings=[pf(), pf(53, 5353, "udp",
                                                         str(uuid.uuid4()))]))
    rendered = nat.render(r)
    assert rendered is not None
    assert (f'ip daddr 203.0.113.20 tcp dport 2222 dnat to 10.0.0.5:22 comment '
            f'"pf {FIP_ID} {PF_ID}"') in rendered.script
    assert "udp dport 53 dnat to 10.0.0.5:5353" in rendered.script
    p = plan.plan_router(r, plan.Observed())
    assert (QG, "203.0.113.20/32") in p.add_addresses and (QG, "203.0.113.20") in p.garp
    assert p.floating_ip_statuses == {FIP_ID: "ACTIVE"}
    state = converged(r).nat
    assert state is not None and state.port_forwardings[PF_ID] == (
        FIP_ID, "203.0.113.20", "tcp", 2222, "10.0.0.5", 22)
    assert not plan.plan_router(r, converged(r)).changes


def test_port_forwarding_removed_flushes_only_its_connections() -> None:
    other = str(uuid.uuid4())
    before = parse_router(router_dict(port_forwardings=[pf(), pf(80, 80, pf_id=other)]))
    after = parse_router(router_dict(port_forwardings=[pf(80, 80, pf_id=other)]))
    p = plan.plan_router(after, converged(before))
    assert p.flush_forwarded == (("203.0.113.20", "tcp", 2222),)
    assert p.flush_conntrack == () and p.floating_ip_statuses == {}
    gone = plan.plan_router(parse_router(router_dict()), converged(after))
    assert gone.remove_addresses == ((QG, "203.0.113.20/32"),)
    assert gone.floating_ip_statuses == {FIP_ID: "DOWN"}


@pytest.mark.parametrize("bad", [{"protocol": "icmp"}, {"external_port": 0},
                                 {"internal_ip_address": "fd00::5"}])
def test_port_forwarding_that_cannot_be_programmed(bad: dict[str, Any]) -> None:
    with pytest.raises(DesiredStateError):
        parse_router(router_dict(port_forwardings=[{**pf(), **bad}]))


# --- address scopes: no NAT between legs of one scope ---------------------------------------
def test_interface_of_the_gateways_scope_is_not_snated() -> None:
    raw = router_dict(floating_ips=[fip()])
    raw["gateway"]["ipv4_address_scope"] = "scope-1"
    raw["interfaces"][0]["ipv4_address_scope"] = "scope-1"
    rendered = nat.render(parse_router(raw))
    assert rendered is not None
    body = rendered.script
    accept = f'iifname "{QR}" oifname "{QG}" accept'
    assert accept in body
    # before any SNAT (first match wins), DNAT of the floating IP kept
    assert body.index(accept) < body.index("snat to")
    assert "ip daddr 203.0.113.10 dnat to 10.0.0.5" in body
    # another scope, or none: SNAT as usual
    raw["interfaces"][0]["ipv4_address_scope"] = "scope-2"
    other = nat.render(parse_router(raw))
    assert other is not None and accept not in other.script
    assert other.digest != rendered.digest
