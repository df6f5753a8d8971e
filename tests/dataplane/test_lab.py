"""``neutrino lab up --hosts 2``: a multi-host cloud in one command, used as a user would
(the real CLI, an instance booted on each compute host by ``--host``; the lab's external
network ``public``, where a router's gateway on the network node answers the machine's
ping), then ``lab down`` leaves nothing behind: no process, namespace, device or record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from neutrino.agent.linux import namespaces
from neutrino.cli import lab
from neutrino.compute.client import NeutronClient
from tests.dataplane.agent_helpers import wait_for, wait_reaches
from tests.dataplane.conftest import Features
from tests.dataplane.dhcp_support import require_dhcp_deployment
from tests.support.server import free_port


def _neutrino(*args: str, env: dict[str, str] | None = None,
              timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "neutrino.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **(env or {})})


def test_lab_up_boot_on_each_host_ping_and_down(features: Features, run_prefix: str,
                                                tmp_path: Path) -> None:
    require_dhcp_deployment(features)  # VXLAN, dnsmasq, RabbitMQ
    prefix = f"{run_prefix}lab-"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    record_path = lab._record_path(prefix)
    names = [f"{run_prefix}v1", f"{run_prefix}v2"]
    try:
        up = _neutrino("lab", "up", "--hosts", "2", "--prefix", prefix, "--port", str(port),
                       "--state-path", str(tmp_path / "lab"))
        assert up.returncode == 0, up.stdout + up.stderr
        record = json.loads(record_path.read_text())
        assert set(record["hosts"]) == {"network", "compute1", "compute2"}
        assert all(namespaces.namespace_exists(ns) for ns in record["namespaces"])

        admin = NeutronClient(url, project_id="lab-test", roles="admin,member,reader")
        net = admin.request("POST", "/networks", {"network": {"name": "labnet"}})["network"]
        admin.request("POST", "/subnets", {"subnet": {
            "network_id": net["id"], "cidr": "10.99.41.0/24", "ip_version": 4,
            "enable_dhcp": False}})
        ips = []
        for name, host in zip(names, ("compute1", "compute2"), strict=True):
            boot = _neutrino("instance", "boot", name, "--network", "labnet", "--host", host,
                             "--no-dhcp", env={"NEUTRINO_URL": url})
            assert boot.returncode == 0, boot.stdout + boot.stderr
            port_row = admin.request("GET", "/ports", params={"name": name})["ports"][0]
            assert port_row["binding:host_id"] == host
            ips.append(port_row["fixed_ips"][0]["ip_address"])
        # the taps are in the hosts' namespaces: the packets cross the underlay by VXLAN
        wait_reaches(f"inst-{names[0]}", ips[1], timeout=30)
        wait_reaches(f"inst-{names[1]}", ips[0], timeout=30)

        # the external network: the default one, on the network node's ex-public
        [public] = admin.request("GET", "/networks", params={"name": "public"})["networks"]
        assert public["router:external"] and public["is_default"]
        router = admin.request("POST", "/routers", {"router": {
            "name": "labr", "external_gateway_info": {"network_id": public["id"]}}})["router"]
        gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        assert gw_ip.startswith("172.24.8.")
        public_dev = lab._public_device(prefix)
        assert record["devices"] == [public_dev]
        wait_for(lambda: subprocess.run(["ping", "-c1", "-W1", "-I", public_dev, gw_ip],
                                        capture_output=True).returncode == 0, 60,
                 what=f"the machine to reach the router's gateway {gw_ip}")

        down = _neutrino("lab", "down", "--prefix", prefix)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not record_path.exists()
        assert namespaces.list_namespaces(prefix) == []
        assert not any(namespaces.namespace_exists(f"inst-{n}") for n in names)
        for pid in record["pids"]:
            assert not Path(f"/proc/{pid}").exists() or b"neutrino" not in Path(
                f"/proc/{pid}/cmdline").read_bytes(), f"lab process {pid} still running"
        assert not (tmp_path / "lab").exists()
        assert not Path(f"/sys/class/net/{public_dev}").exists()
    finally:
        if record_path.exists():
            lab.down_record(json.loads(record_path.read_text()))
        for n in names:
            if namespaces.namespace_exists(f"inst-{n}"):
                namespaces.delete_namespace(f"inst-{n}")
