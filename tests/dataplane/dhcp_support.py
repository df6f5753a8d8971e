"""Helpers of the DHCP data-plane tests: instance namespaces that take their address from
DHCP (busybox udhcpc with a small action script that applies the lease the way a guest's
client does), a state directory dnsmasq can read, and cleanup of dnsmasq processes by pid.

Tools: dnsmasq (apt: dnsmasq-base), dhcp_release (apt: dnsmasq-utils), udhcpc (apt:
busybox). Missing ones skip the tests with the package to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from neutrino.agent.linux import devices, names, namespaces
from tests.dataplane import agent_helpers
from tests.dataplane.conftest import LOCK_DIR, PREFIX_RE, Features, _lock_is_free
from tests.dataplane.topology import Host, Topology
from tests.support.wait import WaitTimeout, wait_until

DHCP_TOOLS = {"dnsmasq": "dnsmasq-base", "dhcp_release": "dnsmasq-utils",
              "busybox": "busybox"}

# udhcpc runs this on each event ($1) with the lease in its environment. It records the
# lease (for the test to read) and configures the interface as a guest would: address,
# MTU, classless static routes (option 121) if given, else the router (RFC 3442: a client
# given option 121 ignores option 3).
UDHCPC_SCRIPT = r"""#!/bin/sh
case "$1" in
deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    ;;
bound|renew)
    env | grep -E -e '^(ip|mask|subnet|router|mtu|staticroutes|dns|domain|hostname)=' \
        -e '^(lease|serverid|ntpsrv)=' \
        | sort > "$LEASE_FILE.tmp"
    mv "$LEASE_FILE.tmp" "$LEASE_FILE"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip addr replace "$ip/${mask:-24}" dev "$interface"
    if [ -n "$staticroutes" ]; then
        set -- $staticroutes
        while [ $# -ge 2 ]; do
            if [ "$2" = "0.0.0.0" ]; then
                ip route replace "$1" dev "$interface"
            else
                ip route replace "$1" via "$2" dev "$interface"
            fi
            shift 2
        done
    elif [ -n "$router" ]; then
        for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
    fi
    ;;
esac
exit 0
"""


def require_dhcp_tools(features: Features) -> None:
    features.require()
    for tool, package in DHCP_TOOLS.items():
        if shutil.which(tool) is None:
            reason = f"`{tool}` not found (apt: {package})"
            if os.environ.get("NEUTRINO_TEST_REQUIRE_DATAPLANE"):
                pytest.fail(f"data plane required but {reason}")
            pytest.skip(reason)


def state_dir(run_prefix: str, name: str) -> Path:
    """A state_path every user can traverse (dnsmasq re-reads its files as nobody), under
    the session's lock directory so a crashed session's leftovers are recognized."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    path = LOCK_DIR / f"{run_prefix}{name}"
    path.mkdir(mode=0o755, exist_ok=True)
    path.chmod(0o755)
    return path


def dnsmasq_pids_under(directory: str) -> list[int]:
    """Pids of dnsmasq processes whose pid file lies under ``directory``."""
    found = []
    prefix = f"--pid-file={directory.rstrip('/')}/"
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in argv if a]
        if args and os.path.basename(args[0]) == "dnsmasq" and any(
                a.startswith(prefix) for a in args):
            found.append(int(entry))
    return found


def kill_pids(pids: list[int], timeout: float = 5.0) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(WaitTimeout):  # then what is left is killed
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in pids), timeout,
                   what=f"processes {pids} gone")
    for pid in pids:
        if Path(f"/proc/{pid}").exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def require_dhcp_deployment(features: Features) -> None:
    """What an end-to-end DHCP deployment (server and agents over RabbitMQ) needs: VXLAN,
    the DHCP tools and a reachable RabbitMQ (else a skip, or a failure under
    NEUTRINO_TEST_REQUIRE_DATAPLANE); and no dnsmasq left by crashed sessions."""
    features.require("vxlan")
    require_dhcp_tools(features)
    agent_helpers.require_rabbit()
    sweep_stale_dnsmasq()


def sweep_stale_dnsmasq() -> None:
    """Stop dnsmasq processes left by crashed test sessions (their lock is free)."""
    if not LOCK_DIR.exists():
        return
    for entry in LOCK_DIR.iterdir():
        m = PREFIX_RE.match(entry.name)
        if not m or not entry.is_dir():
            continue
        if _lock_is_free(LOCK_DIR / f"{m.group(1)}.lock"):
            kill_pids(dnsmasq_pids_under(str(entry)))
            shutil.rmtree(entry, ignore_errors=True)


@dataclass
class DhcpInstance:
    """An instance namespace whose eth0 (the port's MAC, no address) is on ``bridge``."""

    name: str
    ns: str
    mac: str
    tap: str
    lease_file: Path
    script: Path
    dev: str = "eth0"

    def dhcp(self, timeout: float = 20.0, *extra: str) -> dict[str, str]:
        """Run udhcpc once (until it has a lease, or fails); returns the lease."""
        self.lease_file.unlink(missing_ok=True)
        cmd = ["busybox", "udhcpc", "-i", self.dev, "-s", str(self.script), "-q", "-f", "-n",
               "-t", "10", "-T", "1", "-O", "staticroutes", *extra]
        env = {**os.environ, "LEASE_FILE": str(self.lease_file)}
        proc = namespaces.execute(cmd, self.ns, check=False, timeout=timeout, env=env)
        if proc.returncode != 0 or not self.lease_file.exists():
            raise AssertionError(f"udhcpc in {self.ns} got no lease (status "
                                 f"{proc.returncode}):\n{proc.stdout}{proc.stderr}")
        lease = {}
        for line in self.lease_file.read_text().splitlines():
            key, _, value = line.partition("=")
            lease[key] = value
        return lease

    def addresses(self) -> list[str]:
        return devices.list_addresses(self.dev, self.ns, family=socket.AF_INET)

    def routes(self) -> list[tuple[str, str | None]]:
        return [(r.dst, r.via) for r in devices.list_routes(self.ns, dev=self.dev)]

    def mtu(self) -> int:
        dev = devices.get_device(self.dev, self.ns)
        assert dev is not None
        return dev.mtu

    def ping(self, ip: str) -> subprocess.CompletedProcess[str]:
        return namespaces.execute(["ping", "-n", "-c", "2", "-i", "0.2", "-W", "1", ip],
                                  self.ns, check=False, timeout=15)


def dhcp_instance(topo: Topology, name: str, host: Host, bridge: str, mac: str,
                  port_id: str, workdir: Path) -> DhcpInstance:
    ns = topo.namespace(name)
    tap = names.tap_name(port_id)
    devices.ensure_veth(tap, "eth0", peer_netns=ns, netns=host.ns, up=False)
    devices.set_mac_address("eth0", mac, netns=ns)
    devices.set_up("eth0", netns=ns)
    devices.set_master(tap, bridge, netns=host.ns)
    devices.set_up(tap, netns=host.ns)
    script = workdir / "udhcpc.sh"
    if not script.exists():
        script.write_text(UDHCPC_SCRIPT)
        script.chmod(0o755)
    return DhcpInstance(name=name, ns=ns, mac=mac, tap=tap,
                        lease_file=workdir / f"lease-{name}", script=script)
