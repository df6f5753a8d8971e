"""extra_dhcp_opt, pure parts: the API validator, and what the DHCP agent gives dnsmasq for
a port's own options (the port's tag on the command line, options file lines) and when it
reloads or restarts dnsmasq for them."""

from __future__ import annotations

from typing import Any

import pytest
from tests.unit.test_dhcp_render import (
    DHCP_PORT,
    PORT_A,
    PORT_B,
    SETTINGS,
    SUB4,
    SUB6,
    network,
    parse_network,
    port,
    subnet,
)

from neutrino.agent.dhcp import render
from neutrino.agent.dhcp.model import DesiredStateError
from neutrino.schema.extra_dhcp_opt import extra_dhcp_opts


# --- validation --------------------------------------------------------------------------------
def test_validator_normalizes() -> None:
    assert extra_dhcp_opts(None) is None
    assert extra_dhcp_opts([]) == []
    assert extra_dhcp_opts([
        {"opt_name": "ntp-server", "opt_value": "10.0.0.9"},
        {"opt_name": "ntp-server", "opt_value": "fd00::9", "ip_version": "6"},
        {"opt_name": "router", "opt_value": ""},
        {"opt_name": "42", "opt_value": None, "ip_version": 4},
    ]) == [
        {"opt_name": "ntp-server", "opt_value": "10.0.0.9", "ip_version": 4},
        {"opt_name": "ntp-server", "opt_value": "fd00::9", "ip_version": 6},
        {"opt_name": "router", "opt_value": "", "ip_version": 4},
        {"opt_name": "42", "opt_value": None, "ip_version": 4},
    ]


