"""DHCP agent planning: which networks to serve or remove, and start / SIGHUP / restart."""

from __future__ import annotations

import copy
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

from neutrino.agent.dhcp import plan
from neutrino.agent.dhcp.render import DnsmasqSettings, NetworkFiles

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
