"""Rows of the agents table as the core reads them: who is alive (``agent_down_time``),
the agents of a host (port binding offers them to the mechanism drivers). The agents API
and the heartbeats are the dhcp_agent_scheduler plugin's (services/agents.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy.engine import Connection

from neutrino import clock
from neutrino.db import tables as t
from neutrino.db.rowdict import RowDict
from neutrino.schema import agent as agent_schema

_ag = t.agents.c


def down_cutoff(conf: cfg.ConfigOpts, now: dt.datetime | None = None) -> dt.datetime:
    """Heartbeats older than this are of dead agents."""
    return (now or clock.from_conf(conf).now()) - dt.timedelta(seconds=conf.agent_down_time)


def live_clause(conf: cfg.ConfigOpts) -> sa.ColumnElement[bool]:
    return t.agents.c.heartbeat_timestamp >= down_cutoff(conf)


# the columns as schema/agent.py shows them; ``alive`` is the heartbeat against a cutoff
ROW_DICT = RowDict(agent_schema.resource(with_operations=False))


def agent_dicts(rows: Iterable[Any], cutoff: dt.datetime) -> list[dict[str, Any]]:
    rows = list(rows)
    out = ROW_DICT(rows)
    for d, r in zip(out, rows, strict=True):
        d["alive"] = r.heartbeat_timestamp >= cutoff
    return out


def agent_dict(row: Any, cutoff: dt.datetime) -> dict[str, Any]:
    return agent_dicts([row], cutoff)[0]


def agents_on_host(conn: Connection, conf: cfg.ConfigOpts, host: str) -> list[dict[str, Any]]:
    """Every agent of ``host`` as the API shows it (one query)."""
    cutoff = down_cutoff(conf)
    rows = conn.execute(sa.select(t.agents).where(_ag.host == host).order_by(_ag.agent_type))
    return agent_dicts(rows, cutoff)
