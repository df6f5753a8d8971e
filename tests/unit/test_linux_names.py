"""Pure parts of agent.linux: Neutron device/namespace names and the l2population fdb diff."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import pytest

from neutrino.agent.linux import names
from neutrino.agent.linux.fdb import (
    FLOOD_MAC,
    FdbDiff,
    FdbState,
    diff_fdb,
    normalize_ip,
    normalize_mac,
)

NET = "3a2c9c1e-5b0f-4c6e-9d1a-2f8e7b6c5d4a"
PORT = "8f14e45f-ceea-4e7a-9d39-0a1b2c3d4e5f"


# --- names ---------------------------------------------------------------------------------
@pytest.mark.parametrize("func, prefix", [
    (names.bridge_name, "brq"),
    (names.tap_name, "tap"),
    (names.ns_device_name, "ns-"),
    (names.router_interface_name, "qr-"),
    (names.gateway_interface_name, "qg-"),
])
def test_device_names_take_11_chars_of_the_id(func: Callable[[str], str], prefix: str) -> None:
    name = func(PORT)
    assert name == prefix + PORT[:11]
    assert len(name) <= names.MAX_DEVICE_NAME


def test_neutron_examples() -> None:
    assert names.bridge_name(NET) == "brq3a2c9c1e-5b"
    assert names.tap_name(PORT) == "tap8f14e45f-ce"
    assert names.vxlan_name(1001) == "vxlan-1001"
    assert names.vxlan_name(names.MAX_VNI) == "vxlan-16777215"
    assert names.dhcp_namespace(NET) == "qdhcp-" + NET
    assert names.router_namespace(NET) == "qrouter-" + NET


def test_short_ids_are_used_whole() -> None:
    assert names.tap_name("abc") == "tapabc"


@pytest.mark.parametrize("vni", [0, -1, names.MAX_VNI + 1, True, "5", 1.0])
def test_bad_vni(vni: object) -> None:
    with pytest.raises(ValueError, match="not a valid VXLAN VNI"):
        names.vxlan_name(vni)  # type: ignore[arg-type]


@pytest.mark.parametrize("name, vni", [
    ("vxlan-1", 1), ("vxlan-16777215", 16777215), ("vxlan-0", None), ("vxlan-16777216", None),
    ("vxlan-01", None), ("vxlan-", None), ("vxlan-1a", None), ("brq123", None),
])
def test_vni_from_vxlan_name(name: str, vni: int | None) -> None:
    assert names.vni_from_vxlan_name(name) == vni


@pytest.mark.parametrize("func", [names.bridge_name, names.tap_name, names.dhcp_namespace,
                                  names.router_namespace])
def test_empty_id_rejected(func: Callable[[str], str]) -> None:
    with pytest.raises(ValueError, match="empty"):
        func("")


@pytest.mark.parametrize("bad", ["", "x" * 16, "a/b", "a b", "a:b", ".", ".."])
def test_check_device_name_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="device name"):
        names.check_device_name(bad)


def test_check_device_name_accepts_15() -> None:
    assert names.check_device_name("x" * 15) == "x" * 15


# --- normalization -------------------------------------------------------------------------
def test_normalize_mac() -> None:
    assert normalize_mac("FA:16:3E:0:A:ff") == "fa:16:3e:00:0a:ff"
    assert normalize_mac("fa-16-3e-00-00-01") == "fa:16:3e:00:00:01"
    for bad in ("fa:16:3e:00:00", "fa:16:3e:00:00:100", "fa:16:3e:00:00:zz", "fa::3e:0:0:1"):
        with pytest.raises(ValueError, match="not a MAC"):
            normalize_mac(bad)


def test_normalize_ip() -> None:
    assert normalize_ip("fd00:0::01") == "fd00::1"
    assert normalize_ip("192.0.2.1") == "192.0.2.1"
    with pytest.raises(ValueError):
        normalize_ip("192.0.2.300")


# --- fdb diff --------------------------------------------------------------------------------
MAC_A, MAC_B, MAC_C = "fa:16:3e:00:00:0a", "fa:16:3e:00:00:0b", "fa:16:3e:00:00:0c"
H2, H3, H4 = "192.0.2.12", "192.0.2.13", "192.0.2.14"


def state(flood: Iterable[str] = (), unicast: Mapping[str, Iterable[str]] | None = None,
          neigh: Mapping[str, str] | None = None) -> FdbState:
    return FdbState(flood=frozenset(flood),
                    unicast={m: frozenset(p) for m, p in (unicast or {}).items()},
                    neigh=dict(neigh or {}))


def test_from_empty() -> None:
    wanted = FdbState.wanted({H3, H2}, {MAC_B: H3, MAC_A: H2}, {"10.99.0.2": MAC_A})
    diff = diff_fdb(FdbState(), wanted)
    assert diff == FdbDiff(flood_add=(H2, H3), unicast_set=((MAC_A, H2), (MAC_B, H3)),
                           neigh_set=(("10.99.0.2", MAC_A),))
    assert bool(diff) and len(diff) == 5


def test_equal_states_give_empty_diff() -> None:
    wanted = FdbState.wanted({H2}, {MAC_A: H2}, {"10.99.0.2": MAC_A})
    current = state({H2}, {MAC_A: {H2}}, {"10.99.0.2": MAC_A})
    assert current == wanted
    diff = diff_fdb(current, wanted)
    assert diff == FdbDiff() and not diff and len(diff) == 0


def test_wanted_normalizes() -> None:
    wanted = FdbState.wanted(["fd00::0002"], {"FA:16:3E:0:0:A": "fd00:0::2"},
                             {"10.99.0.2": "FA-16-3E-00-00-0A"})
    assert wanted == state({"fd00::2"}, {MAC_A: {"fd00::2"}}, {"10.99.0.2": MAC_A})
    assert not diff_fdb(state({"fd00::2"}, {MAC_A: {"fd00::2"}}, {"10.99.0.2": MAC_A}), wanted)


def test_removals() -> None:
    current = state({H2, H3}, {MAC_A: {H2}, MAC_B: {H3}},
                    {"10.99.0.2": MAC_A, "10.99.0.3": MAC_B})
    wanted = FdbState.wanted({H2}, {MAC_A: H2}, {"10.99.0.2": MAC_A})
    assert diff_fdb(current, wanted) == FdbDiff(
        unicast_del=((MAC_B, H3),), neigh_del=("10.99.0.3",), flood_del=(H3,))


def test_port_moved_to_another_host_is_repointed() -> None:
    current = state({H2, H3}, {MAC_A: {H2}}, {"10.99.0.2": MAC_A})
    wanted = FdbState.wanted({H2, H3}, {MAC_A: H3}, {"10.99.0.2": MAC_A})
    assert diff_fdb(current, wanted) == FdbDiff(unicast_set=((MAC_A, H3),),
                                                unicast_del=((MAC_A, H2),))


def test_extra_remotes_of_one_mac_are_dropped() -> None:
    current = state((), {MAC_A: {H2, H3, H4}})
    wanted = FdbState.wanted((), {MAC_A: H3})
    assert diff_fdb(current, wanted) == FdbDiff(unicast_del=((MAC_A, H2), (MAC_A, H4)))


def test_ip_reassigned_to_other_mac_is_replaced() -> None:
    current = state(neigh={"10.99.0.2": MAC_A})
    wanted = FdbState.wanted(neigh={"10.99.0.2": MAC_C})
    assert diff_fdb(current, wanted) == FdbDiff(neigh_set=(("10.99.0.2", MAC_C),))


def test_diff_is_deterministic_and_ordered() -> None:
    current = state({H4, H3}, {MAC_C: {H4}, MAC_B: {H3}})
    wanted = FdbState.wanted({H2}, {MAC_A: H2})
    diff = diff_fdb(current, wanted)
    assert diff == diff_fdb(current, wanted)
    assert diff.flood_del == (H3, H4)
    assert diff.unicast_del == ((MAC_B, H3), (MAC_C, H4))
    # Field order is application order: additions before removals.
    fields = list(FdbDiff.__dataclass_fields__)
    assert fields.index("flood_add") < fields.index("flood_del")
    assert fields.index("unicast_set") < fields.index("unicast_del")


def test_applying_the_diff_reaches_wanted() -> None:
    """Model the kernel: applying a diff to a state gives the wanted state, and then the
    diff is empty (the idempotency sync_fdb relies on)."""
    current = state({H2, H4}, {MAC_A: {H2, H4}, MAC_B: {H3}},
                    {"10.99.0.2": MAC_A, "10.99.0.9": MAC_B})
    wanted = FdbState.wanted({H2, H3}, {MAC_A: H3, MAC_C: H4},
                             {"10.99.0.2": MAC_C, "10.99.0.4": MAC_C})

    def apply(s: FdbState, d: FdbDiff) -> FdbState:
        flood = (set(s.flood) | set(d.flood_add)) - set(d.flood_del)
        uni = {m: set(p) for m, p in s.unicast.items()}
        for mac, peer in d.unicast_set:
            uni.setdefault(mac, set()).add(peer)
        for mac, peer in d.unicast_del:
            uni.get(mac, set()).discard(peer)
        neigh = dict(s.neigh) | dict(d.neigh_set)
        for ip in d.neigh_del:
            neigh.pop(ip, None)
        return state(flood, {m: p for m, p in uni.items() if p}, neigh)

    after = apply(current, diff_fdb(current, wanted))
    assert after == wanted
    assert not diff_fdb(after, wanted)


def test_flood_mac_is_not_a_unicast_entry() -> None:
    assert FLOOD_MAC == "00:00:00:00:00:00"
    assert FLOOD_MAC not in FdbState.wanted({H2}).unicast


def test_state_hashable_and_equal_regardless_of_mapping_type() -> None:
    a = state({H2}, {MAC_A: {H2}})
    b = FdbState.wanted({H2}, {MAC_A: H2})
    assert a == b and hash(a) == hash(b)
    assert a != state({H3})
