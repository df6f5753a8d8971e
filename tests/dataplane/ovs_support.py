"""Open vSwitch per simulated host (PLATFORM.md): one ovsdb-server and one ovs-vswitchd
inside the host's namespace, each with its own database, run directory and unixctl
socket, userspace datapath (``datapath_type=netdev``). Processes are ours by PID and are
stopped by PID.

For userspace tunnels the host's underlay address lives on an OVS bridge (``br-ul``,
internal port) holding ``ul0``: ovs-vswitchd routes tunnel packets out of its own
bridges."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from neutrino.agent.linux import devices, namespaces
from tests.support.wait import wait_until

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
UNDERLAY_BRIDGE = "br-ul"


class OvsHost:
    def __init__(self, ns: str, workdir: Path) -> None:
        self.ns = ns
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_sock = str(self.dir / "db.sock")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "OVS_RUNDIR": str(self.dir), "OVS_DBDIR": str(self.dir),
                    "OVS_LOGDIR": str(self.dir), "OVS_SYSCONFDIR": str(self.dir)}

    @property
    def connection(self) -> str:
        return f"unix:{self.db_sock}"

    def _spawn(self, *cmd: str, log: str) -> subprocess.Popen[bytes]:
        with (self.dir / log).open("ab") as fh:
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns, *cmd], env=self.env,
                                    stdout=fh, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start(self) -> OvsHost:
        db = self.dir / "conf.db"
        if not db.exists():
            subprocess.run(["ovsdb-tool", "create", str(db), SCHEMA], check=True)
        self._spawn("ovsdb-server", str(db), f"--remote=punix:{self.db_sock}",
                    f"--unixctl={self.dir / 'ovsdb-server.ctl'}", "--no-chdir",
                    log="ovsdb-server.log")
        self._wait(lambda: Path(self.db_sock).exists(), "ovsdb-server socket")
        self.vsctl("--no-wait", "init")
        self.start_vswitchd()
        return self

    def start_vswitchd(self) -> None:
        self._spawn("ovs-vswitchd", self.connection,
                    f"--unixctl={self.dir / 'ovs-vswitchd.ctl'}", "--no-chdir",
                    log="ovs-vswitchd.log")
        self._wait(lambda: (self.dir / "ovs-vswitchd.ctl").exists(), "ovs-vswitchd")
        self.vsctl("--timeout=10", "set", "Open_vSwitch", ".", "other_config:x=1")

    def kill_vswitchd(self) -> None:
        for proc in list(self.procs):
            if "ovs-vswitchd" in proc.args and proc.poll() is None:  # type: ignore[operator]
                proc.send_signal(signal.SIGKILL)
                proc.wait(5)
                self.procs.remove(proc)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / "ovs-vswitchd.ctl").unlink()

    def _wait(self, pred: Callable[[], object], what: str, timeout: float = 10.0) -> None:
        wait_until(pred, timeout, 0.05, what=f"{what} up in {self.dir}")

    def vsctl(self, *args: str) -> str:
        res = subprocess.run(["ovs-vsctl", f"--db={self.connection}", *args], env=self.env,
                             capture_output=True, text=True, timeout=30, check=False)
        if res.returncode != 0:
            raise AssertionError(f"ovs-vsctl {' '.join(args)}: {res.stderr}")
        return res.stdout

    def ofctl(self, *args: str) -> str:
        res = subprocess.run(["ovs-ofctl", "-O", "OpenFlow14", *args], env=self.env,
                             capture_output=True, text=True, timeout=30, check=False)
        if res.returncode != 0:
            raise AssertionError(f"ovs-ofctl {' '.join(args)}: {res.stderr}")
        return res.stdout

    def underlay_on_ovs(self, dev: str, cidr: str) -> None:
        """Move the host's underlay address from ``dev`` onto ``br-ul`` (with ``dev`` in
        it): userspace tunnels leave through an OVS bridge."""
        self.vsctl("--may-exist", "add-br", UNDERLAY_BRIDGE, "--", "set", "Bridge",
                   UNDERLAY_BRIDGE, "datapath_type=netdev")
        self.vsctl("--may-exist", "add-port", UNDERLAY_BRIDGE, dev)
        devices.disable_tx_offload(dev, self.ns)
        with contextlib.suppress(Exception):
            namespaces.execute(["ip", "addr", "del", cidr, "dev", dev], self.ns)
        namespaces.execute(["ip", "addr", "replace", cidr, "dev", UNDERLAY_BRIDGE], self.ns)
        namespaces.execute(["ip", "link", "set", UNDERLAY_BRIDGE, "up"], self.ns)

    def stop(self) -> None:
        """Every bridge deleted, then the daemons stopped by PID (SIGTERM, then SIGKILL)."""
        with contextlib.suppress(Exception):
            for br in self.vsctl("list-br").split():
                self.vsctl("--timeout=10", "--if-exists", "del-br", br)
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self.procs.clear()
