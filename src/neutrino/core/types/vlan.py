"""vlan: 802.1Q-tagged segments of physical networks, ids per physical network."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.core.types.base import (
    MAX_VLAN_TAG,
    MIN_VLAN_TAG,
    PHYSICAL_NETWORK,
    SEGMENTATION_ID,
    IdRange,
    Segment,
    TypeDriver,
    allocate_from_pool,
    allocate_specific,
    check_prohibited,
    coerce_segmentation_id,
    ids_in_ranges,
    in_ranges,
    make_segment,
    parse_vlan_ranges,
    release_id,
    sync_pool,
)
from neutrino.db import tables
from neutrino.db.engine import Database

OPTION = "[ml2_type_vlan] network_vlan_ranges"


class VlanTypeDriver(TypeDriver):
    network_type = "vlan"

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        # physnet -> tenant ranges; a physnet listed without ranges is provider-only.
        self.vlan_ranges: dict[str, list[IdRange]] = parse_vlan_ranges(
            conf.ml2_type_vlan.network_vlan_ranges, option=OPTION
        )

    def is_partial_segment(self, segment: Mapping[str, Any]) -> bool:
        return segment.get(SEGMENTATION_ID) is None

    def validate_provider_segment(self, segment: Mapping[str, Any]) -> Segment:
        physnet = segment.get(PHYSICAL_NETWORK) or None
        vlan_id = coerce_segmentation_id(segment.get(SEGMENTATION_ID))
        if physnet:
            if physnet not in self.vlan_ranges:
                raise exc.InvalidInput(
                    error_message=f"physical_network '{physnet}' unknown for VLAN provider "
                    "network"
                )
            if vlan_id is not None and not MIN_VLAN_TAG <= vlan_id <= MAX_VLAN_TAG:
                raise exc.InvalidInput(
                    error_message=f"segmentation_id out of range ({MIN_VLAN_TAG} through "
                    f"{MAX_VLAN_TAG})"
                )
        elif vlan_id is not None:
            raise exc.InvalidInput(
                error_message="segmentation_id requires physical_network for VLAN provider "
                "network"
            )
        check_prohibited(segment, (PHYSICAL_NETWORK, SEGMENTATION_ID), "VLAN")
        return make_segment(self.network_type, physnet, vlan_id)

    def reserve_provider_segment(self, conn: Connection, segment: Mapping[str, Any]) -> Segment:
        physnet = segment.get(PHYSICAL_NETWORK)
        vlan_id = segment.get(SEGMENTATION_ID)
        if vlan_id is None:
            # Partial segment: the admin named the physnet (or not), we choose the tag.
            physnets = [physnet] if physnet else list(self.vlan_ranges)
            for name in physnets:
                got = allocate_from_pool(conn, tables.vlan_allocations, "vlan_id",
                                         {"physical_network": name})
                if got is not None:
                    return make_segment(self.network_type, name, got)
            raise exc.NoNetworkAvailable()
        key = {"physical_network": physnet, "vlan_id": vlan_id}
        if not allocate_specific(conn, tables.vlan_allocations, key):
            raise exc.VlanIdInUse(vlan_id=vlan_id, physical_network=physnet)
        return make_segment(self.network_type, physnet, vlan_id)

    def allocate_tenant_segment(self, conn: Connection) -> Segment | None:
        for physnet, ranges in self.vlan_ranges.items():
            if not ranges:
                continue
            got = allocate_from_pool(conn, tables.vlan_allocations, "vlan_id",
                                     {"physical_network": physnet})
            if got is not None:
                return make_segment(self.network_type, physnet, got)
        return None

    def release_segment(self, conn: Connection, segment: Mapping[str, Any]) -> None:
        physnet = segment[PHYSICAL_NETWORK]
        vlan_id = segment[SEGMENTATION_ID]
        inside = in_ranges(vlan_id, self.vlan_ranges.get(physnet, ()))
        release_id(conn, tables.vlan_allocations,
                   {"physical_network": physnet, "vlan_id": vlan_id}, inside)

    def sync_allocations(self, db: Database) -> None:
        wanted = {physnet: ids_in_ranges(r) for physnet, r in self.vlan_ranges.items()}
        db.write(lambda conn: sync_pool(conn, tables.vlan_allocations, "vlan_id", wanted,
                                        group_col="physical_network"))

    def get_mtu(self, physical_network: str | None = None) -> int:
        return self._physnet_mtu(physical_network)
