"""``neutrino lab up|down|status``: a multi-host cloud on one machine, in one command.

    neutrino lab up --hosts 3        # compute1..compute3 and a network node, as namespaces
    neutrino instance boot vm1 --network NET --host compute2
    neutrino lab down                # processes (by pid), namespaces, devices, files

Layout (as Neutron's fullstack tests, and tests/dataplane, build it):

    <prefix>ul           underlay namespace: bridge br-ul, 192.0.2.0/24
    <prefix>network      network node: ul0 192.0.2.10; its Linux bridge, DHCP and L3 agents
    <prefix>computeN     compute host N: ul0 192.0.2.(10+N); its Linux bridge agent
    <prefix>ex           (root namespace) the lab's external network: a veth to the network
                         node's ``ex-public`` (physical network ``public``), holding the
                         public subnet's gateway 172.24.8.1/24 (``--public-cidr``)

A ``public`` external network (flat, physical network ``public``, the default external
network) is made on it, so routers get gateways and floating IPs are reachable from the
machine's shell, as in the all-in-one. Its range is not devstack's 172.24.4.0/24, which
the all-in-one's br-ex holds, so both can run on one machine.

Every process runs in the root namespace, where RabbitMQ (127.0.0.1:5672) and the API are
reachable: the API server (SQLite in the lab's directory) and, per host, ``neutrino agent``
with ``host_namespace`` set, so each agent programs its own host's namespace. Tenant
networks are VXLAN over the underlay. The lab's record (pids, namespaces, URL) is
``/run/neutrino/labs/<prefix>.json``; ``neutrino instance boot --host computeN`` finds the
host's namespace there by the API URL.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from neutrino.agent.linux import devices, namespaces

LAB_DIR = Path("/run/neutrino/labs")
UNDERLAY = ipaddress.ip_network("192.0.2.0/24")
UNDERLAY_BRIDGE = "br-ul"
UNDERLAY_DEV = "ul0"
NETWORK_NODE = "network"
PUBLIC_PHYSNET = "public"
PUBLIC_PEER = "ex-public"  # in the network node, mapped by its Linux bridge agent
PUBLIC_CIDR = "172.24.8.0/24"
RABBIT = ("127.0.0.1", 5672)
STOP_TIMEOUT = 15.0


def _record_path(prefix: str) -> Path:
    return LAB_DIR / f"{prefix.rstrip('-') or 'lab'}.json"


def _write_record(prefix: str, record: dict[str, Any]) -> None:
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    tmp = _record_path(prefix).with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    tmp.replace(_record_path(prefix))  # whole or not at all: `down` may read it any time


def host_namespace(url: str, host: str) -> str | None:
    """The namespace of simulated host ``host`` of the lab serving ``url`` (None: no such
    lab host, a real host then)."""
    if not LAB_DIR.is_dir():
        return None
    for path in LAB_DIR.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            record = json.loads(path.read_text())
            if record.get("url", "").rstrip("/") == url.rstrip("/"):
                return record.get("hosts", {}).get(host)
    return None


def _write_conf(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {v}" for k, v in values.items()]
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def _spawn(argv: list[str], log: Path) -> int:
    """Start a lab process in a session of its own (it outlives ``lab up``; ``lab down``
    stops its whole group, the API's workers too)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return proc.pid


def _neutrino(*args: str) -> list[str]:
    return [sys.executable, "-m", "neutrino.cli.main", *args]


def _get(url: str, path: str) -> Any:
    from neutrino.compute.client import NeutronClient

    return NeutronClient(url, project_id="lab-admin", roles="admin,member,reader").request(
        "GET", path)


def _wait(what: str, check: Any, timeout: float, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.3)
    tails = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-2000:]}" for p in logs
                      if p.exists())
    raise RuntimeError(f"timed out waiting for {what}\n{tails}")


