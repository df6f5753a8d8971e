"""DHCP agent planning: which networks to serve or remove, and start / SIGHUP / restart."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from tests.unit.test_dhcp_render import (
    DHCP_PORT,
    NET,
    PORT_A,
    PORT_B,
    SUB4,
    SUB4B,
    network,
    parse_network,
    port,
    subnet,
)

from neutrino.agent.actions import AddAddress, DeleteDevice, RemoveAddress, WireVeth
from neutrino.agent.dhcp import actions as dhcp_actions
from neutrino.agent.dhcp import dnsmasq, plan
from neutrino.agent.dhcp.render import DnsmasqSettings, NetworkFiles
from neutrino.agent.linux import names

FILES = NetworkFiles(f"/state/dhcp/{NET}")
SETTINGS = DnsmasqSettings()
OTHER = "0ther000-0000-4000-8000-000000000000"


def net_of(raw: dict[str, Any]) -> Any:
    return parse_network(raw)


def converged(raw: dict[str, Any], pid: int = 4242) -> plan.Observed:
    """What the host looks like once ``raw`` was applied and dnsmasq confirmed it."""
    p = plan.plan_dnsmasq(net_of(raw), SETTINGS, FILES, plan.Observed())
    return plan.Observed(pid=pid, argv=p.argv, files=dict(p.files), loaded=p.marker(pid))


# --- plan_host -----------------------------------------------------------------------------
def test_full_resync_tears_down_what_is_not_listed() -> None:
    desired = {NET: net_of(network())}
    hp = plan.plan_host(desired, None, existing={NET, OTHER})
    assert [n.id for n in hp.converge] == [NET] and hp.teardown == (OTHER,)


def test_partial_resync_only_touches_the_networks_asked() -> None:
    hp = plan.plan_host({}, {NET}, existing={NET, OTHER})
    assert hp.converge == () and hp.teardown == (NET,)
    hp = plan.plan_host({}, {"unknown"}, existing={NET, OTHER})
    assert hp.teardown == ()


def test_network_without_dhcp_is_torn_down_and_unparseable_left_alone() -> None:
    raw = network(subnets=[subnet(enable_dhcp=False)])
    hp = plan.plan_host({NET: net_of(raw)}, None, existing={NET, OTHER}, failed={OTHER})
    assert hp.converge == () and hp.teardown == (NET,)


# --- plan_dnsmasq --------------------------------------------------------------------------
def test_not_running_starts_with_all_files_and_reports_all_ports() -> None:
    p = plan.plan_dnsmasq(net_of(network()), SETTINGS, FILES, plan.Observed())
    assert p.action == plan.START
    assert p.write == ("host", "addn_hosts", "opts")
    assert p.ready_ports == tuple(sorted([DHCP_PORT, PORT_A]))


def test_converged_does_nothing() -> None:
    raw = network()
    p = plan.plan_dnsmasq(net_of(raw), SETTINGS, FILES, converged(raw))
    assert (p.action, p.write, p.ready_ports) == (None, (), ())
    # a full resync repeats the ready report (level-triggered), still without touching dnsmasq
    p = plan.plan_dnsmasq(net_of(raw), SETTINGS, FILES, converged(raw), report_all=True)
    assert p.action is None and set(p.ready_ports) == {DHCP_PORT, PORT_A}


def test_new_port_reloads_and_reports_only_it() -> None:
    raw = network()
    observed = converged(raw)
    raw2 = copy.deepcopy(raw)
    raw2["ports"].append(port(PORT_B, "fa:16:3e:00:00:06", (SUB4, "10.99.0.6")))
    p = plan.plan_dnsmasq(net_of(raw2), SETTINGS, FILES, observed)
    assert p.action == plan.RELOAD
    assert p.write == ("host", "addn_hosts")
    assert p.ready_ports == (PORT_B,)


def test_changed_ip_reports_the_port_and_option_change_reloads() -> None:
    raw = network()
    observed = converged(raw)
    raw2 = copy.deepcopy(raw)
    raw2["ports"][1]["fixed_ips"][0]["ip_address"] = "10.99.0.50"
    p = plan.plan_dnsmasq(net_of(raw2), SETTINGS, FILES, observed)
    assert (p.action, p.ready_ports) == (plan.RELOAD, (PORT_A,))
    raw3 = copy.deepcopy(raw)
    raw3["subnets"][0]["dns_nameservers"] = ["192.0.2.53"]
    p = plan.plan_dnsmasq(net_of(raw3), SETTINGS, FILES, observed)
    assert (p.action, p.write, p.ready_ports) == (plan.RELOAD, ("opts",), ())


def test_removed_port_reloads() -> None:
    raw = network()
    observed = converged(raw)
    raw2 = copy.deepcopy(raw)
    del raw2["ports"][1]
    p = plan.plan_dnsmasq(net_of(raw2), SETTINGS, FILES, observed)
    assert (p.action, p.ready_ports) == (plan.RELOAD, ())


def test_files_written_but_not_confirmed_loaded_reload_and_report_all() -> None:
    # an agent died between writing the files and the reload: files equal, marker old
    raw = network()
    observed = converged(raw)
    stale = plan.Observed(pid=observed.pid, argv=observed.argv, files=observed.files,
                          loaded=f"{observed.pid} 0123")
    p = plan.plan_dnsmasq(net_of(raw), SETTINGS, FILES, stale)
    assert p.action == plan.RELOAD and p.write == ()
    assert set(p.ready_ports) == {DHCP_PORT, PORT_A}
    # a dnsmasq restarted by someone else (new pid) is not trusted either
    other = plan.Observed(pid=1, argv=observed.argv, files=observed.files,
                          loaded=observed.loaded)
    assert plan.plan_dnsmasq(net_of(raw), SETTINGS, FILES, other).action == plan.RELOAD


def test_subnet_added_or_mtu_changed_restarts() -> None:
    raw = network()
    observed = converged(raw)
    raw2 = copy.deepcopy(raw)
    raw2["subnets"].append(subnet(SUB4B, "10.98.0.0/24", gateway_ip="10.98.0.1"))
    p = plan.plan_dnsmasq(net_of(raw2), SETTINGS, FILES, observed)
    assert p.action == plan.RESTART and "opts" in p.write
    raw3 = copy.deepcopy(raw)
    raw3["mtu"] = 1400
    assert plan.plan_dnsmasq(net_of(raw3), SETTINGS, FILES, observed).action == plan.RESTART
    # a DHCP-disabled subnet has no range: no restart, no option change
    raw4 = copy.deepcopy(raw)
    raw4["subnets"].append(subnet(SUB4B, "10.98.0.0/24", enable_dhcp=False))
    p = plan.plan_dnsmasq(net_of(raw4), SETTINGS, FILES, observed)
    assert p.action == plan.RELOAD and p.write == ("opts",)  # on-link route to it


def test_digest_is_order_independent_and_content_sensitive() -> None:
    assert plan.digest({"a": "1", "b": "2"}) == plan.digest({"b": "2", "a": "1"})
    assert plan.digest({"a": "1"}) != plan.digest({"a": "2"})


# --- plan_network: namespace, port, files, dnsmasq as actions -----------------------------------
DIRS = ("/state/dhcp", FILES.dir)
INNER = names.ns_device_name(DHCP_PORT)
TAP = names.tap_name(DHCP_PORT)


def device(name: str, *, index: int = 7, mac: str = "fa:16:3e:00:00:02", mtu: int = 1450,
           addresses: frozenset[str] = frozenset()) -> plan.ObservedDevice:
    return plan.ObservedDevice(name=name, kind="veth", mac=mac, mtu=mtu, up=True,
                               index=index, addresses=addresses)


def converged_network(raw: dict[str, Any], pid: int = 4242) -> plan.NetworkObserved:
    """The host once ``raw`` was served: namespace, veth, address, dirs, dnsmasq."""
    seen = converged(raw, pid)
    return plan.NetworkObserved(
        namespace=True, devices={INNER: device(INNER, addresses=frozenset({"10.99.0.2/24"}))},
        tap=device(TAP, index=3), default_routes=(("10.99.0.1", 7),),
        dirs=dict.fromkeys(DIRS, 0o755),
        process=dnsmasq.Process(pid, seen.argv or (), True), dnsmasq=seen, leases="")


def test_a_served_network_plans_nothing() -> None:
    raw = network()
    p = plan.plan_network(net_of(raw), converged_network(raw), SETTINGS, FILES, DIRS)
    assert p.actions == () and p.dnsmasq.action is None


def test_a_fresh_host_gets_everything_in_order() -> None:
    raw = network()
    p = plan.plan_network(net_of(raw), plan.NetworkObserved(), SETTINGS, FILES, DIRS)
    kinds = [type(a).__name__ for a in p.actions]
    assert kinds == ["CreateNamespace", "WireVeth", "AddAddress", "ReplaceDefaultRoute",
                     "EnsureDirectories", "WriteFile", "WriteFile", "WriteFile",
                     "StartDnsmasq"]
    assert p.actions[1] == WireVeth(INNER, TAP, "fa:16:3e:00:00:02", 1450, replace=False)
    assert p.actions[2] == AddAddress(INNER, "10.99.0.2/24")
    assert p.actions[3] == dhcp_actions.ReplaceDefaultRoute(INNER, "10.99.0.1", 0)
    assert set(p.ready_ports) == {DHCP_PORT, PORT_A}


def test_port_changes_in_place_and_a_lone_tap_is_replaced() -> None:
    raw = network()
    seen = converged_network(raw)
    moved = dataclasses.replace(seen, devices={
        INNER: device(INNER, mac="fa:16:3e:99:99:99", addresses=frozenset({"10.99.0.2/24",
                                                                          "10.99.0.77/24"})),
        "ns-stale000000": device("ns-stale000000", index=9)})
    p = plan.plan_network(net_of(raw), moved, SETTINGS, FILES, DIRS)
    assert p.actions == (DeleteDevice("ns-stale000000"),
                         WireVeth(INNER, TAP, "fa:16:3e:00:00:02", 1450),
                         RemoveAddress(INNER, "10.99.0.77/24"))
    # the namespace end gone (namespace deleted under us): the tap goes too, re-made
    lone = dataclasses.replace(seen, devices={}, default_routes=())
    p = plan.plan_network(net_of(raw), lone, SETTINGS, FILES, DIRS)
    assert p.actions[:3] == (WireVeth(INNER, TAP, "fa:16:3e:00:00:02", 1450, replace=True),
                             AddAddress(INNER, "10.99.0.2/24"),
                             dhcp_actions.ReplaceDefaultRoute(INNER, "10.99.0.1", 0))


def test_a_dnsmasq_of_a_dead_namespace_is_replaced_and_stale_leases_released() -> None:
    raw = network()
    seen = converged_network(raw)
    elsewhere = dataclasses.replace(seen, process=dataclasses.replace(
        seen.process, in_namespace=False))
    p = plan.plan_network(net_of(raw), elsewhere, SETTINGS, FILES, DIRS)
    assert [type(a).__name__ for a in p.actions] == ["StopDnsmasq", "StartDnsmasq"]
    assert p.actions[1].old_pid is None  # type: ignore[attr-defined]
    lease = "1700000000 fa:16:3e:00:00:09 10.99.0.9 host-10-99-0-9 *\n"
    p = plan.plan_network(net_of(raw), dataclasses.replace(seen, leases=lease), SETTINGS,
                          FILES, DIRS)
    (release,) = p.actions
    assert isinstance(release, dhcp_actions.ReleaseLeases)
    assert [x.ip for x in release.leases] == ["10.99.0.9"]
