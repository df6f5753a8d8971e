"""Rows of the agents table as the core reads them: who is alive (``agent_down_time``),
the agents of a host (port binding offers them to the mechanism drivers). The agents API
and the heartbeats are the dhcp_agent_scheduler plugin's (services/agents.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import clock
from neutrino.db import tables as t

_ag = t.agents.c


def fmt_time(value: dt.datetime | None) -> str | None:
    """Agents' times as Neutron shows them (not the ISO form of other resources)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def down_cutoff(conf: cfg.ConfigOpts, now: dt.datetime | None = None) -> dt.datetime:
    """Heartbeats older than this are of dead agents."""
    return (now or clock.from_conf(conf).now()) - dt.timedelta(seconds=conf.agent_down_time)


def live_clause(conf: cfg.ConfigOpts) -> sa.ColumnElement[bool]:
    return t.agents.c.heartbeat_timestamp >= down_cutoff(conf)


def _configurations(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def agent_dict(row: Any, cutoff: dt.datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent_type": row.agent_type,
        "binary": row.binary,
        "topic": row.topic,
        "host": row.host,
        "admin_state_up": row.admin_state_up,
        "created_at": fmt_time(row.created_at),
        "started_at": fmt_time(row.started_at),
        "heartbeat_timestamp": fmt_time(row.heartbeat_timestamp),
        "alive": row.heartbeat_timestamp >= cutoff,
        "configurations": _configurations(row.configurations),
        "availability_zone": row.availability_zone,
        "description": row.description,
        "resources_synced": row.resources_synced,  # agent-resources-synced
    }


def agents_on_host(conn: Connection, conf: cfg.ConfigOpts, host: str) -> list[dict[str, Any]]:
    """Every agent of ``host`` as the API shows it (one query)."""
    cutoff = down_cutoff(conf)
    rows = conn.execute(sa.select(t.agents).where(_ag.host == host).order_by(_ag.agent_type))
    return [agent_dict(r, cutoff) for r in rows]