def up(args: argparse.Namespace) -> int:
    prefix: str = args.prefix
    if _record_path(prefix).exists():
        print(f"neutrino lab: a lab {prefix!r} is up ({_record_path(prefix)}); "
              "`neutrino lab down` first", file=sys.stderr)
        return 2
    try:
        socket.create_connection(RABBIT, timeout=2).close()
    except OSError as e:
        print(f"neutrino lab: RabbitMQ is not reachable on {RABBIT[0]}:{RABBIT[1]} ({e}); "
              "the lab's agents talk to the server through it (apt-get install "
              "rabbitmq-server)", file=sys.stderr)
        return 2
    workdir = Path(args.state_path)
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{args.port}"
    hosts = [NETWORK_NODE] + [f"compute{i}" for i in range(1, args.hosts + 1)]
    record: dict[str, Any] = {"prefix": prefix, "url": url, "workdir": str(workdir),
                              "pids": [], "namespaces": [], "hosts": {}}
    _write_record(prefix, record)  # first, so `lab down` can undo a half-built lab
    bus = {"transport_url": f"rabbit://guest:guest@{RABBIT[0]}:{RABBIT[1]}/",
           "bus_exchange": f"neutrino-lab-{uuid.uuid4().hex[:8]}"}
    logs: list[Path] = []
    try:
        underlay = prefix + "ul"
        record["namespaces"].append(underlay)
        _write_record(prefix, record)
        namespaces.create_namespace(underlay)
        devices.ensure_bridge(UNDERLAY_BRIDGE, netns=underlay)
        for i, host in enumerate(hosts):
            ns = prefix + host
            record["namespaces"].append(ns)
            record["hosts"][host] = ns
            _write_record(prefix, record)
            namespaces.create_namespace(ns)
            port = f"ul-{i}"
            devices.ensure_veth(port, UNDERLAY_DEV, peer_netns=ns, netns=underlay)
            devices.set_master(port, UNDERLAY_BRIDGE, netns=underlay)
            devices.add_address(UNDERLAY_DEV, f"{UNDERLAY.network_address + 10 + i}/24",
                                netns=ns)

        public = ipaddress.ip_network(args.public_cidr)
        public_gw = f"{public.network_address + 1}/{public.prefixlen}"
        public_dev = _public_device(prefix)
        record["devices"] = [public_dev]
        _write_record(prefix, record)
        devices.ensure_veth(public_dev, PUBLIC_PEER, peer_netns=record["hosts"][NETWORK_NODE])
        devices.add_address(public_dev, public_gw)

        server_conf = _write_conf(workdir / "neutrino.conf", {
            "DEFAULT": {**bus, "bind_host": "127.0.0.1", "bind_port": args.port,
                        "state_path": workdir, "agent_down_time": 20},
            "database": {"connection": f"sqlite:///{workdir / 'neutrino.sqlite'}"},
            "ml2": {"type_drivers": "flat,vxlan", "tenant_network_types": "vxlan",
                    "mechanism_drivers": "linuxbridge,l2population"},
            "ml2_type_vxlan": {"vni_ranges": "1000:1999"},
        })
        logs.append(workdir / "server.log")
        record["pids"].append(_spawn(_neutrino("server", "--config-file", str(server_conf)),
                                     logs[-1]))
        _write_record(prefix, record)
        _wait("the API server", lambda: _get(url, "/networks") is not None, 60, logs)

        agent_common = {"report_interval": 2, "polling_interval": 1}
        for i, host in enumerate(hosts):
            ns = record["hosts"][host]
            common = {**bus, "host": host, "host_namespace": ns,
                      "state_path": workdir / host, "namespace_prefix": prefix}
            roles = {"linuxbridge": {"vxlan": {
                "enable_vxlan": True, "l2_population": True,
                "local_ip": UNDERLAY.network_address + 10 + i}}}
            if host == NETWORK_NODE:
                roles.update(dhcp={}, l3={})
                roles["linuxbridge"]["linux_bridge"] = {
                    "physical_interface_mappings": f"{PUBLIC_PHYSNET}:{PUBLIC_PEER}"}
            for role, extra in roles.items():
                conf = _write_conf(workdir / f"{role}-{host}.ini", {
                    "DEFAULT": common, "AGENT": agent_common, **extra})
                logs.append(workdir / f"{role}-{host}.log")
                record["pids"].append(_spawn(
                    _neutrino("agent", "--role", role, "--config-file", str(conf)), logs[-1]))
                _write_record(prefix, record)
        expected = len(hosts) + 2

        def alive() -> bool:
            return sum(1 for a in _get(url, "/agents")["agents"] if a["alive"]) >= expected

        _wait(f"{expected} agents alive", alive, 60, logs)
        _make_public(url, public)
    except (Exception, KeyboardInterrupt) as e:
        print(f"neutrino lab up failed: {e}\nundoing it", file=sys.stderr)
        down_record(record)
        return 1
    print(f"lab {prefix!r} up: API {url}, hosts {', '.join(hosts)} "
          f"(namespaces {prefix}<host>), logs in {workdir}")
    print(f"  external network public ({public}) on {public_dev}, gateway {public_gw}")
    print(f"  export NEUTRINO_URL={url}\n"
          f"  neutrino instance boot vm1 --network NET --host compute1\n"
          f"  neutrino lab down{'' if prefix == 'lab-' else ' --prefix ' + prefix}")
    return 0


