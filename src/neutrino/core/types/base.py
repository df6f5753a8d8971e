"""The type driver interface, config parsing helpers and race-free pool operations.

A *segment* is a plain dict with the keys ``network_type``, ``physical_network`` and
``segmentation_id`` (``None`` where not given / not applicable), the same shape ML2 uses.

Allocation tables hold one row per id of the configured ranges (``allocated`` false/true)
plus allocated rows for provider-chosen ids outside them. Every check-then-act step here is
made race-free by the database, never by a Python lock, so it holds across API processes
and servers:

* taking a given id is ``UPDATE ... SET allocated=true WHERE <id> AND allocated=false``:
  of two transactions only one sees ``rowcount == 1``;
* a row that does not exist yet is INSERTed; a concurrent duplicate raises IntegrityError,
  which ``Database.write`` treats as a lost race and reruns, and the rerun sees the row;
* taking any free id picks one of a few free candidates at random (spreading concurrent
  allocators over different rows), and raises ``NeedsRetry`` if it lost that row anyway.
"""

from __future__ import annotations

import abc
import logging
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.db.engine import Database

LOG = logging.getLogger(__name__)

Segment = dict[str, Any]
IdRange = tuple[int, int]

NETWORK_TYPE = "network_type"
PHYSICAL_NETWORK = "physical_network"
SEGMENTATION_ID = "segmentation_id"
SEGMENT_KEYS = (NETWORK_TYPE, PHYSICAL_NETWORK, SEGMENTATION_ID)

MIN_VLAN_TAG, MAX_VLAN_TAG = 1, 4094

# How many free candidates an allocator looks at before choosing one at random. Large
# enough that concurrent allocators rarely pick the same row, small enough to stay cheap.
CANDIDATES = 20
# Rows per INSERT batch / per DELETE executemany when syncing allocation tables.
SYNC_CHUNK = 5000


def make_segment(network_type: str, physical_network: str | None = None,
                 segmentation_id: int | None = None) -> Segment:
    return {
        NETWORK_TYPE: network_type,
        PHYSICAL_NETWORK: physical_network,
        SEGMENTATION_ID: segmentation_id,
    }


# --- configuration parsing -----------------------------------------------------------------
def parse_id_ranges(entries: Iterable[str], *, option: str, id_min: int, id_max: int,
                    kind: str = "ID") -> list[IdRange]:
    """Parse ``["min:max", ...]`` (e.g. ``vni_ranges``); ``ValueError`` names ``option``."""
    ranges: list[IdRange] = []
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) != 2:
            raise ValueError(f"Invalid {option} entry '{entry}': expected <min>:<max>")
        ranges.append(_parse_range(parts[0], parts[1], entry=entry, option=option,
                                   id_min=id_min, id_max=id_max, kind=kind))
    return ranges


def parse_vlan_ranges(entries: Iterable[str], *, option: str) -> dict[str, list[IdRange]]:
    """Parse ``network_vlan_ranges``: ``physnet`` or ``physnet:vlan_min:vlan_max``.

    Returns physnet -> ranges in configuration order. A bare ``physnet`` is usable for
    provider networks only, so it maps to an empty list unless ranges are also given for it.
    """
    physnets: dict[str, list[IdRange]] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        if ":" not in entry:
            physnets.setdefault(entry, [])
            continue
        parts = entry.split(":")
        if len(parts) != 3:
            raise ValueError(
                f"Invalid {option} entry '{entry}': expected <physical_network> or "
                "<physical_network>:<vlan_min>:<vlan_max>"
            )
        physnet = parts[0].strip()
        if not physnet:
            raise ValueError(f"Invalid {option} entry '{entry}': empty physical network name")
        physnets.setdefault(physnet, []).append(
            _parse_range(parts[1], parts[2], entry=entry, option=option,
                         id_min=MIN_VLAN_TAG, id_max=MAX_VLAN_TAG, kind="VLAN tag")
        )
    return physnets


def parse_physnet_mtus(entries: Iterable[str], *, option: str) -> dict[str, int]:
    """Parse ``physical_network_mtus``: ``["physnet:mtu", ...]``."""
    mtus: dict[str, int] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        physnet, sep, value = entry.rpartition(":")
        physnet = physnet.strip()
        if not sep or not physnet:
            raise ValueError(f"Invalid {option} entry '{entry}': expected <physnet>:<mtu>")
        try:
            mtu = int(value)
        except ValueError:
            raise ValueError(f"Invalid {option} entry '{entry}': MTU is not an integer") from None
        if mtu < 0:
            raise ValueError(f"Invalid {option} entry '{entry}': MTU must not be negative")
        mtus[physnet] = mtu
    return mtus


