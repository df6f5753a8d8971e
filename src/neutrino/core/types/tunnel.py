"""Overlay types: vxlan, gre, geneve. One shared driver, parameterized per type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.core.types.base import (
    NETWORK_TYPE,
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
    parse_id_ranges,
    release_id,
    sync_pool,
)
from neutrino.db import tables
from neutrino.db.engine import Database

# Outer IP header per overlay_ip_version (neutron_lib.constants.IP_HEADER_LENGTH).
IP_HEADER_LENGTH = {4: 20, 6: 40}
ID_COLUMN = "segmentation_id"


class TunnelTypeDriver(TypeDriver):

    table: ClassVar[sa.Table]
    max_id: ClassVar[int]
    min_id: ClassVar[int] = 1
    conf_group: ClassVar[str]
    range_option: ClassVar[str]

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        super().__init__(conf)
        self.ranges: list[IdRange] = parse_id_ranges(
            getattr(conf, self.conf_group)[self.range_option],
            option=f"[{self.conf_group}] {self.range_option}",
            id_min=self.min_id,
            id_max=self.max_id,
            kind=f"{self.network_type} ID",
        )

    @property
    def encap_overhead(self) -> int:
        """Bytes the tunnel header adds beyond the outer IP header."""
        raise NotImplementedError

    def is_partial_segment(self, segment: Mapping[str, Any]) -> bool:
        return segment.get(SEGMENTATION_ID) is None

    def validate_provider_segment(self, segment: Mapping[str, Any]) -> Segment:
        if segment.get(PHYSICAL_NETWORK):
            raise exc.InvalidInput(
                error_message="provider:physical_network specified for "
                f"{segment.get(NETWORK_TYPE) or self.network_type} network"
            )
        seg_id = coerce_segmentation_id(segment.get(SEGMENTATION_ID))
        if seg_id is not None and not self.min_id <= seg_id <= self.max_id:
            raise exc.InvalidInput(
                error_message=f"segmentation_id out of range ({self.min_id} through "
                f"{self.max_id})"
            )
        check_prohibited(segment, (SEGMENTATION_ID,), self.network_type)
        return make_segment(self.network_type, None, seg_id)

    def reserve_provider_segment(self, conn: Connection, segment: Mapping[str, Any]) -> Segment:
        seg_id = segment.get(SEGMENTATION_ID)
        if seg_id is None:
            got = allocate_from_pool(conn, self.table, ID_COLUMN)
            if got is None:
                raise exc.NoNetworkAvailable()
            return make_segment(self.network_type, None, got)
        if not allocate_specific(conn, self.table, {ID_COLUMN: seg_id}):
            raise exc.TunnelIdInUse(tunnel_id=seg_id)
        return make_segment(self.network_type, None, seg_id)

    def allocate_tenant_segment(self, conn: Connection) -> Segment | None:
        if not self.ranges:
            return None
        got = allocate_from_pool(conn, self.table, ID_COLUMN)
        return None if got is None else make_segment(self.network_type, None, got)

    def release_segment(self, conn: Connection, segment: Mapping[str, Any]) -> None:
        seg_id = segment[SEGMENTATION_ID]
        release_id(conn, self.table, {ID_COLUMN: seg_id}, in_ranges(seg_id, self.ranges))

    def sync_allocations(self, db: Database) -> None:
        wanted = {None: ids_in_ranges(self.ranges)}
        db.write(lambda conn: sync_pool(conn, self.table, ID_COLUMN, wanted))

    def get_mtu(self, physical_network: str | None = None) -> int:
        # As ML2 (type_tunnel.py + type_{vxlan,gre,geneve}.py): the smallest non-zero of
        # global_physnet_mtu and path_mtu, minus the outer IP header of the underlay's IP
        # version, minus this tunnel's own header.
        mtus = [m for m in (self.conf.global_physnet_mtu, self.conf.ml2.path_mtu) if m > 0]
        if not mtus:
            return 0
        mtu = min(mtus) - IP_HEADER_LENGTH[self.conf.ml2.overlay_ip_version]
        return max(mtu - self.encap_overhead, 0) if mtu > 0 else 0


class VxlanTypeDriver(TunnelTypeDriver):
    network_type = "vxlan"
    table = tables.vxlan_allocations
    max_id = 2**24 - 1
    conf_group = "ml2_type_vxlan"
    range_option = "vni_ranges"

    @property
    def encap_overhead(self) -> int:
        return 30  # UDP 8 + VXLAN 8 + inner Ethernet 14


class GreTypeDriver(TunnelTypeDriver):
    network_type = "gre"
    table = tables.gre_allocations
    max_id = 2**32 - 1
    conf_group = "ml2_type_gre"
    range_option = "tunnel_id_ranges"

    @property
    def encap_overhead(self) -> int:
        return 22  # GRE with key 8 + inner Ethernet 14


class GeneveTypeDriver(TunnelTypeDriver):
    network_type = "geneve"
    table = tables.geneve_allocations
    max_id = 2**24 - 1
    conf_group = "ml2_type_geneve"
    range_option = "vni_ranges"

    @property
    def encap_overhead(self) -> int:
        # Geneve's header is extensible; the operator states the largest one in use.
        return int(self.conf.ml2_type_geneve.max_header_size)
