"""The Open vSwitch agent's resync core at scale, on a real ovsdb-server + ovs-vswitchd
(userspace datapath) in a namespace of its own: the agent's own planning (agent/ovs/plan.py)
and executors (ovsdbapp, ``ovs-ofctl --bundle replace-flows``) for a host whose networks
have N remote ports (l2population: a unicast flow and an ARP-responder flow each) spread
over 20 other hosts and 10 VXLAN networks.

Figures (docs/ovs-agent.md, benchmarks/README.md):

- cold: bridges, patch and tunnel ports in one OVSDB transaction, then every flow;
- resync, nothing changed (what a restarted agent does): read OVSDB, plan, replace-flows
  finds nothing to send;
- one remote port more: the same, one flow pair sent.

    .venv/bin/python benchmarks/ovs_flows.py --ports 1000,2000,4000     (root)
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

from neutrino.agent.linux import namespaces
from neutrino.agent.ovs import plan as p
from neutrino.agent.ovs.config import OvsConfig
from neutrino.agent.ovs.model import L2pop, NetworkSpec, PortSpec
from neutrino.agent.ovs.ofctl import Ofctl
from neutrino.agent.ovs.ovsdb import Ovsdb

CONF = OvsConfig(local_ip="192.0.2.1", datapath_type="netdev", tunnel_types=("vxlan",))
NETWORKS, HOSTS = 10, 20


def desired(n_ports: int, local: dict[str, str]) -> dict[str, NetworkSpec]:
    """10 networks, each with one local port (iface-id in ``local``) and its share of
    ``n_ports`` remote ones."""
    out = {}
    for i in range(NETWORKS):
        nid = str(uuid.UUID(int=i + 1))
        unicast, neigh = {}, {}
        for j in range(i, n_ports, NETWORKS):
            mac = f"fa:16:3e:{j >> 16 & 255:02x}:{j >> 8 & 255:02x}:{j & 255:02x}"
            unicast[mac] = f"192.0.2.{10 + j % HOSTS}"
            neigh[f"10.{i}.{j >> 8 & 255}.{j & 255}"] = mac
        out[nid] = NetworkSpec(
            id=nid, network_type="vxlan", physical_network=None, segmentation_id=1000 + i,
            mtu=1450, ports=(PortSpec(local[nid]),),
            l2pop=L2pop(flood=tuple(sorted(set(unicast.values()))), unicast=unicast,
                        neigh=neigh))
    return out


def resync(db: Ovsdb, ofctl: Ofctl, want: dict[str, NetworkSpec]) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    bridges = [CONF.integration_bridge, CONF.tunnel_bridge]
    observed = db.read(bridges)
    plan1 = p.plan_ovsdb(want, None, observed, CONF, 0x1234)
    db.apply(plan1.ops)
    if plan1.ops:
        observed = db.read(bridges)
    assert observed.cookie is not None
    flows = p.plan_flows(want, plan1.lvids, observed, CONF)
    for br, lines in flows.items():
        ofctl.replace(br, lines, observed.cookie)
    return time.perf_counter() - t0, len(plan1.ops), sum(len(f) for f in flows.values())


def run(n_ports: int, workdir: Path) -> None:
    ns = f"ovsbench-{uuid.uuid4().hex[:6]}"
    namespaces.create_namespace(ns)
    host = OvsHost(ns, workdir / f"ovs-{n_ports}")
    try:
        host.start()
        local = {str(uuid.UUID(int=i + 1)): f"local-{i}" for i in range(NETWORKS)}
        host.vsctl("add-br", "br-int", "--", "set", "Bridge", "br-int", "datapath_type=netdev")
        for i, (_nid, iid) in enumerate(local.items()):
            host.vsctl("add-port", "br-int", f"vm{i}", "--", "set", "Interface", f"vm{i}",
                       "type=internal", f"external_ids:iface-id={iid}")
        db = Ovsdb(host.connection, 30)
        ofctl = Ofctl(str(host.dir))
        try:
            want = desired(n_ports, local)
            cold, ops, nflows = resync(db, ofctl, want)
            idle, ops2, _ = resync(db, ofctl, want)
            assert ops2 == 0, ops2
            nid = next(iter(want))
            net = want[nid]
            assert net.l2pop is not None
            more = NetworkSpec(**{**net.__dict__, "l2pop": L2pop(
                flood=net.l2pop.flood,
                unicast={**net.l2pop.unicast, "fa:16:3e:ff:ff:ff": "192.0.2.10"},
                neigh={**net.l2pop.neigh, "10.99.99.99": "fa:16:3e:ff:ff:ff"})})
            one, _, _ = resync(db, ofctl, {**want, nid: more})
            dumped = len(ofctl.dump("br-tun")) + len(ofctl.dump("br-int"))
            print(f"{n_ports:5d} remote ports: {nflows} flows "
                  f"({dumped} in the switch after one more), "
                  f"{ops} OVSDB ops; cold {cold:.2f} s, resync unchanged {idle:.2f} s, "
                  f"one port more {one:.2f} s")
        finally:
            db.close()
    finally:
        host.stop()
        namespaces.delete_namespace(ns)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ports", default="1000,2000,4000")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (namespaces, ovs-vswitchd)", file=sys.stderr)
        return 2
    subprocess.run(["ovs-vsctl", "--version"], check=True, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="ovsbench-") as tmp:
        for n in (int(x) for x in args.ports.split(",")):
            run(n, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
