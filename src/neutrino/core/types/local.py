"""local: a network that exists on one host only; nothing to allocate or reserve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from neutrino.core.types.base import Segment, TypeDriver, check_prohibited, make_segment


class LocalTypeDriver(TypeDriver):
    network_type = "local"

    def validate_provider_segment(self, segment: Mapping[str, Any]) -> Segment:
        check_prohibited(segment, (), "local")
        return make_segment(self.network_type)

    def reserve_provider_segment(self, conn: Connection, segment: Mapping[str, Any]) -> Segment:
        return make_segment(self.network_type)

    def allocate_tenant_segment(self, conn: Connection) -> Segment | None:
        return make_segment(self.network_type)

    def release_segment(self, conn: Connection, segment: Mapping[str, Any]) -> None:
        return None

    def get_mtu(self, physical_network: str | None = None) -> int:
        # ML2's local driver reports no MTU: the segment puts no limit on the network,
        # whose MTU then falls back to global_physnet_mtu (TypeManager.get_network_mtu).
        return 0

