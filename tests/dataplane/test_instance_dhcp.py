"""The instance's DHCP client (busybox udhcpc + neutrino's action script) against a real
dnsmasq: address, MTU (option 26), classless routes (121) or router (3), resolv.conf."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from neutrino.agent.linux import devices, namespaces
from neutrino.compute import instance
from tests.dataplane.topology import Topology

MAC = "fa:16:3e:12:34:56"


def _client_missing() -> str | None:
    if not (shutil.which("udhcpc") or shutil.which("busybox")):
        return "no DHCP client (apt: busybox)"
    if not shutil.which("dnsmasq"):
        return "dnsmasq not installed (apt: dnsmasq-base)"
    return None


@pytest.fixture
def dhcp_pair(topology: Callable[[], Topology], tmp_path: Path,
              ) -> Iterator[Callable[[list[str]], str]]:
    """Factory: an instance namespace (eth0 with MAC) wired to a server namespace whose
    dnsmasq runs with the given extra options; returns the instance namespace."""
    reason = _client_missing()
    if reason:
        pytest.skip(reason)
    procs: list[subprocess.Popen[bytes]] = []
    made: list[str] = []

    def make(options: list[str]) -> str:
        topo = topology()
        srv = topo.namespace("dhcpsrv")
        inst = topo.namespace("vm")
        made.append(inst)
        devices.ensure_veth("srv0", "eth0", peer_netns=inst, mtu=1500, netns=srv)
        devices.set_mac_address("eth0", MAC, netns=inst)
        devices.add_address("srv0", "10.99.9.1/24", netns=srv)
        (Path("/etc/netns") / inst).mkdir(parents=True, exist_ok=True)
        (Path("/etc/netns") / inst / "resolv.conf").touch()
        proc = namespaces.spawn(
            ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0",
             "--interface=srv0", "--bind-interfaces", "--dhcp-authoritative",
             f"--dhcp-leasefile={tmp_path / 'leases'}", f"--pid-file={tmp_path / 'pid'}",
             "--dhcp-range=10.99.9.0,static,255.255.255.0,1h",
             f"--dhcp-host={MAC},10.99.9.5", *options], srv,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        return inst

    try:
        yield make
    finally:
        for p in procs:
            p.kill()
            p.wait(5)
        for ns in made:
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)


def test_udhcpc_sets_address_mtu_router_and_dns(dhcp_pair: Callable[[list[str]], str]
                                                ) -> None:
    ns = dhcp_pair(["--dhcp-option=3,10.99.9.1", "--dhcp-option=26,1400",
                    "--dhcp-option=6,10.99.9.53", "--domain=openstacklocal"])
    cidrs = instance._dhcp(ns, "vm", timeout=10)
    assert cidrs == ["10.99.9.5/24"]
    assert devices.get_device("eth0", ns).mtu == 1400
    routes = {(r.dst, r.via) for r in devices.list_routes(ns)}
    assert ("default", "10.99.9.1") in routes
    resolv = (Path("/etc/netns") / ns / "resolv.conf").read_text()
    assert "nameserver 10.99.9.53" in resolv
    assert "search openstacklocal" in resolv


def test_udhcpc_prefers_classless_static_routes(dhcp_pair: Callable[[list[str]], str]
                                                ) -> None:
    ns = dhcp_pair(["--dhcp-option=3,10.99.9.1",
                    "--dhcp-option=121,192.168.50.0/24,10.99.9.254,0.0.0.0/0,10.99.9.2"])
    instance._dhcp(ns, "vm", timeout=10)
    routes = {(r.dst, r.via) for r in devices.list_routes(ns)}
    assert ("192.168.50.0/24", "10.99.9.254") in routes
    assert ("default", "10.99.9.2") in routes
    assert ("default", "10.99.9.1") not in routes  # RFC 3442: option 3 ignored


def test_no_server_fails_with_a_clear_error(topology: Callable[[], Topology]) -> None:
    if _client_missing():
        pytest.skip(_client_missing())
    topo = topology()
    ns = topo.namespace("lonely")
    other = topo.namespace("void")
    devices.ensure_veth("v0", "eth0", peer_netns=ns, netns=other)
    with pytest.raises(instance.BootError, match="no DHCP lease"):
        instance._dhcp(ns, "lonely", timeout=2)
