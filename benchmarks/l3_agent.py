"""L3 agent convergence (root; nft, conntrack, arping). Results: benchmarks/AGENTS.md.

The agent is driven in-process with a desired-state dict (as in
tests/dataplane/test_l3_agent.py, no server) against a host namespace with an external
bridge and an "external" namespace. For each N: a router with a gateway, 1 interface and N
floating IPs converged from nothing; the same state again once its gratuitous ARPs are
done (nothing to do: what a restart or periodic resync costs); one more floating IP added;
then the router removed.

    .venv/bin/python -m benchmarks.l3_agent --fips 1 10 100 250

Everything created is removed on exit.
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import sys
import time
import uuid
from typing import Any

from tests.dataplane.topology import Topology, random_mac

from neutrino import config, protocol
from neutrino.agent.l3.agent import L3Agent, register_opts
from neutrino.agent.linux import devices, namespaces
from neutrino.protocol import l3


class NoBus:
    def cast(self, topic: str, message: dict[str, Any]) -> None:
        pass


def port(network_id: str, ip: str, prefixlen: int) -> dict[str, Any]:
    return {"port_id": str(uuid.uuid4()), "mac_address": random_mac(),
            "network_id": network_id, "mtu": 1500,
            "fixed_ips": [{"subnet_id": "s", "ip_address": ip, "prefixlen": prefixlen}]}


def router_with(n: int) -> dict[str, Any]:
    ext = ipaddress.ip_network("100.64.0.0/16")  # room for many floating IPs
    gw = port("ext", str(ext.network_address + 2), 16) | {
        "enable_snat": True, "gateway_ips": [str(ext.network_address + 1)]}
    fips = [{"id": str(uuid.uuid4()), "floating_ip_address": str(ext.network_address + 10 + i),
             "fixed_ip_address": str(ipaddress.ip_address("10.0.0.0") + 10 + i),
             "port_id": str(uuid.uuid4())} for i in range(n)]
    return {"id": str(uuid.uuid4()), "project_id": "p", "admin_state_up": True,
            "gateway": gw, "interfaces": [port("int", "10.0.0.1", 16)], "routes": [],
            "floating_ips": fips}


def timed(agent: L3Agent, routers: list[dict[str, Any]]) -> float:
    state, invalid = protocol.decode_host_state({"host": "h1", "routers": routers},
                                                l3.HostState)
    started = time.monotonic()
    agent.reconcile(state, None, invalid)
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fips", type=int, nargs="+", default=[1, 10, 100])
    args = ap.parse_args(argv)
    topo = Topology(prefix=f"bl3{secrets.token_hex(2)}-")
    prefix = topo.prefix + "r-"
    try:
        host = topo.host("h1")
        devices.ensure_bridge("brq-ext", netns=host.ns)
        conf = config.make_conf([])
        register_opts(conf)
        for name, value in {"host": "h1", "host_namespace": host.ns,
                            "namespace_prefix": prefix, "send_arp_for_ha": 1}.items():
            conf.set_override(name, value)
        agent = L3Agent(conf, bus=NoBus())  # type: ignore[arg-type]
        print("fips  converge_s  noop_s  add_one_s  remove_s")
        for n in args.fips:
            router = router_with(n)
            fresh = timed(agent, [router])
            agent.stop_workers()  # let its gratuitous ARPs finish (they compete for CPU)
            noop = timed(agent, [router])
            grown = router_with(0) | {"id": router["id"], "gateway": router["gateway"],
                                      "interfaces": router["interfaces"]}
            grown["floating_ips"] = [*router["floating_ips"], {
                "id": str(uuid.uuid4()), "floating_ip_address": "100.64.255.250",
                "fixed_ip_address": "10.0.255.250", "port_id": str(uuid.uuid4())}]
            add_one = timed(agent, [grown])
            removed = timed(agent, [])
            print(f"{n:4d}  {fresh:10.3f}  {noop:6.3f}  {add_one:9.3f}  {removed:8.3f}")
        agent.stop_workers()
    finally:
        for ns in namespaces.list_namespaces(prefix):
            namespaces.delete_namespace(ns)
        topo.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
