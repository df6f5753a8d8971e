"""agents (the ``agent`` extension): what the host agents reported, read and administered
by admins. Agents create and refresh their own rows (report_state on the bus); the API
only shows, updates (admin_state_up, description) and deletes them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from neutrino.schema import agent_scheduler
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Extension, Resource, bool_filter


def agent_time(value: dt.datetime | None) -> str | None:
    """Agents' times as Neutron shows them (not the ISO form of other resources)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else None


def configurations(text: str | None) -> dict[str, Any]:
    """The JSON-encoded dict an agent reported ({} if it is not one)."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def resource(*, with_operations: bool = True) -> Resource:
    """``with_operations``: with its sub-resources (those of the networks and routers it
    lists declare agents without theirs: no cycle)."""
    r = Resource("agent", "agents", table="agents")
    # Neutron's agent attributes are filters; agent_sort_key makes every one but
    # configurations a sort key too (alive sorts as its heartbeat: services/agents.py).
    ro = {"allow_post": False, "allow_put": False}
    text = js.nullable(js.STRING)
    # "YYYY-MM-DD hh:mm:ss" in UTC, as Neutron shows an agent's times
    time = js.nullable({"type": "string",
                        "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}$"})
    r.add(
        Attr("id", v.uuid_str, **ro),
        Attr("agent_type", schema=text, **ro),
        Attr("binary", schema=text, **ro),
        Attr("topic", schema=text, **ro),
        Attr("host", schema=text, **ro),
        Attr("admin_state_up", v.boolean, allow_post=False, filter_convert=bool_filter),
        Attr("created_at", is_filter=False, schema=time, output=agent_time, **ro),
        Attr("started_at", is_filter=False, schema=time, output=agent_time, **ro),
        Attr("heartbeat_timestamp", is_filter=False, schema=time, output=agent_time, **ro),
        # computed from heartbeat_timestamp and [DEFAULT] agent_down_time
        Attr("alive", filter_convert=bool_filter, schema=js.BOOLEAN, computed=True, **ro),
        Attr("configurations", is_filter=False, is_sort_key=False, schema=js.OBJECT,
             output=configurations, **ro),
        Attr("availability_zone", schema=text, **ro),
        Attr("description", v.string(255, nullable=True), allow_post=False),
        # agent-resources-synced: the outcome of the last sync of the agent's resources
        # to Placement, null while none was attempted (neutrino reports none yet)
        Attr("resources_synced", is_filter=False, is_sort_key=False, schema=js.nullable(js.BOOLEAN),
             extension="agent-resources-synced", **ro),
    )
    if with_operations:
        r.operations = agent_scheduler.agent_operations()
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("agent", "agent",
              "The agent management extension.", "2013-02-03T10:00:00-00:00"),
    Extension("agent-resources-synced", "Agent's Resource View Synced to Placement",
              "Stores success/failure of last sync to Placement",
              "2018-12-19T00:00:00-00:00"),
    Extension("agent_sort_key", "Agents Sort Key",
              "Enabling the keyword sort_key for sorting in agents.",
              "2013-02-03T10:00:00-00:00"),
)
