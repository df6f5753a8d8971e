"""extra_dhcp_opt end to end: a port's own DHCP options set through the API reach a real
DHCP client (busybox udhcpc) in the instance, served by the DHCP agent's dnsmasq, and other
ports get nothing of them. The port's first option restarts dnsmasq (its tag goes on the
command line); every later change -- values, removal, other ports -- is a SIGHUP to that same
dnsmasq, which must survive it (dnsmasq 2.90 does not when hosts-file lines set tags, see
agent/dhcp/render.py).

The deployment is test_dhcp_e2e's (server, RabbitMQ, Linux bridge and DHCP agent
processes for one simulated host); udhcpc exports the options it got to its action script,
which records them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from neutrino.agent.linux import namespaces
from neutrino.compute import instance
from tests.dataplane import test_dhcp_e2e as e2e
from tests.dataplane.agent_helpers import wait_for

deployment = e2e.deployment  # the same fixture: one deployment for this module
PROJECT = e2e.PROJECT

# records the options of each lease udhcpc gets (ntpsrv: option 42; wpad: option 252,
# opt252 in a busybox that does not know its name)
ENV_SCRIPT = r"""#!/bin/sh
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
bound|renew)
    env | grep -E '^(ip|ntpsrv|wpad|opt252)=' | sort > "$LEASE_FILE.tmp"
    mv "$LEASE_FILE.tmp" "$LEASE_FILE"
    ip addr replace "$ip/${mask:-24}" dev "$interface"
    ;;
esac
exit 0
"""


def _options(ns: str, workdir: Path) -> dict[str, str]:
    """One DHCP exchange in ``ns`` asking for options 42 and 252: what the lease said."""
    script = workdir / "udhcpc-env.sh"
    if not script.exists():
        script.write_text(ENV_SCRIPT)
        script.chmod(0o755)
    lease = workdir / f"lease-{ns}"
    lease.unlink(missing_ok=True)
    proc = namespaces.execute(
        ["busybox", "udhcpc", "-i", instance.INSTANCE_DEV, "-f", "-q", "-n", "-t", "5",
         "-T", "1", "-s", str(script), "-O", "ntpsrv", "-O", "252"],
        ns, check=False, timeout=30, env={**os.environ, "LEASE_FILE": str(lease)})
    assert proc.returncode == 0 and lease.exists(), (
        f"udhcpc in {ns} got no lease ({proc.returncode}): {proc.stdout}{proc.stderr}")
    got = dict(line.partition("=")[::2] for line in lease.read_text().splitlines())
    if "opt252" in got:  # hex of the string
        got["wpad"] = bytes.fromhex(got.pop("opt252")).decode()
    return got


def test_a_dhcp_client_gets_its_ports_extra_options(deployment: e2e.Deployment,
                                                     tmp_path: Path) -> None:
    try:
        _extra_options(deployment, tmp_path)
    except BaseException:
        print(deployment.logs())
        raise


def _extra_options(dep: e2e.Deployment, workdir: Path) -> None:
    api = dep.api
    net = api.request("POST", "/networks", {"network": {"name": "dhcp-extra"}})["network"]
    api.request("POST", "/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.98.0.0/24", "ip_version": 4,
        "enable_dhcp": True}})
    booted: list[str] = []
    try:
        wait_for(lambda: dep.dnsmasq_pid(net["id"]), 30, 0.1,
                 what=f"dnsmasq for network {net['id']} on h1")
        vms = {}
        for name in ("vmx1", "vmx2"):
            try:
                vms[name] = instance.boot(
                    api, name, net["id"], "h1", host_namespace=dep.host.ns,
                    namespace=dep.prefix + name, dhcp=True, project_id=PROJECT, timeout=30,
                    dhcp_timeout=20)
            except instance.BootError as e:
                pytest.fail(str(e))
            booted.append(name)
        ns1, ns2 = dep.prefix + "vmx1", dep.prefix + "vmx2"
        ip1 = api.show_port(vms["vmx1"].port_id)["fixed_ips"][0]["ip_address"]
        assert _options(ns1, workdir) == {"ip": ip1}  # nothing extra yet

        def set_opts(opts: list[dict[str, Any]]) -> dict[str, Any]:
            return api.request("PUT", f"/ports/{vms['vmx1'].port_id}",
                               {"port": {"extra_dhcp_opts": opts}})["port"]

        port = set_opts([{"opt_name": "ntp-server", "opt_value": "10.98.0.123"},
                         {"opt_name": "252", "opt_value": "http://wpad.test/wpad.dat"}])
        assert len(port["extra_dhcp_opts"]) == 2

        def got(want: dict[str, str]) -> dict[str, str] | None:
            """The lease, once it has exactly ``want`` besides its address."""
            lease = _options(ns1, workdir)
            return lease if {k: v for k, v in lease.items() if k != "ip"} == want else None

        lease = wait_for(lambda: got({"ntpsrv": "10.98.0.123",
                                      "wpad": "http://wpad.test/wpad.dat"}), 30, 0.5,
                         what="the instance's lease carries its extra options")
        assert lease["ip"] == ip1
        pid = dep.dnsmasq_pid(net["id"])  # has served a client with a tag of its port
        # only that port's client: the other instance gets none of them
        other = _options(ns2, workdir)
        assert set(other) == {"ip"}, other
        # a changed value, then a removal (null): re-read by the same dnsmasq
        set_opts([{"opt_name": "ntp-server", "opt_value": "10.98.0.124"}])
        wait_for(lambda: got({"ntpsrv": "10.98.0.124", "wpad": "http://wpad.test/wpad.dat"}),
                 30, 0.5, what="the new value served")
        assert dep.dnsmasq_pid(net["id"]) == pid
        set_opts([{"opt_name": "ntp-server", "opt_value": None},
                  {"opt_name": "252", "opt_value": None}])
        wait_for(lambda: got({}), 30, 0.5, what="the options gone from the lease")
        assert dep.dnsmasq_pid(net["id"]) == pid
        set_opts([])  # nothing changes: no reload either
        api.request("PUT", f"/ports/{vms['vmx2'].port_id}", {"port": {"name": "renamed"}})
        assert _options(ns2, workdir) == {"ip": api.show_port(
            vms["vmx2"].port_id)["fixed_ips"][0]["ip_address"]}
        assert dep.dnsmasq_pid(net["id"]) == pid
    finally:
        for name in booted:
            instance.delete(api, name, host_namespace=dep.host.ns,
                            namespace=dep.prefix + name)
        api.request("DELETE", f"/networks/{net['id']}", ok=(404, 409))
