"""DHCP and routing on an Open vSwitch network node: the deployment of
test_ovs_multihost.py (OVS agents on h1 and h2, each host with its own ovsdb-server +
ovs-vswitchd) plus a DHCP agent and an L3 agent on h1 with ``interface_driver =
openvswitch``: their qdhcp-/qrouter- legs are veths whose host ends are OVS ports on h1's
br-int (external_ids iface-id/attached-mac/iface-status), tagged by h1's OVS agent like
any port. An instance on h2 gets its address from dnsmasq across VXLAN, reaches the
outside through the router's SNAT, and is reached through a floating IP; the "outside"
is a namespace on the flat provider segment (physnet1), which h1's br-phys is patched to.

Run under ``flock /tmp/neutrino-dataplane.lock``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from neutrino.agent.linux import devices, names, namespaces
from neutrino.compute import instance
from tests.dataplane.agent_helpers import wait_for
from tests.dataplane.conftest import Features
from tests.dataplane.dhcp_support import dnsmasq_pids_under, kill_pids, state_dir
from tests.dataplane.l3_support import listen, peer_seen
from tests.dataplane.test_ovs_multihost import PHYSNET, PROJECT, Deployment, deploy
from tests.dataplane.topology import Host, Instance, stop_processes
from tests.support.agent import AgentProcess

NODE = "h1"
EXT_HOST = "203.0.113.1"


class Node:
    def __init__(self, d: Deployment, ext: Instance, public: dict[str, Any],
                 agents: dict[str, AgentProcess]) -> None:
        self.d, self.ext, self.public, self.agents = d, ext, public, agents
        self.procs: list[subprocess.Popen[str]] = []

    def logs(self) -> str:
        return self.d.logs() + "\n" + "\n".join(
            f"--- agent {n}\n{a.log()[-5000:]}" for n, a in self.agents.items())


@pytest.fixture(scope="module")
def node(features: Features, run_prefix: str,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if shutil.which("dnsmasq") is None or shutil.which("socat") is None:
        pytest.skip("dnsmasq or socat not found")
    with deploy(features, run_prefix, tmp_path_factory, tag="on") as d:
        state = state_dir(run_prefix, "ovs-node")
        host, o = d.hosts[NODE], d.ovs[NODE]
        common = {
            "DEFAULT": {**d.bus, "host": NODE, "host_namespace": host.ns,
                        "namespace_prefix": d.ns_prefix, "interface_driver": "openvswitch",
                        "state_path": str(state)},
            "AGENT": {"report_interval": 1, "resync_interval": 30},
            "ovs": {"integration_bridge": "br-int", "ovsdb_connection": o.connection},
        }
        agents: dict[str, AgentProcess] = {}
        node: Node | None = None
        try:
            agents["dhcp"] = AgentProcess("dhcp", NODE, d.workdir, common).start()
            agents["l3"] = AgentProcess("l3", NODE, d.workdir, {
                **common, "DEFAULT": {**common["DEFAULT"], "send_arp_for_ha": 1}}).start()

            def alive() -> bool:
                rows = d.api.request("GET", "/agents", params={"host": NODE})["agents"]
                return {r["agent_type"] for r in rows if r["alive"]} >= {
                    "DHCP agent", "L3 agent"}

            wait_for(alive, 30, 0.2, what="DHCP and L3 agents of h1 alive")
            ext = d.topo.external(Host("phys", d.phys, ""), "br-phys", f"{EXT_HOST}/24")
            # what ext sends reaches h1's userspace datapath (PLATFORM.md: tx off)
            devices.disable_tx_offload("eth0", ext.ns)
            public = d.api.request("POST", "/networks", {"network": {
                "name": "public", "router:external": True, "provider:network_type": "flat",
                "provider:physical_network": PHYSNET}})["network"]
            d.api.request("POST", "/subnets", {"subnet": {
                "network_id": public["id"], "cidr": "203.0.113.0/24", "ip_version": 4,
                "gateway_ip": EXT_HOST, "enable_dhcp": False,
                "allocation_pools": [{"start": "203.0.113.10", "end": "203.0.113.200"}]}})
            node = Node(d, ext, public, agents)
            yield node
        finally:
            if node is not None:
                stop_processes(node.procs)
            for a in agents.values():
                a.stop()
            kill_pids(dnsmasq_pids_under(str(state)))  # dnsmasq outlives its agent
            shutil.rmtree(state, ignore_errors=True)


def test_dhcp_snat_and_floating_ip_on_an_ovs_network_node(
        node: Node, request: pytest.FixtureRequest) -> None:
    d = node.d
    failed_before = request.session.testsfailed
    net = d.api.request("POST", "/networks", {"network": {"name": "node-net"}})["network"]
    subnet = d.api.request("POST", "/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.99.21.0/24", "ip_version": 4,
        "enable_dhcp": True}})["subnet"]
    router = d.api.request("POST", "/routers", {"router": {
        "name": "node-r", "external_gateway_info": {"network_id": node.public["id"]}}}
    )["router"]
    d.api.request("PUT", f"/routers/{router['id']}/add_router_interface",
                  {"subnet_id": subnet["id"]})
    vm: instance.Instance | None = None
    o1 = d.ovs[NODE]
    taps: set[str] = set()
    try:
        # the DHCP and router legs: OVS ports on h1's br-int, ACTIVE (wired by h1's agent)
        def network_ports() -> list[dict[str, Any]]:
            ports = d.api.request("GET", "/ports")["ports"]
            return [p for p in ports if p["device_owner"].startswith("network:")
                    and p["device_owner"] != "network:floatingip"]

        wait_for(lambda: len(network_ports()) == 3 and all(
            p["status"] == "ACTIVE" for p in network_ports()), 30, 0.2,
            what="DHCP, router interface and gateway ports ACTIVE")
        on_br_int = set(o1.vsctl("list-ports", "br-int").split())
        for p in network_ports():
            assert p["binding:host_id"] == NODE and p["binding:vif_type"] == "ovs"
            tap = names.tap_name(p["id"])
            taps.add(tap)
            assert tap in on_br_int
            ids = o1.vsctl("get", "Interface", tap, "external_ids")
            assert f'iface-id="{p["id"]}"' in ids and "iface-status=active" in ids
            assert f'attached-mac="{p["mac_address"]}"' in ids
            assert o1.vsctl("get", "Port", tap, "tag").strip().isdigit()

        # an instance on h2 asks for its address over VXLAN
        vm = instance.boot(d.api, "node-vm", net["id"], "h2",
                           host_namespace=d.hosts["h2"].ns,
                           namespace=d.ns_prefix + "node-vm", dhcp=True, project_id=PROJECT,
                           timeout=30, dhcp_timeout=30,
                           ovsdb_connection=d.ovs["h2"].connection)
        d.booted[vm.name] = vm
        leased = vm.fixed_ips[0].split("/")[0]
        port = d.api.request("GET", f"/ports/{vm.port_id}")["port"]
        assert leased == port["fixed_ips"][0]["ip_address"]
        routes = namespaces.execute(["ip", "route", "show", "default"], vm.namespace).stdout
        assert subnet["gateway_ip"] in routes  # the router option from dnsmasq

        # SNAT: the outside sees the router's gateway address
        router = d.api.request("GET", f"/routers/{router['id']}")["router"]
        gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        seen = listen(node.procs, node.ext.ns)
        wait_for(lambda: peer_seen(vm.namespace, EXT_HOST, seen) == gw_ip, 30, 0.2,
                 what="the instance reaches the outside through SNAT")

        # a floating IP: reached from outside, and the instance goes out as it
        fip = d.api.request("POST", "/floatingips", {"floatingip": {
            "floating_network_id": node.public["id"], "port_id": vm.port_id}})["floatingip"]
        address = fip["floating_ip_address"]
        answer = listen(node.procs, vm.namespace, answer="node-vm")
        wait_for(lambda: peer_seen(node.ext.ns, address, answer) == "node-vm", 30, 0.2,
                 what="the instance reached through its floating IP")
        assert peer_seen(vm.namespace, EXT_HOST, seen) == address
        d.api.request("DELETE", f"/floatingips/{fip['id']}")
    finally:
        if request.session.testsfailed > failed_before:
            print(node.logs())
        if vm is not None:
            d.delete(vm)
        d.api.request("PUT", f"/routers/{router['id']}/remove_router_interface",
                      {"subnet_id": subnet["id"]}, ok=(404,))
        d.api.request("DELETE", f"/routers/{router['id']}", ok=(404,))
        d.delete_network(net)
    # the router's and the DHCP port's OVS ports go with them
    wait_for(lambda: not taps & set(o1.vsctl("list-ports", "br-int").split()), 30, 0.2,
             what="the DHCP and router legs unplugged from br-int")
