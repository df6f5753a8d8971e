"""Port binding and provisioning in-process, on a migrated SQLite file: what the API tests
cannot provoke on purpose (a port changing while it is being bound), and the segment rules
of the linuxbridge driver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from neutrino import config
from neutrino.api import body
from neutrino.api.factory import open_database
from neutrino.context import Context
from neutrino.core import binding, provisioning, records
from neutrino.core.mech.base import MechanismDriver, PortBindingContext
from neutrino.core.mech.linuxbridge import can_reach
from neutrino.core.mech.manager import MechanismManager
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import migrate
from neutrino.db import tables as t
from neutrino.schema import network, port

ADMIN = Context.admin()


class Meddler(MechanismDriver):
    """Binds every port, but changes the port behind the binder's back ``meddle`` times
    first (as a concurrent update would)."""

    name = "meddler"

    def __init__(self, conf: Any, plugin_ref: list[Ml2Plugin], meddle: int) -> None:
        super().__init__(conf)
        self.plugin_ref = plugin_ref
        self.meddle = meddle
        self.calls = 0

    def bind_port(self, ctx: PortBindingContext) -> None:
        self.calls += 1
        if self.calls <= self.meddle:
            db = self.plugin_ref[0].db
            db.write(lambda conn: records.bump_revisions(conn, t.ports, [ctx.port["id"]]))
            return
        ctx.set_binding(ctx.segments[0], "other", {"x": 1}, agent_based=False)


@pytest.fixture
def make_plugin(tmp_path: Path) -> Iterator[Any]:
    url = f"sqlite:///{tmp_path / 'neutrino.sqlite'}"
    conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp_path)},
                                       "database": {"connection": url}})
    db = open_database(conf)
    migrate.upgrade(db.engine)

    def make(meddle: int) -> tuple[Ml2Plugin, Meddler]:
        ref: list[Ml2Plugin] = []
        driver = Meddler(conf, ref, meddle)
        plugin = Ml2Plugin(conf, db, MechanismManager(conf, [driver]))
        ref.append(plugin)
        plugin.start()
        return plugin, driver

    try:
        yield make
    finally:
        db.dispose()


def _port(plugin: Ml2Plugin, **attrs: Any) -> dict[str, Any]:
    net = plugin.networks.create(ADMIN, body.for_create(network.resource(), {}, ADMIN))
    return plugin.ports.create(ADMIN, body.for_create(
        port.resource(), {"network_id": net["id"], **attrs}, ADMIN))


def test_binding_is_retried_when_the_port_changes_meanwhile(make_plugin: Any) -> None:
    plugin, driver = make_plugin(meddle=3)
    p = _port(plugin, **{binding.HOST: "h1"})
    assert driver.calls == 4
    assert (p[binding.VIF_TYPE], p[binding.VIF_DETAILS]) == ("other", {"x": 1})
    # three concurrent changes, the binding, and ACTIVE at once: a driver that is not
    # agent based leaves nothing to wait for
    assert (p["status"], p["revision_number"]) == ("ACTIVE", 6)


def test_binding_gives_up_after_ten_attempts(make_plugin: Any) -> None:
    plugin, driver = make_plugin(meddle=100)
    p = _port(plugin, **{binding.HOST: "h1"})
    assert driver.calls == binding.MAX_BIND_TRIES
    assert p[binding.VIF_TYPE] == "unbound"  # left for a later update or agent report


def test_no_host_no_binding(make_plugin: Any) -> None:
    plugin, driver = make_plugin(meddle=0)
    p = _port(plugin)
    assert driver.calls == 0 and p[binding.VIF_TYPE] == "unbound"
    p = plugin.ports.update(ADMIN, p["id"], {binding.HOST: "h2"})
    assert driver.calls == 1 and p[binding.VIF_TYPE] == "other"
    assert p["status"] == "ACTIVE"
    p = plugin.ports.update(ADMIN, p["id"], {binding.HOST: ""})
    assert (p[binding.VIF_TYPE], p[binding.VIF_DETAILS], p["status"]) == ("unbound", {}, "DOWN")


def test_provisioning_blocks(make_plugin: Any) -> None:
    plugin, _ = make_plugin(meddle=0)
    p = _port(plugin, **{binding.HOST: "h1"})
    pid = p["id"]
    db = plugin.db
    assert p["status"] == "ACTIVE"  # bound by a driver that is not agent based
    assert db.write(lambda conn: provisioning.set_down(conn, [pid])) == [pid]
    db.write(lambda conn: provisioning.add(conn, pid, ["L2", "DHCP"]))
    db.write(lambda conn: provisioning.add(conn, pid, ["L2"]))  # idempotent
    # another host's agent cannot complete it
    assert db.write(lambda conn: provisioning.complete(conn, [pid], "L2", host="h9")) == []
    assert db.write(lambda conn: provisioning.complete(conn, [pid], "L2", host="h1")) == []
    assert plugin.ports.get(ADMIN, pid)["status"] == "DOWN"
    assert db.write(lambda conn: provisioning.complete(conn, [pid], "DHCP",
                                                       require_block=True)) == [pid]
    active = plugin.ports.get(ADMIN, pid)
    assert active["status"] == "ACTIVE"
    assert db.write(lambda conn: provisioning.set_down(conn, [pid], host="h9")) == []
    assert db.write(lambda conn: provisioning.set_down(conn, [pid], host="h1")) == [pid]
    down = plugin.ports.get(ADMIN, pid)
    assert (down["status"], down["revision_number"]) == ("DOWN", active["revision_number"] + 1)
    # no DHCP block any more: a re-announce does not wake it, a device_up does
    assert db.write(lambda conn: provisioning.complete(conn, [pid], "DHCP",
                                                       require_block=True)) == []
    assert db.write(lambda conn: provisioning.complete(conn, [pid], "L2", host="h1")) == [pid]


@pytest.mark.parametrize(("segment", "configurations", "reachable"), [
    ({"network_type": "local"}, {}, True),
    ({"network_type": "flat", "physical_network": "pn"}, {"interface_mappings": {"pn": "e"}},
     True),
    ({"network_type": "flat", "physical_network": "pn"}, {"bridge_mappings": {"pn": "br"}},
     True),
    ({"network_type": "vlan", "physical_network": "pn"}, {"interface_mappings": {"x": "e"}},
     False),
    ({"network_type": "vlan", "physical_network": None}, {"interface_mappings": {"x": "e"}},
     False),
    ({"network_type": "vxlan"}, {"tunnel_types": ["vxlan"]}, True),
    ({"network_type": "vxlan"}, {"tunnel_types": []}, False),
    ({"network_type": "gre"}, {"tunnel_types": ["vxlan"]}, False),
])
def test_linuxbridge_segments(segment: dict[str, Any], configurations: dict[str, Any],
                              reachable: bool) -> None:
    assert can_reach(segment, configurations) is reachable
