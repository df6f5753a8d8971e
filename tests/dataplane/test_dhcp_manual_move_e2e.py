"""A network moved by hand between DHCP agents (dhcp_agent_scheduler), end to end: two
simulated hosts, each with a Linux bridge agent and a DHCP agent process. The network is
served by h1's dnsmasq; an admin takes it off h1 (h1's agent tears its qdhcp namespace
and dnsmasq down; the DHCP port is kept reserved) and gives it to h2 (h2's agent starts a
dnsmasq there with the same port: same MAC and address), and an instance on h2 gets its
lease from it.

    root namespace:  neutrino server (SQLite), RabbitMQ, agent processes of h1 and h2
    namespaces:      <prefix>dm-h1, <prefix>dm-h2 (the hosts), their qdhcp-<net>, the instance
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
HOSTS = ("h1", "h2")


@dataclass
class Deployment:
    server: Server
    api: NeutronClient
    hosts: dict[str, Host]
    procs: list[AgentProcess]
    state: dict[str, Path]
    prefix: str

    def qdhcp(self, host: str, network_id: str) -> str:
        return f"{self.prefix}{host}-{names.dhcp_namespace(network_id)}"

    def dnsmasq_pid(self, host: str, network_id: str) -> int | None:
        pid = dnsmasq.read_pid(str(self.state[host] / "dhcp" / network_id / "pid"))
        return pid if pid and dnsmasq.cmdline(pid) else None

    def agents(self) -> dict[tuple[str, str], dict[str, Any]]:
        rows = self.api.request("GET", "/agents")["agents"]
        return {(r["host"], r["agent_type"]): r for r in rows if r["alive"]}

    def dhcp_ports(self, network_id: str) -> list[dict[str, Any]]:
        return self.api.list_ports(network_id=network_id, device_owner="network:dhcp")

    def logs(self) -> str:
        return "\n".join(f"--- {p.log()[-5000:]}" for p in (self.server, *self.procs))


@pytest.fixture(scope="module")
def deployment(features: Features, run_prefix: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_dhcp_deployment(features)
    workdir = tmp_path_factory.mktemp("dhcp-manual-move")
    prefix = f"{run_prefix}dm-"
    state = {h: state_dir(run_prefix, f"dhcp-manual-{h}") for h in HOSTS}
    bus = {"transport_url": RABBIT_URL, "bus_exchange": f"neutrino-test-{uuid.uuid4().hex[:12]}"}
    server = Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf={
        "DEFAULT": {**bus, "agent_down_time": 20, "dhcp_agents_per_network": 1},
        "ml2": {"type_drivers": "local,flat,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "7000:7999"},
    })
    topo = Topology(prefix=prefix)
    agent_section = {"report_interval": 1, "polling_interval": 0.5, "resync_interval": 30}
    procs: list[AgentProcess] = []
    try:
        server.start()
        hosts = {h: topo.host(h) for h in HOSTS}
        api = NeutronClient(server.url, project_id=PROJECT, roles="admin,member,reader")
        dep = Deployment(server, api, hosts, procs, state, prefix)
        for h, host in hosts.items():  # h1's DHCP agent first: it is chosen
            procs.append(AgentProcess("linuxbridge", h, workdir, {
                "DEFAULT": {**bus, "host": h, "host_namespace": host.ns},
                "AGENT": agent_section,
                "vxlan": {"enable_vxlan": True, "local_ip": host.ip, "l2_population": True},
            }).start())
            procs.append(AgentProcess("dhcp", h, workdir, {
                "DEFAULT": {**bus, "host": h, "host_namespace": host.ns,
                            "namespace_prefix": f"{prefix}{h}-", "state_path": str(state[h])},
                "AGENT": agent_section,
            }).start())
            wait_for(lambda h=h: (h, "DHCP agent") in dep.agents(), 30, 0.2,
                     what=f"{h}'s DHCP agent alive")
        yield dep
    finally:
        for proc in procs:
            proc.stop()
        server.stop()
        for path in state.values():  # dnsmasq outlives its agent, by design
            kill_pids(dnsmasq_pids_under(str(path)))
            shutil.rmtree(path, ignore_errors=True)
        for ns in namespaces.list_namespaces(prefix):
            namespaces.delete_namespace(ns)
        topo.cleanup()


def test_network_moved_by_hand_serves_from_the_new_agent(deployment: Deployment) -> None:
    try:
        _move(deployment)
    except BaseException:
        print(deployment.logs())
        raise


def _move(dep: Deployment) -> None:
    api = dep.api
    net = api.request("POST", "/networks", {"network": {"name": "dhcp-manual"}})["network"]
    api.request("POST", "/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.99.31.0/24", "ip_version": 4,
        "enable_dhcp": True}})
    vm = None
    try:
        wait_for(lambda: dep.dnsmasq_pid("h1", net["id"]), 30, 0.1,
                 what="dnsmasq of the network on h1")
        [port] = dep.dhcp_ports(net["id"])
        agents = dep.agents()
        h1, h2 = agents[("h1", "DHCP agent")]["id"], agents[("h2", "DHCP agent")]["id"]

        # off h1: its agent tears the network down; the port stays, reserved
        api.request("DELETE", f"/agents/{h1}/dhcp-networks/{net['id']}")
        wait_for(lambda: not namespaces.namespace_exists(dep.qdhcp("h1", net["id"]))
                 and dep.dnsmasq_pid("h1", net["id"]) is None, 30, 0.2,
                 what="h1's dnsmasq and qdhcp namespace of the network gone")
        [reserved] = dep.dhcp_ports(net["id"])
        assert (reserved["id"], reserved["device_id"]) == (port["id"], "reserved_dhcp_port")

        # onto h2: h2's agent serves it, with the same port
        api.request("POST", f"/agents/{h2}/dhcp-networks", {"network_id": net["id"]})
        wait_for(lambda: dep.dnsmasq_pid("h2", net["id"]), 30, 0.1,
                 what="dnsmasq of the network on h2")
        assert namespaces.namespace_exists(dep.qdhcp("h2", net["id"]))
        [moved] = dep.dhcp_ports(net["id"])
        assert (moved["id"], moved["mac_address"], moved["fixed_ips"]) == (
            port["id"], port["mac_address"], port["fixed_ips"])
        assert moved["binding:host_id"] == "h2"
        assert dep.dnsmasq_pid("h1", net["id"]) is None

        # an instance on h1 takes its lease from h2's dnsmasq (across the VXLAN)
        try:
            vm = instance.boot(api, "dm-vm", net["id"], "h1",
                               host_namespace=dep.hosts["h1"].ns, namespace=dep.prefix + "vm",
                               dhcp=True, project_id=PROJECT, timeout=30, dhcp_timeout=20)
        except instance.BootError as e:
            pytest.fail(str(e))
        ip = api.show_port(vm.port_id)["fixed_ips"][0]["ip_address"]
        assert vm.fixed_ips == [f"{ip}/24"]
    finally:
        if vm is not None:
            instance.delete(api, "dm-vm", host_namespace=dep.hosts["h1"].ns,
                            namespace=vm.namespace)
        api.request("DELETE", f"/networks/{net['id']}", ok=(404, 409))
