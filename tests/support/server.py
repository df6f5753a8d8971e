"""Starting real neutrino API servers for tests: a subprocess running ``neutrino server``
with a generated config file, reached over HTTP like any client would."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support.process import stop_group, wait_answering


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, list | tuple):
                value = ",".join(str(v) for v in value)
            lines.append(f"{key} = {value}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


class Server:
    """One neutrino API server (``workers`` processes) on a database URL."""

    def __init__(self, db_url: str, workdir: Path, *, workers: int = 1,
                 conf: dict[str, dict[str, Any]] | None = None) -> None:
        self.db_url = db_url
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        sections: dict[str, dict[str, Any]] = {
            "DEFAULT": {"bind_host": "127.0.0.1", "bind_port": self.port,
                        "api_workers": workers, "state_path": str(workdir)},
            "database": {"connection": db_url},
        }
        for section, values in (conf or {}).items():
            sections.setdefault(section, {}).update(values)
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_file = write_config(workdir / f"neutrino-{self.port}.conf", sections)
        self.log_path = workdir / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "neutrino.cli.main", *args, "--config-file",
             str(self.config_file)],
            capture_output=True, text=True, timeout=120, check=True,
        )

    def start(self, timeout: float = 60) -> Server:
        if not self.db_url.startswith("sqlite") and not _at_head(self.db_url):
            # (a database from tests.conftest.migrated_database is: no second process)
            self.cli("db", "upgrade")
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "neutrino.cli.main", "server", "--config-file",
             str(self.config_file)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_answering(self.proc, lambda: self.request("GET", "/")[0] == 200, "server",
                       timeout, self.log)
        return self

    def stop(self) -> None:
        stop_group(self.proc)  # the whole session: the supervisor and its forked workers

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, body: Any = None, *,
                headers: dict[str, str] | None = None, raw: bytes | None = None
                ) -> tuple[int, Any]:
        """One HTTP request; returns (status, decoded JSON body or None)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = raw if raw is not None else (
                json.dumps(body).encode() if body is not None else None)
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, json.loads(payload) if payload else None
        finally:
            conn.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _at_head(db_url: str) -> bool:
    from neutrino.db import migrate

    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    try:
        return migrate.is_current(engine)
    finally:
        engine.dispose()


def project_headers(project: str, *, admin: bool = False) -> dict[str, str]:
    roles = "admin,member,reader" if admin else "member,reader"
    return {"X-Project-Id": project, "X-User-Id": f"user-{project}", "X-Roles": roles}
