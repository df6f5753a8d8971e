"""neutrino behind a real Keystone (auth_strategy = keystone), driven by the openstack CLI
as the admin, as members of two projects and as a reader: what each may see and do comes
from validated tokens and Neutron's default policy."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from tests.support.forked_cli import run_openstack
from tests.support.keystone import ADMIN, ALICE, BOB, CAROL, Account, Keystone
from tests.support.server import Server

pytestmark = pytest.mark.keystone



@pytest.fixture(scope="module")
def neutrino(keystone: Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("neutrino-keystone")
    conf = {"DEFAULT": {"auth_strategy": "keystone"},
            "keystone_authtoken": keystone.authtoken_config()}
    with Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, conf=conf) as server:
        keystone.register_network_endpoint(server.url)
        yield server


class Cli:
    def __init__(self, keystone: Keystone) -> None:
        self.keystone = keystone

    def run(self, account: Account, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(self.keystone.openstack_env(account))
        return run_openstack(list(args), env=env, cwd=os.getcwd(), timeout=120)

    def ok(self, account: Account, *args: str) -> Any:
        proc = self.run(account, *args, "-f", "json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    def fails(self, account: Account, *args: str) -> str:
        proc = self.run(account, *args)
        assert proc.returncode != 0, proc.stdout
        return proc.stderr


@pytest.fixture(scope="module")
def cli(keystone: Keystone, neutrino: Server) -> Cli:
    return Cli(keystone)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_tokens_are_required_and_checked(neutrino: Server, keystone: Keystone) -> None:
    # the version document is public, as in Neutron
    assert neutrino.request("GET", "/")[0] == 200
    status, body = neutrino.request("GET", "/v2.0/networks")
    assert status == 401 and body["error"]["code"] == 401
    status, _ = neutrino.request("GET", "/v2.0/networks",
                                 headers={"X-Auth-Token": "not-a-token"})
    assert status == 401
    # forged identity headers are removed by the middleware, not believed
    status, _ = neutrino.request("GET", "/v2.0/networks",
                                 headers={"X-Project-Id": "x", "X-Roles": "admin"})
    assert status == 401
    status, body = neutrino.request("GET", "/v2.0/networks",
                                    headers={"X-Auth-Token": keystone.token(ALICE)})
    assert status == 200 and "networks" in body


def test_projects_cannot_touch_each_other(cli: Cli) -> None:
    name = _name("alice-net")
    net = cli.ok(ALICE, "network", "create", name)
    listed = {n["ID"] for n in cli.ok(BOB, "network", "list")}
    assert net["id"] not in listed
    assert "No Network found" in cli.fails(BOB, "network", "show", net["id"])
    cli.fails(BOB, "network", "set", "--name", "stolen", net["id"])
    cli.fails(BOB, "network", "delete", net["id"])
    assert cli.ok(ALICE, "network", "show", net["id"])["name"] == name
    assert net["id"] in {n["ID"] for n in cli.ok(ADMIN, "network", "list")}


def test_reader_reads_but_cannot_write(cli: Cli, neutrino: Server, keystone: Keystone
                                       ) -> None:
    net = cli.ok(ALICE, "network", "create", _name("shared-in-a"))
    assert net["id"] in {n["ID"] for n in cli.ok(CAROL, "network", "list")}
    assert "disallowed by policy" in cli.fails(CAROL, "network", "create", _name("carol"))
    # carol can see the network, so refusing a change is a 403, not a 404
    status, body = neutrino.request(
        "PUT", f"/v2.0/networks/{net['id']}", {"network": {"name": "x"}},
        headers={"X-Auth-Token": keystone.token(CAROL)})
    assert status == 403 and body["NeutronError"]["type"] == "PolicyNotAuthorized"
    status, _ = neutrino.request("DELETE", f"/v2.0/networks/{net['id']}",
                                 headers={"X-Auth-Token": keystone.token(CAROL)})
    assert status == 403


def test_admin_only_attributes_are_refused_and_hidden(cli: Cli, neutrino: Server,
                                                      keystone: Keystone) -> None:
    err = cli.fails(ALICE, "network", "create", "--provider-network-type", "vxlan",
                    _name("provider"))
    assert "disallowed by policy" in err
    net = cli.ok(ADMIN, "network", "create", "--project", ALICE.project,
                 "--provider-network-type", "vxlan", _name("by-admin"))
    assert net["provider:network_type"] == "vxlan"
    status, body = neutrino.request("GET", f"/v2.0/networks/{net['id']}",
                                    headers={"X-Auth-Token": keystone.token(ALICE)})
    assert status == 200
    assert not any(k.startswith("provider:") for k in body["network"])
    status, body = neutrino.request("GET", f"/v2.0/networks/{net['id']}",
                                    headers={"X-Auth-Token": keystone.token(ADMIN)})
    assert body["network"]["provider:network_type"] == "vxlan"


def test_shared_network_is_usable_by_other_projects(cli: Cli) -> None:
    shared = cli.ok(ADMIN, "network", "create", "--share", _name("shared"))
    cli.ok(ADMIN, "subnet", "create", "--network", shared["id"], "--subnet-range",
           "10.77.0.0/24", _name("shared-sub"))
    assert shared["id"] in {n["ID"] for n in cli.ok(BOB, "network", "list")}
    port = cli.ok(BOB, "port", "create", "--network", shared["id"], _name("bob-port"))
    assert port["network_id"] == shared["id"]
    # bob cannot see or reuse alice's ports on it
    alice_port = cli.ok(ALICE, "port", "create", "--network", shared["id"], _name("a"))
    assert "No Port found" in cli.fails(BOB, "port", "show", alice_port["id"])
    # and cannot add subnets to a network he does not own
    cli.fails(BOB, "subnet", "create", "--network", shared["id"], "--subnet-range",
              "10.78.0.0/24", _name("bob-sub"))
