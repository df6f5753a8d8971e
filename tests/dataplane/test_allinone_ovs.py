"""``neutrino up`` on Open vSwitch, started for real (tests/unit/test_allinone_ovs.py checks
only which agents and options it picks): the all-in-one process (API server, Open vSwitch,
DHCP and L3 agents on the in-process bus) with ``[ml2] mechanism_drivers =
openvswitch,l2population``, on an ovsdb-server + ovs-vswitchd of our own in a host
namespace (``[DEFAULT] host_namespace``; userspace datapath, PLATFORM.md). It makes the
demo project's ``private`` network and ``router1`` itself; an instance booted there gets
its address and default route from dnsmasq over br-int and pings router1's interface.

Run under ``flock /tmp/neutrino-dataplane.lock``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neutrino.agent.linux import namespaces
from neutrino.cli import allinone_net
from neutrino.compute import instance
from neutrino.compute.client import NeutronClient
from tests.dataplane.agent_helpers import wait_for, wait_reaches
from tests.dataplane.conftest import Features
from tests.dataplane.dhcp_support import dnsmasq_pids_under, kill_pids, state_dir
from tests.dataplane.ovs_support import OvsHost
from tests.support.process import stop_group, wait_answering
from tests.support.server import Server

PROJECT = "demo"  # the project `neutrino up` makes the private network for


def test_up_on_ovs_boots_an_instance_that_gets_dhcp_and_pings_its_router(
        features: Features, run_prefix: str, tmp_path: Path) -> None:
    features.require()
    for tool in ("ovs-vswitchd", "dnsmasq", "busybox"):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` not found")
    prefix = f"{run_prefix}aio-"
    host_ns, host = f"{prefix}host", f"{run_prefix}aio"
    state = state_dir(run_prefix, "aio-ovs")
    ovs = OvsHost(host_ns, tmp_path / "ovs")
    proc: subprocess.Popen[bytes] | None = None
    vm: instance.Instance | None = None
    # the Server only writes the config file and answers requests: `up` is run below
    conf = Server(f"sqlite:///{tmp_path / 'neutrino.sqlite'}", tmp_path, conf={
        "DEFAULT": {"host": host, "host_namespace": host_ns, "namespace_prefix": prefix,
                    "auth_strategy": "noauth", "state_path": str(state)},
        "ml2": {"mechanism_drivers": "openvswitch,l2population"},
        "agent": {"report_interval": 1, "polling_interval": 0.3},
        "ovs": {"ovsdb_connection": ovs.connection, "ovs_rundir": str(ovs.dir),
                "datapath_type": "netdev"},
    })
    log = tmp_path / "up.log"
    api = NeutronClient(conf.url, project_id=PROJECT, roles="admin,member,reader")
    try:
        namespaces.create_namespace(host_ns)
        ovs.start()
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "neutrino.cli.main", "up", "--no-public",
                 "--config-file", str(conf.config_file)],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_answering(proc, lambda: conf.request("GET", "/")[0] == 200, "neutrino up", 60,
                       log.read_text)

        def agents() -> set[str]:
            return {a["agent_type"] for a in api.request("GET", "/agents")["agents"]
                    if a["alive"] and a["host"] == host}

        wait_for(lambda: agents() == {"Open vSwitch agent", "DHCP agent", "L3 agent"}, 60,
                 what="the all-in-one's three agents alive")
        # the demo project's network and router, made by `up` itself
        wait_for(lambda: api.request("GET", "/routers", params={"name": "router1"}
                                     )["routers"], 60, what="router1")
        [net] = api.request("GET", "/networks", params={"name": "private"})["networks"]
        assert net["provider:network_type"] == "vxlan"
        [sub] = api.request("GET", "/subnets", params={"network_id": net["id"]})["subnets"]
        assert sub["enable_dhcp"] and sub["cidr"] == allinone_net.PRIVATE_CIDR
        gateway = sub["gateway_ip"]
        # the router's and the DHCP server's legs are ports of our br-int
        wait_for(lambda: any(n.startswith(f"{prefix}qrouter-")
                             for n in namespaces.list_namespaces(prefix)), 60,
                 what="router1's namespace")

        vm = instance.boot(api, f"{run_prefix}aio-vm", net["id"], host,
                           host_namespace=host_ns, namespace=f"{prefix}vm", dhcp=True,
                           project_id=PROJECT, timeout=60, ovsdb_connection=ovs.connection)
        ip = vm.fixed_ips[0].split("/")[0]
        # the address and the default route came from dnsmasq (DHCP option 3)
        addrs = namespaces.execute(["ip", "-4", "-o", "addr", "show"], vm.namespace).stdout
        assert f" {ip}/" in addrs
        routes = namespaces.execute(["ip", "-4", "route", "show", "default"],
                                    vm.namespace).stdout
        assert f"via {gateway}" in routes
        assert ovs.vsctl("port-to-br", vm.tap).strip() == "br-int"
        assert vm.status == "ACTIVE"  # the OVS agent wired it and reported it up
        wait_reaches(vm.namespace, gateway, timeout=30)
    finally:
        if vm is not None:
            instance.delete(api, vm.name, host_namespace=host_ns, namespace=vm.namespace,
                            ovsdb_connection=ovs.connection)
        stop_group(proc)
        kill_pids(dnsmasq_pids_under(str(state)))  # ours, by the state path only
        ovs.stop()
        for ns in namespaces.list_namespaces(prefix):
            namespaces.delete_namespace(ns)
        shutil.rmtree(state, ignore_errors=True)