@pytest.mark.parametrize("value, message", [
    ("x", "'x' is not a list"),
    (["x"], "'x' is not a dictionary"),
    ([{"opt_name": "a"}], "Validation of dictionary's keys failed"),
    ([{"opt_name": "a", "opt_value": "b", "color": 1}], "Validation of dictionary's keys"),
    ([{"opt_name": "", "opt_value": "b"}], "Blank strings are not permitted"),
    ([{"opt_name": "a", "opt_value": ""}], "Blank strings are not permitted"),
    ([{"opt_name": "a", "opt_value": 5}], "'5' is not a valid string"),
    ([{"opt_name": "a", "opt_value": "x\ndhcp-range=evil"}], "Multi-line string"),
    ([{"opt_name": "a\r", "opt_value": "x"}], "Multi-line string"),
    ([{"opt_name": "a", "opt_value": "x\x00"}], "is not a valid string"),
    ([{"opt_name": "a" * 65, "opt_value": "x"}], "exceeds maximum length of 64"),
    ([{"opt_name": "a", "opt_value": "x" * 256}], "exceeds maximum length of 255"),
    ([{"opt_name": "a", "opt_value": "x", "ip_version": 5}], "5 is not in valid_values"),
    ([{"opt_name": "a", "opt_value": "x", "ip_version": "four"}], "is not an integer"),
    ([{"opt_name": "a", "opt_value": "x", "ip_version": True}], "not in valid_values"),
    ([{"opt_name": "a", "opt_value": "x"}, {"opt_name": "a", "opt_value": "y",
                                             "ip_version": 4}],
     "Duplicate option 'a' for IP version 4"),
])
def test_validator_refuses(value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        extra_dhcp_opts(value)


# --- rendering ---------------------------------------------------------------------------------
def opts(*items: tuple[str, str, int]) -> list[dict[str, Any]]:
    return [{"opt_name": n, "opt_value": v, "ip_version": ver} for n, v, ver in items]


def test_port_options_are_tagged_per_port() -> None:
    net = parse_network(network(ports=[
        port(DHCP_PORT, "fa:16:3e:00:00:02", (SUB4, "10.99.0.2"), device_owner="network:dhcp"),
        port(PORT_A, "fa:16:3e:00:00:05", (SUB4, "10.99.0.5"), extra_dhcp_opts=opts(
            ("ntp-server", "10.99.0.9", 4), ("252", "http://wpad/wpad.dat", 4),
            ("router", "", 4), ("tag:ipxe,bootfile-name", "boot.ipxe", 4),
            ("ntp-server", "fd00::9", 6))),  # no IPv6 address: nothing for IPv6
        port(PORT_B, "fa:16:3e:00:00:06", (SUB4, "10.99.0.6")),
    ]))
    # hosts lines never set tags (dnsmasq 2.90 crashes after a SIGHUP): the command line does
    assert render.render_hosts(net).splitlines() == [
        "fa:16:3e:00:00:05,host-10-99-0-5,10.99.0.5",
        "fa:16:3e:00:00:06,host-10-99-0-6,10.99.0.6",
        "fa:16:3e:00:00:02,host-10-99-0-2,10.99.0.2",
    ]
    argv = render.dnsmasq_argv(net, render.NetworkFiles("/x"), SETTINGS)
    assert [a for a in argv if a.startswith("--dhcp-mac")] == [
        f"--dhcp-mac=set:port-{PORT_A},fa:16:3e:00:00:05"]
    assert argv.index(f"--dhcp-mac=set:port-{PORT_A},fa:16:3e:00:00:05") > max(
        i for i, a in enumerate(argv) if a.startswith("--dhcp-range"))
    lines = render.render_opts(net, SETTINGS).splitlines()
    tag = f"tag:port-{PORT_A}"
    # after the subnets' own options, in the order the server gave them
    assert lines[-4:] == [
        f"{tag},option:ntp-server,10.99.0.9",
        f"{tag},252,http://wpad/wpad.dat",
        f"{tag},option:router",
        f"{tag},tag:ipxe,option:bootfile-name,boot.ipxe",
    ]
    assert not any(PORT_B in line for line in lines)


def test_ipv6_port_options() -> None:
    net = parse_network(network(
        subnets=[subnet(), subnet(SUB6, "fd00::/64", ipv6_address_mode="dhcpv6-stateful",
                                  ipv6_ra_mode="dhcpv6-stateful")],
        ports=[port(PORT_A, "fa:16:3e:00:00:05", (SUB4, "10.99.0.5"), (SUB6, "fd00::5"),
                    extra_dhcp_opts=opts(("ntp-server", "fd00::9", 6)))]))
    hosts = render.render_hosts(net).splitlines()
    assert "fa:16:3e:00:00:05,host-fd00--5,[fd00::5]" in hosts
    assert "fa:16:3e:00:00:05,host-10-99-0-5,10.99.0.5" in hosts
    # the tag (by MAC) is the same for both versions: an option6 line only ever goes in a
    # DHCPv6 reply
    assert render.port_tags(net) == [f"set:port-{PORT_A},fa:16:3e:00:00:05"]
    assert render.render_opts(net, SETTINGS).splitlines()[-1] == (
        f"tag:port-{PORT_A},option6:ntp-server,fd00::9")


def test_options_of_a_version_the_port_has_no_address_of_tag_nothing() -> None:
    net = parse_network(network(ports=[
        port(PORT_A, "fa:16:3e:00:00:05", (SUB4, "10.99.0.5"),
             extra_dhcp_opts=opts(("ntp-server", "fd00::9", 6)))]))
    assert render.port_tags(net) == []
    assert f"port-{PORT_A}" not in render.render_opts(net, SETTINGS)


@pytest.mark.parametrize("bad, why", [
    ({"opt_name": "a", "opt_value": "x\ndhcp-range=1"}, "bad extra DHCP option"),
    ({"opt_name": "", "opt_value": "x"}, "bad extra DHCP option"),
    ({"opt_name": "a", "opt_value": "x", "ip_version": 5}, "bad extra DHCP option"),
    # refused by the protocol's types already
    ({"opt_value": "x"}, "missing required field `opt_name`"),
    ("ntp-server", "Expected `object`, got `str`"),
])
def test_agent_refuses_what_would_break_the_file(bad: Any, why: str) -> None:
    raw = network(ports=[port(PORT_A, "fa:16:3e:00:00:05", (SUB4, "10.99.0.5"),
                              extra_dhcp_opts=[bad])])
    with pytest.raises(DesiredStateError, match=why):
        parse_network(raw)


def test_only_a_ports_first_option_restarts_dnsmasq() -> None:
    """A value added, changed or removed: SIGHUP (the options file); a port losing its
    last option, or deleted: SIGHUP too (the running dnsmasq's extra --dhcp-mac tag is
    harmless); a port getting its first option: restart (its --dhcp-mac); a hosts file
    with set: tags from an older agent: restart, never SIGHUP."""
    from neutrino.agent.dhcp import plan
    from neutrino.agent.dhcp.render import NetworkFiles

    files = NetworkFiles("/var/lib/neutrino/dhcp/x")

    def net_with(*items: tuple[str, str, int]) -> Any:
        return parse_network(network(ports=[port(PORT_A, "fa:16:3e:00:00:05",
                                                 (SUB4, "10.99.0.5"),
                                                 extra_dhcp_opts=opts(*items))]))

    def observed(net: Any, **override: str) -> plan.Observed:
        have = {**plan.render_files(net, SETTINGS), **override}
        return plan.Observed(pid=7, argv=tuple(render.dnsmasq_argv(net, files, SETTINGS)),
                             files=have, loaded=f"7 {plan.digest(have)}")

    plain, one = net_with(), net_with(("42", "10.0.0.1", 4))
    changed = net_with(("42", "10.0.0.2", 4))
    more = net_with(("42", "10.0.0.2", 4), ("252", "http://w/w.dat", 4))
    # (a removal brings no new line of the port: nothing to report)
    for before, after, ready in ((one, changed, (PORT_A,)), (changed, more, (PORT_A,)),
                                 (more, changed, ())):
        p = plan.plan_dnsmasq(after, SETTINGS, files, observed(before))
        assert (p.action, p.write, p.ready_ports) == (plan.RELOAD, ("opts",), ready)
    p = plan.plan_dnsmasq(one, SETTINGS, files, observed(plain))
    assert (p.action, p.reason) == (plan.RESTART, "a port got DHCP options of its own")
    assert f"--dhcp-mac=set:port-{PORT_A},fa:16:3e:00:00:05" in p.argv
    p = plan.plan_dnsmasq(plain, SETTINGS, files, observed(one))
    assert (p.action, p.write) == (plan.RELOAD, ("opts",))
    assert not any(a.startswith("--dhcp-mac") for a in p.argv)  # for a later (re)start
    # ... and a port deleted with its options
    gone = parse_network(network(ports=[]))
    running = observed(one)
    p = plan.plan_dnsmasq(gone, SETTINGS, files, running)
    assert p.action == plan.RELOAD
    # the same MAC on another port with options: a tag the running dnsmasq lacks
    other = parse_network(network(ports=[port(PORT_B, "fa:16:3e:00:00:05",
                                              (SUB4, "10.99.0.5"),
                                              extra_dhcp_opts=opts(("42", "10.0.0.1", 4)))]))
    assert plan.plan_dnsmasq(other, SETTINGS, files, running).action == plan.RESTART
    # anything else on the command line still restarts
    assert plan.restart_reason(running.argv or (), tuple(
        render.dnsmasq_argv(one, files, render.DnsmasqSettings(lease_duration=60)))) == (
        "command line changed")
    assert plan.plan_dnsmasq(one, SETTINGS, files, observed(one)).action is None
    old_host = "fa:16:3e:00:00:05,host-10-99-0-5,10.99.0.5,set:port-" + PORT_A + "\n"
    p = plan.plan_dnsmasq(one, SETTINGS, files, observed(one, host=old_host))
    assert (p.action, p.reason) == (plan.RESTART, "tagged hosts file (no safe SIGHUP)")
