"""Instances on one host's Linux bridge, plugged the way the linuxbridge agent will."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from neutrino.agent.linux import devices, names
from tests.dataplane.topology import Topology


def test_two_instances_on_one_bridge_ping(topology: Callable[[], Topology]) -> None:
    topo = topology()
    host = topo.host("h1")
    bridge = names.bridge_name(str(uuid.uuid4()))
    devices.ensure_bridge(bridge, netns=host.ns)
    a = topo.instance("a", host, bridge, "10.99.1.1/24")
    b = topo.instance("b", host, bridge, "10.99.1.2/24")

    result = a.ping(b)
    assert result.returncode == 0, result.stdout + result.stderr
    assert b.can_reach(a)

    # Both taps are ports of the bridge, named after their ports.
    ports = {d.name: d for d in devices.list_devices("tap", netns=host.ns)}
    assert set(ports) == {a.tap, b.tap}
    assert all(d.master == bridge and d.up for d in ports.values())


def test_instance_reaches_external_namespace_on_provider_bridge(
    topology: Callable[[], Topology],
) -> None:
    topo = topology()
    host = topo.host("h1")
    devices.ensure_bridge("br-ex", netns=host.ns)
    ext = topo.external(host, "br-ex", "203.0.113.1/24")
    inst = topo.instance("a", host, "br-ex", "203.0.113.10/24")
    assert inst.can_reach(ext)


def test_detached_port_stops_traffic(topology: Callable[[], Topology]) -> None:
    topo = topology()
    host = topo.host("h1")
    devices.ensure_bridge("brq-test", netns=host.ns)
    a = topo.instance("a", host, "brq-test", "10.99.1.1/24")
    b = topo.instance("b", host, "brq-test", "10.99.1.2/24")
    assert a.can_reach(b)
    devices.detach(b.tap, netns=host.ns)
    a.forget_neighbours()
    assert not a.can_reach(b)
    devices.set_master(b.tap, "brq-test", netns=host.ns)
    assert a.can_reach(b)
