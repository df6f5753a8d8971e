"""The all-in-one as README starts it (``neutrino up``, here with a temporary state path and
a free port), used as a tenant would: the real ``openstack`` CLI with the clouds.yaml that
``neutrino up`` writes, as two demo users in two projects and the admin. Then stopped, and
nothing of it may be left running.

As root ``neutrino up`` also runs this host's agents, so the test then holds the data-plane
lock (other data-plane tests program the same host) and checks what the agents made is
gone again once the resources are deleted. Without root: the control plane only.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.forked_cli import run_openstack
from tests.support.server import free_port
from tests.support.wait import wait_until

BIN = Path(sys.executable).parent
OPENSTACK = str(BIN / "openstack")
NEUTRINO = str(BIN / "neutrino")
LOCK = "/tmp/neutrino-dataplane.lock"
ROOT = os.geteuid() == 0

pytestmark = pytest.mark.slow


def _wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    return wait_until(predicate, timeout, 0.2, what=what)


@contextlib.contextmanager
def _dataplane_lock() -> Iterator[None]:
    if not ROOT:
        yield
        return
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class AllInOne:
    def __init__(self, state: Path, *args: str) -> None:
        self.state = state
        self.args = args
        self.port = free_port()
        self.log_path = state / "up.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [NEUTRINO, "up", "--state-path", str(self.state), "--bind-port", str(self.port),
             *self.args],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        # ready: listening, and (as root) its three agents started
        marker = "l3 agent running" if ROOT else "control plane only"
        _wait(lambda: self.proc.poll() is not None or marker in self.log(), 90,
              f"neutrino up to start:\n{self.log()}")
        assert self.proc.poll() is None, self.log()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError(f"neutrino up did not stop on SIGTERM:\n{self.log()}"
                                     ) from None
        return self.proc.returncode


def _session_processes(sid: int) -> list[str]:
    """Processes still in the all-in-one's session (its agents' helpers included)."""
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[3]) == sid:  # field 6 of stat: session id
                left.append(f"{entry.name}: {(entry / 'cmdline').read_bytes()!r}")
    return left


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
                if text in cmdline:
                    found.append(f"{entry.name}: {cmdline}")
    return found


def _namespaces() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


@pytest.fixture
def state() -> Iterator[Path]:
    """A state path every user can search: dnsmasq drops root for 'nobody' and re-reads its
    files there (pytest's own temporary directories are private to root)."""
    base = Path(tempfile.mkdtemp(prefix="neutrino-aio-"))
    base.chmod(0o755)
    try:
        yield base / "state"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_allinone_tenant_workflow(state: Path) -> None:
    aio = AllInOne(state)
    with _dataplane_lock():
        had_br_ex = Path("/sys/class/net/br-ex").exists()
        started = time.monotonic()
        aio.start()
        print(f"neutrino up ready in {time.monotonic() - started:.1f} s")
        assert aio.proc is not None
        sid = aio.proc.pid
        try:
            made = _workflow(aio)
        finally:
            _delete_everything(aio)  # so the agents remove what they made on this host
            code = aio.stop()
            left_br_ex = Path("/sys/class/net/br-ex").exists()
            if ROOT and not had_br_ex and left_br_ex:  # keep the machine clean regardless
                subprocess.run(["ip", "link", "delete", "br-ex"], check=False)
        assert code == 0, aio.log()
        if ROOT and not had_br_ex:  # it made br-ex, and removes it as it stops
            assert not left_br_ex, "neutrino up left br-ex behind"
        # nothing of it left running: no process of its session, no dnsmasq of its state
        assert _wait(lambda: not _session_processes(sid), 10, "its processes to exit")
        assert not _processes_mentioning(str(state / "dhcp"))
        if ROOT:
            left = {ns for ns in _namespaces() if any(i in ns for i in made)}
            assert not left, f"namespaces left behind: {left}"
            # agents' forked helpers exit quietly (no second 'stopping' from them)
            assert "signal 15: stopping" not in aio.log()
    assert "Traceback" not in aio.log(), aio.log()


def _workflow(aio: AllInOne) -> list[str]:
    clouds = aio.state / "clouds.yaml"
    assert f"export OS_CLIENT_CONFIG_FILE={clouds}" in aio.log()
    assert oct(clouds.stat().st_mode & 0o777) == "0o600"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    tag = uuid.uuid4().hex[:6]

    def osc(cloud: str, *args: str, ok: bool = True) -> Any:
        cmd = [OPENSTACK, "--os-cloud", cloud, *args]
        proc = run_openstack(cmd[1:], env=env, cwd=os.getcwd(), timeout=60)
        assert (proc.returncode == 0) == ok, f"{cmd}: {proc.stderr}\n{aio.log()[-3000:]}"
        return json.loads(proc.stdout) if ok and "json" in args else proc

    creds = json.loads((aio.state / "credentials.json").read_text())["users"]
    assert {u: creds[u]["project"] for u in creds} == \
        {"admin": "admin", "demo": "demo", "alt_demo": "alt_demo"}

    # what neutrino up made: the demo project's private network and router1 and, as root,
    # devstack's public network on br-ex, where the host reaches router1's gateway address
    router1 = _wait(lambda: osc("demo", "router", "list", "--name", "router1", "-f", "json"),
                    60, "router1")[0]
    assert osc("demo", "network", "list", "--name", "private", "-f", "json")
    pool = osc("demo", "subnet", "pool", "show", "shared-default-subnetpool-v4", "-f", "json")
    assert pool["is_default"] and pool["shared"]
    if ROOT:
        public = osc("admin", "network", "show", "public", "-f", "json")
        assert public["router:external"] and \
            public["provider:physical_network"] == "public"
        gw = osc("demo", "router", "show", router1["ID"], "-f", "json")
        gw_ip = gw["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
        assert gw_ip.startswith("172.24.4.")
        _wait(lambda: subprocess.run(["ping", "-c1", "-W1", gw_ip],
                                     capture_output=True).returncode == 0, 30,
              f"the host to reach router1's gateway {gw_ip} over br-ex")

    # the admin: an external network (Neutron's admin-only attributes)
    ext = osc("admin", "network", "create", "--external", "--provider-network-type", "flat",
              "--provider-physical-network", f"ext{tag}", f"ext-{tag}", "-f", "json")
    osc("admin", "subnet", "create", "--network", ext["id"], "--subnet-range",
        "203.0.113.0/24", "--no-dhcp", f"ext-sub-{tag}", "-f", "json")

    # demo: network, subnet, router with a gateway, floating IP, a security group rule
    net = osc("demo", "network", "create", f"n-{tag}", "-f", "json")
    assert net["project_id"] == "demo"
    sub = osc("demo", "subnet", "create", "--network", net["id"], "--subnet-range",
              "10.0.0.0/24", f"s-{tag}", "-f", "json")
    router = osc("demo", "router", "create", f"r-{tag}", "-f", "json")
    osc("demo", "router", "add", "subnet", router["id"], sub["id"])
    osc("demo", "router", "set", "--external-gateway", ext["id"], router["id"])
    if ROOT:  # ext's physical network is mapped nowhere: its gateway port cannot be bound
        _wait(lambda: "ERROR neutrino.core.binding" in aio.log() and
              "(network:router_gateway): no mechanism driver could bind" in aio.log(), 30,
              "an error about router r's unbindable gateway")
    fip = osc("demo", "floating", "ip", "create", ext["id"], "-f", "json")
    assert fip["floating_ip_address"].startswith("203.0.113.")
    sg = osc("demo", "security", "group", "create", f"sg-{tag}", "-f", "json")
    rule = osc("demo", "security", "group", "rule", "create", "--protocol", "tcp",
               "--dst-port", "22", sg["id"], "-f", "json")
    assert (rule["port_range_min"], rule["project_id"]) == (22, "demo")

    # alt_demo: its own project; demo's network is not there for it (404), the same CIDR
    # is free for its own network
    assert "No Network found" in osc("alt_demo", "network", "show", net["id"],
                                     ok=False).stderr
    alt = osc("alt_demo", "network", "create", f"n-{tag}", "-f", "json")
    assert alt["project_id"] == "alt_demo"
    osc("alt_demo", "subnet", "create", "--network", alt["id"], "--subnet-range",
        "10.0.0.0/24", f"s-{tag}")

    if ROOT:  # the agents serve what the API made: DHCP ports come up ACTIVE
        def dhcp_ports_active() -> bool:
            ports = _api(aio, creds["admin"], "GET",
                         "/v2.0/ports?device_owner=network:dhcp")["ports"]
            mine = [p for p in ports if p["network_id"] in (net["id"], alt["id"])]
            return len(mine) == 2 and all(p["status"] == "ACTIVE" for p in mine)
        _wait(dhcp_ports_active, 30, "both networks' DHCP ports to be ACTIVE")

    # clean up as the users would; the agents remove what they made for it
    osc("demo", "floating", "ip", "delete", fip["id"])
    osc("demo", "router", "unset", "--external-gateway", router["id"])
    osc("demo", "router", "remove", "subnet", router["id"], sub["id"])
    osc("demo", "router", "delete", router["id"])
    osc("demo", "network", "delete", net["id"])
    osc("alt_demo", "network", "delete", alt["id"])
    osc("admin", "network", "delete", ext["id"])
    ids = [net["id"], alt["id"], router["id"]]
    if ROOT:
        _wait(lambda: not {ns for ns in _namespaces() if any(i in ns for i in ids)}, 30,
              "the agents to remove their namespaces")
        _wait(lambda: not any(_processes_mentioning(str(aio.state / "dhcp" / i))
                              for i in (net["id"], alt["id"])), 30, "their dnsmasq to stop")
    return ids


def _api(aio: AllInOne, user: dict[str, Any], method: str, path: str,
         body: Any = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", aio.port, timeout=30)
    try:
        auth = base64.b64encode(f"admin:{user['password']}".encode()).decode()
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Authorization": f"Basic {auth}",
                              "Content-Type": "application/json"})
        payload = conn.getresponse().read()
        return json.loads(payload) if payload else None
    finally:
        conn.close()


def _delete_everything(aio: AllInOne) -> None:
    """After a failure: every floating IP, router and network, as the admin."""
    with contextlib.suppress(Exception):
        admin = json.loads((aio.state / "credentials.json").read_text())["users"]["admin"]
        for fip in _api(aio, admin, "GET", "/v2.0/floatingips")["floatingips"]:
            _api(aio, admin, "DELETE", f"/v2.0/floatingips/{fip['id']}")
        for router in _api(aio, admin, "GET", "/v2.0/routers")["routers"]:
            rid = router["id"]
            _api(aio, admin, "PUT", f"/v2.0/routers/{rid}",
                 {"router": {"external_gateway_info": {}}})
            for port in _api(aio, admin, "GET", f"/v2.0/ports?device_id={rid}")["ports"]:
                _api(aio, admin, "PUT", f"/v2.0/routers/{rid}/remove_router_interface",
                     {"port_id": port["id"]})
            _api(aio, admin, "DELETE", f"/v2.0/routers/{rid}")
        networks = _api(aio, admin, "GET", "/v2.0/networks")["networks"]
        for net in networks:
            _api(aio, admin, "DELETE", f"/v2.0/networks/{net['id']}")
        if ROOT:
            ids = [n["id"] for n in networks]
            _wait(lambda: not {ns for ns in _namespaces() if any(i in ns for i in ids)}, 20,
                  "the agents to clean up")


RABBIT_URL = os.environ.get("NEUTRINO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.mark.skipif(not ROOT, reason="agents run only as root")
def test_agents_as_supervised_processes_over_rabbitmq(state: Path) -> None:
    """With RabbitMQ each agent is its own process: one killed is restarted alone, and
    all stop with neutrino up."""
    state.mkdir(parents=True)
    conf = state / "rabbit.conf"
    # its own bus exchange (hints, RPC, reports) and notification exchange: another
    # neutrino on the same broker (a developer's server) must not consume its agents' reports
    tag = uuid.uuid4().hex[:8]
    conf.write_text(f"[DEFAULT]\ntransport_url = {RABBIT_URL}\n"
                    f"bus_exchange = neutrino-aio-{tag}\ncontrol_exchange = neutrino-aio-{tag}\n")
    aio = AllInOne(state, "--config-file", str(conf), "--no-public", "--no-private")
    pid_dir = state / "agents"
    new = 0
    with _dataplane_lock():
        aio.start()
        assert aio.proc is not None
        try:
            pids = {role: int((pid_dir / f"{role}.pid").read_text())
                    for role in ("linuxbridge", "dhcp", "l3")}
            assert aio.proc.pid not in pids.values() and all(map(_alive, pids.values()))
            # all three report to the server over RabbitMQ
            admin = json.loads((state / "credentials.json").read_text())["users"]["admin"]
            _wait(lambda: len([a for a in _api(aio, admin, "GET", "/v2.0/agents")["agents"]
                               if a["alive"]]) == 3, 60, "three live agents")

            os.kill(pids["l3"], signal.SIGKILL)

            def restarted() -> int:
                with contextlib.suppress(FileNotFoundError, ValueError):
                    pid = int((pid_dir / "l3.pid").read_text())
                    return pid if pid != pids["l3"] else 0
                return 0

            new = _wait(restarted, 15, "the l3 agent to be restarted")
            assert _alive(new) and not _alive(pids["l3"])
            assert _alive(pids["linuxbridge"]) and _alive(pids["dhcp"])  # restarted alone
            assert f"l3 agent (process {pids['l3']}) exited" in aio.log()
            _wait(lambda: f"{new} INFO neutrino.agent.base: L3 agent on host" in aio.log(),
                  30, "the new l3 agent to start")
        finally:
            code = aio.stop()
        assert code == 0, aio.log()
        assert not any(_alive(p) for p in (*pids.values(), new))
        assert not list(pid_dir.glob("*.pid"))
        # each agent says so once, on the stop; their forked helpers say nothing
        assert aio.log().count("signal 15: stopping") == 3, aio.log()
