"""Agent benchmarks on simulated hosts (root, RabbitMQ on 127.0.0.1:5672, iproute2).

Same deployment as tests/dataplane/test_multihost.py: a real neutrino server (SQLite),
RabbitMQ, one Linux bridge agent process per host namespace, instances via
neutrino.compute.instance. Results: benchmarks/AGENTS.md.

    .venv/bin/python -m benchmarks.agents boot --boots 20
    .venv/bin/python -m benchmarks.agents resync --ports 1000
    .venv/bin/python -m benchmarks.agents l2pop --hosts 6 --events 10 --on 2

Everything created (namespaces, devices, processes, exchange queues) is removed on exit.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.dataplane.topology import Host, Topology
from tests.support.agent import AgentProcess
from tests.support.server import Server

from neutrino.agent.linux import names, namespaces
from neutrino.compute import instance
from neutrino.compute.client import NeutronClient

RABBIT_URL = os.environ.get("NEUTRINO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
PROJECT = "demo"
LB = "Linux bridge agent"


@dataclass
class Bench:
    server: Server
    api: NeutronClient
    topo: Topology
    hosts: dict[str, Host]
    agents: dict[str, AgentProcess]
    exchange: str
    ns_prefix: str
    workdir: Path

    def agent_conf(self, h: str, resync: float = 30) -> dict[str, dict[str, Any]]:
        return {
            "DEFAULT": {"transport_url": RABBIT_URL, "bus_exchange": self.exchange,
                        "host": h, "host_namespace": self.hosts[h].ns},
            "AGENT": {"report_interval": 1, "polling_interval": 0.5,
                      "resync_interval": resync},
            "vxlan": {"enable_vxlan": True, "local_ip": self.hosts[h].ip,
                      "l2_population": True},
        }

    def network(self, name: str) -> dict[str, Any]:
        net = self.api.request("POST", "/networks", {"network": {"name": name}})["network"]
        return net

    def subnet(self, net: dict[str, Any], cidr: str) -> dict[str, Any]:
        body = {"network_id": net["id"], "cidr": cidr, "ip_version": 4, "enable_dhcp": False}
        return self.api.request("POST", "/subnets", {"subnet": body})["subnet"]

    def wait_alive(self, hosts: set[str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.api.request("GET", "/agents", params={"agent_type": LB})["agents"]
            if {r["host"] for r in rows if r["alive"]} >= hosts:
                return
            time.sleep(0.2)
        raise RuntimeError(f"agents {hosts} not alive")


@contextmanager
def deployment(n_hosts: int) -> Iterator[Bench]:
    prefix = f"nb{secrets.token_hex(2)}-"
    workdir = Path(tempfile.mkdtemp(prefix="neutrino-bench-"))
    exchange = f"neutrino-bench-{uuid.uuid4().hex[:12]}"
    server = Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf={
        "DEFAULT": {"transport_url": RABBIT_URL, "bus_exchange": exchange,
                    "agent_down_time": 20},
        "ml2": {"type_drivers": "local,flat,vlan,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "linuxbridge,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "5000:5999"},
    })
    topo = Topology(prefix=f"{prefix}b")
    agents: dict[str, AgentProcess] = {}
    try:
        server.start()
        hosts = {f"h{i}": topo.host(f"h{i}") for i in range(1, n_hosts + 1)}
        api = NeutronClient(server.url, project_id=PROJECT, roles="admin,member,reader")
        b = Bench(server, api, topo, hosts, agents, exchange, f"{prefix}b-", workdir)
        for h in hosts:
            agents[h] = AgentProcess("linuxbridge", h, workdir, b.agent_conf(h)).start()
        b.wait_alive(set(hosts))
        yield b
    finally:
        for a in agents.values():
            a.stop()
        server.stop()
        for ns in namespaces.list_namespaces(prefix):
            namespaces.delete_namespace(ns)
        topo.cleanup()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def ping_once(ns: str, ip: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", ns, "ping", "-c1", "-W1", "-i0.2", ip],
                          capture_output=True).returncode == 0


# --- 1. boot -> ACTIVE, boot -> first ping ------------------------------------------------------
def bench_boot(boots: int) -> None:
    with deployment(1) as b:
        net = b.network("boot")
        b.subnet(net, "10.98.0.0/24")
        peer = instance.boot(b.api, "peer", net["id"], "h1", host_namespace=b.hosts["h1"].ns,
                             namespace=b.ns_prefix + "peer", dhcp=False, project_id=PROJECT)
        active: list[float] = []
        pinging: list[float] = []
        try:
            for i in range(boots):
                name = f"vm{i}"
                t0 = time.monotonic()
                vm = instance.boot(b.api, name, net["id"], "h1",
                                   host_namespace=b.hosts["h1"].ns,
                                   namespace=b.ns_prefix + name, dhcp=False,
                                   project_id=PROJECT, wait_active=True)
                t_active = time.monotonic() - t0
                while not ping_once(vm.namespace, peer.ip):
                    if time.monotonic() - t0 > 30:
                        raise RuntimeError(f"{name} never reached the peer")
                t_ping = time.monotonic() - t0
                active.append(t_active)
                pinging.append(t_ping)
                print(f"  {name}: ACTIVE {t_active:.3f} s, first ping {t_ping:.3f} s")
                instance.delete(b.api, name, host_namespace=b.hosts["h1"].ns,
                                namespace=vm.namespace)
        finally:
            instance.delete(b.api, "peer", host_namespace=b.hosts["h1"].ns,
                            namespace=peer.namespace)
        for what, v in (("boot -> ACTIVE", active), ("boot -> first ping", pinging)):
            print(f"{what}: n={len(v)} p50={statistics.median(v):.3f} s "
                  f"p99={pct(v, 99):.3f} s max={max(v):.3f} s")


# --- 2. full resync with N ports ---------------------------------------------------------------
# A Linux bridge holds at most 1023 ports (the kernel's BR_MAX_PORTS, 10-bit port numbers;
# one more is refused with EXFULL), one of them the network's VXLAN device; so the ports
# are spread over networks (one bridge each) of at most this many.
PORTS_PER_NETWORK = 1000


def bench_resync(n_ports: int) -> None:
    with deployment(1) as b:
        ns = b.hosts["h1"].ns
        n_nets = -(-n_ports // PORTS_PER_NETWORK)
        nets = [b.network(f"resync{k}") for k in range(n_nets)]
        b.api.request("PUT", f"/quotas/{PROJECT}", {"quota": {"port": n_ports + 10}})
        t0 = time.monotonic()
        port_ids: list[str] = []
        for i in range(n_ports):
            p = b.api.request("POST", "/ports", {"port": {
                "network_id": nets[i // PORTS_PER_NETWORK]["id"], "name": f"p{i}",
                "device_owner": "compute:nova", "device_id": str(uuid.uuid4()),
                "binding:host_id": "h1"}})["port"]
            port_ids.append(p["id"])
        print(f"created {n_ports} bound ports on {n_nets} network(s) through the API "
              f"in {time.monotonic() - t0:.1f} s")
        b.agents["h1"].stop()
        batch = "".join(f"link add {names.tap_name(pid)} type veth peer name tp{i:05d}\n"
                        f"link set {names.tap_name(pid)} up\n"
                        for i, pid in enumerate(port_ids))
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input=batch, text=True, check=True)
        log_before = len(b.agents["h1"].log())
        t0 = time.monotonic()
        b.agents["h1"].start()
        done_at = None
        while True:
            now = time.monotonic() - t0
            if done_at is None and "resync of all networks done" in \
                    b.agents["h1"].log()[log_before:]:
                done_at = now
            ports = b.api.request("GET", "/ports",
                                  params={"network_id": [n["id"] for n in nets]})["ports"]
            if sum(p["status"] == "ACTIVE" for p in ports) == n_ports:
                all_up = time.monotonic() - t0
                break
            if now > 300:
                raise RuntimeError("ports never all ACTIVE")
            time.sleep(0.1)
        if done_at is None:
            done_at = float("nan")
        print(f"agent restart with {n_ports} taps: first full resync done "
              f"{done_at:.2f} s, all {n_ports} ports ACTIVE {all_up:.2f} s")
        subprocess.run(["ip", "-n", ns, "-batch", "-"], text=True, check=False,
                       input="".join(f"link del {names.tap_name(pid)}\n" for pid in port_ids),
                       capture_output=True)


# --- 3. l2population hints per port event --------------------------------------------------------
def bench_l2pop(n_hosts: int, events: int, on: int) -> None:
    import kombu

    with deployment(n_hosts) as b:
        counts: dict[str, int] = {}
        lock = threading.Lock()
        stop = threading.Event()
        ready = threading.Event()
        url = RABBIT_URL.replace("rabbit://", "amqp://")

        def consume() -> None:
            ex = kombu.Exchange(b.exchange, "topic", durable=True, auto_delete=False)
            q = kombu.Queue(f"{b.exchange}.bench-counter.{uuid.uuid4().hex}", ex,
                            routing_key="fanout.host.*", exclusive=True, auto_delete=True)

            def on(body: Any, message: Any) -> None:
                with lock:
                    key = message.delivery_info["routing_key"]
                    counts[key] = counts.get(key, 0) + 1
                message.ack()

            with kombu.Connection(url) as conn, conn.Consumer(q, callbacks=[on]):
                ready.set()
                while not stop.is_set():
                    with suppress(TimeoutError):
                        conn.drain_events(timeout=0.5)

        th = threading.Thread(target=consume, daemon=True)
        th.start()
        ready.wait(10)
        net = b.network("l2pop")
        b.subnet(net, "10.97.0.0/24")
        vms = [instance.boot(b.api, f"base{h}", net["id"], h, host_namespace=b.hosts[h].ns,
                             namespace=b.ns_prefix + f"base{h}", dhcp=False,
                             project_id=PROJECT) for h in list(b.hosts)[:on]]
        time.sleep(2)
        with lock:
            counts.clear()
        for _i in range(events):
            p = b.api.request("POST", "/ports", {"port": {
                "network_id": net["id"], "device_owner": "compute:nova",
                "device_id": str(uuid.uuid4()), "binding:host_id": "h1"}})["port"]
            b.api.request("DELETE", f"/ports/{p['id']}")
        time.sleep(3)
        stop.set()
        th.join(5)
        total = sum(counts.values())
        print(f"{n_hosts} hosts with an agent, network on {on} of them, {events} port "
              f"create+delete "
              f"events on h1 (port bound, no tap):")
        for k in sorted(counts):
            print(f"  {k}: {counts[k]}")
        print(f"hint messages: {total} = {total / (2 * events):.2f} per port event; "
              f"hosts hinted: {sorted(k.split('.')[-1] for k in counts)}")
        for vm in vms:
            instance.delete(b.api, vm.name, host_namespace=b.hosts[vm.host].ns,
                            namespace=vm.namespace)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("boot").add_argument("--boots", type=int, default=20)
    sub.add_parser("resync").add_argument("--ports", type=int, default=1000)
    lp = sub.add_parser("l2pop")
    lp.add_argument("--hosts", type=int, default=6)
    lp.add_argument("--events", type=int, default=10)
    lp.add_argument("--on", type=int, default=2, help="hosts with an instance on the network")
    args = ap.parse_args(argv)
    if args.cmd == "boot":
        bench_boot(args.boots)
    elif args.cmd == "resync":
        bench_resync(args.ports)
    else:
        bench_l2pop(args.hosts, args.events, args.on)
    return 0


if __name__ == "__main__":
    sys.exit(main())
