"""Extension drivers, as ML2's: the attributes that extensions add to networks and ports
(binding:*, security groups and port security, address pairs, extra DHCP options, tags,
router:external, ...) are kept by drivers, so the core services know none of them by name.

Each hook runs inside the write's transaction (``conn``), in the order the drivers were
registered; a driver refuses by raising (the write rolls back). The dict hooks take a whole
batch — a bulk create or a page of a list — so that a driver reads or writes its rows in
one statement for all of them (lists show a thousand ports).

Drivers come from ``[ml2] extension_drivers`` (entry points ``neutrino.ml2.extension_drivers``,
Neutron's names), from the core itself (always on: binding, extra_dhcp_opt, tags) and from
service plugins (core/service_plugins.py: ``context.extensions.register``), as neutron-lib's
``resource_extend`` lets a service plugin extend the core's dicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino.context import Context

GROUP = "neutrino.ml2.extension_drivers"
FilterFn = Callable[[list[Any]], sa.ColumnElement[bool]]
Dicts = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ChildPart:
    """A list attribute of ports read from rows of another table (tags, extra DHCP
    options, security groups, address pairs): read for a show or a page of a list with
    the other drivers' in one statement (core/port_dict.py). An item is the dict of
    ``keys`` over ``values`` (no keys: the one value itself); ``key`` sorts the items
    (None and ``sort``: by themselves; neither: as the database reads them)."""

    attr: str
    port_id: sa.ColumnElement[Any]
    values: tuple[sa.ColumnElement[Any], ...]
    keys: tuple[str, ...] = ()
    key: Callable[[Any], Any] | None = None
    sort: bool = False


class ExtensionDriver:
    """Every hook is optional: the base class's do nothing. ``data`` is the request's
    attributes (defaults filled in), ``result`` the API dict being built."""

    name = ""
    # extension aliases this driver implements (listed only when it is loaded)
    aliases: tuple[str, ...] = ()
    # list filters it contributes: {"port": {"security_groups": fn}, ...}
    filters: dict[str, dict[str, FilterFn]] = {}
    # Port attributes that are a column (or label) of the port's row: attr -> (column,
    # what NULL shows) or (column, None, convert(value)); and list attributes (ChildPart).
    # The port dict builder (core/port_dict.py) makes both (a column the row lacks: not
    # shown, extend_port_dicts may add it), extend_port_dicts adds the rest.
    port_columns: dict[str, tuple[Any, ...]] = {}
    port_children: tuple[ChildPart, ...] = ()

    def __init__(self, conf: cfg.ConfigOpts | None = None) -> None:
        self.conf = conf

    # --- networks ----------------------------------------------------------------------
    def process_create_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               result: dict[str, Any]) -> None: ...

    def process_update_network(self, ctx: Context, conn: Connection, data: dict[str, Any],
                               original: Any, result: dict[str, Any]) -> bool:
        """``original``: the network's row (locked). True: a new revision."""
        return False

    def extend_network_dicts(self, conn: Connection, rows: list[Any], results: Dicts,
                             page: sa.Subquery | None = None) -> None: ...

    # --- ports ---------------------------------------------------------------------------
    def process_create_ports(self, ctx: Context, conn: Connection, items: Dicts,
                             results: Dicts) -> None:
        """New ports (rows inserted, addresses allocated): ``items`` the requests,
        ``results`` their dicts, in the same order."""

    def process_update_port(self, ctx: Context, conn: Connection, data: dict[str, Any],
                            original: dict[str, Any], result: dict[str, Any]) -> bool:
        """Before the port's row is written (``result`` holds its new mac_address,
        device_owner, fixed_ips). True: a new revision of the port."""
        return False

    def extend_port_dicts(self, conn: Connection, rows: list[Any], results: Dicts,
                          page: sa.Subquery | None = None,
                          hidden: frozenset[str] = frozenset()) -> None:
        """Add the driver's attributes to ``results`` (of ``rows``); ``hidden`` ones
        (ListQuery.hidden: the caller never sees them) may be left out."""


class ExtensionManager:
    def __init__(self, conf: cfg.ConfigOpts | None = None,
                 drivers: Iterable[ExtensionDriver] = ()) -> None:
        self.drivers: list[ExtensionDriver] = []
        for driver in drivers:
            self.register(driver)
        if conf is not None:
            for name in conf.ml2.extension_drivers:
                self.register(load_driver(conf, name))

    def register(self, driver: ExtensionDriver) -> None:
        if any(d.name == driver.name for d in self.drivers if d.name):
            return  # named twice (config and a plugin): loaded once
        self.drivers.append(driver)

    def aliases(self) -> set[str]:
        return {a for d in self.drivers for a in d.aliases}

    def filters(self, resource: str) -> dict[str, FilterFn]:
        return {k: f for d in self.drivers for k, f in d.filters.get(resource, {}).items()}

    def call(self, hook: str, *args: Any) -> bool:
        """Run ``hook`` (an ExtensionDriver method) of every driver, in order: True if
        any says the resource changed (process_update_*)."""
        changed = False
        for d in self.drivers:
            changed = bool(getattr(d, hook)(*args)) or changed
        return changed


def load_driver(conf: cfg.ConfigOpts, name: str) -> ExtensionDriver:
    found = entry_points(group=GROUP, name=name)
    if not found:
        raise SystemExit(f"neutrino: [ml2] extension_drivers: unknown driver {name!r}")
    driver: ExtensionDriver = next(iter(found)).load()(conf)
    driver.name = driver.name or name
    return driver
