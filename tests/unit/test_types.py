"""Type drivers and the type manager, on a real SQLite database file."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from neutrino import exceptions as exc
from neutrino.config import make_conf
from neutrino.core.types import TypeManager
from neutrino.core.types.base import (
    make_segment,
    parse_id_ranges,
    parse_physnet_mtus,
    parse_vlan_ranges,
    runs,
)
from neutrino.core.types.flat import FlatTypeDriver
from neutrino.core.types.local import LocalTypeDriver
from neutrino.core.types.tunnel import GeneveTypeDriver, GreTypeDriver, VxlanTypeDriver
from neutrino.core.types.vlan import VlanTypeDriver
from neutrino.db import tables
from neutrino.db.engine import Database

ALL_TYPES = ["local", "flat", "vlan", "gre", "vxlan", "geneve"]


@pytest.fixture
def db(tmp_path: Any) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'neutrino.sqlite'}")
    tables.metadata.create_all(database.engine)
    try:
        yield database
    finally:
        database.dispose()


def conf(**groups: dict[str, Any]) -> Any:
    return make_conf(overrides=groups)


def manager(**groups: dict[str, Any]) -> TypeManager:
    groups.setdefault("ml2", {})
    groups["ml2"].setdefault("type_drivers", ALL_TYPES)
    return TypeManager(conf(**groups))


def seg(network_type: str, physnet: str | None = None, seg_id: Any = None) -> dict[str, Any]:
    return {"network_type": network_type, "physical_network": physnet,
            "segmentation_id": seg_id}


def rows(db: Database, table: sa.Table) -> list[tuple[Any, ...]]:
    return db.read(lambda c: sorted(tuple(r) for r in c.execute(sa.select(table))))


# --- range parsing and bad configuration ---------------------------------------------------
class TestParsing:
    def test_id_ranges(self) -> None:
        assert parse_id_ranges([" 1:10", "100 : 200", ""], option="[g] o", id_min=1,
                               id_max=1000) == [(1, 10), (100, 200)]

    @pytest.mark.parametrize("entry, fragment", [
        ("1-10", "expected <min>:<max>"),
        ("1:2:3", "expected <min>:<max>"),
        ("a:10", "bounds must be integers"),
        ("10:1", "end of range is less than start"),
        ("0:5", "0 is not a valid vxlan ID (1 through 16777215)"),
        ("1:16777216", "16777216 is not a valid vxlan ID"),
    ])
    def test_bad_id_range(self, entry: str, fragment: str) -> None:
        with pytest.raises(ValueError, match="vni_ranges") as info:
            parse_id_ranges([entry], option="[ml2_type_vxlan] vni_ranges", id_min=1,
                            id_max=2**24 - 1, kind="vxlan ID")
        assert fragment in str(info.value)
        assert f"'{entry}'" in str(info.value)

    def test_vlan_ranges(self) -> None:
        assert parse_vlan_ranges(
            ["physnet1:10:20", "provider", "physnet1:100:110", "physnet2:1:4094"], option="x"
        ) == {"physnet1": [(10, 20), (100, 110)], "provider": [], "physnet2": [(1, 4094)]}

    @pytest.mark.parametrize("entry, fragment", [
        ("physnet:1", "expected <physical_network>"),
        (":1:10", "empty physical network name"),
        ("physnet:0:10", "0 is not a valid VLAN tag"),
        ("physnet:1:4095", "4095 is not a valid VLAN tag"),
        ("physnet:20:10", "end of range is less than start"),
        ("physnet:a:10", "integers"),
    ])
    def test_bad_vlan_range(self, entry: str, fragment: str) -> None:
        with pytest.raises(ValueError, match=r"\[ml2_type_vlan\] network_vlan_ranges") as info:
            VlanTypeDriver(conf(ml2_type_vlan={"network_vlan_ranges": [entry]}))
        assert fragment in str(info.value)

    def test_physnet_mtus(self) -> None:
        assert parse_physnet_mtus(["a:9000", " b : 1400 "], option="x") == {"a": 9000,
                                                                             "b": 1400}
        for bad in ("a", ":1500", "a:big", "a:-1"):
            with pytest.raises(ValueError, match="physical_network_mtus"):
                FlatTypeDriver(conf(ml2={"physical_network_mtus": [bad]}))

    @pytest.mark.parametrize("cls, group, option, entry", [
        (VxlanTypeDriver, "ml2_type_vxlan", "vni_ranges", "1:16777216"),
        (GeneveTypeDriver, "ml2_type_geneve", "vni_ranges", "x:1"),
        (GreTypeDriver, "ml2_type_gre", "tunnel_id_ranges", "1:4294967296"),
    ])
    def test_bad_tunnel_config_names_option(self, cls: type, group: str, option: str,
                                            entry: str) -> None:
        with pytest.raises(ValueError, match=rf"\[{group}\] {option}"):
            cls(conf(**{group: {option: [entry]}}))

    def test_gre_accepts_32_bit_ids(self) -> None:
        driver = GreTypeDriver(conf(ml2_type_gre={"tunnel_id_ranges": ["1:4294967295"]}))
        assert driver.ranges == [(1, 2**32 - 1)]

    def test_runs(self) -> None:
        assert list(runs([1, 2, 3, 5, 7, 8])) == [(1, 3), (5, 5), (7, 8)]
        assert list(runs([])) == []


# --- the manager ---------------------------------------------------------------------------
class TestManagerConfig:
    def test_loads_configured_drivers_only(self) -> None:
        m = manager(ml2={"type_drivers": ["vxlan", " vlan", "vxlan"],
                         "tenant_network_types": ["vxlan"]})
        assert list(m.drivers) == ["vxlan", "vlan"]

    def test_unknown_driver(self) -> None:
        with pytest.raises(ValueError, match=r"Unknown type driver 'bogus'.*available: flat"):
            manager(ml2={"type_drivers": ["vxlan", "bogus"]})

    def test_tenant_type_without_driver(self) -> None:
        with pytest.raises(ValueError, match="tenant_network_types: no type driver for 'vlan'"):
            manager(ml2={"type_drivers": ["vxlan"], "tenant_network_types": ["vlan"]})

    def test_unknown_network_type(self) -> None:
        m = manager(ml2={"type_drivers": ["vxlan"]})
        with pytest.raises(exc.InvalidInput) as info:
            m.validate_provider_segment(seg("vlan", "physnet1", 10))
        assert str(info.value) == ("Invalid input for operation: network_type value 'vlan' "
                                   "not supported.")
        assert info.value.status == 400
        with pytest.raises(exc.InvalidInput, match="network_type required"):
            m.validate_provider_segment(seg(None))  # type: ignore[arg-type]


# --- provider segment validation -----------------------------------------------------------
VLAN_CONF = {"network_vlan_ranges": ["physnet1:100:102", "provider"]}


@pytest.mark.parametrize("segment, message", [
    (seg("local", "physnet1"), "physical_network prohibited for local provider network"),
    (seg("local", None, 5), "segmentation_id prohibited for local provider network"),
    (seg("flat"), "physical_network required for flat provider network"),
    (seg("flat", "physnet1", 5), "segmentation_id prohibited for flat provider network"),
    (seg("vlan", "nowhere", 5), "physical_network 'nowhere' unknown for VLAN provider network"),
    (seg("vlan", "physnet1", 0), "segmentation_id out of range (1 through 4094)"),
    (seg("vlan", "physnet1", 4095), "segmentation_id out of range (1 through 4094)"),
    (seg("vlan", None, 5),
     "segmentation_id requires physical_network for VLAN provider network"),
    (seg("vlan", "physnet1", "abc"), "'abc' is not an integer"),
    (seg("vxlan", "physnet1", 5), "provider:physical_network specified for vxlan network"),
    (seg("vxlan", None, 0), "segmentation_id out of range (1 through 16777215)"),
    (seg("vxlan", None, 2**24), "segmentation_id out of range (1 through 16777215)"),
    (seg("geneve", None, 2**24), "segmentation_id out of range (1 through 16777215)"),
    (seg("gre", None, 2**32), "segmentation_id out of range (1 through 4294967295)"),
    (seg("gre", "physnet1"), "provider:physical_network specified for gre network"),
])
def test_provider_validation_errors(segment: dict[str, Any], message: str) -> None:
    m = manager(ml2_type_vlan=VLAN_CONF)
    with pytest.raises(exc.InvalidInput) as info:
        m.validate_provider_segment(segment)
    assert str(info.value) == f"Invalid input for operation: {message}."


def test_flat_networks_restrictions() -> None:
    listed = manager(ml2_type_flat={"flat_networks": ["ext", "physnet1"]})
    assert listed.validate_provider_segment(seg("flat", "ext")) == seg("flat", "ext")
    with pytest.raises(exc.InvalidInput, match="'other' unknown for flat provider network"):
        listed.validate_provider_segment(seg("flat", "other"))
    disabled = manager(ml2_type_flat={"flat_networks": []})
    with pytest.raises(exc.InvalidInput, match="Flat provider networks are disabled"):
        disabled.validate_provider_segment(seg("flat", "ext"))
    anything = manager()  # default '*'
    assert anything.validate_provider_segment(seg("flat", "any")) == seg("flat", "any")


@pytest.mark.parametrize("segment, normalized", [
    ({"network_type": "local"}, seg("local")),
    (seg("vlan", "physnet1", "101"), seg("vlan", "physnet1", 101)),
    (seg("vlan", "provider", 7), seg("vlan", "provider", 7)),
    (seg("vlan", "physnet1"), seg("vlan", "physnet1")),
    (seg("vlan"), seg("vlan")),
    (seg("vxlan", "", 16777215), seg("vxlan", None, 16777215)),
    (seg("gre", None, 2**32 - 1), seg("gre", None, 2**32 - 1)),
    (seg("geneve"), seg("geneve")),
])
def test_provider_validation_normalizes(segment: dict[str, Any],
                                        normalized: dict[str, Any]) -> None:
    m = manager(ml2_type_vlan=VLAN_CONF)
    assert m.validate_provider_segment(segment) == normalized


# --- allocation ----------------------------------------------------------------------------
def test_tunnel_allocation_until_exhausted(db: Database) -> None:
    m = manager(ml2={"tenant_network_types": ["vxlan"]},
                ml2_type_vxlan={"vni_ranges": ["5:7", "100:100"]})
    m.sync_allocations(db)
    driver = m.driver("vxlan")
    got = [db.write(driver.allocate_tenant_segment) for _ in range(4)]
    assert sorted(s["segmentation_id"] for s in got) == [5, 6, 7, 100]  # type: ignore[index]
    assert all(s == seg("vxlan", None, s["segmentation_id"]) for s in got)  # type: ignore[index]
    assert db.write(driver.allocate_tenant_segment) is None
    with pytest.raises(exc.NoNetworkAvailable) as info:
        db.write(m.allocate_tenant_segment)
    assert info.value.status == 503


def test_vlan_allocation_across_physnets(db: Database) -> None:
    m = manager(ml2={"tenant_network_types": ["vlan"]},
                ml2_type_vlan={"network_vlan_ranges": ["provider", "a:10:11", "b:20:20"]})
    m.sync_allocations(db)
    got = [db.write(m.allocate_tenant_segment) for _ in range(3)]
    assert sorted((s["physical_network"], s["segmentation_id"]) for s in got) == [
        ("a", 10), ("a", 11), ("b", 20)]
    with pytest.raises(exc.NoNetworkAvailable):
        db.write(m.allocate_tenant_segment)


def test_manager_falls_back_between_tenant_types(db: Database) -> None:
    m = manager(ml2={"tenant_network_types": ["vlan", "vxlan", "local"]},
                ml2_type_vlan={"network_vlan_ranges": ["physnet1:10:10"]},
                ml2_type_vxlan={"vni_ranges": ["1:1"]})
    m.sync_allocations(db)
    assert db.write(m.allocate_tenant_segment) == seg("vlan", "physnet1", 10)
    assert db.write(m.allocate_tenant_segment) == seg("vxlan", None, 1)
    assert db.write(m.allocate_tenant_segment) == seg("local")
    assert db.write(m.allocate_tenant_segment) == seg("local")


def test_no_network_available_when_all_exhausted(db: Database) -> None:
    m = manager(ml2={"tenant_network_types": ["gre", "vxlan"]},
                ml2_type_gre={"tunnel_id_ranges": []},
                ml2_type_vxlan={"vni_ranges": ["1:1"]})
    m.sync_allocations(db)
    assert db.write(m.allocate_tenant_segment) == seg("vxlan", None, 1)
    with pytest.raises(exc.NoNetworkAvailable):
        db.write(m.allocate_tenant_segment)
    # The failed attempt left nothing behind.
    assert rows(db, tables.vxlan_allocations) == [(1, True)]


def test_flat_and_unconfigured_types_never_tenant(db: Database) -> None:
    m = manager()
    assert db.write(m.driver("flat").allocate_tenant_segment) is None
    assert db.write(m.driver("gre").allocate_tenant_segment) is None  # no ranges by default


# --- provider reservation and release ------------------------------------------------------
def reserve(db: Database, m: TypeManager, segment: dict[str, Any]) -> dict[str, Any]:
    validated = m.validate_provider_segment(segment)
    return db.write(lambda conn: m.reserve_provider_segment(conn, validated))


def release(db: Database, m: TypeManager, segment: dict[str, Any]) -> None:
    db.write(lambda conn: m.release_segment(conn, segment))


@pytest.mark.parametrize("segment, error, message", [
    (seg("vlan", "physnet1", 101), exc.VlanIdInUse,
     "Unable to create the network. The VLAN 101 on physical network physnet1 is in use."),
    (seg("vlan", "physnet1", 3000), exc.VlanIdInUse, None),
    (seg("vxlan", None, 7), exc.TunnelIdInUse,
     "Unable to create the network. The tunnel ID 7 is in use."),
    (seg("vxlan", None, 50000), exc.TunnelIdInUse, None),
    (seg("gre", None, 2**31 - 1), exc.TunnelIdInUse, None),
    (seg("geneve", None, 1), exc.TunnelIdInUse, None),
    (seg("flat", "ext"), exc.FlatNetworkInUse,
     "Unable to create the flat network. Physical network ext is in use."),
])
def test_reserve_twice_conflicts(db: Database, segment: dict[str, Any], error: type,
                                 message: str | None) -> None:
    m = manager(ml2_type_vlan={"network_vlan_ranges": ["physnet1:100:102"]},
                ml2_type_vxlan={"vni_ranges": ["1:10"]})
    m.sync_allocations(db)
    assert reserve(db, m, segment) == segment
    with pytest.raises(error) as info:
        reserve(db, m, segment)
    assert info.value.status == 409
    if message:
        assert str(info.value) == message
    # Released, it can be reserved again.
    release(db, m, segment)
    assert reserve(db, m, segment) == segment


def test_reserved_provider_id_is_not_given_to_tenants(db: Database) -> None:
    m = manager(ml2={"tenant_network_types": ["vxlan"]}, ml2_type_vxlan={"vni_ranges": ["1:2"]})
    m.sync_allocations(db)
    reserve(db, m, seg("vxlan", None, 1))
    assert db.write(m.allocate_tenant_segment) == seg("vxlan", None, 2)
    with pytest.raises(exc.NoNetworkAvailable):
        db.write(m.allocate_tenant_segment)


def test_release_inside_range_returns_to_pool_outside_deletes(db: Database) -> None:
    m = manager(ml2_type_vxlan={"vni_ranges": ["1:3"]},
                ml2_type_vlan={"network_vlan_ranges": ["physnet1:10:11", "provider"]})
    m.sync_allocations(db)

    reserve(db, m, seg("vxlan", None, 9999))
    assert (9999, True) in rows(db, tables.vxlan_allocations)
    release(db, m, seg("vxlan", None, 9999))
    assert rows(db, tables.vxlan_allocations) == [(1, False), (2, False), (3, False)]

    reserve(db, m, seg("vxlan", None, 2))
    assert rows(db, tables.vxlan_allocations) == [(1, False), (2, True), (3, False)]
    release(db, m, seg("vxlan", None, 2))
    assert rows(db, tables.vxlan_allocations) == [(1, False), (2, False), (3, False)]

    # A provider-only physnet has no pool: its ids exist only while reserved.
    reserve(db, m, seg("vlan", "provider", 42))
    assert ("provider", 42, True) in rows(db, tables.vlan_allocations)
    release(db, m, seg("vlan", "provider", 42))
    assert rows(db, tables.vlan_allocations) == [("physnet1", 10, False),
                                                 ("physnet1", 11, False)]

    reserve(db, m, seg("flat", "ext"))
    assert rows(db, tables.flat_allocations) == [("ext",)]
    release(db, m, seg("flat", "ext"))
    assert rows(db, tables.flat_allocations) == []


def test_partial_provider_segments(db: Database) -> None:
    m = manager(ml2_type_vlan={"network_vlan_ranges": ["provider", "physnet1:10:10"]},
                ml2_type_vxlan={"vni_ranges": ["5:5"]})
    m.sync_allocations(db)
    assert m.is_partial_segment(seg("vlan", "physnet1"))
    assert not m.is_partial_segment(seg("vlan", "physnet1", 10))
    # VLAN with only a physnet: the tag comes from that physnet's range.
    assert reserve(db, m, seg("vlan", "physnet1")) == seg("vlan", "physnet1", 10)
    with pytest.raises(exc.NoNetworkAvailable):
        reserve(db, m, seg("vlan", "physnet1"))
    # A provider-only physnet has no range to choose from.
    with pytest.raises(exc.NoNetworkAvailable):
        reserve(db, m, seg("vlan", "provider"))
    assert reserve(db, m, seg("vxlan")) == seg("vxlan", None, 5)
    with pytest.raises(exc.NoNetworkAvailable):
        reserve(db, m, seg("vxlan"))


def test_local_segments(db: Database) -> None:
    m = manager()
    assert reserve(db, m, {"network_type": "local"}) == seg("local")
    release(db, m, seg("local"))
    assert isinstance(m.driver("local"), LocalTypeDriver)


# --- sync_allocations ----------------------------------------------------------------------
def test_sync_tunnel_ranges_add_remove_keep_allocated(db: Database) -> None:
    m = manager(ml2_type_vxlan={"vni_ranges": ["1:5"]})
    m.sync_allocations(db)
    assert rows(db, tables.vxlan_allocations) == [(i, False) for i in range(1, 6)]
    reserve(db, m, seg("vxlan", None, 2))
    reserve(db, m, seg("vxlan", None, 500))  # outside the ranges

    m2 = manager(ml2_type_vxlan={"vni_ranges": ["4:7"]})
    m2.sync_allocations(db)
    # 1, 3 (unallocated, no longer configured) gone; 6, 7 added; 2 and 500 kept.
    assert rows(db, tables.vxlan_allocations) == [
        (2, True), (4, False), (5, False), (6, False), (7, False), (500, True)]

    # Released after the range went away: the row is dropped, not returned to a pool.
    release(db, m2, seg("vxlan", None, 2))
    assert (2, False) not in rows(db, tables.vxlan_allocations)
    assert 2 not in [r[0] for r in rows(db, tables.vxlan_allocations)]

    # Syncing again changes nothing; an empty config keeps only the allocated row.
    m2.sync_allocations(db)
    manager(ml2_type_vxlan={"vni_ranges": []}).sync_allocations(db)
    assert rows(db, tables.vxlan_allocations) == [(500, True)]


def test_sync_vlan_ranges_per_physnet(db: Database) -> None:
    m = manager(ml2_type_vlan={"network_vlan_ranges": ["a:1:3", "b:10:11"]})
    m.sync_allocations(db)
    reserve(db, m, seg("vlan", "b", 10))
    manager(ml2_type_vlan={"network_vlan_ranges": ["a:2:4", "c:7:7"]}).sync_allocations(db)
    # a: 1 removed, 4 added; b no longer configured: only its allocated row survives.
    assert rows(db, tables.vlan_allocations) == [
        ("a", 2, False), ("a", 3, False), ("a", 4, False), ("b", 10, True), ("c", 7, False)]


def test_sync_large_range_is_bulk(db: Database) -> None:
    m = manager(ml2={"type_drivers": ["vxlan"]}, ml2_type_vxlan={"vni_ranges": ["1:100000"]})
    start = time.monotonic()
    m.sync_allocations(db)
    first = time.monotonic() - start
    count = db.read(lambda c: c.execute(
        sa.select(sa.func.count()).select_from(tables.vxlan_allocations)).scalar())
    assert count == 100000
    # Shrinking deletes by ranges, not row by row.
    manager(ml2={"type_drivers": ["vxlan"]},
            ml2_type_vxlan={"vni_ranges": ["1:10", "50001:50010"]}).sync_allocations(db)
    assert [r[0] for r in rows(db, tables.vxlan_allocations)] == [
        *range(1, 11), *range(50001, 50011)]
    # Generous bound: row-at-a-time inserts take far longer than this.
    assert first < 20, f"sync of 100000 ids took {first:.1f}s"


# --- MTU -----------------------------------------------------------------------------------
@pytest.mark.parametrize("overrides, expected", [
    ({}, {"local": 0, "flat": 1500, "vlan": 1500, "vxlan": 1450, "gre": 1458,
          "geneve": 1450}),
    ({"ml2": {"overlay_ip_version": 6}},
     {"flat": 1500, "vlan": 1500, "vxlan": 1430, "gre": 1438, "geneve": 1430}),
    ({"DEFAULT": {"global_physnet_mtu": 9000}},
     {"flat": 9000, "vlan": 9000, "vxlan": 8950, "gre": 8958, "geneve": 8950}),
    # path_mtu limits overlays only, and only when smaller than global_physnet_mtu.
    ({"DEFAULT": {"global_physnet_mtu": 9000}, "ml2": {"path_mtu": 1400}},
     {"flat": 9000, "vlan": 9000, "vxlan": 1350, "gre": 1358, "geneve": 1350}),
    ({"ml2": {"path_mtu": 9000}}, {"vxlan": 1450, "vlan": 1500}),
    ({"DEFAULT": {"global_physnet_mtu": 0}, "ml2": {"path_mtu": 1400}},
     {"flat": 0, "vlan": 0, "vxlan": 1350}),
    ({"DEFAULT": {"global_physnet_mtu": 0}}, {"flat": 0, "vxlan": 0, "gre": 0}),
    ({"ml2_type_geneve": {"max_header_size": 38}}, {"geneve": 1442}),
    ({"ml2_type_geneve": {"max_header_size": 38}, "ml2": {"overlay_ip_version": 6}},
     {"geneve": 1422}),
])
def test_mtu_per_type(overrides: dict[str, dict[str, Any]], expected: dict[str, int]) -> None:
    m = manager(**overrides)
    assert {t: m.driver(t).get_mtu(None) for t in expected} == expected


def test_physical_network_mtus() -> None:
    m = manager(ml2={"physical_network_mtus": ["jumbo:9000", "small:1400"]})
    for network_type in ("flat", "vlan"):
        driver = m.driver(network_type)
        # min(global_physnet_mtu, physnet's own): a larger physnet MTU cannot exceed global.
        assert driver.get_mtu("jumbo") == 1500
        assert driver.get_mtu("small") == 1400
        assert driver.get_mtu("other") == 1500
    big = manager(DEFAULT={"global_physnet_mtu": 9000},
                  ml2={"physical_network_mtus": ["plain:1500"]})
    assert big.driver("vlan").get_mtu("plain") == 1500
    assert big.driver("vlan").get_mtu("other") == 9000
    # Tunnels do not ride on a named physnet.
    assert big.driver("vxlan").get_mtu("plain") == 8950


def test_network_mtu() -> None:
    m = manager(ml2={"physical_network_mtus": ["small:1400"]})
    assert m.get_network_mtu([seg("vxlan", None, 1)]) == 1450
    assert m.get_network_mtu([seg("vlan", "a", 1), seg("vxlan", None, 1)]) == 1450
    assert m.get_network_mtu([seg("vlan", "small", 1), seg("gre", None, 1)]) == 1400
    # local sets no limit: the network gets global_physnet_mtu, as in ML2.
    assert m.get_network_mtu([seg("local")]) == 1500
    assert m.get_network_mtu([]) == 1500
    # A segment of a type no longer loaded is ignored rather than failing the read.
    assert manager(ml2={"type_drivers": ["vxlan"]}).get_network_mtu(
        [seg("vlan", "a", 1), seg("vxlan", None, 1)]) == 1450


def test_make_segment() -> None:
    assert make_segment("vxlan", segmentation_id=3) == seg("vxlan", None, 3)
