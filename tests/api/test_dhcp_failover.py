"""DHCP failover ([DEFAULT] allow_automatic_dhcp_failover): the networks of a DHCP agent
that stops heartbeating move to live agents with their DHCP port (same id, MAC and
addresses), over HTTP with agents simulated over a real RabbitMQ and two API processes
that both handle heartbeats (so both try to move the same networks at once)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neutrino.bus import Bus
from neutrino.services.dhcp_scheduler import dhcp_device_id
from tests.support.agents_bus import (
    DHCP,
    LINUXBRIDGE,
    BusEnv,
    SimAgent,
    disable_agents,
    lb_configurations,
    live_agents,
    wait_registered,
    wait_until,
)
from tests.support.clock import CLOCK_CONF, ServerClock
from tests.support.neutron import Api

DOWN_TIME = 3
ENV = BusEnv("dhcp-failover")
SERVER_CONF = ENV.server_conf(agent_down_time=DOWN_TIME, api_workers=2,
                              dhcp_agents_per_network=1, **CLOCK_CONF)
HOST_ID, VIF_TYPE = "binding:host_id", "binding:vif_type"

Factory = Callable[..., SimAgent]


@pytest.fixture
def agents(bus: Bus, admin: Api) -> Iterator[Factory]:
    """Heartbeating simulated agents, DHCP ones by default (every 0.2 s: heartbeats reach
    both API processes often), each on a new host with a Linux bridge agent (tunnelling
    vxlan: without an L2 agent that can wire the network, a host's DHCP agent is not
    scheduled, as in Neutron). Earlier DHCP agents are disabled first: only the test's own
    may be chosen."""
    disable_agents(admin, DHCP)

    def configure(agent_type: str, index: int) -> dict[str, Any]:
        return ({"dhcp_driver": "dnsmasq"} if agent_type == DHCP
                else lb_configurations(f"192.0.2.{index + 10}", {}))

    with live_agents(bus, admin, configure, interval=0.2) as make:

        def make_dhcp(agent_type: str = DHCP, *args: Any, host: str | None = None,
                      **kwargs: Any) -> SimAgent:
            if agent_type == DHCP and host is None:
                host = make().host
            return make(agent_type, *args, host=host, **kwargs)

        yield make_dhcp


def dhcp_net(admin: Api) -> dict[str, Any]:
    net = admin.network(**{"provider:network_type": "vxlan"})
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.{uuid.uuid4().int % 250}.0/24",
                 enable_dhcp=True)
    return net


def dhcp_ports(admin: Api, network_id: str) -> list[dict[str, Any]]:
    return admin.list("ports", f"network_id={network_id}&device_owner=network:dhcp")


def served(a: SimAgent) -> set[str]:
    return {n["id"] for n in a.state()["networks"]}


def heartbeats_handled(admin: Api, *agents: SimAgent) -> None:
    """Returns once the server has handled heartbeats of every one of ``agents`` sent
    after the call, and then once more (each runs fail_over and auto_schedule: what they
    would do, they have done by then). The server's clock moves a second ahead each
    round, well within agent_down_time, so a handled heartbeat shows in its timestamp."""
    def beats() -> dict[str, str]:
        return {r["host"]: r["heartbeat_timestamp"] for a in agents
                for r in admin.list("agents", f"host={a.host}&agent_type=DHCP%20agent")}

    for _ in range(2):
        before = beats()
        ServerClock(admin.server).advance(1)
        wait_until(lambda before=before: all(
            now > before[host] for host, now in beats().items()),
            what=f"a heartbeat of each of {sorted(before)} handled")


def test_networks_of_a_dead_agent_move_with_their_port(admin: Api, agents: Factory) -> None:
    l2_old, l2_new = agents(LINUXBRIDGE), agents(LINUXBRIDGE)
    old = agents(DHCP, host=l2_old.host)
    net = dhcp_net(admin)
    [port] = wait_until(lambda: dhcp_ports(admin, net["id"]))
    assert (port["device_id"], port[HOST_ID]) == (dhcp_device_id(old.host, net["id"]),
                                                  old.host)
    # a second agent comes: the network has its one agent, nothing moves
    new = agents(DHCP, host=l2_new.host)
    heartbeats_handled(admin, old, new)
    assert served(old) == {net["id"]} and served(new) == set()

    # the old agent dies (its L2 agent lives on): the network and its port move
    old.stop_heartbeat()
    old.take_hints()
    new.take_hints()
    assert wait_until(lambda: served(new) == {net["id"]}, timeout=DOWN_TIME + 10)
    [moved] = wait_until(lambda: [p for p in dhcp_ports(admin, net["id"])
                                  if p[HOST_ID] == new.host and p[VIF_TYPE] != "unbound"])
    assert moved["id"] == port["id"]
    assert (moved["mac_address"], moved["fixed_ips"]) == (port["mac_address"],
                                                          port["fixed_ips"])
    assert moved["device_id"] == dhcp_device_id(new.host, net["id"])
    assert moved[VIF_TYPE] == "bridge"  # bound to the new host's L2 agent
    assert len(dhcp_ports(admin, net["id"])) == 1
    assert served(old) == set()
    # hints: the new host to serve it, the old one to drop it
    assert wait_until(lambda: net["id"] in new.hinted_networks())
    assert wait_until(lambda: net["id"] in old.hinted_networks())
    # the new host's L2 agent wires the port
    [entry] = [p for n in l2_new.state([net["id"]])["networks"] for p in n["ports"]]
    assert entry["id"] == port["id"]

    # the old agent comes back: told to resync everything, it serves nothing here now
    # (the network has its agent), and nothing moves back
    old.take_hints()
    old.start_heartbeat(0.2)
    assert wait_until(lambda: any(h.get("networks", ()) is None for h in old.take_hints()))
    heartbeats_handled(admin, old, new)
    assert served(old) == set() and served(new) == {net["id"]}
    assert [p["id"] for p in dhcp_ports(admin, net["id"])] == [port["id"]]


def test_two_api_processes_move_each_network_once(admin: Api, agents: Factory) -> None:
    doomed = agents()
    nets = [dhcp_net(admin) for _ in range(8)]
    ids = {n["id"] for n in nets}
    # (networks of earlier tests whose agents are gone come too: only ours are checked)
    assert wait_until(lambda: served(doomed) >= ids)
    before = {n["id"]: wait_until(lambda n=n: dhcp_ports(admin, n["id"])) for n in nets}
    takers = [agents() for _ in range(3)]
    doomed.stop_heartbeat()

    def all_moved() -> bool:
        return set().union(*(served(a) for a in takers)) >= ids

    assert wait_until(all_moved, timeout=DOWN_TIME + 15)
    heartbeats_handled(admin, *takers)  # what a second process would (wrongly) add
    loads = [served(a) & ids for a in takers]
    assert sum(len(s) for s in loads) == len(ids), loads  # each network on one agent
    assert all(loads), loads  # spread over the least loaded
    assert not served(doomed) & ids
    by_host = {a.host: s for a, s in zip(takers, loads, strict=True)}
    for net in nets:
        [port] = dhcp_ports(admin, net["id"])
        [host] = [h for h, s in by_host.items() if net["id"] in s]
        assert port["id"] == before[net["id"]][0]["id"]
        assert port["fixed_ips"] == before[net["id"]][0]["fixed_ips"]
        assert (port["device_id"], port[HOST_ID]) == (dhcp_device_id(host, net["id"]), host)


def test_a_dead_agent_keeps_what_no_live_agent_can_take(admin: Api, agents: Factory
                                                        ) -> None:
    other = agents()
    [other_id] = [a["id"] for a in admin.list("agents", f"host={other.host}")
                  if a["agent_type"] == DHCP]
    admin.update("agents", other_id, admin_state_up=False)
    lone = agents()
    net = dhcp_net(admin)
    assert wait_until(lambda: net["id"] in served(lone))
    [port] = dhcp_ports(admin, net["id"])
    # dead, and the only other agent is admin-down: the network stays where it was
    lone.stop_heartbeat()
    ServerClock(admin.server).advance(DOWN_TIME + 1)
    assert not wait_registered(admin, other)["admin_state_up"]  # alive again, still off
    assert net["id"] in served(lone) and net["id"] not in served(other)
    assert [p[HOST_ID] for p in dhcp_ports(admin, net["id"])] == [lone.host]
    # until an admin enables the other one
    admin.update("agents", other_id, admin_state_up=True)
    assert wait_until(lambda: net["id"] in served(other))
    assert net["id"] not in served(lone)
    assert wait_until(lambda: [(p["id"], p[HOST_ID]) for p in dhcp_ports(admin, net["id"])]
                      == [(port["id"], other.host)])
