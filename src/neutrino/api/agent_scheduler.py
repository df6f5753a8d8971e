"""The sub-resources of dhcp_agent_scheduler and l3_agent_scheduler (served by
services/agent_scheduler.py), as Neutron's controllers:

    GET    /v2.0/agents/{id}/dhcp-networks          get_dhcp-networks    {"networks": [...]}
    POST   /v2.0/agents/{id}/dhcp-networks          create_dhcp-network  {"network_id"} -> 201 null
    DELETE /v2.0/agents/{id}/dhcp-networks/{net}    delete_dhcp-network  204
    GET    /v2.0/networks/{id}/dhcp-agents          get_dhcp-agents      {"agents": [...]}
    GET    /v2.0/agents/{id}/l3-routers             get_l3-routers       {"routers": [...]}
    POST   /v2.0/agents/{id}/l3-routers             create_l3-router     {"router_id"} -> 201 null
    DELETE /v2.0/agents/{id}/l3-routers/{router}    delete_l3-router     204
    GET    /v2.0/routers/{id}/l3-agents             get_l3-agents        {"agents": [...]}

Each is authorized by its rule against an empty target before anything is read (Neutron
enforces them so: a refused caller gets 403, whatever the ids). Changes send Neutron's
notifications (dhcp_agent.network.add/remove, l3_agent.router.add/remove).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino import exceptions as exc
from neutrino.api.app import JSON_NULL, Collection, MemberHandler, Notify, Request
from neutrino.services.agent_scheduler import AgentSchedulerService


def _id_in_body(req: Request, key: str) -> str:
    body = req.json()
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str):
        raise exc.HTTPBadRequest(f"Invalid input: '{key}' is required")
    return value


def _agent_sub(parent: str, plural: str, singular: str, kind: str, key: str,
               lister: Callable[..., list[dict[str, Any]]],
               add: Callable[..., None], remove: Callable[..., None],
               notify: Notify | None) -> MemberHandler:
    """/agents/{id}/<plural>[/{item}]: list, add, remove."""
    event = {"network": "dhcp_agent.network", "router": "l3_agent.router"}[kind]

    def notified(req: Request, action: str, agent_id: str, item_id: str) -> None:
        if notify is not None:
            notify(f"{event}.{action}", {"agent": {"id": agent_id, f"{kind}_id": item_id}},
                   req.ctx)

    def handle(req: Request, coll: Collection, agent_id: str, rest: list[str]
               ) -> tuple[int, Any]:
        if coll.resource.name != parent or len(rest) > 1:
            raise exc.HTTPNotFound()
        if not rest and req.method == "GET":
            req.policy.enforce(f"get_{plural}", {})
            return 200, {f"{kind}s": lister(req.ctx, agent_id)}
        if not rest and req.method == "POST":
            req.policy.enforce(f"create_{singular}", {})
            item_id = _id_in_body(req, key)
            add(req.ctx, agent_id, item_id)
            notified(req, "add", agent_id, item_id)
            return 201, JSON_NULL
        if rest and req.method == "DELETE":
            req.policy.enforce(f"delete_{singular}", {})
            remove(req.ctx, agent_id, rest[0])
            notified(req, "remove", agent_id, rest[0])
            return 204, None
        raise exc.HTTPMethodNotAllowed()

    return handle


def _hosting(parent: str, rule: str, lister: Callable[..., list[dict[str, Any]]]
             ) -> MemberHandler:
    """/networks/{id}/dhcp-agents, /routers/{id}/l3-agents: list only."""
    def handle(req: Request, coll: Collection, item_id: str, rest: list[str]
               ) -> tuple[int, Any]:
        if coll.resource.name != parent or rest:
            raise exc.HTTPNotFound()
        if req.method != "GET":
            raise exc.HTTPMethodNotAllowed()
        req.policy.enforce(rule, {})
        return 200, {"agents": lister(req.ctx, item_id)}

    return handle


def member_routes(service: AgentSchedulerService, notify: Notify | None = None, *,
                  l3: bool = True) -> dict[str, MemberHandler]:
    """``l3``: with l3_agent_scheduler's (the router plugin is loaded)."""
    s = service
    routes = {
        "dhcp-networks": _agent_sub("agent", "dhcp-networks", "dhcp-network", "network",
                                    "network_id", s.networks_on_agent, s.add_network,
                                    s.remove_network, notify),
        "dhcp-agents": _hosting("network", "get_dhcp-agents", s.dhcp_agents_of),
    }
    if l3:
        routes["l3-routers"] = _agent_sub("agent", "l3-routers", "l3-router", "router",
                                          "router_id", s.routers_on_agent, s.add_router,
                                          s.remove_router, notify)
        routes["l3-agents"] = _hosting("router", "get_l3-agents", s.l3_agents_of)
    return routes
