"""schemathesis against GET /v2.0/openapi.json of a real server: every operation of the
document gets generated requests (the coverage phase's boundary and wrong-type values,
then a few random ones), and no answer may be a 5xx or disagree with the document —
status code, body schema, content type.

A few objects are made first (a network with a subnet and a compute port on it, a router
with an interface, a floating IP, a security group and rule, an RBAC policy, tags), and
their ids are the path parameters of the operations on items, so members, sub-resources
and actions are exercised on things that exist and lists have items to show. Deleting an
item is sent a fresh id instead (the objects must outlive the run).

Bounded and deterministic: a fixed number of examples per operation, schemathesis's
deterministic generation, one worker (two threads of CPython 3.11 parsing at once can
crash hypothesis: "AST constructor recursion depth mismatch"). SQLite gets the coverage
phase (boundary values, wrong types, missing keys, unsupported methods), PostgreSQL the
fuzzing phase (random valid data).
On failure the report (and the server's log) are in the assertion.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import migrated_database
from tests.support.server import Server

CHECKS = ("not_a_server_error", "status_code_conformance", "response_schema_conformance",
          "content_type_conformance")
MAX_EXAMPLES = int(os.environ.get("NEUTRINO_OPENAPI_EXAMPLES", "5"))
PHASES = {"sqlite": "coverage", "postgresql": "fuzzing"}
# The coverage phase sends ~80 requests per operation: the tags API of one collection
# stands for the five others there (the same controller); fuzzing covers all six.
SKIP = {"sqlite": "^/v2.0/(subnets|ports|routers|floatingips|security-groups)/[^/]+/tags"}
TAG = "openapi-tag"


def _ok(server: Server, method: str, path: str, body: Any = None) -> Any:
    status, out = server.request(method, path, body)
    assert status < 300, (method, path, status, out)
    return out


def seed(server: Server) -> dict[str, str]:
    """The objects the operations on items are pointed at: {path parameter: value}."""
    net = _ok(server, "POST", "/v2.0/networks", {"network": {"name": "st-net"}})["network"]
    sub = _ok(server, "POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "cidr": "10.90.0.0/24", "ip_version": 4}})["subnet"]
    ext = _ok(server, "POST", "/v2.0/networks", {"network": {
        "name": "st-ext", "router:external": True}})["network"]
    _ok(server, "POST", "/v2.0/subnets", {"subnet": {
        "network_id": ext["id"], "cidr": "198.51.100.0/24", "ip_version": 4}})
    sg = _ok(server, "POST", "/v2.0/security-groups",
             {"security_group": {"name": "st-sg"}})["security_group"]
    rule = _ok(server, "POST", "/v2.0/security-group-rules", {"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22}})["security_group_rule"]
    port = _ok(server, "POST", "/v2.0/ports", {"port": {
        "network_id": net["id"], "device_owner": "compute:nova", "device_id": "vm-1",
        "security_groups": [sg["id"]], "binding:host_id": "st-host"}})["port"]
    router = _ok(server, "POST", "/v2.0/routers", {"router": {
        "name": "st-router", "external_gateway_info": {"network_id": ext["id"]}}})["router"]
    _ok(server, "PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
        {"subnet_id": sub["id"]})
    fip = _ok(server, "POST", "/v2.0/floatingips", {"floatingip": {
        "floating_network_id": ext["id"], "port_id": port["id"]}})["floatingip"]
    rbac = _ok(server, "POST", "/v2.0/rbac-policies", {"rbac_policy": {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": str(uuid.uuid4())}})["rbac_policy"]
    for path in (f"networks/{net['id']}", f"ports/{port['id']}", f"routers/{router['id']}"):
        _ok(server, "PUT", f"/v2.0/{path}/tags/{TAG}")
    return {"network_id": net["id"], "subnet_id": sub["id"], "port_id": port["id"],
            "router_id": router["id"], "floatingip_id": fip["id"],
            "security_group_id": sg["id"], "security_group_rule_id": rule["id"],
            "rbac_policy_id": rbac["id"], "host": "st-host", "tag": TAG,
            "project_id": "admin", "alias": "router"}


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def config(params: dict[str, str]) -> str:
    """schemathesis.toml: the seeded ids as path parameters, fresh ids for deletes, and
    Neutron's 501 for POST /v2.0/quotas (its answer to a method the route lacks)."""
    lines = ["[parameters]"]
    lines += [f"{_toml('path.' + k)} = {_toml(v)}" for k, v in params.items()]
    lines += ["", "[[operations]]", 'include-method = "DELETE"',
              'include-path-regex = "^/v2.0/[^/]+/[{][a-z_]+[}]$"', "[operations.parameters]"]
    lines += [f"{_toml('path.' + k)} = {_toml(str(uuid.uuid4()))}"
              for k in params if k.endswith("_id")]
    lines += ["", "[[operations]]", 'include-path = "/v2.0/quotas"',
              'include-method = "GET"',
              "[operations.checks.not_a_server_error]",
              'expected-statuses = ["2XX", "3XX", "4XX", "501"]']
    # a binding no mechanism driver makes (no agent on the host, a vnic_type the Linux
    # bridge cannot plug) is Neutron's 500 PortBindingError, documented as such
    lines += ["", "[[operations]]", 'include-path-regex = "/bindings"',
              "[operations.checks.not_a_server_error]",
              'expected-statuses = ["2XX", "3XX", "4XX", "500"]']
    return "\n".join(lines) + "\n"


@pytest.mark.slow
@pytest.mark.parametrize("backend", list(PHASES))
def test_schemathesis(backend: str, tmp_path: Path) -> None:
    with migrated_database(backend, tmp_path) as url, Server(url, tmp_path) as server:
        conf = tmp_path / "schemathesis.toml"
        conf.write_text(config(seed(server)))
        cmd = [str(Path(sys.executable).parent / "st"), "--config-file", str(conf), "run",
               f"{server.url}/v2.0/openapi.json", "--checks", ",".join(CHECKS),
               "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
               "--phases", PHASES[backend], "--workers", "1", "--no-color",
               "--output-truncate", "false"]
        if backend in SKIP:
            cmd += ["--exclude-path-regex", SKIP[backend]]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                              cwd=tmp_path)
        report = done.stdout[-20000:] + done.stderr[-5000:]
        errors = [line for line in server.log().splitlines() if "ERROR" in line]
        assert done.returncode == 0, f"{report}\n--- server errors:\n" + "\n".join(errors)
        assert "Operations:       " in done.stdout  # it really ran
