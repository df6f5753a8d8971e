"""DHCP failover end to end ([DEFAULT] allow_automatic_dhcp_failover): two simulated hosts,
each with a Linux bridge agent and a DHCP agent process; the network is served by h1's.
h1's DHCP service dies (agent SIGKILLed, its dnsmasq stopped): once the agent is dead for
the server, the network and its DHCP port (same id, MAC and address) move to h2, whose
dnsmasq then answers the instance's renewal. When h1's agent comes back it drops its
qdhcp namespace (it converges from get_host_state).

    root namespace:  neutrino server (SQLite), RabbitMQ, agent processes of h1 and h2
    namespaces:      <prefix>df-h1, <prefix>df-h2 (the hosts), <prefix>df-h1-qdhcp-<net>,
                     <prefix>df-h2-qdhcp-<net> (made by the DHCP agents), the instance
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
    UDHCPC_SCRIPT,
    DhcpInstance,
    dnsmasq_pids_under,
    kill_pids,
    require_dhcp_deployment,
    state_dir,
)
from tests.dataplane.topology import Host, Topology
from tests.support.agent import AgentProcess
from tests.support.server import Server

PROJECT = "demo"
DOWN_TIME = 6
HOSTS = ("h1", "h2")


@dataclass
class Deployment:
    server: Server
    api: NeutronClient
    topo: Topology
    hosts: dict[str, Host]
    lb: dict[str, AgentProcess]
    dhcp: dict[str, AgentProcess]
    state: dict[str, Path]
    prefix: str
    workdir: Path

    def qdhcp(self, host: str, network_id: str) -> str:
        return f"{self.prefix}{host}-{names.dhcp_namespace(network_id)}"

    def dnsmasq_pid(self, host: str, network_id: str) -> int | None:
        pid = dnsmasq.read_pid(str(self.state[host] / "dhcp" / network_id / "pid"))
        return pid if pid and dnsmasq.cmdline(pid) else None

    def alive(self) -> set[tuple[str, str]]:
        rows = self.api.request("GET", "/agents")["agents"]
        return {(r["host"], r["agent_type"]) for r in rows if r["alive"]}

    def dhcp_ports(self, network_id: str) -> list[dict[str, Any]]:
        return self.api.list_ports(network_id=network_id, device_owner="network:dhcp")

    def logs(self) -> str:
        procs = [("server", self.server)] + [
            (f"{kind} {h}", p) for kind, group in (("lb", self.lb), ("dhcp", self.dhcp))
            for h, p in group.items()]
        return "\n".join(f"--- {name}\n{p.log()[-5000:]}" for name, p in procs)


@pytest.fixture(scope="module")
def deployment(features: Features, run_prefix: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    require_dhcp_deployment(features)
    workdir = tmp_path_factory.mktemp("dhcp-failover")
    prefix = f"{run_prefix}df-"
    state = {h: state_dir(run_prefix, f"dhcp-failover-{h}") for h in HOSTS}
    bus = {"transport_url": RABBIT_URL, "bus_exchange": f"neutrino-test-{uuid.uuid4().hex[:12]}"}
    server = Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf={
        "DEFAULT": {**bus, "agent_down_time": DOWN_TIME, "dhcp_agents_per_network": 1,
                    "allow_automatic_dhcp_failover": True},
        "ml2": {"type_drivers": "local,flat,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "7000:7999"},
    })
    topo = Topology(prefix=prefix)
    agent_section = {"report_interval": 1, "polling_interval": 0.5, "resync_interval": 30}
    lb: dict[str, AgentProcess] = {}
    dhcp: dict[str, AgentProcess] = {}
    try:
        server.start()
        hosts = {h: topo.host(h) for h in HOSTS}
        for h, host in hosts.items():
            lb[h] = AgentProcess("linuxbridge", h, workdir, {
                "DEFAULT": {**bus, "host": h, "host_namespace": host.ns},
                "AGENT": agent_section,
                "vxlan": {"enable_vxlan": True, "local_ip": host.ip, "l2_population": True},
            }).start()
            dhcp[h] = AgentProcess("dhcp", h, workdir, {
                "DEFAULT": {**bus, "host": h, "host_namespace": host.ns,
                            "namespace_prefix": f"{prefix}{h}-", "state_path": str(state[h])},
                "AGENT": agent_section,
            })
        api = NeutronClient(server.url, project_id=PROJECT, roles="admin,member,reader")
        yield Deployment(server, api, topo, hosts, lb, dhcp, state, prefix, workdir)
    finally:
        for proc in (*dhcp.values(), *lb.values()):
            proc.stop()
        server.stop()
        for path in state.values():  # dnsmasq outlives its agent, by design
            kill_pids(dnsmasq_pids_under(str(path)))
            shutil.rmtree(path, ignore_errors=True)
        for ns in namespaces.list_namespaces(prefix):
            namespaces.delete_namespace(ns)
        topo.cleanup()


def test_instance_renews_from_the_agent_that_took_over(deployment: Deployment) -> None:
    try:
        _failover(deployment)
    except BaseException:
        print(deployment.logs())
        raise


def _failover(dep: Deployment) -> None:
    api = dep.api
    dep.dhcp["h1"].start()
    wait_for(lambda: dep.alive() >= {("h1", "DHCP agent"), ("h1", "Linux bridge agent"),
                                     ("h2", "Linux bridge agent")},
             30, 0.2, what="h1's agents and h2's L2 agent alive")
    net = api.request("POST", "/networks", {"network": {"name": "dhcp-failover"}})["network"]
    api.request("POST", "/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.99.30.0/24", "ip_version": 4,
        "enable_dhcp": True}})
    vm = None
    try:
        wait_for(lambda: dep.dnsmasq_pid("h1", net["id"]), 30, 0.1,
                 what="dnsmasq of the network on h1")
        [port] = dep.dhcp_ports(net["id"])
        assert port["binding:host_id"] == "h1"
        server_ip = port["fixed_ips"][0]["ip_address"]
        # h2's DHCP agent comes: the network has its agent, nothing moves
        dep.dhcp["h2"].start()
        wait_for(lambda: ("h2", "DHCP agent") in dep.alive(), 30, 0.2,
                 what="h2's DHCP agent alive")

        # an instance on h2 takes its lease from h1 (across the VXLAN)
        try:
            vm = instance.boot(api, "df-vm", net["id"], "h2",
                               host_namespace=dep.hosts["h2"].ns, namespace=dep.prefix + "vm",
                               dhcp=True, project_id=PROJECT, timeout=30, dhcp_timeout=20)
        except instance.BootError as e:
            pytest.fail(str(e))
        ip = api.show_port(vm.port_id)["fixed_ips"][0]["ip_address"]
        assert vm.fixed_ips == [f"{ip}/24"]
        assert dep.dnsmasq_pid("h2", net["id"]) is None

        # h1's DHCP service dies: the agent SIGKILLed, its dnsmasq stopped
        dep.dhcp["h1"].kill9()
        kill_pids(dnsmasq_pids_under(str(dep.state["h1"])))
        wait_for(lambda: dep.dnsmasq_pid("h2", net["id"]), DOWN_TIME + 30, 0.2,
                 what="dnsmasq of the network on h2 after failover")
        [moved] = dep.dhcp_ports(net["id"])
        assert (moved["id"], moved["mac_address"], moved["fixed_ips"]) == (
            port["id"], port["mac_address"], port["fixed_ips"])
        assert moved["binding:host_id"] == "h2"
        assert namespaces.namespace_exists(dep.qdhcp("h2", net["id"]))

        # the instance renews: same address, from the same server address, now on h2
        guest = DhcpInstance(name="df-vm", ns=vm.namespace, mac=vm.mac_address,
                             tap=names.tap_name(vm.port_id),
                             lease_file=dep.workdir / "lease-df-vm",
                             script=dep.workdir / "udhcpc.sh")
        guest.script.write_text(UDHCPC_SCRIPT)  # records the lease, serverid too
        guest.script.chmod(0o755)
        lease = guest.dhcp(30, "-r", ip)
        assert (lease["ip"], lease["serverid"]) == (ip, server_ip)

        # h1's agent comes back: it drops the network it no longer serves
        assert namespaces.namespace_exists(dep.qdhcp("h1", net["id"]))  # left by the kill
        dep.dhcp["h1"].start()
        # the namespace goes first, then the files (agent teardown): wait for both
        wait_for(lambda: not namespaces.namespace_exists(dep.qdhcp("h1", net["id"]))
                 and not (dep.state["h1"] / "dhcp" / net["id"]).exists(), 30, 0.2,
                 what="h1's stale qdhcp namespace and files removed")
        assert [p["binding:host_id"] for p in dep.dhcp_ports(net["id"])] == ["h2"]
    finally:
        if vm is not None:
            instance.delete(api, "df-vm", host_namespace=dep.hosts["h2"].ns,
                            namespace=vm.namespace)
        api.request("DELETE", f"/networks/{net['id']}", ok=(404, 409))
