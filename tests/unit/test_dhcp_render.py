"""DHCP agent, pure parts: parsing the desired state, and dnsmasq's files and command line."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.agent.dhcp import model, render
from neutrino.agent.dhcp.model import DesiredStateError
from neutrino.agent.dhcp.render import DnsmasqSettings, NetworkFiles
from neutrino.protocol import ProtocolError, convert
from neutrino.protocol import dhcp as proto

NET = "3a2c9c1e-5b0f-4c6e-9d1a-2f8e7b6c5d4a"
SUB4 = "11111111-1111-4111-8111-111111111111"
SUB4B = "22222222-2222-4222-8222-222222222222"
SUB6 = "66666666-6666-4666-8666-666666666666"
DHCP_PORT = "dddddddd-0000-4000-8000-000000000001"
PORT_A = "aaaaaaaa-0000-4000-8000-000000000001"
PORT_B = "bbbbbbbb-0000-4000-8000-000000000002"
FILES = NetworkFiles(f"/var/lib/neutrino/dhcp/{NET}")
SETTINGS = DnsmasqSettings()


def parse_network(raw: dict[str, Any]) -> model.Network:
    """One network as the bus carries it: its type checked (protocol), then parsed."""
    try:
        typed = convert(raw, proto.Network, what=f"network {raw.get('id')}")
    except ProtocolError as e:
        raise DesiredStateError(str(e)) from None
    return model.parse_network(typed)


def subnet(sid: str = SUB4, cidr: str = "10.99.0.0/24", **kw: Any) -> dict[str, Any]:
    version = 6 if ":" in cidr else 4
    return {"id": sid, "cidr": cidr, "ip_version": version,
            "gateway_ip": kw.pop("gateway_ip", "10.99.0.1" if version == 4 else None),
            "enable_dhcp": kw.pop("enable_dhcp", True), "dns_nameservers": [],
            "host_routes": [], "ipv6_address_mode": None, "ipv6_ra_mode": None, **kw}


def port(pid: str, mac: str, *ips: tuple[str, str], **kw: Any) -> dict[str, Any]:
    return {"id": pid, "mac_address": mac, "device_owner": kw.pop("device_owner", ""),
            "fixed_ips": [{"subnet_id": s, "ip_address": ip} for s, ip in ips], **kw}


def network(subnets: list[dict[str, Any]] | None = None, ports: list[dict[str, Any]] | None = None,
            dhcp_ips: tuple[tuple[str, str], ...] = ((SUB4, "10.99.0.2"),),
            mtu: int = 1450) -> dict[str, Any]:
    dhcp = port(DHCP_PORT, "fa:16:3e:00:00:02", *dhcp_ips, device_owner="network:dhcp")
    return {"id": NET, "mtu": mtu, "subnets": subnets if subnets is not None else [subnet()],
            "dhcp_port": dhcp,
            "ports": ports if ports is not None else [
                dhcp, port(PORT_A, "FA:16:3E:00:00:05", (SUB4, "10.99.0.5"))]}


# --- parsing -------------------------------------------------------------------------------
def test_parse_normalizes() -> None:
    raw = network(subnets=[subnet(cidr="10.99.0.7/24"),
                           subnet(SUB6, "fd00:0:0:0::/64", ipv6_address_mode="dhcpv6-stateful",
                                  ipv6_ra_mode="dhcpv6-stateful")],
                  ports=[port(PORT_A, "FA:16:3E:0:0:5", (SUB6, "fd00::0005"))])
    net = parse_network(raw)
    assert [s.cidr for s in net.subnets] == ["10.99.0.0/24", "fd00::/64"]
    assert net.ports[0].mac_address == "fa:16:3e:00:00:05"
    assert net.ports[0].fixed_ips[0].ip_address == "fd00::5"
    assert net.wants_dhcp


@pytest.mark.parametrize("mutate, message", [
    (lambda n: n["ports"][1].update(mac_address="zz"), "not a MAC"),
    (lambda n: n["subnets"][0].update(cidr="10.99.0/33"), "not a CIDR"),
    (lambda n: n["subnets"][0].update(ip_version=6), "does not match"),
    (lambda n: n["subnets"][0].update(ipv6_address_mode="magic"), "unknown ipv6_address_mode"),
    (lambda n: n["ports"][1]["fixed_ips"].append({"ip_address": "10.0.0.1"}),
     "missing required field `subnet_id`"),
])
def test_parse_rejects_with_names(mutate: Any, message: str) -> None:
    raw = network()
    mutate(raw)
    with pytest.raises(DesiredStateError, match=message) as info:
        parse_network(raw)
    assert NET in str(info.value)


def test_network_without_dhcp_subnet_or_port_is_not_served() -> None:
    assert not parse_network(network(subnets=[subnet(enable_dhcp=False)])).wants_dhcp
    raw = network()
    raw["dhcp_port"] = None
    assert not parse_network(raw).wants_dhcp


# --- hosts files ---------------------------------------------------------------------------
def test_hosts_file_lines() -> None:
    net = parse_network(network(ports=[
        port(PORT_B, "fa:16:3e:00:00:06", (SUB4, "10.99.0.6"), hostname="web-1"),
        port(PORT_A, "fa:16:3e:00:00:05", (SUB4, "10.99.0.5")),
    ]))
    # ports in id order; Neutron's generated name when the port has none
    assert render.render_hosts(net) == (
        "fa:16:3e:00:00:05,host-10-99-0-5,10.99.0.5\n"
        "fa:16:3e:00:00:06,web-1,10.99.0.6\n")
    assert render.render_addn_hosts(net, SETTINGS) == (
        "10.99.0.5\thost-10-99-0-5.openstacklocal host-10-99-0-5\n"
        "10.99.0.6\tweb-1.openstacklocal web-1\n")


def test_hosts_file_ipv6_modes_and_disabled_subnets() -> None:
    stateful = "77777777-7777-4777-8777-777777777777"
    subnets = [
        subnet(),
        subnet(SUB4B, "10.98.0.0/24", enable_dhcp=False),
        subnet(SUB6, "fd00:1::/64", ipv6_address_mode="slaac", ipv6_ra_mode="slaac"),
        subnet(stateful, "fd00:2::/64", ipv6_address_mode="dhcpv6-stateful",
               ipv6_ra_mode="dhcpv6-stateful"),
    ]
    net = parse_network(network(subnets=subnets, ports=[port(
        PORT_A, "fa:16:3e:00:00:05", (SUB4, "10.99.0.5"), (SUB4B, "10.98.0.5"),
        (SUB6, "fd00:1::f816:3eff:fe00:5"), (stateful, "fd00:2::5"))]))
    assert render.render_hosts(net) == (
        "fa:16:3e:00:00:05,host-10-99-0-5,10.99.0.5\n"
        "fa:16:3e:00:00:05,host-fd00-2--5,[fd00:2::5]\n")
    # every address resolves, served by DHCP or not
    assert render.render_addn_hosts(net, DnsmasqSettings(domain="example.org.")).count(
        ".example.org ") == 4


# --- options -------------------------------------------------------------------------------
def opts_of(**net_kw: Any) -> list[str]:
    return render.render_opts(parse_network(network(**net_kw)), SETTINGS).splitlines()


def test_opts_plain_subnet_router_and_own_dns() -> None:
    assert opts_of() == [
        f"tag:subnet-{SUB4},option:dns-server,10.99.0.2",
        f"tag:subnet-{SUB4},option:router,10.99.0.1",
    ]


def test_opts_dns_lists_every_dhcp_port_of_the_subnet_own_first() -> None:
    other = port("00000000-0000-4000-8000-00000000000f", "fa:16:3e:00:00:03",
                 (SUB4, "10.99.0.3"), device_owner="network:dhcp")
    raw = network()
    raw["ports"].insert(0, other)
    assert opts_of_raw(raw)[0] == f"tag:subnet-{SUB4},option:dns-server,10.99.0.2,10.99.0.3"


def opts_of_raw(raw: dict[str, Any]) -> list[str]:
    return render.render_opts(parse_network(raw), SETTINGS).splitlines()


def test_opts_no_gateway_sends_empty_router() -> None:
    lines = opts_of(subnets=[subnet(gateway_ip=None, dns_nameservers=["192.0.2.53"])])
    assert lines == [f"tag:subnet-{SUB4},option:dns-server,192.0.2.53",
                     f"tag:subnet-{SUB4},option:router"]


def test_opts_dns_any_address_means_none() -> None:
    lines = opts_of(subnets=[subnet(dns_nameservers=["0.0.0.0"])])
    assert lines[0] == f"tag:subnet-{SUB4},option:dns-server"


def test_option_121_includes_default_route_when_host_routes_exist() -> None:
    routes = [{"destination": "10.200.0.0/16", "nexthop": "10.99.0.254"},
              {"destination": "192.0.2.0/24", "nexthop": "10.99.0.253"}]
    lines = opts_of(subnets=[subnet(host_routes=routes)])
    value = "10.200.0.0/16,10.99.0.254,192.0.2.0/24,10.99.0.253,0.0.0.0/0,10.99.0.1"
    assert lines == [
        f"tag:subnet-{SUB4},option:dns-server,10.99.0.2",
        f"tag:subnet-{SUB4},option:classless-static-route,{value}",
        f"tag:subnet-{SUB4},249,{value}",
        f"tag:subnet-{SUB4},option:router,10.99.0.1",
    ]


def test_option_121_default_host_route_becomes_router() -> None:
    routes = [{"destination": "0.0.0.0/0", "nexthop": "10.99.0.9"},
              {"destination": "10.200.0.0/16", "nexthop": "10.99.0.254"}]
    net = parse_network(network(subnets=[subnet(gateway_ip=None, host_routes=routes)]))
    assert render.classless_routes(net, net.subnets[0]) == [
        ("10.200.0.0/16", "10.99.0.254"), ("0.0.0.0/0", "10.99.0.9")]
    assert opts_of(subnets=[subnet(gateway_ip=None, host_routes=routes)])[-1] == (
        f"tag:subnet-{SUB4},option:router,10.99.0.9")


def test_option_121_other_subnets_on_link() -> None:
    net = parse_network(network(subnets=[subnet(), subnet(SUB4B, "10.98.0.0/24",
                                                          gateway_ip="10.98.0.1")]))
    a, b = net.subnets
    assert render.classless_routes(net, a) == [("10.98.0.0/24", "0.0.0.0"),
                                               ("0.0.0.0/0", "10.99.0.1")]
    assert render.classless_routes(net, b) == [("10.99.0.0/24", "0.0.0.0"),
                                               ("0.0.0.0/0", "10.98.0.1")]


def test_option_121_none_without_routes() -> None:
    net = parse_network(network())
    assert render.classless_routes(net, net.subnets[0]) == []


def test_opts_ipv6() -> None:
    stateless = subnet(SUB6, "fd00:1::/64", ipv6_address_mode="dhcpv6-stateless",
                       ipv6_ra_mode="dhcpv6-stateless", dns_nameservers=["fd00::53"])
    slaac = subnet("88888888-8888-4888-8888-888888888888", "fd00:3::/64",
                   ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    lines = opts_of(subnets=[stateless, slaac])
    assert lines == [f"tag:subnet-{SUB6},option6:dns-server,[fd00::53]",
                     f"tag:subnet-{SUB6},option6:domain-search,openstacklocal"]


# --- command line --------------------------------------------------------------------------
def test_dnsmasq_argv() -> None:
    net = parse_network(network())
    assert render.dnsmasq_argv(net, FILES, SETTINGS) == [
        "dnsmasq", "--no-hosts", "--no-resolv",
        f"--pid-file={FILES.dir}/pid",
        f"--dhcp-hostsfile={FILES.dir}/host",
        f"--addn-hosts={FILES.dir}/addn_hosts",
        f"--dhcp-optsfile={FILES.dir}/opts",
        f"--dhcp-leasefile={FILES.dir}/leases",
        "--interface=ns-dddddddd-00", "--except-interface=lo", "--bind-dynamic",
        f"--dhcp-range=set:subnet-{SUB4},10.99.0.0,static,255.255.255.0,86400s",
        "--dhcp-option-force=option:mtu,1450",
        "--dhcp-lease-max=256",
        "--conf-file=/dev/null",
        "--domain=openstacklocal",
    ]


def test_dnsmasq_argv_ranges_per_mode_and_settings() -> None:
    subnets = [
        subnet(),
        subnet(SUB4B, "10.98.0.0/24", enable_dhcp=False),
        subnet(SUB6, "fd00:1::/64", ipv6_address_mode="dhcpv6-stateful",
               ipv6_ra_mode="dhcpv6-stateful"),
        subnet("77777777-7777-4777-8777-777777777777", "fd00:2::/64",
               ipv6_address_mode="dhcpv6-stateless", ipv6_ra_mode="dhcpv6-stateless"),
        subnet("88888888-8888-4888-8888-888888888888", "fd00:3::/64",
               ipv6_address_mode="slaac", ipv6_ra_mode="slaac"),
        subnet("99999999-9999-4999-8999-999999999999", "fd00:4::/56"),  # < /64: not served
    ]
    settings = DnsmasqSettings(lease_duration=-1, domain="", lease_max=1000,
                               dns_servers=("192.0.2.53",))
    argv = render.dnsmasq_argv(parse_network(network(subnets=subnets, mtu=0)), FILES, settings)
    ranges = [a for a in argv if a.startswith("--dhcp-range=")]
    assert ranges == [
        f"--dhcp-range=set:subnet-{SUB4},10.99.0.0,static,255.255.255.0,infinite",
        f"--dhcp-range=set:subnet-{SUB6},fd00:1::,static,64,infinite",
        "--dhcp-range=set:subnet-77777777-7777-4777-8777-777777777777,fd00:2::,static,64,"
        "infinite",
    ]
    assert "--dhcp-lease-max=1000" in argv and "--server=192.0.2.53" in argv
    assert not any(a.startswith(("--domain", "--dhcp-option-force")) for a in argv)


def test_setting_domain_trailing_dot() -> None:
    assert DnsmasqSettings(domain="example.org.").clean_domain == "example.org"


# --- leases --------------------------------------------------------------------------------
LEASES = (
    "1700000000 fa:16:3e:00:00:05 10.99.0.5 host-10-99-0-5 01:fa:16:3e:00:00:05\n"
    "1700000000 fa:16:3e:00:00:09 10.99.0.9 * *\n"
    "duid 00:01:00:01:2c:aa\n"
    "1700000000 1234 fd00::5 * 00:01\n"
)


def test_parse_leases_ipv4_only() -> None:
    leases = render.parse_leases(LEASES)
    assert [(lease.mac, lease.ip, lease.client_id) for lease in leases] == [
        ("fa:16:3e:00:00:05", "10.99.0.5", "01:fa:16:3e:00:00:05"),
        ("fa:16:3e:00:00:09", "10.99.0.9", "*")]


def test_stale_leases_and_bootstrap() -> None:
    net = parse_network(network(ports=[
        port(PORT_A, "fa:16:3e:00:00:05", (SUB4, "10.99.0.5")),
        port(PORT_B, "fa:16:3e:00:00:06", (SUB4, "10.99.0.6"))]))
    entries = render.host_entries(net)
    stale = render.stale_leases(render.parse_leases(LEASES), entries)
    assert [lease.ip for lease in stale] == ["10.99.0.9"]
    text = render.bootstrap_leases(LEASES, entries, 3600, now=1000)
    assert text == (
        "1700000000 fa:16:3e:00:00:05 10.99.0.5 host-10-99-0-5 01:fa:16:3e:00:00:05\n"
        "4600 fa:16:3e:00:00:06 10.99.0.6 * *\n")
    assert render.bootstrap_leases("", entries, -1, now=1000).startswith(
        "0 fa:16:3e:00:00:05 10.99.0.5 * *\n")


def test_network_files_refuse_path_tricks() -> None:
    for bad in ("", "..", "a/b"):
        with pytest.raises(ValueError):
            NetworkFiles.for_network("/x", bad)
