"""Segment allocation under concurrent writers, on every database backend.

Each thread runs its own ``Database.write`` transaction, as concurrent API requests do;
only database constraints and the retry loop keep ids unique — no Python lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from neutrino import exceptions as exc
from neutrino.config import make_conf
from neutrino.core.types import TypeManager
from neutrino.db import tables
from neutrino.db.engine import Database

THREADS = 16


def _manager(vni_ranges: list[str]) -> TypeManager:
    return TypeManager(make_conf(overrides={
        "ml2": {"type_drivers": ["vxlan"], "tenant_network_types": ["vxlan"]},
        "ml2_type_vxlan": {"vni_ranges": vni_ranges},
    }))


def _race(fn: Callable[[], Any], n: int = THREADS) -> tuple[list[Any], list[BaseException]]:
    """Run ``fn`` in ``n`` threads released at the same instant."""
    barrier = threading.Barrier(n)

    def run() -> Any:
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(run) for _ in range(n)]
    results, errors = [], []
    for f in futures:
        if f.exception() is not None:
            errors.append(f.exception())
        else:
            results.append(f.result())
    return results, errors


def _allocated(db: Database) -> list[int]:
    t = tables.vxlan_allocations
    return db.read(lambda c: sorted(c.execute(
        sa.select(t.c.segmentation_id).where(t.c.allocated == sa.true())).scalars()))


def test_concurrent_tenant_allocation(db: Database) -> None:
    manager = _manager(["1:10"])
    manager.sync_allocations(db)

    results, errors = _race(lambda: db.write(manager.allocate_tenant_segment))

    unexpected = [e for e in errors if not isinstance(e, exc.NoNetworkAvailable)]
    assert not unexpected, unexpected
    assert len(results) == 10
    ids = sorted(r["segmentation_id"] for r in results)
    assert ids == list(range(1, 11))
    assert all(r["network_type"] == "vxlan" and r["physical_network"] is None for r in results)
    assert len(errors) == THREADS - 10
    assert _allocated(db) == ids


def test_concurrent_reserve_same_id_outside_range(db: Database) -> None:
    # The row does not exist: every thread tries to INSERT it. One wins; the others hit
    # the duplicate key, are rerun, and then see it allocated -> 409 TunnelIdInUse.
    manager = _manager(["1:10"])
    manager.sync_allocations(db)
    segment = manager.validate_provider_segment(
        {"network_type": "vxlan", "physical_network": None, "segmentation_id": 5000})

    results, errors = _race(lambda: db.write(
        lambda conn: manager.reserve_provider_segment(conn, segment)))

    assert results == [{"network_type": "vxlan", "physical_network": None,
                        "segmentation_id": 5000}]
    assert len(errors) == THREADS - 1
    assert all(isinstance(e, exc.TunnelIdInUse) and e.status == 409 for e in errors), errors
    assert _allocated(db) == [5000]


def test_concurrent_sync_allocations(db: Database) -> None:
    # Several servers starting at once against one database.
    manager = _manager(["1:5000", "10001:12000"])

    _, errors = _race(lambda: manager.sync_allocations(db), n=4)

    assert not errors, errors
    t = tables.vxlan_allocations
    rows = db.read(lambda c: c.execute(
        sa.select(sa.func.count(), sa.func.min(t.c.segmentation_id),
                  sa.func.max(t.c.segmentation_id))).one())
    assert tuple(rows) == (7000, 1, 12000)
