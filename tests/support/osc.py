"""The openstack CLI (python-openstackclient) against a test server, as an operator runs it:
a clouds.yaml with ``auth_type: none`` (the CLI sends no identity headers: it acts as the
noauth operator). Each command is its own process, forked from one that has imported the
CLI already (tests.support.forked_cli: ~0.3 s of CPU per command instead of ~1.3 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.forked_cli import run_openstack
from tests.support.server import Server

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
Osc = Callable[..., subprocess.CompletedProcess[str]]


def openstack_cli(server: Server, workdir: Path) -> Osc:
    """``run(*args, cloud=True, ok=True)``: the CLI's completed process; it must succeed
    (``ok``) or fail (not ``ok``); ``cloud=False`` leaves out ``--os-cloud``."""
    clouds = workdir / "clouds.yaml"
    clouds.write_text("clouds:\n  neutrino:\n    auth_type: none\n"
                      f"    network_endpoint_override: {server.url}/\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(clouds)

    def run(*args: str, cloud: bool = True, ok: bool = True
            ) -> subprocess.CompletedProcess[str]:
        cmd = [OPENSTACK, *(["--os-cloud", "neutrino"] if cloud else []), *args]
        proc = run_openstack(cmd[1:], env=env, cwd=workdir, timeout=60)
        if ok and proc.returncode != 0:
            raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stderr}")
        if not ok:
            assert proc.returncode != 0, f"{cmd} should have failed:\n{proc.stdout}"
        return proc

    return run


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    """The CLI's ``-f json`` output (None when it printed nothing)."""
    return json.loads(proc.stdout) if proc.stdout.strip() else None
