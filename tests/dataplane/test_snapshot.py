"""The bulk reader (iproute2 JSON) sees exactly what the netlink readers see: plans made from
it must compare equal to the kernel, or an agent would rebuild a converged host."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from neutrino.agent.linux import devices, snapshot, vxlan
from tests.dataplane.conftest import Features
from tests.dataplane.topology import UNDERLAY_DEV, Topology


@pytest.fixture(autouse=True)
def _need_vxlan(features: Features) -> None:
    features.require("vxlan")


def test_snapshot_matches_netlink_readers(topology: Callable[[], Topology]) -> None:
    topo = topology()
    host = topo.host("h1")
    ns = host.ns
    devices.ensure_bridge("brq-a", mtu=1450, netns=ns)
    vxlan.ensure_vxlan(101, host.ip, UNDERLAY_DEV, mtu=1450, netns=ns)
    devices.set_master("vxlan-101", "brq-a", netns=ns)
    vxlan.ensure_vxlan(102, host.ip, UNDERLAY_DEV, l2pop=False, group="239.1.1.2", netns=ns)
    devices.ensure_veth("tap-x", "peer-x", mtu=1450, netns=ns)
    devices.set_master("tap-x", "brq-a", netns=ns)
    devices.set_down("peer-x", netns=ns)
    vxlan.sync_fdb("vxlan-101", ["192.0.2.12", "192.0.2.13"],
                   {"fa:16:3e:00:00:02": "192.0.2.12", "fa:16:3e:00:00:03": "192.0.2.13"},
                   {"10.99.0.2": "fa:16:3e:00:00:02", "fd00::3": "fa:16:3e:00:00:03"},
                   netns=ns)

    snap = snapshot.read(ns, ["vxlan-101", "vxlan-102", "missing"])
    for name in ("brq-a", "vxlan-101", "vxlan-102", "tap-x", "peer-x", UNDERLAY_DEV, "lo"):
        assert snap.devices[name] == devices.get_device(name, ns), name
    assert snap.vxlans["vxlan-101"] == vxlan.get_vxlan("vxlan-101", ns)
    assert snap.vxlans["vxlan-102"] == vxlan.get_vxlan("vxlan-102", ns)
    assert snap.vxlans["vxlan-102"].group == "239.1.1.2"
    assert snap.fdb["vxlan-101"] == vxlan.get_fdb_state("vxlan-101", ns)
    assert snap.fdb["vxlan-102"] == vxlan.get_fdb_state("vxlan-102", ns)
    assert "missing" not in snap.fdb
    assert snap.addresses[host.ip] == UNDERLAY_DEV
    names = {n for n, _ in snapshot.link_names(ns, "tap")}
    assert names == {"tap-x"}
