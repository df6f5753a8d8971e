"""``neutrino host cleanup``: remove what neutrino's agents made on a host (as Neutron's
``neutron-netns-cleanup`` and ``neutron-ovs-cleanup`` do), with the agents stopped.

    neutrino host cleanup [--dry-run] [--config-file FILE ...] [--host-namespace NS] [--ovs]

What is ours is recognised by name *and* kind, never by name alone, so an operator's own
devices survive:

- processes inside our namespaces (dnsmasq, instances' DHCP clients), and every dnsmasq
  whose pid file is under ``<state_path>/dhcp/`` (checked against /proc, so a recycled pid
  is never signalled); then the ``<state_path>/dhcp/<network-id>/`` directories;
- namespaces ``<namespace_prefix>qdhcp-<uuid>``, ``<namespace_prefix>qrouter-<uuid>`` and
  instance namespaces ``inst-*`` (``--instance-prefix``), with their ``/etc/netns`` files;
  their devices and the routers' ``neutrino_l3`` tables die with them;
- in the host namespace: bridges ``brq<id[:11]>``, VXLAN devices ``vxlan-<vni>``, veths
  ``tap``/``ns-``/``qr-``/``qg-<port-id[:11]>`` (a Nova/libvirt tap is a tun device and stays);
- the nftables tables ``bridge neutrino_sg`` and ``inet neutrino_sg`` there;
- the bridge-netfilter sysctls the firewall turns on, set back to 0, but only when no bridge
  that is not ours remains (Docker and others rely on them; ``--reset-sysctls`` forces it);
- the all-in-one's ``br-ex`` veth pair (``br-ex`` <-> ``ex-public``, cli/allinone_net.py),
  when both ends are veths (an operator's Open vSwitch or Linux bridge ``br-ex`` stays);
- with ``--ovs`` and Open vSwitch installed: the bridges br-int and br-tun.

VLAN sub-interfaces (``eth1.100``) are left alone: their names do not say who made them.
On simulated hosts sharing one machine, namespaces are told apart by ``namespace_prefix``
(read from the agents' config files, or ``--namespace-prefix``).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from neutrino import config
from neutrino.agent.l2.firewall.nftables import BR_NETFILTER_SYSCTLS
from neutrino.agent.l2.firewall.render import TABLE as SG_TABLE
from neutrino.agent.linux import devices, names, namespaces
from neutrino.agent.linux.errors import CommandError

LOG = logging.getLogger("neutrino.cleanup")

INSTANCE_PREFIX = "inst-"  # compute/instance.py's default; not imported: it pulls the client
NETNS_ETC = "/etc/netns"
OVS_BRIDGES = ("br-int", "br-tun")
# the all-in-one's host side of the public network (cli/allinone_net.py HOST_DEVICE and
# MAPPED_DEVICE; not imported: it pulls the API client)
ALLINONE_VETHS = ("br-ex", "ex-public")
STOP_TIMEOUT = 5.0

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ID11 = r"[0-9a-f]{8}-[0-9a-f]{2}"  # the first 11 characters of a resource id
_BRIDGE = re.compile(rf"^{names.BRIDGE_PREFIX}{_ID11}$")
_PORT_DEVICE = re.compile(
    rf"^({names.TAP_PREFIX}|{names.NS_DEVICE_PREFIX}|{names.ROUTER_INTERFACE_PREFIX}"
    rf"|{names.GATEWAY_INTERFACE_PREFIX}){_ID11}$")


@dataclass(frozen=True)
class Step:
    what: str  # shown by --dry-run and logged when done
    run: Callable[[], object]


def is_agent_namespace(name: str, prefix: str = "") -> bool:
    """``<prefix>qdhcp-<uuid>`` or ``<prefix>qrouter-<uuid>``."""
    rest = name[len(prefix):] if name.startswith(prefix) else None
    return rest is not None and re.fullmatch(
        rf"({names.DHCP_NS_PREFIX}|{names.ROUTER_NS_PREFIX}){_UUID}", rest) is not None


def is_our_device(dev: devices.Device) -> bool:
    """A device our agents make in a host namespace (name and kind both match)."""
    if dev.kind == "bridge":
        return _BRIDGE.match(dev.name) is not None
    if dev.kind == "vxlan":
        return names.vni_from_vxlan_name(dev.name) is not None
    if dev.kind == "veth":
        return _PORT_DEVICE.match(dev.name) is not None or dev.name in ALLINONE_VETHS
    return False


# --- the actions ----------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _stop_pid(pid: int) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; gone already is fine."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)
    raise RuntimeError(f"process {pid} did not exit after SIGKILL")


def namespace_pids(ns: str) -> list[int]:
    """Processes whose network namespace is ``ns`` (``ip netns pids``)."""
    proc = namespaces.execute(["ip", "netns", "pids", ns], check=False)
    return sorted({int(p) for p in proc.stdout.split() if p.isdigit()} - {os.getpid()})


def _dnsmasq_pid(pid_file: str) -> int | None:
    """The pid in ``pid_file`` if that process is a dnsmasq started with that pid file."""
    try:
        with open(pid_file) as f:
            text = f.read().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    try:
        with open(f"/proc/{text}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    ok = argv and os.path.basename(argv[0]) == b"dnsmasq" and \
        f"--pid-file={pid_file}".encode() in argv
    return int(text) if ok else None


def _sysctl_values(netns: str | None) -> dict[str, str]:
    out = {}
    for key in BR_NETFILTER_SYSCTLS:
        proc = namespaces.execute(["sysctl", "-n", key], netns, check=False)
        if proc.returncode == 0:
            out[key] = proc.stdout.strip()
    return out


def _nft_tables(netns: str | None) -> list[tuple[str, str]]:
    try:
        proc = namespaces.execute(["nft", "list", "tables"], netns, check=False)
    except CommandError:  # no nft on this host: it cannot have made tables either
        return []
    tables = []
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "table":
            tables.append((parts[1], parts[2]))
    return tables


# --- the plan -------------------------------------------------------------------------------
@dataclass
class Options:
    host_namespace: str | None
    namespace_prefix: str
    instance_prefix: str
    state_path: str
    ovs: bool = False
    reset_sysctls: bool = False


def plan(opts: Options) -> list[Step]:
    """Everything of ours on the host, in removal order: processes, namespaces, devices,
    tables, sysctls. Read now; each step tolerates its object being gone already."""
    netns = opts.host_namespace
    steps: list[Step] = []
    ours = [n for n in namespaces.list_namespaces(opts.namespace_prefix)
            if is_agent_namespace(n, opts.namespace_prefix)]
    if opts.instance_prefix:
        ours += [n for n in namespaces.list_namespaces(opts.instance_prefix) if n not in ours]
    if netns in ours:
        ours.remove(netns)  # never the host itself, whatever its name
    ns_pids = {ns: namespace_pids(ns) for ns in ours}

    dhcp_dir = os.path.join(opts.state_path, "dhcp")
    network_dirs = sorted(os.listdir(dhcp_dir)) if os.path.isdir(dhcp_dir) else []
    for net in network_dirs:
        pid = _dnsmasq_pid(os.path.join(dhcp_dir, net, "pid"))
        if pid is not None and not any(pid in pids for pids in ns_pids.values()):
            steps.append(Step(f"stop dnsmasq {pid} of network {net}",
                              lambda pid=pid: _stop_pid(pid)))
    for ns, pids in ns_pids.items():
        for pid in pids:
            steps.append(Step(f"stop process {pid} in namespace {ns}",
                              lambda pid=pid: _stop_pid(pid)))
    for net in network_dirs:
        path = os.path.join(dhcp_dir, net)
        steps.append(Step(f"remove dnsmasq files {path}",
                          lambda path=path: shutil.rmtree(path, ignore_errors=True)))
    for ns in ours:
        steps.append(Step(f"delete namespace {ns}", lambda ns=ns: namespaces.delete_namespace(ns)))
        etc = os.path.join(NETNS_ETC, ns)
        if os.path.isdir(etc):
            steps.append(Step(f"remove {etc}",
                              lambda etc=etc: shutil.rmtree(etc, ignore_errors=True)))

    where = f" in {netns}" if netns else ""
    all_devices = devices.list_devices("", netns)
    mine = [d for d in all_devices if is_our_device(d)]
    # veths before bridges and VXLAN devices: a port's veth may have its peer in a namespace
    # deleted above (then it is gone already, which delete_device accepts)
    for dev in sorted(mine, key=lambda d: (d.kind != "veth", d.name)):
        steps.append(Step(f"delete {dev.kind} {dev.name}{where}",
                          lambda n=dev.name: devices.delete_device(n, netns)))

    for family, table in _nft_tables(netns):
        if table == SG_TABLE:
            steps.append(Step(
                f"delete nftables table {family} {table}{where}",
                lambda family=family, table=table: namespaces.execute(
                    ["nft", "delete", "table", family, table], netns, check=False)))

    foreign_bridges = [d.name for d in all_devices if d.kind == "bridge" and d not in mine]
    on = [k for k, v in _sysctl_values(netns).items() if v == "1"]
    if on and (opts.reset_sysctls or not foreign_bridges):
        steps.append(Step(f"sysctl {' '.join(f'{k}=0' for k in on)}{where}",
                          lambda: namespaces.execute(
                              ["sysctl", "-qw", *(f"{k}=0" for k in on)], netns)))
    elif on:
        LOG.info("keeping %s = 1%s: bridges not ours remain (%s); --reset-sysctls resets them",
                 ", ".join(on), where, ", ".join(foreign_bridges))

    if opts.ovs:
        if shutil.which("ovs-vsctl") is None:
            LOG.info("--ovs: ovs-vsctl not found, Open vSwitch is not installed")
        else:
            present = namespaces.execute(["ovs-vsctl", "list-br"], check=False).stdout.split()
            for br in OVS_BRIDGES:
                if br in present:
                    steps.append(Step(f"delete Open vSwitch bridge {br}",
                                      lambda br=br: namespaces.execute(
                                          ["ovs-vsctl", "--if-exists", "del-br", br])))
    return steps


def run(steps: Sequence[Step]) -> list[str]:
    """Carry out ``steps``, going on after a failure; the failures, described."""
    failed = []
    for step in steps:
        try:
            step.run()
            LOG.info("%s", step.what)
        except Exception as e:  # report and go on: a half-clean host is worse
            LOG.error("%s: failed: %s", step.what, e)
            failed.append(f"{step.what}: {e}")
    return failed


# --- command line ---------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="neutrino host cleanup",
        description="Remove the namespaces, devices, nftables tables, dnsmasq processes and "
        "sysctls neutrino's agents made on this host. Stop the agents first.")
    p.add_argument("--dry-run", action="store_true", help="list what would be removed")
    p.add_argument("--config-file", action="append", default=[],
                   help="the agents' config files (state_path, namespace_prefix, "
                   "host_namespace); repeatable")
    p.add_argument("--host-namespace", help="act in this simulated host's namespace "
                   "(default: the agents' host_namespace, else this namespace)")
    p.add_argument("--namespace-prefix", help="agents' namespace_prefix (default: theirs)")
    p.add_argument("--state-path", help="agents' state_path (default: theirs)")
    p.add_argument("--instance-prefix", default=INSTANCE_PREFIX,
                   help="instance namespaces to remove (default %(default)s; '' for none)")
    p.add_argument("--ovs", action="store_true",
                   help="also delete Open vSwitch bridges br-int and br-tun")
    p.add_argument("--reset-sysctls", action="store_true",
                   help="set the bridge-netfilter sysctls to 0 even if other bridges remain")
    p.add_argument("--debug", action="store_true")
    return p


def options_from(args: argparse.Namespace) -> Options:
    from neutrino.cli.agent import ROLES

    conf = config.make_conf([a for f in args.config_file for a in ("--config-file", f)],
                            prog="neutrino host cleanup")
    for register, _make in ROLES.values():
        register(conf)
    return Options(
        host_namespace=args.host_namespace or conf.host_namespace or None,
        namespace_prefix=(args.namespace_prefix if args.namespace_prefix is not None
                          else conf.namespace_prefix or ""),
        instance_prefix=args.instance_prefix,
        state_path=args.state_path or conf.state_path,
        ovs=args.ovs, reset_sysctls=args.reset_sysctls)


def cleanup_main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(levelname)s %(message)s")
    if os.geteuid() != 0:
        print("neutrino host cleanup: needs root", file=sys.stderr)
        return 2
    opts = options_from(args)
    if opts.host_namespace and not namespaces.namespace_exists(opts.host_namespace):
        print(f"neutrino host cleanup: no namespace {opts.host_namespace}", file=sys.stderr)
        return 2
    steps = plan(opts)
    if args.dry_run:
        for step in steps:
            print(step.what)
        if not steps:
            print("nothing of neutrino's found")
        return 0
    failed = run(steps)
    print(f"{len(steps) - len(failed)} removed, {len(failed)} failed")
    return 1 if failed else 0


def host_main(argv: Sequence[str]) -> int:
    """``neutrino host <action>``; ``cleanup`` is the only action."""
    if not argv or argv[0] != "cleanup":
        print("usage: neutrino host cleanup [--dry-run] [--host-namespace NS] [--ovs] "
              "[--config-file FILE ...]", file=sys.stderr)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return cleanup_main(argv[1:])
