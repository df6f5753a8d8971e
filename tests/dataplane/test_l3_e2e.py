"""Routers end to end on simulated hosts: a real API server, RabbitMQ, a Linux bridge agent
process per host, an L3 agent process on the network node, instances booted through the API
(compute/instance.py), an "external" namespace on the provider network, real packets.

    root namespace:  neutrino server (SQLite), RabbitMQ, agents (LB on h1 and h2, L3 on h1)
    namespaces:      <prefix>ul (underlay), <prefix>h1 (network node: qrouter-... made by
                     the L3 agent), <prefix>h2 (compute), <prefix>phys (the provider
                     segment, eth1 of each host) with <prefix>ext (203.0.113.1, the
                     outside world and the external subnet's gateway), instances

The external network is flat on physnet "provider"; tenant networks are VXLAN, so an
instance on h2 reaches its router on h1 across the underlay.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.linux import devices, names, namespaces
from neutrino.compute import instance
from neutrino.compute.client import NeutronClient
from tests.dataplane.agent_helpers import (
    RABBIT_URL,
    ContinuousPing,
    provider_segment,
    require_rabbit,
    wait_for,
)
from tests.dataplane.conftest import Features
from tests.dataplane.l3_support import (
    EchoClient,
    listen,
    nated_to,
    peer_seen,
    ping_replies_from,
    spawn,
)
from tests.dataplane.topology import Host, Instance, Topology, stop_processes
from tests.support.agent import AgentProcess
from tests.support.forked_cli import run_openstack
from tests.support.server import Server

HOSTS = ("h1", "h2")
NETWORK_NODE = "h1"
EXT_HOST = "203.0.113.1"
ADMIN_PROJECT = "admin-project"
OPENSTACK = str(Path(sys.executable).with_name("openstack"))


@dataclass
class Deployment:
    server: Server
    admin: NeutronClient
    topo: Topology
    hosts: dict[str, Host]
    agents: dict[str, AgentProcess]
    ext: Instance
    external_network: dict[str, Any]
    ns_prefix: str  # instances' and the L3 agent's namespaces
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    booted: list[tuple[NeutronClient, instance.Instance]] = field(default_factory=list)

    def client(self, project: str) -> NeutronClient:
        return NeutronClient(self.server.url, project_id=project, roles="member,reader")

    def tenant(self, api: NeutronClient, name: str, cidr: str,
               **subnet_attrs: Any) -> tuple[dict, dict]:
        net = api.request("POST", "/networks", {"network": {"name": name}})["network"]
        subnet = api.request("POST", "/subnets", {"subnet": {
            "network_id": net["id"], "cidr": cidr, "ip_version": 4,
            "enable_dhcp": False, **subnet_attrs}})["subnet"]
        return net, subnet

    def router(self, api: NeutronClient, name: str, subnet: dict[str, Any],
               **gateway: Any) -> dict[str, Any]:
        router = api.request("POST", "/routers", {"router": {
            "name": name, "external_gateway_info": {
                "network_id": self.external_network["id"], **gateway}}})["router"]
        api.request("PUT", f"/routers/{router['id']}/add_router_interface",
                    {"subnet_id": subnet["id"]})
        return router

    def boot(self, api: NeutronClient, name: str, network: dict[str, Any],
             host: str) -> instance.Instance:
        # as Nova: binding:host_id needs the service's (admin) rights, for the project
        project = api.headers["X-Project-Id"]
        nova = NeutronClient(self.server.url, project_id=project, roles="admin,member,reader")
        vm = instance.boot(nova, name, network["id"], host,
                           host_namespace=self.hosts[host].ns,
                           namespace=self.ns_prefix + name, dhcp=False,
                           project_id=project, timeout=30)
        self.booted.append((nova, vm))
        return vm

    def qrouter(self, router: dict[str, Any]) -> str:
        return self.ns_prefix + names.router_namespace(router["id"])

    def gateway_ip(self, router: dict[str, Any]) -> str:
        info = router["external_gateway_info"]
        return str(info["external_fixed_ips"][0]["ip_address"])

    def floating_ip(self, api: NeutronClient, port_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"floating_network_id": self.external_network["id"]}
        if port_id:
            body["port_id"] = port_id
        return api.request("POST", "/floatingips", {"floatingip": body})["floatingip"]

    def wait_fip_status(self, api: NeutronClient, fip: dict[str, Any], status: str,
                        timeout: float = 20) -> None:
        wait_for(lambda: api.request("GET", f"/floatingips/{fip['id']}")["floatingip"][
            "status"] == status, timeout, 0.1, what=f"floating IP {status}")

    def logs(self) -> str:
        out = [f"--- server\n{self.server.log()[-4000:]}"]
        out += [f"--- agent {n}\n{a.log()[-4000:]}" for n, a in self.agents.items()]
        return "\n".join(out)


@pytest.fixture(scope="module")
def deployment(features: Features, run_prefix: str, tmp_path_factory: pytest.TempPathFactory,
               request: pytest.FixtureRequest) -> Iterator[Deployment]:
    features.require("vxlan")
    # a module importing this fixture may set FIREWALL_DRIVER (test_l3_sg_e2e.py: nftables)
    firewall_driver = getattr(request.module, "FIREWALL_DRIVER", "noop")
    require_rabbit(next((f"`{tool}` not found (scripts/system-packages.sh installs it)"
                         for tool in ("nft", "conntrack", "socat") if shutil.which(tool) is None),
                        None))
    workdir: Path = tmp_path_factory.mktemp("l3e2e")
    exchange = f"neutrino-test-{uuid.uuid4().hex[:12]}"
    bus = {"transport_url": RABBIT_URL, "bus_exchange": exchange}
    server = Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf={
        "DEFAULT": {**bus, "agent_down_time": 20,
                    "service_plugins": "router,port_forwarding"},
        "ml2": {"type_drivers": "flat,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "6000:6999"},
        "ml2_type_flat": {"flat_networks": "provider"},
    })
    topo = Topology(prefix=f"{run_prefix}l3")
    ns_prefix = f"{run_prefix}l3-"
    agents: dict[str, AgentProcess] = {}
    procs: list[subprocess.Popen[str]] = []
    dep: Deployment | None = None
    try:
        server.start()
        hosts = {h: topo.host(h) for h in HOSTS}
        phys = provider_segment(topo, list(hosts.values()))
        ext = topo.external(Host("phys", phys, ""), "br-phys", f"{EXT_HOST}/24")
        for h, host in hosts.items():
            agents[f"lb-{h}"] = AgentProcess("linuxbridge", h, workdir, {
                "DEFAULT": {**bus, "host": h, "host_namespace": host.ns},
                "AGENT": {"report_interval": 1, "polling_interval": 0.5,
                          "resync_interval": 30},
                "linux_bridge": {"physical_interface_mappings": "provider:eth1"},
                "vxlan": {"enable_vxlan": True, "local_ip": host.ip, "l2_population": True},
                # noop here: this module is about routers (test_l3_sg_e2e.py: both)
                "securitygroup": {"firewall_driver": firewall_driver},
            }).start()
        agents["l3"] = AgentProcess("l3", NETWORK_NODE, workdir, {
            "DEFAULT": {**bus, "host": NETWORK_NODE,
                        "host_namespace": hosts[NETWORK_NODE].ns,
                        "namespace_prefix": ns_prefix, "send_arp_for_ha": 1},
            "AGENT": {"report_interval": 1, "resync_interval": 30},
        }).start()
        admin = NeutronClient(server.url, project_id=ADMIN_PROJECT,
                              roles="admin,member,reader")

        def alive() -> bool:
            rows = admin.request("GET", "/agents")["agents"]
            up = {(r["agent_type"], r["host"]) for r in rows if r["alive"]}
            return {("Linux bridge agent", h) for h in HOSTS} | {
                ("L3 agent", NETWORK_NODE)} <= up

        try:
            wait_for(alive, 30, 0.2, what="agents alive")
        except AssertionError:
            logs = "\n".join(f"--- {n}\n{a.log()[-3000:]}" for n, a in agents.items())
            pytest.fail(f"agents did not come up:\n{logs}\n--- server\n{server.log()[-3000:]}")
        public = admin.request("POST", "/networks", {"network": {
            "name": "public", "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": "provider"}})["network"]
        admin.request("POST", "/subnets", {"subnet": {
            "network_id": public["id"], "cidr": "203.0.113.0/24", "ip_version": 4,
            "gateway_ip": EXT_HOST, "enable_dhcp": False,
            "allocation_pools": [{"start": "203.0.113.10", "end": "203.0.113.200"}]}})
        dep = Deployment(server, admin, topo, hosts, agents, ext, public, ns_prefix, procs)
        yield dep
    finally:
        stop_processes(procs)  # listeners the tests started, with forked children
        if dep is not None:
            for api, vm in dep.booted:
                try:
                    instance.delete(api, vm.name, host_namespace=hosts[vm.host].ns,
                                    namespace=vm.namespace)
                except Exception as e:  # keep cleaning up
                    print(f"deleting {vm.name}: {e}")
        for a in agents.values():
            a.stop()
        server.stop()
        for ns in namespaces.list_namespaces(ns_prefix):
            namespaces.delete_namespace(ns)
        topo.cleanup()


@pytest.fixture
def dep(deployment: Deployment, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    failed_before = request.session.testsfailed
    yield deployment
    if request.session.testsfailed > failed_before:
        print(deployment.logs())


def test_snat_floating_ip_and_disassociation_through_the_api(dep: Deployment) -> None:
    api = dep.client("project-a")
    net, subnet = dep.tenant(api, "private-a", "10.99.5.0/24")
    t0 = time.monotonic()
    router = dep.router(api, "ra", subnet)
    assert router["status"] == "ACTIVE"
    vm = dep.boot(api, "l3a", net, "h2")
    gw_ip = dep.gateway_ip(router)

    # SNAT: the outside sees the router's gateway address
    seen = listen(dep.procs, dep.ext.ns)
    wait_for(lambda: peer_seen(vm.namespace, EXT_HOST, seen) == gw_ip, 30, 0.2,
             what="instance reaches the outside through SNAT")
    print(f"\nrouter + interface + instance to SNAT reachability "
          f"{time.monotonic() - t0:.2f} s")
    assert namespaces.namespace_exists(dep.qrouter(router))

    def router_ports() -> list[dict[str, Any]]:
        return dep.admin.request("GET", "/ports", params={"device_id": router["id"]})["ports"]

    wait_for(lambda: {p["status"] for p in router_ports()} == {"ACTIVE"}, 10, 0.1,
             what="router ports ACTIVE (wired by h1's Linux bridge agent)")
    ports = router_ports()
    assert len(ports) == 2
    assert {p["binding:host_id"] for p in ports} == {NETWORK_NODE}

    # a floating IP: reachable from outside, replies from it, the instance sees the client
    fip = dep.floating_ip(api, vm.port_id)
    address = fip["floating_ip_address"]
    t1 = time.monotonic()
    dep.wait_fip_status(api, fip, "ACTIVE")
    inside = listen(dep.procs, vm.namespace)
    wait_for(lambda: peer_seen(dep.ext.ns, address, inside) == EXT_HOST, 20, 0.1,
             what="outside reaches the instance by its floating IP")
    print(f"floating IP ACTIVE and reachable in {time.monotonic() - t1:.2f} s")
    assert ping_replies_from(dep.ext.ns, address)
    assert peer_seen(vm.namespace, EXT_HOST, seen) == address

    # disassociation stops it at once, running connections included
    qrouter = dep.qrouter(router)
    pinger = ContinuousPing(dep.ext.ns, address, interval=0.05).start()
    try:
        wait_for(lambda: nated_to(qrouter, address, vm.ip) > 0, 5,
                 what="conntrack entry of the floating IP")
        api.request("PUT", f"/floatingips/{fip['id']}", {"floatingip": {"port_id": None}})
        t2 = time.monotonic()
        wait_for(lambda: nated_to(qrouter, address, vm.ip) == 0, 10, 0.02,
                 what="floating IP's connections gone")
        cut = time.monotonic() - t2
        pinger.wait_sent(10)
        sent, received = pinger.stop()
    finally:
        pinger.kill()
    print(f"disassociation enforced in {cut:.2f} s")
    assert sent - received >= 5
    dep.wait_fip_status(api, fip, "DOWN")
    assert peer_seen(dep.ext.ns, address, inside) is None
    assert peer_seen(vm.namespace, EXT_HOST, seen) == gw_ip


def test_two_projects_with_the_same_cidr(dep: Deployment) -> None:
    tenants = []
    for project, host in (("project-b", "h1"), ("project-c", "h2")):
        api = dep.client(project)
        # one address in the pool: both instances get 10.99.7.50
        net, subnet = dep.tenant(api, f"same-{project}", "10.99.7.0/24", allocation_pools=[
            {"start": "10.99.7.50", "end": "10.99.7.50"}])
        router = dep.router(api, f"r-{project}", subnet)
        vm = dep.boot(api, f"l3{project[-1]}", net, host)
        tenants.append((api, router, vm))
    (api_b, _, vb), (api_c, _, vc) = tenants
    assert vb.ip == vc.ip == "10.99.7.50"
    seen = listen(dep.procs, dep.ext.ns)
    for _, router, vm in tenants:
        wait_for(lambda r=router, v=vm: peer_seen(v.namespace, EXT_HOST, seen) ==
                 dep.gateway_ip(r), 30, 0.2, what=f"SNAT of {vm.name}")
    fb = dep.floating_ip(api_b, vb.port_id)
    fc = dep.floating_ip(api_c, vc.port_id)
    name_port = listen(dep.procs, vb.namespace, answer=vb.name)
    listen(dep.procs, vc.namespace, answer=vc.name, tcp_port=name_port)
    for fip, vm in ((fb, vb), (fc, vc)):
        wait_for(lambda f=fip, v=vm: peer_seen(dep.ext.ns, f["floating_ip_address"],
                                               name_port) == v.name, 20, 0.1,
                 what=f"floating IP of {vm.name}")
    assert peer_seen(vb.namespace, EXT_HOST, seen) == fb["floating_ip_address"]
    assert peer_seen(vc.namespace, EXT_HOST, seen) == fc["floating_ip_address"]


def test_l3_agent_killed_and_restarted_keeps_connections(dep: Deployment) -> None:
    api = dep.client("project-d")
    net, subnet = dep.tenant(api, "private-d", "10.99.8.0/24")
    router = dep.router(api, "rd", subnet)
    vm = dep.boot(api, "l3d", net, "h2")
    fip = dep.floating_ip(api, vm.port_id)
    address = fip["floating_ip_address"]
    dep.wait_fip_status(api, fip, "ACTIVE")
    echo_out = listen(dep.procs, dep.ext.ns, echo=True)
    echo_in = listen(dep.procs, vm.namespace, echo=True)
    seen = listen(dep.procs, dep.ext.ns)
    wait_for(lambda: peer_seen(vm.namespace, EXT_HOST, seen) == address, 20, 0.2,
             what="out through the floating IP")
    outbound = EchoClient(dep.procs, vm.namespace, EXT_HOST, echo_out)
    inbound = EchoClient(dep.procs, dep.ext.ns, address, echo_in)
    assert outbound.roundtrip("one") == "one" and inbound.roundtrip("one") == "one"
    qrouter = dep.qrouter(router)
    table = namespaces.execute(["nft", "-a", "list", "table", "ip", "neutrino_l3"],
                               qrouter).stdout
    links = {d.name: d.index for d in devices.list_devices("", qrouter)}

    l3 = dep.agents["l3"]
    log_before = l3.log().count("resync of all")
    l3.kill9()
    l3.start()
    wait_for(lambda: l3.log().count("resync of all") > log_before, 30, 0.2,
             what="restarted L3 agent's full resync")
    # nothing was re-made, and the connections in both directions live on
    assert namespaces.execute(["nft", "-a", "list", "table", "ip", "neutrino_l3"],
                              qrouter).stdout == table
    assert {d.name: d.index for d in devices.list_devices("", qrouter)} == links
    assert outbound.roundtrip("two") == "two" and inbound.roundtrip("two") == "two"

    # the router deleted: its namespace and taps go
    api.request("DELETE", f"/floatingips/{fip['id']}")
    api.request("PUT", f"/routers/{router['id']}/remove_router_interface",
                {"subnet_id": subnet["id"]})
    api.request("PUT", f"/routers/{router['id']}",
                {"router": {"external_gateway_info": {}}})
    api.request("DELETE", f"/routers/{router['id']}")
    wait_for(lambda: not namespaces.namespace_exists(qrouter), 20, 0.1,
             what="router namespace removed")


def test_with_the_openstack_cli(dep: Deployment, tmp_path: Path) -> None:
    """The same workflow an operator types: router, gateway, interface, floating IP in and
    out, SNAT switched off, all with `openstack`; the instance plays Nova's part."""
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds:\n  neutrino:\n    auth_type: none\n"
                      f"    network_endpoint_override: {dep.server.url}/\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)

    def osc(*args: str) -> Any:
        cmd = [OPENSTACK, "--os-cloud", "neutrino", *args]
        proc = run_openstack(cmd[1:], env=env, cwd=tmp_path, timeout=60)
        assert proc.returncode == 0, f"{cmd}: {proc.stderr}"
        return json.loads(proc.stdout) if "-f" in args else None

    public = dep.external_network["id"]
    net = osc("network", "create", "cli-net", "-f", "json")
    sub = osc("subnet", "create", "--network", net["id"], "--subnet-range", "10.99.9.0/24",
              "--no-dhcp", "cli-sub", "-f", "json")
    router = osc("router", "create", "cli-router", "-f", "json")
    osc("router", "set", router["id"], "--external-gateway", public)
    osc("router", "add", "subnet", router["id"], sub["id"])
    router = osc("router", "show", router["id"], "-f", "json")
    gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    nova = NeutronClient(dep.server.url, project_id=net["project_id"],
                         roles="admin,member,reader")
    vm = dep.boot(nova, "l3cli", net, "h2")
    seen = listen(dep.procs, dep.ext.ns)
    wait_for(lambda: peer_seen(vm.namespace, EXT_HOST, seen) == gw_ip, 30, 0.2,
             what="SNAT")

    fip = osc("floating", "ip", "create", "--port", vm.port_id, public, "-f", "json")
    address = fip["floating_ip_address"]
    wait_for(lambda: osc("floating", "ip", "show", fip["id"], "-f", "json")["status"] ==
             "ACTIVE", 20, 0.2, what="floating IP ACTIVE")
    inside = listen(dep.procs, vm.namespace)
    wait_for(lambda: peer_seen(dep.ext.ns, address, inside) == EXT_HOST, 20, 0.1,
             what="in through the floating IP")
    osc("floating", "ip", "unset", "--port", fip["id"])
    wait_for(lambda: peer_seen(dep.ext.ns, address, inside) is None, 10, 0.1,
             what="floating IP cut")
    osc("floating", "ip", "delete", fip["id"])

    # SNAT off: the instance's own address leaves unchanged, the outside has no way back
    osc("router", "set", router["id"], "--external-gateway", public, "--disable-snat")
    wait_for(lambda: peer_seen(vm.namespace, EXT_HOST, seen) is None, 10, 0.2,
             what="SNAT switched off")
    namespaces.execute(["ip", "route", "add", "10.99.9.0/24", "via", gw_ip], dep.ext.ns)
    try:
        assert peer_seen(vm.namespace, EXT_HOST, seen) == vm.ip
    finally:
        namespaces.execute(["ip", "route", "del", "10.99.9.0/24"], dep.ext.ns)
    osc("router", "remove", "subnet", router["id"], sub["id"])
    osc("router", "unset", "--external-gateway", router["id"])
    wait_for(lambda: not devices.list_devices("qg-", dep.qrouter(router)), 10, 0.1,
             what="gateway leg removed")


