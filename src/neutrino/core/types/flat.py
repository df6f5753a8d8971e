"""flat: an untagged physical network; at most one network per physical network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.core.types.base import (
    PHYSICAL_NETWORK,
    Segment,
    TypeDriver,
    check_prohibited,
    make_segment,
)
from neutrino.db import tables


class FlatTypeDriver(TypeDriver):
    network_type = "flat"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        entries = [e.strip() for e in conf.ml2_type_flat.flat_networks if e.strip()]
        # None: any physical network name is allowed ('*'); []: flat networks disabled.
        self.flat_networks: list[str] | None = None if "*" in entries else entries

    def validate_provider_segment(self, segment: Mapping[str, Any]) -> Segment:
        physnet = segment.get(PHYSICAL_NETWORK) or None
        if not physnet:
            raise exc.InvalidInput(
                error_message="physical_network required for flat provider network"
            )
        if self.flat_networks is not None and not self.flat_networks:
            raise exc.InvalidInput(error_message="Flat provider networks are disabled")
        if self.flat_networks and physnet not in self.flat_networks:
            raise exc.InvalidInput(
                error_message=f"physical_network '{physnet}' unknown for flat provider network"
            )
        check_prohibited(segment, (PHYSICAL_NETWORK,), "flat")
        return make_segment(self.network_type, physnet)

    def reserve_provider_segment(self, conn: Connection, segment: Mapping[str, Any]) -> Segment:
        physnet = segment[PHYSICAL_NETWORK]
        table = tables.flat_allocations
        found = conn.execute(
            sa.select(table.c.physical_network).where(table.c.physical_network == physnet)
        ).first()
        if found is not None:
            raise exc.FlatNetworkInUse(physical_network=physnet)
        # A concurrent reservation of the same physnet makes this INSERT fail with a
        # duplicate key; the transaction reruns and the SELECT above answers 409.
        conn.execute(sa.insert(table).values(physical_network=physnet))
        return make_segment(self.network_type, physnet)

    def allocate_tenant_segment(self, conn: Connection) -> Segment | None:
        # Project flat networks are not supported (ML2 behaves the same).
        return None

    def release_segment(self, conn: Connection, segment: Mapping[str, Any]) -> None:
        table = tables.flat_allocations
        conn.execute(
            sa.delete(table).where(table.c.physical_network == segment[PHYSICAL_NETWORK])
        )

    def get_mtu(self, physical_network: str | None = None) -> int:
        return self._physnet_mtu(physical_network)