def _parse_range(lo_s: str, hi_s: str, *, entry: str, option: str, id_min: int, id_max: int,
                 kind: str) -> IdRange:
    try:
        lo, hi = int(lo_s), int(hi_s)
    except ValueError:
        raise ValueError(f"Invalid {option} entry '{entry}': bounds must be integers") from None
    for value in (lo, hi):
        if not id_min <= value <= id_max:
            raise ValueError(
                f"Invalid {option} entry '{entry}': {value} is not a valid {kind} "
                f"({id_min} through {id_max})"
            )
    if hi < lo:
        raise ValueError(f"Invalid {option} entry '{entry}': end of range is less than start")
    return lo, hi


def in_ranges(value: int, ranges: Iterable[IdRange]) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def ids_in_ranges(ranges: Iterable[IdRange]) -> set[int]:
    ids: set[int] = set()
    for lo, hi in ranges:
        ids.update(range(lo, hi + 1))
    return ids


def runs(sorted_ids: Sequence[int]) -> Iterator[IdRange]:
    """Collapse sorted ids into contiguous (lo, hi) runs: deleting a removed range is then
    one ``BETWEEN`` statement instead of one row at a time."""
    it = iter(sorted_ids)
    try:
        lo = hi = next(it)
    except StopIteration:
        return
    for value in it:
        if value == hi + 1:
            hi = value
        else:
            yield lo, hi
            lo = hi = value
    yield lo, hi


