"""Flows changed on an Open vSwitch host when one port joins a security group of N members
(``firewall_driver = openvswitch``; issue #12: O(1), not O(N)), on a real ovs-vswitchd
(userspace datapath) in a namespace of its own, with the agent's own planner
(agent/ovs/firewall.py) and executor (``ovs-ofctl --bundle replace-flows``).

The host has ``--local`` filtered ports on one network, all in group SG whose rules admit
TCP 5432 and ICMP from SG itself (remote group: conjunctions); SG has N members (the local
ports and N - local ports of other hosts). One more member joins; reported: br-int's flow
count, the flows ``replace-flows`` changes (``ovs-ofctl diff-flows``: added + removed), and
the time of the firewall's whole br-int replace (plan + replace-flows) before and after.

    flock /tmp/neutrino-dataplane.lock .venv/bin/python benchmarks/ovs_sg_membership.py \\
        --members 1000,2000,4000     (root)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.dataplane.ovs_support import OvsHost

from neutrino.agent.l2.firewall.model import FirewallState, FwPort, Rule
from neutrino.agent.linux import namespaces
from neutrino.agent.ovs.firewall import PortWiring, plan_firewall
from neutrino.agent.ovs.ofctl import Ofctl

SG = "5e0c1a00-0000-4000-8000-00000000be01"
RULES = (Rule("egress", "IPv4"),
         Rule("ingress", "IPv4", "tcp", 5432, 5432, remote_group_id=SG),
         Rule("ingress", "IPv4", "icmp", remote_group_id=SG))
LVID = 1


def addr(i: int) -> str:
    return f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def state(n_local: int, n_members: int) -> tuple[FirewallState, dict[str, PortWiring]]:
    ports, wiring = {}, {}
    for i in range(n_local):
        pid = str(uuid.UUID(int=i + 1))
        mac = f"fa:16:3e:00:{i >> 8 & 255:02x}:{i & 255:02x}"
        ports[f"tap{i}"] = FwPort(pid, f"tap{i}", "net", mac, (addr(i + 1),), "compute:nova",
                                  True, (SG,))
        wiring[pid] = PortWiring(10 + i, LVID)
    members = tuple(f"{addr(i + 1)}/32" for i in range(n_members))
    return (FirewallState(ports, {}, {SG: RULES}, {SG: {"IPv4": members, "IPv6": ()}}),
            wiring)


def run(n_members: int, n_local: int, workdir: Path) -> None:
    ns = f"ovsbench-{uuid.uuid4().hex[:6]}"
    namespaces.create_namespace(ns)
    host = OvsHost(ns, workdir / f"ovs-{n_members}")
    try:
        host.start()
        host.vsctl("add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev",
                   "fail_mode=secure")
        ofctl = Ofctl(str(host.dir))
        cookie = 0x1234
        t0 = time.perf_counter()
        st, wiring = state(n_local, n_members)
        before = plan_firewall(st, wiring)
        ofctl.replace("br-int", before, cookie)
        cold = time.perf_counter() - t0
        st2, _ = state(n_local, n_members + 1)
        after = plan_firewall(st2, wiring)
        changed = ofctl.diff("br-int", after, cookie)
        t1 = time.perf_counter()
        ofctl.replace("br-int", plan_firewall(st2, wiring), cookie)
        join = time.perf_counter() - t1
        assert len(ofctl.dump("br-int")) == len(after)
        print(f"{n_members:5d} members, {n_local} local ports: {len(before)} flows; "
              f"one member more changes {len(changed)} flow(s) "
              f"({sum(1 for c in changed if c.startswith('+'))} added); "
              f"cold {cold:.2f} s, join {join:.2f} s")
    finally:
        host.stop()
        namespaces.delete_namespace(ns)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--members", default="1000,2000,4000")
    ap.add_argument("--local", type=int, default=20)
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (namespaces, ovs-vswitchd)", file=sys.stderr)
        return 2
    subprocess.run(["ovs-vsctl", "--version"], check=True, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="ovsbench-") as tmp:
        for n in (int(x) for x in args.members.split(",")):
            run(n, args.local, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
