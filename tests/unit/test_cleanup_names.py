"""What ``neutrino host cleanup`` takes for its own: name and kind must both match."""

from __future__ import annotations

from neutrino.agent.linux.devices import Device
from neutrino.cli.cleanup import is_agent_namespace, is_our_device

NET = "3f2c1a7e-1b2c-4d5e-8f90-123456789abc"


def _dev(name: str, kind: str | None) -> Device:
    return Device(name=name, index=1, kind=kind, mtu=1500, up=True, operstate="UP",
                  mac=None, master=None)


def test_agent_namespaces_need_the_prefix_and_a_whole_uuid() -> None:
    assert is_agent_namespace(f"qdhcp-{NET}")
    assert is_agent_namespace(f"qrouter-{NET}")
    assert is_agent_namespace(f"p1-qrouter-{NET}", "p1-")
    assert not is_agent_namespace(f"qrouter-{NET}", "p1-")
    assert not is_agent_namespace(f"p2-qrouter-{NET}", "p1-")
    assert not is_agent_namespace("qdhcp-mine")
    assert not is_agent_namespace(f"qdhcp-{NET}-x")


def test_devices_by_name_and_kind() -> None:
    assert is_our_device(_dev("brq3f2c1a7e-1b", "bridge"))
    assert is_our_device(_dev("vxlan-6001", "vxlan"))
    for prefix in ("tap", "ns-", "qr-", "qg-"):
        assert is_our_device(_dev(f"{prefix}3f2c1a7e-1b", "veth"))
    assert not is_our_device(_dev("tap3f2c1a7e-1b", "tun"))  # a Nova/libvirt tap
    assert not is_our_device(_dev("brq3f2c1a7e-1b", "veth"))
    assert not is_our_device(_dev("br-ex", "bridge"))  # an operator's bridge
    assert not is_our_device(_dev("br-ex", "openvswitch"))
    # the all-in-one's veth pair (cli/allinone_net.py)
    assert is_our_device(_dev("br-ex", "veth")) and is_our_device(_dev("ex-public", "veth"))
    assert not is_our_device(_dev("vxlan-0", "vxlan"))
    assert not is_our_device(_dev("tapfoo", "veth"))
    assert not is_our_device(_dev("eth1.100", "vlan"))


def test_allinone_names_agree() -> None:
    from neutrino.cli import allinone_net
    from neutrino.cli.cleanup import ALLINONE_VETHS

    assert ALLINONE_VETHS == (allinone_net.HOST_DEVICE, allinone_net.MAPPED_DEVICE)
