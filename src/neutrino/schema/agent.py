"""agents (the ``agent`` extension): what the host agents reported, read and administered
by admins. Agents create and refresh their own rows (report_state on the bus); the API
only shows, updates (admin_state_up, description) and deletes them."""

from __future__ import annotations

from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Extension, Resource, bool_filter


def resource() -> Resource:
    r = Resource("agent", "agents")
    # Neutron's agent attributes are filters but not sort keys.
    ro = {"allow_post": False, "allow_put": False, "is_sort_key": False}
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
        Attr("admin_state_up", v.boolean, allow_post=False, is_sort_key=False,
             filter_convert=bool_filter),
        Attr("created_at", is_filter=False, schema=time, **ro),
        Attr("started_at", is_filter=False, schema=time, **ro),
        Attr("heartbeat_timestamp", is_filter=False, schema=time, **ro),
        # computed from heartbeat_timestamp and [DEFAULT] agent_down_time
        Attr("alive", filter_convert=bool_filter, schema=js.BOOLEAN, **ro),
        Attr("configurations", is_filter=False, schema=js.OBJECT, **ro),
        Attr("availability_zone", schema=text, **ro),
        Attr("description", v.string(255, nullable=True), allow_post=False,
             is_sort_key=False),
    )
    return r


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("agent", "agent",
              "The agent management extension.", "2013-02-03T10:00:00-00:00"),
)
