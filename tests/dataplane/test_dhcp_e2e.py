"""DHCP end to end: a real API server (SQLite) and RabbitMQ, a Linux bridge agent and a
DHCP agent process for one simulated host, an instance booted through the API that takes
its address from the DHCP agent's dnsmasq.

    root namespace:  neutrino server, RabbitMQ, agent processes (linuxbridge, dhcp) of h1
    namespaces:      <prefix>dh-h1 (the host: bridges, taps), <prefix>dh-qdhcp-<net>
                     (made by the DHCP agent), <prefix>dh-vm1 (the instance)
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from neutrino.agent.dhcp import dnsmasq
from neutrino.agent.linux import names, namespaces
from neutrino.compute import instance
from neutrino.compute.client import NeutronClient
from tests.dataplane.agent_helpers import RABBIT_URL, wait_for
from tests.dataplane.conftest import Features
from tests.dataplane.dhcp_support import (
    dnsmasq_pids_under,
    kill_pids,
    require_dhcp_deployment,
    state_dir,
)
from tests.dataplane.topology import Host, Topology
from tests.support.agent import AgentProcess
from tests.support.server import Server

PROJECT = "demo"
DHCP = "DHCP agent"
LB = "Linux bridge agent"


@dataclass
class Deployment:
    server: Server
    api: NeutronClient
    topo: Topology
    host: Host
    lb: AgentProcess
    dhcp: AgentProcess
    state: Path
    prefix: str  # of every namespace made here besides the topology's

    def qdhcp(self, network_id: str) -> str:
        return self.prefix + names.dhcp_namespace(network_id)

    def dnsmasq_pid(self, network_id: str) -> int | None:
        pid = dnsmasq.read_pid(str(self.state / "dhcp" / network_id / "pid"))
        return pid if pid and dnsmasq.cmdline(pid) else None

    def agents_alive(self) -> set[str]:
        rows = self.api.request("GET", "/agents", params={"host": "h1"})["agents"]
        return {r["agent_type"] for r in rows if r["alive"]}

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{log[-6000:]}" for name, log in (
            ("server", self.server.log()), ("lb agent", self.lb.log()),
            ("dhcp agent", self.dhcp.log())))


@pytest.fixture(scope="module")
def deployment(features: Features, run_prefix: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_dhcp_deployment(features)
    workdir = tmp_path_factory.mktemp("dhcp-e2e")
    state = state_dir(run_prefix, "dhcp-e2e")
    prefix = f"{run_prefix}dh-"
    bus = {"transport_url": RABBIT_URL, "bus_exchange": f"neutrino-test-{uuid.uuid4().hex[:12]}"}
    server = Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf={
        "DEFAULT": {**bus, "agent_down_time": 20, "dhcp_agents_per_network": 1},
        "ml2": {"type_drivers": "local,flat,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "6000:6999"},
    })
    topo = Topology(prefix=prefix)
    agent_section = {"report_interval": 1, "polling_interval": 0.5, "resync_interval": 30}
    lb = dhcp = None
    try:
        server.start()
        host = topo.host("h1")
        lb = AgentProcess("linuxbridge", "h1", workdir, {
            "DEFAULT": {**bus, "host": "h1", "host_namespace": host.ns},
            "AGENT": agent_section,
            "vxlan": {"enable_vxlan": True, "local_ip": host.ip, "l2_population": True},
        }).start()
        dhcp = AgentProcess("dhcp", "h1", workdir, {
            "DEFAULT": {**bus, "host": "h1", "host_namespace": host.ns,
                        "namespace_prefix": prefix, "state_path": str(state)},
            "AGENT": agent_section,
        }).start()
        api = NeutronClient(server.url, project_id=PROJECT, roles="admin,member,reader")
        dep = Deployment(server, api, topo, host, lb, dhcp, state, prefix)
        try:
            wait_for(lambda: dep.agents_alive() >= {DHCP, LB}, 30, 0.2,
                     what="Linux bridge and DHCP agents of h1 alive")
        except AssertionError as e:
            pytest.fail(f"{e}\n{dep.logs()}")
        yield dep
    finally:
        for proc in (dhcp, lb):
            if proc is not None:
                proc.stop()
        server.stop()
        kill_pids(dnsmasq_pids_under(str(state)))  # dnsmasq outlives its agent, by design
        shutil.rmtree(state, ignore_errors=True)
        for ns in namespaces.list_namespaces(prefix):
            namespaces.delete_namespace(ns)
        topo.cleanup()


def test_instance_takes_its_lease_from_the_dhcp_agent(deployment: Deployment) -> None:
    try:
        _lease_through_the_api(deployment)
    except BaseException:
        print(deployment.logs())
        raise


def _lease_through_the_api(dep: Deployment) -> None:
    api = dep.api
    net = api.request("POST", "/networks", {"network": {"name": "dhcp-e2e"}})["network"]
    api.request("POST", "/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.99.0.0/24", "ip_version": 4,
        "enable_dhcp": True,
        "host_routes": [{"destination": "10.200.0.0/16", "nexthop": "10.99.0.254"}]}})
    try:
        # scheduled to h1's DHCP agent: its port is made, and dnsmasq runs in qdhcp-
        started = time.monotonic()
        pid = wait_for(lambda: dep.dnsmasq_pid(net["id"]), 30, 0.1,
                       what=f"dnsmasq for network {net['id']} on h1")
        served_s = time.monotonic() - started
        dhcp_ports = api.list_ports(network_id=net["id"], device_owner="network:dhcp")
        assert len(dhcp_ports) == 1 and dhcp_ports[0]["binding:host_id"] == "h1"
        assert namespaces.namespace_exists(dep.qdhcp(net["id"]))

        started = time.monotonic()
        try:
            vm = instance.boot(api, "vm1", net["id"], "h1", host_namespace=dep.host.ns,
                               namespace=dep.prefix + "vm1", dhcp=True, project_id=PROJECT,
                               timeout=30, dhcp_timeout=20)
        except instance.BootError as e:
            pytest.fail(str(e))
        boot_s = time.monotonic() - started
        port = api.show_port(vm.port_id)
        want = port["fixed_ips"][0]["ip_address"]
        assert vm.fixed_ips == [f"{want}/24"]
        # ACTIVE: the L2 agent wired it and the DHCP agent reported dnsmasq has it
        api.wait_port(vm.port_id, lambda p: p["status"] == "ACTIVE", 20)
        print(f"\nnetwork served {served_s * 1000:.0f} ms after the subnet was created; "
              f"instance booted with its DHCP lease in {boot_s * 1000:.0f} ms")

        # the agent restarted: it adopts its dnsmasq, which keeps its pid
        done = "resync of all networks done"
        before = dep.dhcp.log().count(done)
        dep.dhcp.stop()
        dep.dhcp.start()
        wait_for(lambda: dep.dhcp.log().count(done) > before, 30, 0.2,
                 what="restarted DHCP agent resynced")
        assert dep.dnsmasq_pid(net["id"]) == pid

        instance.delete(api, "vm1", host_namespace=dep.host.ns,
                        namespace=dep.prefix + "vm1")
    finally:
        api.request("DELETE", f"/networks/{net['id']}", ok=(404, 409))
    # the network gone: dnsmasq stopped, namespace and files removed
    wait_for(lambda: not namespaces.namespace_exists(dep.qdhcp(net["id"])), 30, 0.1,
             what="qdhcp namespace removed")
    assert dnsmasq.cmdline(pid) is None
    assert not (dep.state / "dhcp" / net["id"]).exists()
