"""Security-group remote-group membership change -> enforced on the host (issue #5: within
1 s with 1000 ports in one remote group). Needs root, nft. Results: benchmarks/AGENTS.md.

    .venv/bin/python -m benchmarks.sg_membership agent --ports 1000 --events 20
    .venv/bin/python -m benchmarks.sg_membership server --ports 1000 --events 20

``server`` mode: the deployment of benchmarks/agents.py (a real neutrino server on SQLite,
RabbitMQ, one ``neutrino agent --role linuxbridge`` process per host namespace). ``--ports``
ports in the project's default group are created (bulk, bound to h2: members of the group
on another host), plus one bound to h1, so h1's set for the default group has
``--ports`` + 1 members. Each event creates (then deletes) one more port in the default
group through the API; the clock runs from the API call to the moment h1's kernel set has
(no longer has) its address: server transaction, hint over RabbitMQ, the agent's narrowed
get_host_state, the set update.

``agent`` mode: the real Linux bridge agent (LinuxBridgeAgent, its hint handling, narrowed
get_host_state call, firewall render and nft apply) in-process, programming a host
namespace; the server's side of get_host_state is played by a responder on the in-process
bus that answers from memory, so its time (reported separately) is near zero and the
server's real time for the narrowed query must be added (see AGENTS.md). The host has
``--ports`` filtered ports, all in one group whose ingress rule has that group as remote
group, so the remote-group set has ``--ports`` members; each event adds or removes one
member (a port of another host) and publishes {"security_groups": [sg]} to the host. The
clock runs from the publish to the moment ``nft get element`` in the host namespace sees
the change (polled; each poll is one nft process, ~5-10 ms).

Everything created (namespace, bridges) is removed on exit.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import statistics
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

from neutrino.agent.l2.firewall import render
from neutrino.agent.l2.linuxbridge import LinuxBridgeAgent
from neutrino.agent.linux import names, namespaces
from neutrino.bus import make_bus
from neutrino.config import make_conf

SG = "5e0c1a00-0000-4000-8000-00000000be01"
RULES = [{"id": "e4", "direction": "egress", "ethertype": "IPv4"},
         {"id": "i4", "direction": "ingress", "ethertype": "IPv4", "remote_group_id": SG}]


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


class Responder:
    """get_host_state from memory: one local network, ``n`` ports in SG, members."""

    def __init__(self, n: int) -> None:
        self.net = str(uuid.uuid4())
        base = ipaddress.ip_address("10.96.0.10")
        self.ports = [{"id": str(uuid.uuid4()), "mac_address": f"fa:16:3e:{i >> 16 & 255:02x}:"
                       f"{i >> 8 & 255:02x}:{i & 255:02x}",
                       "fixed_ips": [{"subnet_id": "s", "ip_address": str(base + i)}],
                       "admin_state_up": True, "device_owner": "compute:nova",
                       "port_security_enabled": True, "security_groups": [SG],
                       "allowed_address_pairs": []} for i in range(n)]
        for p in self.ports:
            p["device"] = names.tap_name(p["id"])
        self.members = [p["fixed_ips"][0]["ip_address"] for p in self.ports]
        self.lock = threading.Lock()
        self.narrowed_times: list[float] = []

    def groups(self) -> dict[str, Any]:
        return {"security_groups": {SG: {"rules": RULES}},
                "remote_groups": {SG: {"IPv4": list(self.members), "IPv6": []}}}

    def __call__(self, req: dict[str, Any]) -> dict[str, Any]:
        args = req.get("args") or {}
        method = req.get("method")
        if method != "get_host_state":
            return {}
        t0 = time.perf_counter()
        with self.lock:
            if args.get("security_group_ids"):
                out = {"host": args["host"], **self.groups()}
                self.narrowed_times.append(time.perf_counter() - t0)
                return out
            return {"host": args["host"],
                    "networks": [{"id": self.net, "network_type": "local", "mtu": 1500,
                                  "ports": self.ports, "l2pop": None}], **self.groups()}


def in_set(ns: str, ip: str, sg: str = SG) -> bool:
    return subprocess.run(["ip", "netns", "exec", ns, "nft", "get", "element", "inet",
                           render.TABLE, f"rg4-{sg}", f"{{ {ip} }}"],
                          capture_output=True).returncode == 0


def bench_agent(n_ports: int, events: int) -> None:
    ns = f"nb{secrets.token_hex(2)}-sg"
    url = f"inprocess://sgbench-{uuid.uuid4().hex[:8]}"
    namespaces.create_namespace(ns)
    server_bus = make_bus(make_conf([], overrides={"DEFAULT": {"transport_url": url}}))
    responder = Responder(n_ports)
    serving = server_bus.serve("plugin", responder, workers=2)
    conf = make_conf([], overrides={"DEFAULT": {"transport_url": url}})
    from neutrino.agent.l2 import linuxbridge

    linuxbridge.register_opts(conf)
    conf.set_override("host", "h1")
    conf.set_override("host_namespace", ns)
    conf.set_override("enable_vxlan", False, group="vxlan")
    conf.set_override("report_interval", 0, group="AGENT")
    conf.set_override("resync_interval", 3600, group="AGENT")
    conf.set_override("firewall_driver", "nftables", group="securitygroup")
    agent = LinuxBridgeAgent(conf, make_bus(conf))
    try:
        t0 = time.monotonic()
        agent.start()
        while agent.full_resync_count < 1:
            if agent.last_error is not None:
                raise RuntimeError(f"agent failed: {agent.last_error}")
            time.sleep(0.02)
        first = time.monotonic() - t0
        print(f"first full resync with {n_ports} filtered ports: {first:.2f} s "
              "(includes the whole ruleset in one nft transaction)")
        base = ipaddress.ip_address("10.97.0.10")
        times: list[float] = []
        applies: list[float] = []
        for i in range(events):
            ip = str(base + i // 2)
            join = i % 2 == 0
            with responder.lock:
                if join:
                    responder.members.append(ip)
                else:
                    responder.members.remove(ip)
            t = time.monotonic()
            server_bus.publish("host.h1", {"security_groups": [SG]})
            deadline = t + 10
            while in_set(ns, ip) != join:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"membership change {i} not enforced in 10 s")
            times.append(time.monotonic() - t)
            assert agent.firewall.last_result is not None
            applies.append(agent.firewall.last_result.seconds)
            if not agent.firewall.last_script.lstrip().startswith(
                    ("add element", "delete element")):
                raise RuntimeError("a membership change rewrote the tables")
        print(f"membership change -> in the kernel set, {events} events "
              f"({n_ports} members): p50 {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms")
        print(f"  of which the firewall update (render + nft): p50 "
              f"{statistics.median(applies) * 1000:.0f} ms, max {max(applies) * 1000:.0f} ms")
        srv = responder.narrowed_times
        print(f"responder time per narrowed get_host_state: p50 "
              f"{statistics.median(srv) * 1000:.2f} ms (in-memory stand-in for the server)")
        # for contrast: a rule change (the group's chains rewritten, not a set update)
        with responder.lock:
            RULES.append({"id": "x", "direction": "ingress", "ethertype": "IPv4",
                          "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
                          "remote_ip_prefix": "192.0.2.0/24"})
        t = time.monotonic()
        server_bus.publish("host.h1", {"security_groups": [SG]})
        while "192.0.2.0/24" not in subprocess.run(
                ["ip", "netns", "exec", ns, "nft", "list", "chain", "inet", render.TABLE,
                 f"sgi-{SG}"], capture_output=True, text=True).stdout:
            if time.monotonic() - t > 30:
                raise RuntimeError("rule change not applied in 30 s")
        print(f"rule change (group chains rewritten; {n_ports} ports rendered): "
              f"{time.monotonic() - t:.2f} s")
    finally:
        agent.stop()
        if agent.bus is not None:
            agent.bus.close()
        serving.close()
        server_bus.close()
        namespaces.delete_namespace(ns)


def _set_text(ns: str, sg: str) -> str:
    return subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "set", "inet",
                           render.TABLE, f"rg4-{sg}"], capture_output=True, text=True).stdout


def bench_server(n_ports: int, events: int) -> None:
    from benchmarks.agents import PROJECT, deployment

    with deployment(2) as b:
        ns = b.hosts["h1"].ns
        net = b.network("sg-bench")
        b.api.request("POST", "/subnets", {"subnet": {
            "network_id": net["id"], "cidr": "10.95.0.0/20", "ip_version": 4,
            "enable_dhcp": False}})
        b.api.request("PUT", f"/quotas/{PROJECT}", {"quota": {"port": n_ports + 100}})
        t0 = time.monotonic()
        for start in range(0, n_ports, 250):
            b.api.request("POST", "/ports", {"ports": [{
                "network_id": net["id"], "name": f"m{i}", "device_owner": "compute:nova",
                "device_id": str(uuid.uuid4()), "binding:host_id": "h2"}
                for i in range(start, min(n_ports, start + 250))]})
        print(f"created {n_ports} member ports (bulk) in {time.monotonic() - t0:.1f} s")
        mine = b.api.request("POST", "/ports", {"port": {
            "network_id": net["id"], "name": "h1-port", "device_owner": "compute:nova",
            "device_id": str(uuid.uuid4()), "binding:host_id": "h1"}})["port"]
        sg = mine["security_groups"][0]
        t0 = time.monotonic()
        while _set_text(ns, sg).count("10.95.") < n_ports + 1:
            if time.monotonic() - t0 > 120:
                raise RuntimeError("h1's set never got all members")
            time.sleep(0.2)
        took = time.monotonic() - t0
        print(f"h1's set of the default group has {n_ports + 1} members "
              f"({took:.1f} s after the last create)")
        if took > 2:
            lines = [ln for ln in b.agents["h1"].log().splitlines()
                     if any(w in ln for w in ("WARN", "ERROR", "failed", "done in",
                                              "firewall"))]
            print("\n".join(lines[-30:]))
        joins: list[float] = []
        leaves: list[float] = []
        api_times: list[float] = []
        log_from = len(b.agents["h1"].log())
        for i in range(events):
            t = time.monotonic()
            port = b.api.request("POST", "/ports", {"port": {
                "network_id": net["id"], "name": f"x{i}", "device_owner": "compute:nova",
                "device_id": str(uuid.uuid4())}})["port"]
            api_times.append(time.monotonic() - t)
            ip = port["fixed_ips"][0]["ip_address"]
            while not in_set(ns, ip, sg):
                if time.monotonic() - t > 10:
                    raise RuntimeError(f"{ip} not in h1's set after 10 s")
            joins.append(time.monotonic() - t)
            t = time.monotonic()
            b.api.request("DELETE", f"/ports/{port['id']}")
            while in_set(ns, ip, sg):
                if time.monotonic() - t > 10:
                    raise RuntimeError(f"{ip} still in h1's set after 10 s")
            leaves.append(time.monotonic() - t)
        fetch, apply, resyncs = [], [], []
        for line in b.agents["h1"].log()[log_from:].splitlines():
            if "resync of" in line and " done in " in line:
                resyncs.append(float(line.split(" done in ")[1].split()[0]))
            if "fetched in" in line and "firewall updated in" in line:
                words = line.split()
                fetch.append(float(words[words.index("fetched") + 2]))
                apply.append(float(words[words.index("updated") + 2]))
        for what, ts in (("  POST /ports returned", api_times),
                         ("  agent: narrowed get_host_state over RabbitMQ", fetch),
                         ("  agent: firewall update (render + nft)", apply),
                         ("  agent: network resyncs (the port's network hint)", resyncs)):
            if ts:
                print(f"{what}: p50 {statistics.median(ts) * 1000:.0f} ms, "
                      f"max {max(ts) * 1000:.0f} ms ({len(ts)} samples)")
        for what, ts in (("port created -> in h1's set", joins),
                         ("port deleted -> out of h1's set", leaves)):
            print(f"{what}, {events} events ({n_ports + 1} members): p50 "
                  f"{statistics.median(ts) * 1000:.0f} ms, p90 {pct(ts, 90) * 1000:.0f} ms, "
                  f"max {max(ts) * 1000:.0f} ms")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("agent")
    a.add_argument("--ports", type=int, default=1000)
    a.add_argument("--events", type=int, default=20)
    srv = sub.add_parser("server")
    srv.add_argument("--ports", type=int, default=1000)
    srv.add_argument("--events", type=int, default=20)
    args = ap.parse_args(argv)
    if args.mode == "agent":
        bench_agent(args.ports, args.events)
    else:
        bench_server(args.ports, args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
