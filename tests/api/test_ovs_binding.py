"""The openvswitch mechanism driver over HTTP, with Open vSwitch agents simulated over a
real RabbitMQ (tests/support/agents_bus.py): binding (vif_type ``ovs`` and its
vif_details), where it binds (bridge_mappings, tunnel_types, live and admin-up agents
only), get_host_state for the "Open vSwitch agent" with the l2population view shared
with Linux bridge hosts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from neutrino import protocol
from neutrino.bus import Bus
from tests.support.agents_bus import BusEnv, lb_configurations, live_agents, wait_until
from tests.support.neutron import Api

ENV = BusEnv("ovsbind")
SERVER_CONF = ENV.server_conf(agent_down_time=4)
SERVER_CONF["ml2"] = {"mechanism_drivers": "openvswitch,linuxbridge,l2population"}
SERVER_CONF["ml2_type_gre"] = {"tunnel_id_ranges": "1:1000"}
PHYSNET = "ovsphys"  # one flat network on it per server: the test below makes it
SERVER_CONF["ml2_type_vlan"] = {"network_vlan_ranges": PHYSNET}
OVS = "Open vSwitch agent"
HOST_ID, VIF_TYPE, VIF_DETAILS = "binding:host_id", "binding:vif_type", "binding:vif_details"


def ovs_configurations(tunneling_ip: str | None = "192.0.2.50",
                       bridge_mappings: dict[str, str] | None = None,
                       tunnel_types: list[str] | None = None, *,
                       datapath_type: str = "netdev",
                       firewall_driver: str = "openvswitch") -> dict[str, Any]:
    """What neutrino's OVS agent reports (Neutron's keys)."""
    return {"bridge_mappings": bridge_mappings or {},
            "tunnel_types": (["vxlan"] if tunneling_ip else []) if tunnel_types is None
            else tunnel_types,
            "tunneling_ip": tunneling_ip, "l2_population": True,
            "arp_responder_enabled": True, "enable_distributed_routing": False,
            "integration_bridge": "br-int", "tunnel_bridge": "br-tun",
            "datapath_type": datapath_type, "ovs_hybrid_plug": False,
            "firewall_driver": firewall_driver, "devices": 0}


@pytest.fixture
def agents(bus: Bus, admin: Api) -> Iterator[Any]:
    with live_agents(bus, admin, lambda _t, i: ovs_configurations(f"192.0.2.{60 + i}"),
                     default_type=OVS) as make:
        yield make


def details(**over: Any) -> dict[str, Any]:
    return {"port_filter": True, "ovs_hybrid_plug": False, "datapath_type": "netdev",
            "bridge_name": "br-int", "connectivity": "l2", **over}


def net_of(admin: Api, **provider: Any) -> dict[str, Any]:
    net = admin.network(**provider)
    admin.subnet(net["id"], f"10.{uuid.uuid4().int % 200}.{uuid.uuid4().int % 250}.0/24",
                 enable_dhcp=False)
    return net


def test_binds_tunnelled_networks_of_its_tunnel_types(admin: Api, agents: Any) -> None:
    h = agents()
    net = net_of(admin, **{"provider:network_type": "vxlan"})
    port = admin.create("ports", network_id=net["id"], **{HOST_ID: h.host})
    assert (port[VIF_TYPE], port[VIF_DETAILS], port["status"]) == ("ovs", details(), "DOWN")
    # a GRE network binds only where the agent tunnels GRE
    gre = net_of(admin, **{"provider:network_type": "gre"})
    failed = admin.create("ports", network_id=gre["id"], **{HOST_ID: h.host})
    assert failed[VIF_TYPE] == "binding_failed"
    h_gre = agents(configurations=ovs_configurations("192.0.2.90", tunnel_types=["gre"]))
    ok = admin.create("ports", network_id=gre["id"], **{HOST_ID: h_gre.host})
    assert ok[VIF_TYPE] == "ovs"
    # the agent wired it: ACTIVE
    h.device_up(port["id"])
    assert wait_until(lambda: admin.get("ports", port["id"])[1]["port"]["status"] == "ACTIVE")


def test_vif_details_follow_the_agent(admin: Api, agents: Any) -> None:
    h = agents(configurations=ovs_configurations(datapath_type="system",
                                                 firewall_driver="noop"))
    net = net_of(admin, **{"provider:network_type": "vxlan"})
    port = admin.create("ports", network_id=net["id"], **{HOST_ID: h.host})
    assert port[VIF_DETAILS] == details(port_filter=False, datapath_type="system")


def test_provider_networks_bind_where_bridge_mappings_map_them(admin: Api,
                                                                agents: Any) -> None:
    physnet = PHYSNET
    mapped = agents(configurations=ovs_configurations(None, {physnet: "br-ex"}))
    unmapped = agents(configurations=ovs_configurations(None, {"other": "br-x"}))
    for provider in ({"provider:network_type": "flat"},
                     {"provider:network_type": "vlan", "provider:segmentation_id": 0}):
        if provider["provider:network_type"] == "vlan":
            provider["provider:segmentation_id"] = 100 + uuid.uuid4().int % 3000
        net = net_of(admin, **provider, **{"provider:physical_network": physnet})
        port = admin.create("ports", network_id=net["id"], **{HOST_ID: mapped.host})
        assert port[VIF_TYPE] == "ovs", provider
        bad = admin.create("ports", network_id=net["id"], **{HOST_ID: unmapped.host})
        assert bad[VIF_TYPE] == "binding_failed", provider
        [state] = [n for n in mapped.state([net["id"]])["networks"]]
        assert (state["network_type"], state["physical_network"],
                state["segmentation_id"]) == (provider["provider:network_type"], physnet,
                                              provider.get("provider:segmentation_id"))


def test_a_dead_or_disabled_agent_binds_nothing(admin: Api, agents: Any) -> None:
    h = agents()
    net = net_of(admin, **{"provider:network_type": "vxlan"})
    row = admin.list("agents", f"host={h.host}")[0]
    assert (row["agent_type"], row["configurations"]["integration_bridge"]) == (OVS, "br-int")
    admin.update("agents", row["id"], admin_state_up=False)
    port = admin.create("ports", network_id=net["id"], **{HOST_ID: h.host})
    assert port[VIF_TYPE] == "binding_failed"
    admin.update("agents", row["id"], admin_state_up=True)
    # any update retries a failed binding
    assert admin.update("ports", port["id"], name="again")[VIF_TYPE] == "ovs"


def test_host_state_and_l2population_across_agent_types(admin: Api, agents: Any) -> None:
    ovs1 = agents(configurations=ovs_configurations("192.0.2.71"))
    lb = agents("Linux bridge agent", lb_configurations("192.0.2.72", {}))
    net = net_of(admin, **{"provider:network_type": "vxlan"})
    a = admin.create("ports", network_id=net["id"], **{HOST_ID: ovs1.host})
    b = admin.create("ports", network_id=net["id"], **{HOST_ID: lb.host})
    assert (a[VIF_TYPE], b[VIF_TYPE]) == ("ovs", "bridge")
    raw = ovs1.state()
    state, errors = protocol.decode_host_state(raw, protocol.ovs.HostState)
    assert errors == {}
    [n] = state.networks
    assert (n.id, n.network_type, n.segmentation_id, n.mtu) == (
        net["id"], "vxlan", net["provider:segmentation_id"], net["mtu"])
    assert [(p.id, p.mac_address, p.device) for p in n.ports] == [
        (a["id"], a["mac_address"], f"tap{a['id'][:11]}")]
    assert n.l2pop is not None
    assert (n.l2pop.flood, n.l2pop.unicast) == (["192.0.2.72"], {b["mac_address"]: "192.0.2.72"})
    assert n.l2pop.neigh == {b["fixed_ips"][0]["ip_address"]: b["mac_address"]}
    # and the Linux bridge host sees the OVS host's port
    [m] = lb.state([net["id"]])["networks"]
    assert m["l2pop"]["unicast"] == {a["mac_address"]: "192.0.2.71"}
