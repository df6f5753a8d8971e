"""agents (the ``agent`` extension): what the host agents reported, read and administered
by admins. Agents create and refresh their own rows (report_state on the bus); the API
only shows, updates (admin_state_up, description) and deletes them."""

from __future__ import annotations

from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Resource, bool_filter


def resource() -> Resource:
    r = Resource("agent", "agents")
    # Neutron's agent attributes are filters but not sort keys.
    ro = {"allow_post": False, "allow_put": False, "is_sort_key": False}
    r.add(
        Attr("id", v.uuid_str, **ro),
        Attr("agent_type", **ro),
        Attr("binary", **ro),
        Attr("topic", **ro),
        Attr("host", **ro),
        Attr("admin_state_up", v.boolean, allow_post=False, is_sort_key=False,
             filter_convert=bool_filter),
        Attr("created_at", is_filter=False, **ro),
        Attr("started_at", is_filter=False, **ro),
        Attr("heartbeat_timestamp", is_filter=False, **ro),
        # computed from heartbeat_timestamp and [DEFAULT] agent_down_time
        Attr("alive", filter_convert=bool_filter, **ro),
        Attr("configurations", is_filter=False, **ro),
        Attr("availability_zone", **ro),
        Attr("description", v.string(255, nullable=True), allow_post=False,
             is_sort_key=False),
    )
    return r