def _public_device(prefix: str) -> str:
    """The root namespace's end of the public veth: ``<prefix>ex`` when that fits a device
    name (15 characters), else a name derived from the prefix."""
    name = f"{prefix}ex"
    if len(name) <= 15:
        return name
    return f"ex-{uuid.uuid5(uuid.NAMESPACE_DNS, prefix).hex[:12]}"


def _make_public(url: str, cidr: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
    """The lab's ``public`` network: external, the default one, flat on ``public``."""
    from neutrino.compute.client import NeutronClient

    api = NeutronClient(url)
    net = api.request("POST", "/networks", {"network": {
        "name": "public", "router:external": True, "is_default": True,
        "provider:network_type": "flat",
        "provider:physical_network": PUBLIC_PHYSNET}})["network"]
    api.request("POST", "/subnets", {"subnet": {
        "name": "public-subnet", "network_id": net["id"], "ip_version": cidr.version,
        "cidr": str(cidr), "gateway_ip": str(cidr.network_address + 1),
        "enable_dhcp": False}})


def _ours(pid: int) -> bool:
    """A live neutrino process leading its own session: a recycled pid is not ours."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        return b"neutrino" in cmd and os.getsid(pid) == pid
    except OSError:
        return False


def _group_alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop_groups(pids: list[int]) -> None:
    """SIGTERM the sessions ``pids`` lead (each process and what it forked) all at once,
    then SIGKILL what is left after STOP_TIMEOUT."""
    groups = [p for p in pids if _ours(p)]
    for pid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while groups and time.monotonic() < deadline:
        groups = [p for p in groups if _group_alive(p)]
        time.sleep(0.1)
    for pid in groups:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def down_record(record: dict[str, Any]) -> list[str]:
    """Undo the lab ``record`` describes; the failures, described."""
    from neutrino.cli import cleanup

    failed: list[str] = []
    instances: list[str] = []
    with contextlib.suppress(Exception):  # the API may be gone: then no instances to find
        hosts = set(record["hosts"])
        instances = [p["name"] for p in _get(record["url"], "/ports")["ports"]
                     if p.get("binding:host_id") in hosts and p.get("name")
                     and str(p.get("device_owner", "")).startswith("compute:")]
    _stop_groups(record["pids"])
    prefix = record["prefix"]
    workdir = Path(record["workdir"])
    for host, ns in record["hosts"].items():
        if not namespaces.namespace_exists(ns):
            continue
        opts = cleanup.Options(host_namespace=ns, namespace_prefix=prefix,
                               instance_prefix="", state_path=str(workdir / host),
                               reset_sysctls=True)
        failed += cleanup.run(cleanup.plan(opts))
    for name in instances:
        ns = f"inst-{name}"  # neutrino instance's naming (compute/instance.py)
        with contextlib.suppress(Exception):
            if namespaces.namespace_exists(ns):
                cleanup.run([cleanup.Step(f"stop process {p} in {ns}",
                                          lambda p=p: cleanup._stop_pid(p))
                             for p in cleanup.namespace_pids(ns)])
                namespaces.delete_namespace(ns)
                shutil.rmtree(Path(cleanup.NETNS_ETC) / ns, ignore_errors=True)
    for ns in reversed(record["namespaces"]):
        try:
            namespaces.delete_namespace(ns)
        except Exception as e:
            failed.append(f"delete namespace {ns}: {e}")
    for dev in record.get("devices", []):  # gone with its peer's namespace, normally
        try:
            devices.delete_device(dev)
        except Exception as e:
            failed.append(f"delete device {dev}: {e}")
    shutil.rmtree(workdir, ignore_errors=True)
    _record_path(prefix).unlink(missing_ok=True)
    return failed


def down(args: argparse.Namespace) -> int:
    path = _record_path(args.prefix)
    if not path.exists():
        print(f"neutrino lab: no lab {args.prefix!r} is up", file=sys.stderr)
        return 0
    failed = down_record(json.loads(path.read_text()))
    for f in failed:
        print(f"neutrino lab down: {f}", file=sys.stderr)
    print(f"lab {args.prefix!r} down" + (f", {len(failed)} failure(s)" if failed else ""))
    return 1 if failed else 0


def status(args: argparse.Namespace) -> int:
    path = _record_path(args.prefix)
    if not path.exists():
        print(f"no lab {args.prefix!r}")
        return 1
    record = json.loads(path.read_text())
    print(f"lab {args.prefix!r}: API {record['url']}")
    with contextlib.suppress(Exception):
        for a in _get(record["url"], "/agents")["agents"]:
            print(f"  {a['host']:<10} {a['agent_type']:<20} "
                  f"{'alive' if a['alive'] else 'DOWN'}")
    return 0


def _parser() -> argparse.ArgumentParser:
    from neutrino.config import DEFAULT_STATE_PATH

    p = argparse.ArgumentParser(prog="neutrino lab", description="A multi-host cloud of "
                                "simulated hosts (network namespaces) on this machine.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--prefix", default="lab-",
                        help="prefix of the lab's namespaces (default %(default)s)")
    sub = p.add_subparsers(dest="action", required=True)
    u = sub.add_parser("up", parents=[common],
                       help="build the lab and start its server and agents")
    u.add_argument("--hosts", type=int, default=2, help="compute hosts (default %(default)s)")
    u.add_argument("--port", type=int, default=9696, help="API port (default %(default)s)")
    u.add_argument("--public-cidr", default=PUBLIC_CIDR,
                   help="the external network public's subnet; the machine holds its first "
                   "address (default %(default)s)")
    u.add_argument("--state-path", default=os.path.join(DEFAULT_STATE_PATH, "lab"),
                   help="the lab's database, configs and logs (default %(default)s)")
    sub.add_parser("down", parents=[common],
                   help="stop the lab's processes and remove all it made")
    sub.add_parser("status", parents=[common], help="the lab's agents")
    return p


def lab_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if os.geteuid() != 0:
        print("neutrino lab: needs root (it creates network namespaces)", file=sys.stderr)
        return 2
    if args.action == "up":
        if args.hosts < 1:
            print("neutrino lab: --hosts must be at least 1", file=sys.stderr)
            return 2
        return up(args)
    return down(args) if args.action == "down" else status(args)
