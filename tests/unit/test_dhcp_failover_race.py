"""DHCP failover under contention, in-process on every database backend: two plugins with
their own engines (as two API processes) and several threads each run ``fail_over`` at
the same moment; every network of the dead agent must end on exactly one live agent, with
its one DHCP port moved (same id), never two."""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import sqlalchemy as sa

from neutrino import config
from neutrino.api import body
from neutrino.api.factory import open_database
from neutrino.context import Context
from neutrino.core import records
from neutrino.core.mech import linuxbridge
from neutrino.core.plugin import Ml2Plugin
from neutrino.db import tables as t
from neutrino.schema import network, subnet
from neutrino.services.agents import DHCP_AGENT
from neutrino.services.dhcp_scheduler import DHCP_OWNER, dhcp_device_id

ADMIN = Context.admin()
NETWORKS = 6
THREADS_PER_PLUGIN = 3
DOOMED = "doomed"


def _agent(plugin: Ml2Plugin, host: str, heartbeat: dt.datetime) -> str:
    """A DHCP agent on ``host``, with a Linux bridge agent tunnelling vxlan there (the
    networks' type: a DHCP agent is scheduled only where the network can be wired)."""
    agent_id = records.new_id()
    row = {"host": host, "admin_state_up": True, "description": None,
           "availability_zone": None, "created_at": heartbeat, "started_at": heartbeat,
           "heartbeat_timestamp": heartbeat}
    plugin.db.write(lambda conn: conn.execute(sa.insert(t.agents), [
        {**row, "id": agent_id, "agent_type": DHCP_AGENT, "binary": "neutrino-dhcp-agent",
         "topic": "dhcp_agent", "configurations": "{}"},
        {**row, "id": records.new_id(), "agent_type": linuxbridge.AGENT_TYPE,
         "binary": "neutrino-linuxbridge-agent", "topic": "N/A",
         "configurations": json.dumps({"tunnel_types": ["vxlan"]})}]))
    return agent_id


def _state(plugin: Ml2Plugin) -> tuple[list[Any], list[Any]]:
    def run(conn: Any) -> tuple[list[Any], list[Any]]:
        bindings = conn.execute(sa.select(t.network_dhcp_agent_bindings)).all()
        ports = conn.execute(sa.select(t.ports.c.id, t.ports.c.network_id,
                                       t.ports.c.device_id)
                             .where(t.ports.c.device_owner == DHCP_OWNER)).all()
        return bindings, ports

    return plugin.db.read(run)


def test_two_processes_fail_over_each_network_once(migrated_db_url: str, tmp_path: Any) -> None:
    conf = config.make_conf(overrides={
        "DEFAULT": {"state_path": str(tmp_path), "agent_down_time": 5,
                    "dhcp_agents_per_network": 1},
        "database": {"connection": migrated_db_url}})
    dbs = [open_database(conf), open_database(conf)]
    try:
        plugins = [Ml2Plugin(conf, db) for db in dbs]
        plugins[0].start()
        now = records.now()
        doomed = _agent(plugins[0], DOOMED, now)
        nets = []
        for i in range(NETWORKS):
            net = plugins[0].networks.create(ADMIN, body.for_create(
                network.resource(), {"name": f"n{i}"}, ADMIN))
            plugins[0].subnets.create(ADMIN, body.for_create(subnet.resource(), {
                "network_id": net["id"], "cidr": f"10.0.{i}.0/24", "ip_version": 4,
                "enable_dhcp": True}, ADMIN))
            nets.append(net["id"])
        bindings, ports = _state(plugins[0])
        assert {(b.network_id, b.dhcp_agent_id) for b in bindings} == {
            (n, doomed) for n in nets}
        port_of = {p.network_id: p.id for p in ports}
        assert len(ports) == NETWORKS

        # the agent dies; three live ones come
        plugins[0].db.write(lambda conn: conn.execute(
            sa.update(t.agents).where(t.agents.c.id == doomed)
            .values(heartbeat_timestamp=now - dt.timedelta(seconds=60))))
        live = {_agent(plugins[0], f"live{i}", now + dt.timedelta(seconds=30)): f"live{i}"
                for i in range(3)}
        for p in plugins:
            # as a process that has been up for long
            p.get_plugin("dhcp_agent_scheduler").dhcp._started -= 3600

        barrier = threading.Barrier(len(plugins) * THREADS_PER_PLUGIN)
        errors: list[BaseException] = []

        def run(p: Ml2Plugin) -> None:
            try:
                barrier.wait(10)
                p.get_plugin("dhcp_agent_scheduler").dhcp.fail_over()
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=run, args=(p,))
                   for p in plugins for _ in range(THREADS_PER_PLUGIN)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(120)
        assert not errors, errors

        bindings, ports = _state(plugins[0])
        assert sorted(b.network_id for b in bindings) == sorted(nets)  # one each
        assert all(b.dhcp_agent_id in live for b in bindings)
        host_of = {b.network_id: live[b.dhcp_agent_id] for b in bindings}
        assert sorted((p.network_id, p.id, p.device_id) for p in ports) == sorted(
            (n, port_of[n], dhcp_device_id(host_of[n], n)) for n in nets)
        # least loaded: 6 networks over 3 agents
        loads = sorted(list(host_of.values()).count(h) for h in live.values())
        assert loads[0] >= 1, loads
        # a second round finds nothing to do
        plugins[1].get_plugin("dhcp_agent_scheduler").dhcp.fail_over()
        assert _state(plugins[0])[0] == bindings
    finally:
        for db in dbs:
            db.dispose()


def test_no_failover_when_disabled(migrated_db_url: str, tmp_path: Any) -> None:
    conf = config.make_conf(overrides={
        "DEFAULT": {"state_path": str(tmp_path), "agent_down_time": 5,
                    "allow_automatic_dhcp_failover": False},
        "database": {"connection": migrated_db_url}})
    db = open_database(conf)
    try:
        plugin = Ml2Plugin(conf, db)
        plugin.start()
        plugin.get_plugin("dhcp_agent_scheduler").dhcp._started -= 3600
        now = records.now()
        doomed = _agent(plugin, DOOMED, now)
        net = plugin.networks.create(ADMIN, body.for_create(network.resource(), {}, ADMIN))
        plugin.subnets.create(ADMIN, body.for_create(subnet.resource(), {
            "network_id": net["id"], "cidr": "10.1.0.0/24", "ip_version": 4}, ADMIN))
        before = _state(plugin)
        assert [(b.network_id, b.dhcp_agent_id) for b in before[0]] == [(net["id"], doomed)]
        db.write(lambda conn: conn.execute(
            sa.update(t.agents).where(t.agents.c.id == doomed)
            .values(heartbeat_timestamp=now - dt.timedelta(seconds=60))))
        _agent(plugin, "live", now + dt.timedelta(seconds=30))
        plugin.get_plugin("dhcp_agent_scheduler").dhcp.fail_over()
        plugin.get_plugin("dhcp_agent_scheduler").dhcp.sync_network(net["id"])
        assert _state(plugin) == before  # the dead agent keeps it (and its port)
    finally:
        db.dispose()
