"""DHCP scheduling only where the network can be wired (Neutron's
filter_hosts_with_network_access): a DHCP agent is chosen for a network only on a host
with an L2 agent that a mechanism driver can bind one of the network's segments through
(its physical network mapped for flat / vlan, its type tunnelled for vxlan). An admin's
choice is not filtered, as in Neutron. Over HTTP, agents simulated over a real RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neutrino.bus import Bus
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
from tests.support.neutron import Api

ENV = BusEnv("dhcp-network-access")
SERVER_CONF = ENV.server_conf(dhcp_agents_per_network=1)
Factory = Callable[..., SimAgent]


@pytest.fixture
def agents(bus: Bus, admin: Api) -> Iterator[Factory]:
    """Heartbeating simulated agents, DHCP ones by default; other tests' DHCP agents out
    of scheduling."""
    disable_agents(admin, DHCP)
    with live_agents(bus, admin, lambda *_: {"dhcp_driver": "dnsmasq"},
                     default_type=DHCP, interval=0.3) as make:
        yield make


def dhcp_agent_hosts(admin: Api, network_id: str) -> list[str]:
    status, body = admin.request("GET", f"/v2.0/networks/{network_id}/dhcp-agents")
    assert status == 200, body
    return [a["host"] for a in body["agents"]]


def dhcp_ports(admin: Api, network_id: str) -> list[dict[str, Any]]:
    return admin.list("ports", f"network_id={network_id}&device_owner=network:dhcp")


def with_subnet(admin: Api, net: dict[str, Any]) -> dict[str, Any]:
    # (scheduled in the subnet's request: what it chose is there when it returns)
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.{uuid.uuid4().int % 250}.0/24",
                 enable_dhcp=True)
    return net


def test_no_dhcp_agent_where_no_l2_agent_lives(admin: Api, agents: Factory) -> None:
    dhcp = agents()
    net = with_subnet(admin, admin.network(**{"provider:network_type": "vxlan"}))
    assert dhcp_agent_hosts(admin, net["id"]) == []
    assert dhcp_ports(admin, net["id"]) == []
    # the host's L2 agent starts (tunnelling vxlan): its DHCP agent takes the network,
    # and the DHCP port is bound to that L2 agent
    agents(LINUXBRIDGE, lb_configurations("192.0.2.61"), host=dhcp.host)
    assert wait_until(lambda: dhcp_agent_hosts(admin, net["id"]) == [dhcp.host])
    [port] = wait_until(lambda: [p for p in dhcp_ports(admin, net["id"])
                                 if p["binding:vif_type"] == "bridge"])
    assert port["binding:host_id"] == dhcp.host


def test_no_dhcp_agent_where_the_physnet_is_not_mapped(admin: Api, agents: Factory) -> None:
    physnet = f"acc-{uuid.uuid4().hex[:8]}"
    # an L2 agent that tunnels vxlan but does not map the flat network's physnet
    l2 = agents(LINUXBRIDGE, lb_configurations("192.0.2.62", {}))
    dhcp = agents(host=l2.host)
    net = with_subnet(admin, admin.network(**{"provider:network_type": "flat",
                                              "provider:physical_network": physnet}))
    assert dhcp_agent_hosts(admin, net["id"]) == []
    # the L2 agent restarts mapping it: the host's DHCP agent takes the network
    l2.configurations = lb_configurations("192.0.2.62", {physnet: "eth1"})
    l2.report(start_flag=True)
    assert wait_until(lambda: dhcp_agent_hosts(admin, net["id"]) == [dhcp.host])
    wait_until(lambda: [p for p in dhcp_ports(admin, net["id"])
                        if p["binding:vif_type"] == "bridge"
                        and p["binding:host_id"] == dhcp.host])


def test_an_admin_may_add_a_network_to_any_dhcp_agent(admin: Api, agents: Factory) -> None:
    dhcp = agents()
    agent_id = wait_registered(admin, dhcp)["id"]
    net = with_subnet(admin, admin.network(**{"provider:network_type": "vxlan"}))
    assert dhcp_agent_hosts(admin, net["id"]) == []
    # not filtered (Neutron's add_network_to_dhcp_agent): the admin knows best
    status, body = admin.request("POST", f"/v2.0/agents/{agent_id}/dhcp-networks",
                                 {"network_id": net["id"]})
    assert status == 201, body
    assert dhcp_agent_hosts(admin, net["id"]) == [dhcp.host]
