"""The sub-resources of dhcp_agent_scheduler and l3_agent_scheduler, declared on their
parents (agents, networks, routers) for api/openapi.py; api/agent_scheduler.py serves
them. Each response body is its items as their own collection shows them."""

from __future__ import annotations

from neutrino.schema import validators as v
from neutrino.schema.base import Attr, Body, Extension, Operation, Resource


def _id_body(key: str) -> Body:
    r = Resource("scheduling", "scheduling")
    r.add(Attr(key, v.uuid_str))
    return Body(r, bare=True, verb="POST")


def agent_operations() -> tuple[Operation, ...]:
    from neutrino.schema import network, router  # (they declare theirs below)

    net_id = Attr("network_id", v.uuid_str)
    router_id = Attr("router_id", v.uuid_str)
    return (
        Operation("GET", "dhcp-networks", 200, "The networks a DHCP agent hosts",
                  response=Body(network.resource(), many=True)),
        Operation("POST", "dhcp-networks", 201, "Add a network to a DHCP agent",
                  request=_id_body("network_id")),
        Operation("DELETE", "dhcp-networks/{network_id}", 204,
                  "Remove a network from a DHCP agent", params=(net_id,)),
        Operation("GET", "l3-routers", 200, "The routers an L3 agent hosts",
                  response=Body(router.resource(), many=True)),
        Operation("POST", "l3-routers", 201, "Add a router to an L3 agent",
                  request=_id_body("router_id")),
        Operation("DELETE", "l3-routers/{router_id}", 204,
                  "Remove a router from an L3 agent", params=(router_id,)),
    )


def _agents() -> Body:
    from neutrino.schema import agent

    return Body(agent.resource(with_operations=False), many=True)


def network_operations() -> tuple[Operation, ...]:
    return (Operation("GET", "dhcp-agents", 200, "The DHCP agents hosting a network",
                      response=_agents()),)


def router_operations() -> tuple[Operation, ...]:
    return (Operation("GET", "l3-agents", 200, "The L3 agents hosting a router",
                      response=_agents()),)


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("dhcp_agent_scheduler", "DHCP Agent Scheduler",
              "Schedule networks among dhcp agents", "2013-02-07T10:00:00-00:00"),
    Extension("l3_agent_scheduler", "L3 Agent Scheduler",
              "Schedule routers among l3 agents", "2013-02-07T10:00:00-00:00"),
)