def test_port_forwarding_tcp_and_udp(dep: Deployment) -> None:
    """floating-ip-port-forwarding: FIP:external_port reaches the instance's port over
    TCP and UDP; deleting the forwarding stops it."""
    api = dep.client("project-pf")
    net, subnet = dep.tenant(api, "private-pf", "10.99.9.0/24")
    router = dep.router(api, "rpf", subnet)
    vm = dep.boot(api, "l3pf", net, "h2")
    fip = dep.floating_ip(api)
    address = fip["floating_ip_address"]
    base = f"/floatingips/{fip['id']}/port_forwardings"

    inside = listen(dep.procs, vm.namespace, answer="tcp-inside")
    tcp = api.request("POST", base, {"port_forwarding": {
        "protocol": "tcp", "external_port": 2222, "internal_port": inside,
        "internal_port_id": vm.port_id, "internal_ip_address": vm.ip}})["port_forwarding"]
    # UDP: an echo in the instance answering each datagram with a fixed word
    spawn(dep.procs, ["socat", "UDP-RECVFROM:5353,fork", "SYSTEM:echo udp-inside"],
          vm.namespace, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    udp = api.request("POST", base, {"port_forwarding": {
        "protocol": "udp", "external_port": 53, "internal_port": 5353,
        "internal_port_id": vm.port_id, "internal_ip_address": vm.ip}})["port_forwarding"]
    dep.wait_fip_status(api, fip, "ACTIVE")
    assert api.request("GET", f"/floatingips/{fip['id']}")["floatingip"]["router_id"] == \
        router["id"]

    def tcp_answer() -> str | None:
        return peer_seen(dep.ext.ns, address, 2222)

    def udp_answer() -> str | None:
        proc = namespaces.execute(["sh", "-c", f"echo ping | socat -T 1 - "
                                   f"UDP:{address}:53"], dep.ext.ns, check=False,
                                  timeout=10)
        return proc.stdout.strip() or None

    wait_for(lambda: tcp_answer() == "tcp-inside", 20, 0.2,
             what="TCP FIP:2222 reaches the instance")
    wait_for(lambda: udp_answer() == "udp-inside", 20, 0.2,
             what="UDP FIP:53 reaches the instance")
    # only the forwarded port: another port of the floating IP reaches nothing
    assert peer_seen(dep.ext.ns, address, inside) is None

    api.request("DELETE", f"{base}/{tcp['id']}")
    wait_for(lambda: tcp_answer() is None, 10, 0.1, what="TCP forwarding gone")
    # the other forwarding stays (UDP: a datagram may be lost, so asked until answered)
    wait_for(lambda: udp_answer() == "udp-inside", 10, 0.1, what="UDP forwarding stays")
    api.request("DELETE", f"{base}/{udp['id']}")
    wait_for(lambda: udp_answer() is None, 10, 0.1, what="UDP forwarding gone")
    dep.wait_fip_status(api, fip, "DOWN")
    api.request("DELETE", f"/floatingips/{fip['id']}")


def test_same_address_scope_is_routed_without_nat(dep: Deployment) -> None:
    """Neutron's address scopes in the L3 agent: an internal subnet in the external
    network's address scope reaches the outside with its own address, and the outside
    reaches it directly; another router's unscoped subnet is still SNATed."""
    admin = dep.admin
    scope = admin.request("POST", "/address-scopes", {"address_scope": {
        "name": "public-scope", "ip_version": 4, "shared": True}})["address_scope"]
    ext_pool = admin.request("POST", "/subnetpools", {"subnetpool": {
        "name": "ext-pool", "prefixes": ["203.0.113.0/24"], "shared": True,
        "address_scope_id": scope["id"]}})["subnetpool"]
    # the external subnet joins the scope (subnet_onboard)
    admin.request("PUT", f"/subnetpools/{ext_pool['id']}/onboard_network_subnets",
                  {"network_id": dep.external_network["id"]})
    int_pool = admin.request("POST", "/subnetpools", {"subnetpool": {
        "name": "int-pool", "prefixes": ["10.99.10.0/24"], "shared": True,
        "address_scope_id": scope["id"]}})["subnetpool"]

    api = dep.client("project-scope")
    net, subnet = dep.tenant(api, "private-scope", "10.99.10.0/24",
                             subnetpool_id=int_pool["id"])
    router = dep.router(api, "rscope", subnet)
    vm = dep.boot(api, "l3scope", net, "h2")
    gw_ip = dep.gateway_ip(router)
    # the outside routes the scope's prefix to the router, as a real upstream would
    namespaces.execute(["ip", "route", "replace", "10.99.10.0/24", "via", gw_ip],
                       dep.ext.ns)

    seen = listen(dep.procs, dep.ext.ns)
    wait_for(lambda: peer_seen(vm.namespace, EXT_HOST, seen) == vm.ip, 30, 0.2,
             what="instance reaches the outside un-NATed (its own address)")
    inside = listen(dep.procs, vm.namespace)
    wait_for(lambda: peer_seen(dep.ext.ns, vm.ip, inside) == EXT_HOST, 20, 0.2,
             what="the outside reaches the instance's own address")

    # an unscoped network behind another router: SNATed to that router's gateway
    other_api = dep.client("project-noscope")
    onet, osub = dep.tenant(other_api, "private-noscope", "10.99.11.0/24")
    orouter = dep.router(other_api, "rnoscope", osub)
    ovm = dep.boot(other_api, "l3noscope", onet, "h2")
    wait_for(lambda: peer_seen(ovm.namespace, EXT_HOST, seen) == dep.gateway_ip(orouter),
             30, 0.2, what="unscoped instance SNATed")
