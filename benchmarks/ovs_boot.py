"""``instance boot`` -> ACTIVE on an Open vSwitch host (issue #12: p99 < 1 s): a real
neutrino server (SQLite), RabbitMQ, one ``neutrino agent --role openvswitch`` process for
a host namespace with its own ovsdb-server + ovs-vswitchd (userspace datapath), instances
booted through the API and plugged into br-int as os-vif does (compute/instance.py).

Each boot is timed from the call of ``instance.boot`` (port create, bind, plug, wait until
the port is ACTIVE: the agent saw it on br-int, tagged it, programmed its flows and
reported it up) to its return. ``--burst`` boots that many at once (threads), after
``--sequential`` boots one after the other; ``--firewall openvswitch`` runs the agent
with the conntrack firewall (each port's flows too).

    flock /tmp/neutrino-dataplane.lock .venv/bin/python benchmarks/ovs_boot.py \\
        --sequential 20 --burst 20 [--firewall openvswitch]     (root, RabbitMQ)

Everything created (namespaces, OVS processes, agents) is removed on exit.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.dataplane.ovs_support import OvsHost
from tests.dataplane.topology import Topology
from tests.support.agent import AgentProcess
from tests.support.server import Server

from neutrino.agent.linux import namespaces
from neutrino.compute import instance
from neutrino.compute.client import NeutronClient

RABBIT_URL = os.environ.get("NEUTRINO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")
PROJECT = "demo"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def report(what: str, v: list[float]) -> None:
    print(f"{what}: n={len(v)} p50={statistics.median(v):.3f} s p99={pct(v, 99):.3f} s "
          f"max={max(v):.3f} s")


def run(sequential: int, burst: int, firewall: str) -> None:
    prefix = f"nb{secrets.token_hex(2)}-"
    workdir = Path(tempfile.mkdtemp(prefix="neutrino-ovsboot-"))
    exchange = f"neutrino-bench-{uuid.uuid4().hex[:12]}"
    bus = {"transport_url": RABBIT_URL, "bus_exchange": exchange}
    server = Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf={
        "DEFAULT": {**bus, "agent_down_time": 20},
        "ml2": {"type_drivers": "local,vxlan", "tenant_network_types": "vxlan",
                "mechanism_drivers": "openvswitch,l2population"},
        "ml2_type_vxlan": {"vni_ranges": "5000:5999"},
    })
    topo = Topology(prefix=f"{prefix}o")
    agent: AgentProcess | None = None
    ovs: OvsHost | None = None
    booted: list[instance.Instance] = []
    api = NeutronClient(server.url, project_id=PROJECT, roles="admin,member,reader")
    try:
        server.start()
        host = topo.host("h1")
        ovs = OvsHost(host.ns, workdir / "ovs-h1").start()
        ovs.underlay_on_ovs("ul0", f"{host.ip}/24")
        agent = AgentProcess("openvswitch", "h1", workdir, {
            "DEFAULT": {**bus, "host": "h1"},
            "agent": {"report_interval": 1, "polling_interval": 0.3, "resync_interval": 30,
                      "tunnel_types": "vxlan", "l2_population": True},
            "ovs": {"local_ip": host.ip, "datapath_type": "netdev",
                    "ovsdb_connection": ovs.connection, "ovs_rundir": str(ovs.dir)},
            "securitygroup": {"firewall_driver": firewall},
        }).start()
        deadline = time.monotonic() + 60
        while not any(r["alive"] for r in api.request("GET", "/agents")["agents"]):
            if time.monotonic() > deadline:
                raise RuntimeError("the OVS agent did not come up")
            time.sleep(0.2)
        net = api.request("POST", "/networks", {"network": {"name": "boot"}})["network"]
        api.request("POST", "/subnets", {"subnet": {
            "network_id": net["id"], "cidr": "10.98.0.0/22", "ip_version": 4,
            "enable_dhcp": False}})
        lock = threading.Lock()
        # where a boot's time goes: the real _plug / _wait_active wrapped to note when
        # each starts (per thread: one boot per thread)
        marks: dict[int, dict[str, float]] = {}
        real_plug, real_wait = instance._plug, instance._wait_active

        def noted(what: str, fn: Any) -> Any:
            def wrapper(*a: Any, **kw: Any) -> Any:
                marks.setdefault(threading.get_ident(), {})[what] = time.monotonic()
                return fn(*a, **kw)
            return wrapper

        instance._plug = noted("plug", real_plug)  # type: ignore[assignment]
        instance._wait_active = noted("wait", real_wait)  # type: ignore[assignment]
        phases: dict[str, list[float]] = {"API: port create + bind": [],
                                          "plug (netns, veth, ovs-vsctl)": [],
                                          "plugged -> ACTIVE (agent)": []}

        def boot(name: str, out: list[float], errors: list[str]) -> None:
            t0 = time.monotonic()
            try:
                vm = instance.boot(api, name, net["id"], "h1", host_namespace=host.ns,
                                   namespace=f"{prefix}o-{name}", dhcp=False,
                                   project_id=PROJECT, timeout=60,
                                   ovsdb_connection=ovs.connection if ovs else None)
            except Exception as e:
                errors.append(f"{name}: {e}")
                return
            t1 = time.monotonic()
            m = marks.pop(threading.get_ident(), {})
            with lock:
                out.append(t1 - t0)
                booted.append(vm)
                if out is together and "plug" in m and "wait" in m:
                    phases["API: port create + bind"].append(m["plug"] - t0)
                    phases["plug (netns, veth, ovs-vsctl)"].append(m["wait"] - m["plug"])
                    phases["plugged -> ACTIVE (agent)"].append(t1 - m["wait"])

        seq: list[float] = []
        together: list[float] = []
        errors: list[str] = []
        for i in range(sequential):
            boot(f"s{i}", seq, errors)
        if seq:
            report(f"boot -> ACTIVE, {sequential} one after the other", seq)
        log_before = len(agent.log().splitlines())
        threads = [threading.Thread(target=boot, args=(f"b{i}", together, errors))
                   for i in range(burst)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if together:
            report(f"boot -> ACTIVE, burst of {burst} at once "
                   f"(all ACTIVE after {time.monotonic() - t0:.2f} s)", together)
            for what, values in phases.items():
                if values:
                    report(f"  of which {what}", values)
            # the agent's passes meanwhile (its log: "resync of [...] done in X s")
            passes = [float(line.rsplit(" done in ", 1)[1].split()[0])
                      for line in agent.log().splitlines()[log_before:]
                      if " done in " in line and "resync of" in line]
            if passes:
                print(f"  agent passes during the burst: {len(passes)}, "
                      f"{sum(passes):.2f} s in all, longest {max(passes):.3f} s")
        if errors:
            print("errors:", *errors, sep="\n  ")
    finally:
        for vm in booted:
            try:
                instance.delete(api, vm.name,
                                host_namespace=topo.hosts["h1"].ns,
                                namespace=vm.namespace,
                                ovsdb_connection=ovs.connection if ovs else None)
            except Exception as e:  # keep cleaning up
                print(f"deleting {vm.name}: {e}")
        if agent is not None:
            agent.stop()
        server.stop()
        if ovs is not None:
            ovs.stop()
        for ns in namespaces.list_namespaces(prefix):
            namespaces.delete_namespace(ns)
        topo.cleanup()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequential", type=int, default=20)
    ap.add_argument("--burst", type=int, default=20)
    ap.add_argument("--firewall", default="noop", choices=("noop", "openvswitch"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (namespaces, ovs-vswitchd)", file=sys.stderr)
        return 2
    run(args.sequential, args.burst, args.firewall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
