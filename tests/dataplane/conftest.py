"""Data-plane tests: real namespaces, devices and packets. They need root and a kernel with
network namespaces, veth, bridges and VXLAN; without them each test is skipped with the
exact reason (or fails, when NEUTRINO_TEST_REQUIRE_DATAPLANE is set, as CI does on a
machine that must run them).

Isolation and cleanup:

- every namespace of a test session is named ``nd<4 hex>-...``; the session holds an flock
  on /run/neutrino-dataplane-tests/<prefix>.lock while it runs;
- at session start, namespaces of that pattern whose session no longer holds its lock
  (crashed, killed) are deleted; those of live sessions (another engineer's run, a parallel
  worker) are left alone;
- each ``topology`` is torn down by its fixture finalizer, pass or fail, and at session end
  every namespace with this session's prefix is deleted again as a backstop.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

from tests.dataplane.topology import Topology

LOCK_DIR = Path("/run/neutrino-dataplane-tests")
PREFIX_RE = re.compile(r"^(nd[0-9a-f]{4}-)")
REQUIRED_TOOLS = {"ip": "iproute2", "ping": "iputils-ping"}


@dataclass
class Features:
    """What this machine can do, probed once per session: feature -> None or why not."""

    missing: dict[str, str] = field(default_factory=dict)

    def require(self, *features: str) -> None:
        for feature in ("base", *features):
            reason = self.missing.get(feature)
            if reason:
                if os.environ.get("NEUTRINO_TEST_REQUIRE_DATAPLANE"):
                    pytest.fail(f"data plane required but {reason}")
                pytest.skip(reason)


def _probe_kernel(prefix: str) -> dict[str, str]:
    """Create a throw-away namespace and one device of each kind the tests use."""
    from pyroute2.netlink.exceptions import NetlinkError

    from neutrino.agent.linux import namespaces
    from neutrino.agent.linux.netlink import ipr_for

    missing: dict[str, str] = {}
    ns = f"{prefix}probe"
    try:
        namespaces.create_namespace(ns)
    except Exception as e:
        return {"base": f"cannot create a network namespace: {e}"}
    try:
        ipr = ipr_for(ns)
        probes = {
            "veth": {"ifname": "pv0", "kind": "veth", "peer": "pv1"},
            "bridge": {"ifname": "pbr", "kind": "bridge"},
            "vxlan": {"ifname": "pvx", "kind": "vxlan", "vxlan_id": 42,
                      "vxlan_port": 4789, "vxlan_learning": 0, "vxlan_proxy": 1},
        }
        for feature, spec in probes.items():
            try:
                ipr.link("add", **spec)
            except NetlinkError as e:
                missing[feature] = f"kernel cannot create {feature} devices: {e}"
        for base in ("veth", "bridge"):
            if base in missing:
                missing["base"] = missing[base]
    finally:
        namespaces.delete_namespace(ns)
    return missing


def _probe(prefix: str) -> Features:
    if os.geteuid() != 0:
        return Features({"base": "data-plane tests need root (they create network namespaces)"})
    for tool, package in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            return Features({"base": f"`{tool}` not found (apt: {package})"})
    missing = _probe_kernel(prefix)
    if shutil.which("ethtool") is None:
        missing["ethtool"] = "`ethtool` not found (apt: ethtool)"
    return Features(missing)


def _sweep_stale(own_prefix: str) -> None:
    """Delete namespaces left by dead sessions (their lock is free or gone)."""
    from neutrino.agent.linux import namespaces

    verdict: dict[str, bool] = {}  # prefix -> stale?
    for ns in namespaces.list_namespaces("nd"):
        m = PREFIX_RE.match(ns)
        if not m or m.group(1) == own_prefix:
            continue
        prefix = m.group(1)
        if prefix not in verdict:
            verdict[prefix] = _lock_is_free(LOCK_DIR / f"{prefix}.lock")
        if verdict[prefix]:
            namespaces.delete_namespace(ns)
    for prefix, stale in verdict.items():
        if stale:
            with contextlib.suppress(FileNotFoundError):
                (LOCK_DIR / f"{prefix}.lock").unlink()


def _lock_is_free(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True  # a live session creates its lock before any namespace
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.fixture(scope="session")
def run_prefix() -> Iterator[str]:
    """This session's namespace prefix, locked for the session's lifetime."""
    prefix = f"nd{secrets.token_hex(2)}-"
    if os.geteuid() != 0:  # nothing will be created: `features` skips every test
        yield prefix
        return
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    lock: IO[str] = open(LOCK_DIR / f"{prefix}.lock", "w")  # noqa: SIM115 (held all session)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        yield prefix
    finally:
        _delete_prefixed(prefix)
        (LOCK_DIR / f"{prefix}.lock").unlink(missing_ok=True)
        lock.close()


def _delete_prefixed(prefix: str) -> None:
    from neutrino.agent.linux import namespaces
    from neutrino.agent.linux.netlink import handles

    for ns in namespaces.list_namespaces(prefix):
        namespaces.delete_namespace(ns)
    handles.close_all()


@pytest.fixture(scope="session")
def features(run_prefix: str) -> Features:
    found = _probe(run_prefix)
    if "base" not in found.missing:
        _sweep_stale(run_prefix)
    return found


_topology_ids = itertools.count()  # per session: names stay unique even if a cleanup fails


@pytest.fixture
def topology(features: Features, run_prefix: str) -> Iterator[Callable[[], Topology]]:
    """Factory: ``topology()`` returns a new, empty Topology; all are torn down after the
    test, pass or fail. Tests needing more than namespaces/veth/bridges call
    ``features.require("vxlan")`` first."""
    features.require()
    made: list[Topology] = []

    def make() -> Topology:
        topo = Topology(prefix=f"{run_prefix}{next(_topology_ids)}")
        made.append(topo)
        return topo

    try:
        yield make
    finally:
        errors = []
        for topo in made:
            try:
                topo.cleanup()
            except Exception as e:
                errors.append(str(e))
        if errors:
            pytest.fail("; ".join(errors))
