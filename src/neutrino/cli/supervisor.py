"""The all-in-one's agents as separate processes (``neutrino up`` with a RabbitMQ
``transport_url``): one ``neutrino agent --role ROLE`` per role, restarted when it dies,
stopped when ``neutrino up`` stops.

Each agent's pid is in ``<state_path>/agents/<role>.pid``; ``kill $(cat ...)`` restarts
that one agent alone (the supervisor starts a new one within a second), as restarting
Neutron's agent service does. On the in-process bus the agents cannot be separate
processes (the bus reaches only its own process), so ``neutrino up`` runs them in its own.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOG = logging.getLogger("neutrino.up")
# a restart loop is slowed down (1 s, 2 s, ... 30 s) unless the agent had run this long
HEALTHY_AFTER = 60.0
MAX_BACKOFF = 30.0


@dataclass
class _Child:
    role: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    backoff: float = 1.0
    restarts: int = field(default=0)


class AgentSupervisor:
    def __init__(self, roles: Sequence[str], args: Sequence[str], state_path: str) -> None:
        self.pid_dir = Path(state_path) / "agents"
        self._children = [
            _Child(role, [sys.executable, "-m", "neutrino.cli.main", "agent", "--role", role,
                          *args])
            for role in roles]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="agent-supervisor",
                                        daemon=True)

    def start(self) -> None:
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        for child in self._children:
            self._spawn(child)
        self._thread.start()

    def pids(self) -> dict[str, int]:
        return {c.role: c.proc.pid for c in self._children if c.proc is not None}

    def _spawn(self, child: _Child) -> None:
        child.proc = subprocess.Popen(child.argv)  # logs go to neutrino up's output
        child.started = time.monotonic()
        (self.pid_dir / f"{child.role}.pid").write_text(f"{child.proc.pid}\n")
        LOG.info("%s agent running as process %d", child.role, child.proc.pid)

    def _watch(self) -> None:
        while not self._stopping.wait(0.5):
            for child in self._children:
                if child.proc is None or child.proc.poll() is None:
                    continue
                ran = time.monotonic() - child.started
                delay = 1.0 if ran >= HEALTHY_AFTER else child.backoff
                child.backoff = min(delay * 2, MAX_BACKOFF)
                LOG.error("%s agent (process %d) exited with status %s after %.0f s; "
                          "restarting it in %.0f s", child.role, child.proc.pid,
                          child.proc.returncode, ran, delay)
                if self._stopping.wait(delay):
                    return
                child.restarts += 1
                self._spawn(child)

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        running = [c.proc for c in self._children if c.proc and c.proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in running:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                LOG.error("agent process %d did not stop on SIGTERM: killed", proc.pid)
                proc.kill()
                proc.wait()
        for child in self._children:
            (self.pid_dir / f"{child.role}.pid").unlink(missing_ok=True)
        LOG.info("agents stopped")


def args_for_agents(args: Sequence[str], state_path: str, local_ip: str | None,
                    mappings: Sequence[str] = (),
                    sections: Mapping[str, Mapping[str, str]] | None = None) -> list[str]:
    """``neutrino up``'s own options, passed on to its agents, plus an override file for
    what ``up`` decided itself (the single host's VXLAN endpoint, the public network's
    interface; ``sections``: more of it, e.g. an Open vSwitch all-in-one's)."""
    out = list(args)
    lines = ["# written by neutrino up"]
    if local_ip:
        lines += ["[vxlan]", f"local_ip = {local_ip}"]
    if mappings:
        lines += ["[linux_bridge]", f"physical_interface_mappings = {','.join(mappings)}"]
    for section, values in (sections or {}).items():
        lines += [f"[{section}]", *(f"{k} = {v}" for k, v in values.items())]
    path = Path(state_path) / "agents" / "allinone.conf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    out += ["--config-file", str(path)]
    if not any(a.startswith(("--state-path", "--state_path")) for a in out):
        out += ["--state-path", state_path]
    return out

