"""``neutrino host cleanup`` on a simulated host the real agents programmed.

A server, RabbitMQ, and the Linux bridge (nftables firewall), DHCP and L3 agents of host h1
(a namespace) build a network with DHCP, a router and an instance in the default security
group, so dnsmasq, qdhcp-/qrouter-/instance namespaces, brq/vxlan/tap devices and the
``neutrino_sg`` tables all exist. Decoys that look like ours but are not are added. The
agents are stopped, the cleanup runs as an operator would (``neutrino host cleanup`` with
the agent's config file), and nothing of neutrino's may be left while every decoy stays.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from neutrino.agent.dhcp.dnsmasq import cmdline
from neutrino.agent.linux import devices, namespaces
from neutrino.cli.cleanup import is_agent_namespace, is_our_device
from neutrino.compute import instance
from neutrino.compute.client import NeutronClient
from tests.dataplane.agent_helpers import RABBIT_URL, wait_for
from tests.dataplane.conftest import Features
from tests.dataplane.dhcp_support import dnsmasq_pids_under, require_dhcp_deployment, state_dir
from tests.dataplane.topology import Topology
from tests.support.agent import AgentProcess
from tests.support.server import Server

AGENT = {"report_interval": 1, "polling_interval": 0.5, "resync_interval": 30}
SYSCTL = "net.bridge.bridge-nf-call-iptables"


def _cleanup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "neutrino.cli.main", "host", "cleanup",
                           *args], capture_output=True, text=True, timeout=120, check=False)


def _tables(ns: str) -> set[str]:
    out = namespaces.execute(["nft", "list", "tables"], ns).stdout
    return {" ".join(line.split()[1:]) for line in out.splitlines() if line.strip()}


def _sysctl(ns: str) -> str:
    return namespaces.execute(["sysctl", "-n", SYSCTL], ns).stdout.strip()


def test_cleanup_removes_everything_of_ours_and_nothing_else(
        features: Features, run_prefix: str, tmp_path: Path) -> None:
    require_dhcp_deployment(features)
    prefix = f"{run_prefix}hc-"
    state = state_dir(run_prefix, "host-cleanup")
    bus = {"transport_url": RABBIT_URL, "bus_exchange": f"neutrino-test-{uuid.uuid4().hex[:12]}"}
    server = Server(f"sqlite:///{tmp_path / 'neutrino.sqlite'}", tmp_path, conf={
        "DEFAULT": {**bus, "agent_down_time": 20, "dhcp_agents_per_network": 1},
        "ml2": {"type_drivers": "flat,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "6000:6999"},
    })
    topo = Topology(prefix=prefix)
    agents: list[AgentProcess] = []
    decoy_namespaces = [f"{prefix}decoy", f"{prefix}qdhcp-not-a-uuid"]
    try:
        server.start()
        host = topo.host("h1")
        common = {**bus, "host": "h1", "host_namespace": host.ns,
                  "namespace_prefix": prefix, "state_path": str(state)}
        agents.append(AgentProcess("linuxbridge", "h1", tmp_path, {
            "DEFAULT": {**bus, "host": "h1", "host_namespace": host.ns},
            "AGENT": AGENT, "securitygroup": {"firewall_driver": "nftables"},
            "vxlan": {"enable_vxlan": True, "local_ip": host.ip, "l2_population": True},
        }).start())
        dhcp = AgentProcess("dhcp", "h1", tmp_path, {"DEFAULT": common, "AGENT": AGENT})
        agents.append(dhcp.start())
        agents.append(AgentProcess("l3", "h1", tmp_path, {
            "DEFAULT": common, "AGENT": AGENT}).start())
        admin = NeutronClient(server.url, project_id="hc-admin", roles="admin,member,reader")
        want = {"Linux bridge agent", "DHCP agent", "L3 agent"}
        wait_for(lambda: want <= {r["agent_type"] for r in admin.request(
            "GET", "/agents")["agents"] if r["alive"]}, 30, 0.2, what="agents alive")

        net = admin.request("POST", "/networks", {"network": {"name": "hc"}})["network"]
        subnet = admin.request("POST", "/subnets", {"subnet": {
            "network_id": net["id"], "cidr": "10.99.31.0/24", "ip_version": 4,
            "enable_dhcp": True}})["subnet"]
        router = admin.request("POST", "/routers", {"router": {"name": "hc"}})["router"]
        admin.request("PUT", f"/routers/{router['id']}/add_router_interface",
                      {"subnet_id": subnet["id"]})
        instance.boot(admin, "hc1", net["id"], "h1", host_namespace=host.ns,
                           namespace=f"{prefix}inst-hc1", dhcp=False,
                           project_id="hc-admin", timeout=30)
        qdhcp = f"{prefix}qdhcp-{net['id']}"
        qrouter = f"{prefix}qrouter-{router['id']}"
        pid_file = state / "dhcp" / net["id"] / "pid"
        wait_for(lambda: namespaces.namespace_exists(qdhcp) and pid_file.exists()
                 and namespaces.namespace_exists(qrouter)
                 and "bridge neutrino_sg" in _tables(host.ns), 30, 0.2,
                 what="dnsmasq, router namespace and firewall tables in place")
        dnsmasq_pid = int(pid_file.read_text().strip())
        made = [d.name for d in devices.list_devices("", host.ns) if is_our_device(d)]
        assert any(n.startswith("brq") for n in made) and any(
            n.startswith("vxlan-") for n in made) and any(n.startswith("tap") for n in made)

        # decoys: a namespace, a namespace named like ours, a tun-like device named like a
        # Nova tap, a bridge and an nftables table of someone else's in the host
        for ns in decoy_namespaces:
            namespaces.create_namespace(ns)
        namespaces.execute(["ip", "tuntap", "add", "dev", "tap12345678-9a", "mode", "tap"], host.ns)
        devices.ensure_bridge("br-decoy", netns=host.ns)
        namespaces.execute(["nft", "add", "table", "inet", "decoy"], host.ns)

        for a in agents:
            a.stop()
        config = ["--config-file", str(dhcp.config_file), "--instance-prefix", f"{prefix}inst-"]

        dry = _cleanup("--dry-run", *config)
        assert dry.returncode == 0, dry.stderr
        for expected in (f"delete namespace {qdhcp}", f"delete namespace {qrouter}",
                         f"delete namespace {prefix}inst-hc1", f"stop process {dnsmasq_pid}",
                         "delete nftables table bridge neutrino_sg",
                         "delete nftables table inet neutrino_sg"):
            assert expected in dry.stdout, dry.stdout
        assert namespaces.namespace_exists(qdhcp) and cmdline(dnsmasq_pid), "dry run acted"

        done = _cleanup(*config)
        assert done.returncode == 0, done.stdout + done.stderr
        left = [n for n in namespaces.list_namespaces(prefix)
                if is_agent_namespace(n, prefix) or n.startswith(f"{prefix}inst-")]
        assert left == []
        assert cmdline(dnsmasq_pid) is None, "dnsmasq still running"
        assert not (state / "dhcp" / net["id"]).exists()
        assert [d.name for d in devices.list_devices("", host.ns) if is_our_device(d)] == []
        assert not {"bridge neutrino_sg", "inet neutrino_sg"} & _tables(host.ns)
        # the decoys, all still there; the sysctl too, since a bridge not ours remains
        assert all(namespaces.namespace_exists(ns) for ns in decoy_namespaces)
        assert devices.device_exists("tap12345678-9a", host.ns)
        assert devices.device_exists("br-decoy", host.ns)
        assert devices.device_exists("ul0", host.ns)
        assert "inet decoy" in _tables(host.ns)
        assert _sysctl(host.ns) == "1"

        # once the host's last other bridge is gone the sysctls go back to 0
        devices.delete_device("br-decoy", host.ns)
        again = _cleanup(*config)
        assert again.returncode == 0, again.stdout + again.stderr
        assert _sysctl(host.ns) == "0"
        assert "nothing of neutrino's found" in _cleanup("--dry-run", *config).stdout
    finally:
        for a in agents:
            a.stop()
        server.stop()
        for pid in dnsmasq_pids_under(str(state)):  # our agent's, if the test failed early
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for ns in namespaces.list_namespaces(prefix):
            if ns not in topo.created:
                namespaces.delete_namespace(ns)
        topo.cleanup()

