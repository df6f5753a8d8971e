"""Host agents as real processes for tests: ``neutrino agent --role ROLE`` with a
generated config file, stopped by their own PID (SIGTERM, or SIGKILL for fault tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.server import write_config


class AgentProcess:
    def __init__(self, role: str, name: str, workdir: Path,
                 conf: dict[str, dict[str, Any]]) -> None:
        self.role = role
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_file = write_config(workdir / f"agent-{role}-{name}.conf", conf)
        self.log_path = workdir / f"agent-{role}-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> AgentProcess:
        if self.running:
            return self
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "neutrino.cli.main", "agent", "--role", self.role,
                 "--config-file", str(self.config_file)],
                stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time; only our own PID."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill9(self) -> None:
        """The fault: SIGKILL, no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        with contextlib.suppress(FileNotFoundError):
            return self.log_path.read_text(errors="replace")
        return ""
