"""Flows through ``ovs-ofctl`` (docs/ovs-agent.md: why, and what it costs).

``replace`` programs a bridge's whole flow table in one OpenFlow 1.4 bundle
(``--bundle replace-flows``): ovs-ofctl reads the table, compares it with the wanted flows
in OVS's own parsed form, and sends only the differences (adds, modifies, deletes) inside
one atomic bundle. A flow that is already right is not touched (its counters and the
traffic through it do not notice), a stale one (any other cookie, or gone from the plan)
is deleted, and no packet ever sees half a change."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterable

OFCTL = "ovs-ofctl"
PROTOCOLS = "OpenFlow14"  # bundles need OpenFlow 1.4


class OfctlError(RuntimeError):
    pass


class Ofctl:
    def __init__(self, rundir: str | None = None, timeout: float = 30.0) -> None:
        self.env = dict(os.environ)
        if rundir:
            self.env["OVS_RUNDIR"] = rundir  # where ovs-ofctl finds <bridge>.mgmt
        self.timeout = timeout

    def _run(self, *args: str) -> str:
        cmd = [OFCTL, "-O", PROTOCOLS, *args]
        res = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                             timeout=self.timeout, check=False)
        if res.returncode != 0:
            raise OfctlError(f"{' '.join(cmd)}: {res.stderr.strip() or res.returncode}")
        return res.stdout

    def dump(self, bridge: str, cookie: int | None = None) -> list[str]:
        """The bridge's flows (``cookie``: only the agent's), without counters."""
        args = ["--no-stats", "--no-names", "dump-flows", bridge]
        if cookie is not None:
            args.append(f"cookie={cookie:#x}/-1")
        return [line.strip() for line in self._run(*args).splitlines()
                if line.strip() and not line.startswith(("NXST", "OFPST"))]

    def replace(self, bridge: str, flows: Iterable[str], cookie: int) -> None:
        """The bridge's table becomes exactly ``flows``, each with ``cookie``; atomic."""
        text = "".join(f"cookie={cookie:#x},{f}\n" for f in flows)
        with tempfile.NamedTemporaryFile("w", prefix="neutrino-flows-", suffix=".txt") as fh:
            fh.write(text)
            fh.flush()
            self._run("--bundle", "replace-flows", bridge, fh.name)

    def diff(self, bridge: str, flows: Iterable[str], cookie: int) -> list[str]:
        """What ``replace`` would change (ovs-ofctl diff-flows: ``-`` / ``+`` lines)."""
        text = "".join(f"cookie={cookie:#x},{f}\n" for f in flows)
        with tempfile.NamedTemporaryFile("w", prefix="neutrino-flows-", suffix=".txt") as fh:
            fh.write(text)
            fh.flush()
            cmd = [OFCTL, "-O", PROTOCOLS, "diff-flows", bridge, fh.name]
            res = subprocess.run(cmd, env=self.env, capture_output=True, text=True,
                                 timeout=self.timeout, check=False)
        # diff-flows exits 2 when the tables differ
        if res.returncode not in (0, 2):
            raise OfctlError(f"{' '.join(cmd)}: {res.stderr.strip() or res.returncode}")
        return [line for line in res.stdout.splitlines() if line[:1] in "-+"]
