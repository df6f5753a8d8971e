"""Agents: the rows host agents keep fresh with ``report_state`` (services/agent_rpc.py)
and the ``/v2.0/agents`` collection that shows, updates and deletes them.

An agent is alive while its last heartbeat is less than ``[DEFAULT] agent_down_time``
seconds old. Timestamps show as Neutron's agent API shows them, "YYYY-MM-DD HH:MM:SS"
(not the "...T...Z" of standard attributes).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import clock
from neutrino import exceptions as exc
from neutrino.context import Context
from neutrino.core import records
from neutrino.core.agent_rows import agent_dict, agent_dicts, down_cutoff, live_clause
from neutrino.core.callbacks import CallbackRegistry, Event, Payload, Resource
from neutrino.db import tables as t
from neutrino.db.engine import Database
from neutrino.db.listing import ListQuery, ListSpec, select_page

LINUXBRIDGE_AGENT = "Linux bridge agent"
OVS_AGENT = "Open vSwitch agent"
DHCP_AGENT = "DHCP agent"
L3_AGENT = "L3 agent"  # services/l3/scheduler.py
L2_AGENT_TYPES = (LINUXBRIDGE_AGENT, OVS_AGENT)

_ag = t.agents.c


def _alive_filter(conf: cfg.ConfigOpts):  # type: ignore[no-untyped-def]
    def clause(values: list[Any]) -> sa.ColumnElement[bool]:
        wanted = set(values)
        cutoff = down_cutoff(conf)
        if wanted == {True}:
            return _ag.heartbeat_timestamp >= cutoff
        if wanted == {False}:
            return _ag.heartbeat_timestamp < cutoff
        return sa.true()

    return clause


def agent_row(conn: Connection, agent_id: str) -> Any:
    row = conn.execute(sa.select(t.agents).where(_ag.id == agent_id)).first()
    if row is None:
        raise exc.AgentNotFound(id=agent_id)
    return row


class AgentService:
    """The agents collection (admin only, by policy) and the report_state upsert."""

    def __init__(self, conf: cfg.ConfigOpts, db: Database, *,
                 on_enabled: Callable[[dict[str, Any]], None] | None = None,
                 on_deleted: Callable[[list[str], list[str]], None] | None = None,
                 registry: CallbackRegistry | None = None) -> None:
        self.conf = conf
        self.db = db
        self.list_spec = ListSpec(table=t.agents, custom_filters={"alive": _alive_filter(conf)})
        # told of an agent an admin enabled (as Neutron's agent_updated, after which the
        # agent resyncs and its scheduler gives it what it may take)
        self.on_enabled = on_enabled
        # told of the networks and routers a deleted agent served
        self.on_deleted = on_deleted
        # told of every report (Resource.AGENT): PRECOMMIT_* in its transaction, AFTER_*
        # once committed (the segments plugin keeps the hosts' segments from them)
        self.registry = registry

    # --- API -------------------------------------------------------------------------------
    def list(self, ctx: Context, q: ListQuery) -> tuple[list[dict[str, Any]], bool]:
        # agent_sort_key: ``alive`` sorts as its heartbeat does (dead ones first)
        spec = dataclasses.replace(self.list_spec, columns={
            "alive": sa.case((live_clause(self.conf), True), else_=False)})

        def run(conn: Connection) -> tuple[list[dict[str, Any]], bool]:
            rows, more = select_page(conn, spec, q,
                                     marker_not_found=lambda m: exc.AgentNotFound(id=m))
            cutoff = down_cutoff(self.conf)
            return agent_dicts(rows, cutoff), more

        return self.db.read(run)

    def get(self, ctx: Context, agent_id: str) -> dict[str, Any]:
        return self.db.read(lambda conn: agent_dict(agent_row(conn, agent_id),
                                                     down_cutoff(self.conf)))

    def create(self, ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
        raise exc.HTTPMethodNotAllowed()  # agents register themselves (report_state)

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        raise exc.HTTPMethodNotAllowed()

    def update(self, ctx: Context, agent_id: str, data: dict[str, Any]) -> dict[str, Any]:
        enabled: list[bool] = []

        def run(conn: Connection) -> dict[str, Any]:
            enabled.clear()
            row = agent_row(conn, agent_id)
            values = {k: data[k] for k in ("admin_state_up", "description")
                      if k in data and data[k] != getattr(row, k)}
            if values:
                conn.execute(sa.update(t.agents).where(_ag.id == agent_id).values(**values))
                enabled.append(values.get("admin_state_up") is True)
                row = agent_row(conn, agent_id)
            return agent_dict(row, down_cutoff(self.conf))

        agent = self.db.write(run)
        if enabled and enabled[0] and self.on_enabled is not None:
            self.on_enabled(agent)
        return agent

    def delete(self, ctx: Context, agent_id: str) -> None:
        nd, rb = t.network_dhcp_agent_bindings.c, t.router_l3_agent_bindings.c

        def run(conn: Connection) -> tuple[list[str], list[str]]:
            agent_row(conn, agent_id)
            served = (list(conn.scalars(sa.select(nd.network_id).where(
                nd.dhcp_agent_id == agent_id))), list(conn.scalars(sa.select(
                    rb.router_id).where(rb.l3_agent_id == agent_id))))
            # its network and router scheduling goes by cascade
            conn.execute(sa.delete(t.agents).where(_ag.id == agent_id))
            return served

        networks, routers = self.db.write(run)
        if self.on_deleted is not None and (networks or routers):
            self.on_deleted(networks, routers)

    # --- report_state ------------------------------------------------------------------------
    def report_state(self, state: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """Upsert the agent (key: agent_type + host), heartbeat now; ``start_flag`` sets
        started_at. Returns the agent and "new", "revived" (it was dead) or "alive"."""
        agent_type = state.get("agent_type")
        host = state.get("host")
        if not isinstance(agent_type, str) or not agent_type:
            raise ValueError("report_state: agent_type is required")
        if not isinstance(host, str) or not host:
            raise ValueError("report_state: host is required")
        configurations = state.get("configurations") or {}
        if not isinstance(configurations, dict):
            raise ValueError("report_state: configurations must be a dict")
        az = state.get("availability_zone")
        fields = {
            "binary": str(state.get("binary") or ""),
            "topic": str(state.get("topic") or "N/A"),
            "configurations": json.dumps(configurations, sort_keys=True),
            "availability_zone": str(az) if az else None,
        }

        payload = Payload(metadata={"start_flag": bool(state.get("start_flag"))})

        def run(conn: Connection) -> tuple[dict[str, Any], str]:
            now = clock.from_conf(self.conf).now()
            cutoff = down_cutoff(self.conf, now)
            row = conn.execute(sa.select(t.agents).where(
                _ag.agent_type == agent_type, _ag.host == host)).first()
            if row is None:
                agent_id = records.new_id()
                # a concurrent first report of the same agent loses on the unique key and
                # is retried as a whole: it then finds this row
                conn.execute(sa.insert(t.agents).values(
                    id=agent_id, agent_type=agent_type, host=host,
                    admin_state_up=bool(self.conf.enable_new_agents), description=None,
                    created_at=now, started_at=now, heartbeat_timestamp=now, **fields))
                status = "new"
            else:
                agent_id = row.id
                values = {**fields, "heartbeat_timestamp": now}
                if state.get("start_flag"):
                    values["started_at"] = now
                conn.execute(sa.update(t.agents).where(_ag.id == agent_id).values(**values))
                status = "revived" if row.heartbeat_timestamp < cutoff else "alive"
            agent = agent_dict(agent_row(conn, agent_id), cutoff)
            if self.registry is not None:
                payload.conn, payload.resource_id = conn, agent_id
                payload.states = (None if row is None else agent_dict(row, cutoff), agent)
                self.registry.publish(Resource.AGENT, Event.PRECOMMIT_CREATE if row is None
                                      else Event.PRECOMMIT_UPDATE, self, payload)
            return agent, status

        agent, status = self.db.write(run)
        if self.registry is not None:
            payload.conn = None
            self.registry.publish(Resource.AGENT, Event.AFTER_CREATE if status == "new"
                                  else Event.AFTER_UPDATE, self, payload)
        return agent, status