# --- input checking ------------------------------------------------------------------------
def coerce_segmentation_id(value: Any) -> int | None:
    """The API layer normally converts already; accept digit strings, refuse the rest."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise exc.InvalidInput(error_message=f"'{value}' is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise exc.InvalidInput(error_message=f"'{value}' is not an integer")


def check_prohibited(segment: Mapping[str, Any], allowed: Iterable[str], label: str) -> None:
    """Any key with a value other than those ``allowed`` is refused, as ML2 does."""
    allowed = set(allowed) | {NETWORK_TYPE}
    for key, value in segment.items():
        if value is not None and value != "" and key not in allowed:
            raise exc.InvalidInput(error_message=f"{key} prohibited for {label} provider network")


# --- pool operations (run inside the caller's transaction) ---------------------------------
def _where(table: sa.Table, key: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
    return [table.c[name] == value for name, value in key.items()]


def allocate_specific(conn: Connection, table: sa.Table, key: Mapping[str, Any]) -> bool:
    """Mark the row ``key`` allocated, creating it if outside the pool.

    False when it is already allocated. A concurrent INSERT of the same key raises
    IntegrityError (duplicate): the transaction is rerun and then returns False.
    """
    taken = conn.execute(
        sa.update(table).where(*_where(table, key), table.c.allocated == sa.false())
        .values(allocated=True)
    )
    if taken.rowcount:
        return True
    row = conn.execute(sa.select(table.c.allocated).where(*_where(table, key))).first()
    if row is not None:
        return False
    conn.execute(sa.insert(table).values(**key, allocated=True))
    return True


def allocate_from_pool(conn: Connection, table: sa.Table, id_col: str,
                       filters: Mapping[str, Any] | None = None) -> int | None:
    """Take any free id of the pool (rows with allocated=false), or None if there is none."""
    filters = dict(filters or {})
    col = table.c[id_col]
    candidates = conn.execute(
        sa.select(col)
        .where(*_where(table, filters), table.c.allocated == sa.false())
        .order_by(col)
        .limit(CANDIDATES)
    ).scalars().all()
    if not candidates:
        return None
    chosen = random.choice(candidates)
    taken = conn.execute(
        sa.update(table)
        .where(*_where(table, filters), col == chosen, table.c.allocated == sa.false())
        .values(allocated=True)
    )
    if not taken.rowcount:
        # Another transaction committed this row between our SELECT and UPDATE. Rerun the
        # whole transaction: the next SELECT no longer offers it.
        raise exc.NeedsRetry(f"{table.name}: {id_col} {chosen} taken concurrently")
    return int(chosen)


def release_id(conn: Connection, table: sa.Table, key: Mapping[str, Any], inside: bool) -> None:
    """Ids of the configured ranges go back to the pool; others have no row to keep."""
    if inside:
        result = conn.execute(
            sa.update(table).where(*_where(table, key)).values(allocated=False)
        )
    else:
        result = conn.execute(sa.delete(table).where(*_where(table, key)))
    if not result.rowcount:
        LOG.warning("%s: no allocation %s to release", table.name, dict(key))


def sync_pool(conn: Connection, table: sa.Table, id_col: str,
              wanted: Mapping[Any, set[int]], group_col: str | None = None) -> None:
    """Make the pool rows match ``wanted`` (group -> ids; group is None without group_col).

    Ids of new ranges are added unallocated; unallocated ids outside every range (including
    those of groups no longer configured) are deleted; allocated rows are always kept — they
    belong to live networks. One SELECT, the difference computed with sets, bulk writes.
    """
    id_c = table.c[id_col]
    cols = [id_c, table.c.allocated]
    if group_col is not None:
        cols.append(table.c[group_col])
    existing: dict[Any, dict[int, bool]] = {}
    for row in conn.execute(sa.select(*cols)):
        group = row[2] if group_col is not None else None
        existing.setdefault(group, {})[int(row[0])] = bool(row[1])

    delete = sa.delete(table).where(
        id_c.between(sa.bindparam("lo_id"), sa.bindparam("hi_id")),
        table.c.allocated == sa.false(),
    )
    if group_col is not None:
        delete = delete.where(table.c[group_col] == sa.bindparam("grp"))

    for group in sorted(set(existing) | set(wanted), key=lambda g: (g is None, g or "")):
        have = existing.get(group, {})
        want = wanted.get(group, set())
        stale = sorted(i for i, allocated in have.items() if not allocated and i not in want)
        missing = sorted(want.difference(have))
        if stale:
            grp = {"grp": group} if group_col is not None else {}
            params = [{"lo_id": lo, "hi_id": hi, **grp} for lo, hi in runs(stale)]
            for start in range(0, len(params), SYNC_CHUNK):
                conn.execute(delete, params[start:start + SYNC_CHUNK])
        if missing:
            extra = {group_col: group} if group_col is not None else {}
            for start in range(0, len(missing), SYNC_CHUNK):
                conn.execute(
                    sa.insert(table),
                    [{id_col: i, "allocated": False, **extra}
                     for i in missing[start:start + SYNC_CHUNK]],
                )
        if stale or missing:
            LOG.info("%s%s: %d ids added, %d removed", table.name,
                     f" ({group})" if group is not None else "", len(missing), len(stale))


# --- the driver interface ------------------------------------------------------------------
class TypeDriver(abc.ABC):
    """One network type (local, flat, vlan, vxlan, gre, geneve).

    Methods taking ``conn`` run inside the caller's transaction (``Database.write``); they
    may raise ``NeedsRetry`` or let a duplicate-key IntegrityError through, both of which
    rerun the whole transaction.
    """

    network_type: ClassVar[str]

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        self.physnet_mtus = parse_physnet_mtus(
            conf.ml2.physical_network_mtus, option="[ml2] physical_network_mtus"
        )

    def is_partial_segment(self, segment: Mapping[str, Any]) -> bool:
        """A provider segment whose id the driver chooses at reserve time."""
        return False

    @abc.abstractmethod
    def validate_provider_segment(self, segment: Mapping[str, Any]) -> Segment:
        """Check an admin-given segment; return it normalized. Raises InvalidInput."""

    @abc.abstractmethod
    def reserve_provider_segment(self, conn: Connection, segment: Mapping[str, Any]) -> Segment:
        """Reserve a validated provider segment; returns it with every key filled in."""

    @abc.abstractmethod
    def allocate_tenant_segment(self, conn: Connection) -> Segment | None:
        """A free segment for a project network, or None if this type has none left."""

    @abc.abstractmethod
    def release_segment(self, conn: Connection, segment: Mapping[str, Any]) -> None:
        """Give back a segment of a deleted network."""

    def sync_allocations(self, db: Database) -> None:
        """Bring the allocation table in line with the configured ranges (server start)."""
        return None

    @abc.abstractmethod
    def get_mtu(self, physical_network: str | None = None) -> int:
        """Largest MTU a segment of this type can carry; 0 means no constraint."""

    # Helpers shared by the physical-network types (flat, vlan).
    def _physnet_mtu(self, physical_network: str | None) -> int:
        mtus = [self.conf.global_physnet_mtu]
        if physical_network is not None and physical_network in self.physnet_mtus:
            mtus.append(self.physnet_mtus[physical_network])
        mtus = [m for m in mtus if m > 0]
        return min(mtus) if mtus else 0

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.network_type}>"
