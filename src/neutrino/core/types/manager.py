"""Loads the configured type drivers and routes segment operations to them."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any

from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import exceptions as exc
from neutrino.core.types.base import (
    NETWORK_TYPE,
    PHYSICAL_NETWORK,
    SEGMENT_KEYS,
    Segment,
    TypeDriver,
)
from neutrino.db.engine import Database

LOG = logging.getLogger(__name__)
GROUP = "neutrino.ml2.type_drivers"


def _names(values: Iterable[str]) -> list[str]:
    """Stripped, non-empty, first occurrence kept: order matters for tenant types."""
    seen: list[str] = []
    for value in values:
        name = value.strip()
        if name and name not in seen:
            seen.append(name)
    return seen


class TypeManager:
    """The ML2 type manager: one driver per network type, chosen by ``[ml2] type_drivers``.

    Configuration errors raise ``ValueError`` at construction, so a server with a bad
    config stops at start-up rather than failing the first request.
    """

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf
        available = {ep.name: ep for ep in entry_points(group=GROUP)}
        self.drivers: dict[str, TypeDriver] = {}
        for name in _names(conf.ml2.type_drivers):
            ep = available.get(name)
            if ep is None:
                raise ValueError(
                    f"Unknown type driver '{name}' in [ml2] type_drivers; available: "
                    f"{', '.join(sorted(available)) or 'none (is neutrino installed?)'}"
                )
            driver: TypeDriver = ep.load()(conf)
            if driver.network_type in self.drivers:
                raise ValueError(
                    f"[ml2] type_drivers: '{name}' provides network type "
                    f"'{driver.network_type}', which another driver already provides"
                )
            self.drivers[driver.network_type] = driver
        self.tenant_network_types: list[str] = _names(conf.ml2.tenant_network_types)
        for network_type in self.tenant_network_types:
            if network_type not in self.drivers:
                raise ValueError(
                    f"[ml2] tenant_network_types: no type driver for '{network_type}' "
                    f"(loaded by [ml2] type_drivers: {', '.join(self.drivers) or 'none'})"
                )
        LOG.info("type drivers: %s; tenant network types: %s",
                 list(self.drivers), self.tenant_network_types)

    def driver(self, network_type: str | None) -> TypeDriver:
        found = self.drivers.get(network_type) if network_type else None
        if found is None:
            raise exc.InvalidInput(
                error_message=f"network_type value '{network_type}' not supported"
            )
        return found

    def sync_allocations(self, db: Database) -> None:
        for driver in self.drivers.values():
            driver.sync_allocations(db)

    def validate_provider_segment(self, segment: Mapping[str, Any]) -> Segment:
        network_type = segment.get(NETWORK_TYPE)
        if not network_type:
            raise exc.InvalidInput(error_message="network_type required")
        # Only the provider attributes travel to the driver; anything else is not ours.
        return self.driver(network_type).validate_provider_segment(
            {key: segment.get(key) for key in SEGMENT_KEYS}
        )

    def is_partial_segment(self, segment: Mapping[str, Any]) -> bool:
        return self.driver(segment.get(NETWORK_TYPE)).is_partial_segment(segment)

    def reserve_provider_segment(self, conn: Connection, segment: Mapping[str, Any]) -> Segment:
        return self.driver(segment.get(NETWORK_TYPE)).reserve_provider_segment(conn, segment)

    def allocate_tenant_segment(self, conn: Connection) -> Segment:
        for network_type in self.tenant_network_types:
            segment = self.drivers[network_type].allocate_tenant_segment(conn)
            if segment is not None:
                return segment
        raise exc.NoNetworkAvailable()

    def release_segment(self, conn: Connection, segment: Mapping[str, Any]) -> None:
        network_type = segment.get(NETWORK_TYPE)
        driver = self.drivers.get(network_type) if network_type else None
        if driver is None:
            # The network outlives a driver removed from the config: nothing to free here.
            LOG.warning("no type driver for network_type %r; segment %s not released",
                        network_type, dict(segment))
            return
        driver.release_segment(conn, segment)

    def get_network_mtu(self, segments: Iterable[Mapping[str, Any]]) -> int:
        """The largest MTU every segment can carry; global_physnet_mtu if none limits it."""
        mtus = []
        for segment in segments:
            driver = self.drivers.get(segment.get(NETWORK_TYPE) or "")
            if driver is None:
                LOG.warning("no type driver for segment %s; MTU may be inaccurate",
                            dict(segment))
                continue
            mtu = driver.get_mtu(segment.get(PHYSICAL_NETWORK))
            if mtu:
                mtus.append(mtu)
        return min(mtus) if mtus else int(self.conf.global_physnet_mtu)
