"""``auth_strategy = http_basic``: tenants without Keystone, through the real ``openstack``
CLI (``auth_type: http_basic`` in clouds.yaml) against a real server subprocess."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from neutrino.api.basic_auth import format_user, parse_users
from tests.support.forked_cli import run_openstack
from tests.support.server import Server

OPENSTACK = str(Path(sys.executable).with_name("openstack"))
PASSWORDS = {"admin": "admin-pw", "alice": "alice-pw", "bob": "bob-pw"}


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def basic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("http-basic")
    users = workdir / "users"
    # rounds=4: bcrypt's cost is not what is tested here
    users.write_text("# user:hash:project:roles\n" + "\n".join([
        format_user("admin", PASSWORDS["admin"], "admin", ["admin", "member", "reader"],
                    rounds=4),
        format_user("alice", PASSWORDS["alice"], rounds=4),  # project alice, member
        # a plain htpasswd line (as `htpasswd -B` writes): project bob, member
        format_user("bob", PASSWORDS["bob"], rounds=4).rsplit(":", 2)[0],
    ]) + "\n")
    server = Server(f"sqlite:///{workdir}/db.sqlite", workdir, conf={"DEFAULT": {
        "auth_strategy": "http_basic", "http_basic_auth_user_file": str(users)}})
    with server:
        yield server


@pytest.fixture
def osc(basic_server: Server, tmp_path: Path
        ) -> Callable[..., subprocess.CompletedProcess[str]]:
    clouds = {name: {"auth_type": "http_basic",
                     "auth": {"username": name, "password": pw,
                              "endpoint": f"{basic_server.url}/"}}
              for name, pw in PASSWORDS.items()}
    clouds["wrong"] = {"auth_type": "http_basic",
                       "auth": {"username": "alice", "password": "not-hers",
                                "endpoint": f"{basic_server.url}/"}}
    (tmp_path / "clouds.yaml").write_text(json.dumps({"clouds": clouds}))  # JSON is YAML
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(tmp_path / "clouds.yaml")

    def run(cloud: str, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [OPENSTACK, "--os-cloud", cloud, *args]
        proc = run_openstack(cmd[1:], env=env, cwd=tmp_path, timeout=60)
        assert (proc.returncode == 0) == ok, f"{cmd} ({proc.returncode}):\n{proc.stderr}"
        return proc

    return run


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)


def test_cli_users_act_in_their_own_projects(
        osc: Callable[..., subprocess.CompletedProcess[str]], basic_server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    net = _json(osc("alice", "network", "create", f"a-{tag}", "-f", "json"))
    assert net["project_id"] == "alice"
    bob_net = _json(osc("bob", "network", "create", f"b-{tag}", "-f", "json"))
    assert bob_net["project_id"] == "bob"

    # each member sees only their project's; what they may not see is 404
    assert [n["Name"] for n in _json(osc("alice", "network", "list", "-f", "json"))] == \
        [f"a-{tag}"]
    err = osc("bob", "network", "show", net["id"], ok=False).stderr
    assert "No Network found" in err or "404" in err
    # a member is not an admin: provider attributes are refused
    err = osc("alice", "network", "create", "--provider-network-type", "flat",
              "--provider-physical-network", "physnet1", f"p-{tag}", ok=False).stderr
    assert "403" in err
    # the admin sees everyone's and may act on them
    names = {n["Name"] for n in _json(osc("admin", "network", "list", "-f", "json"))}
    assert {f"a-{tag}", f"b-{tag}"} <= names
    osc("admin", "network", "delete", bob_net["id"])
    osc("alice", "network", "delete", net["id"])

    err = osc("wrong", "network", "list", ok=False).stderr
    assert "401" in err and "requires authentication" in err


def test_wrong_or_missing_credentials_are_401_neutron_errors(basic_server: Server) -> None:
    for headers in ({}, _basic("alice", "nope"), _basic("nobody", "x"),
                    {"Authorization": "Basic !!!"}, {"Authorization": "Bearer abc"},
                    # identity headers alone are not credentials under http_basic
                    {"X-Project-Id": "alice", "X-Roles": "admin"}):
        status, body = basic_server.request("GET", "/v2.0/networks", headers=headers)
        assert status == 401, headers
        assert body["NeutronError"]["type"] == "HTTPUnauthorized"
    # the version document needs no credentials, as Neutron's
    assert basic_server.request("GET", "/")[0] == 200


def test_client_identity_headers_cannot_override_the_users_file(basic_server: Server) -> None:
    headers = {**_basic("alice", PASSWORDS["alice"]), "X-Project-Id": "bob",
               "X-Roles": "admin", "X-User-Id": "admin"}
    status, body = basic_server.request(
        "POST", "/v2.0/networks", {"network": {"name": "spoof"}}, headers=headers)
    assert status == 201 and body["network"]["project_id"] == "alice"
    status, body = basic_server.request(
        "POST", "/v2.0/networks",
        {"network": {"name": "x", "provider:network_type": "flat",
                     "provider:physical_network": "p"}}, headers=headers)
    assert status == 403
    basic_server.request("DELETE", f"/v2.0/networks/{_find(basic_server, 'spoof')}",
                         headers=_basic("admin", PASSWORDS["admin"]))


def _find(server: Server, name: str) -> str:
    _, body = server.request("GET", f"/v2.0/networks?name={name}",
                             headers=_basic("admin", PASSWORDS["admin"]))
    return body["networks"][0]["id"]


def test_users_added_to_a_running_server(basic_server: Server) -> None:
    users = Path(basic_server.config_file).parent / "users"
    carol = _basic("carol", "carol-pw")
    assert basic_server.request("GET", "/v2.0/networks", headers=carol)[0] == 401
    original = users.read_text()
    try:
        users.write_text(original + format_user("carol", "carol-pw", "shared-proj",
                                                ["member", "reader"], rounds=4) + "\n")
        status, body = basic_server.request("POST", "/v2.0/networks",
                                            {"network": {"name": "c"}}, headers=carol)
        assert status == 201 and body["network"]["project_id"] == "shared-proj"
        basic_server.request("DELETE", f"/v2.0/networks/{body['network']['id']}",
                             headers=carol)
    finally:
        users.write_text(original)
    # removed again: refused, though its password was verified (and remembered) before
    assert basic_server.request("GET", "/v2.0/networks", headers=carol)[0] == 401


def test_users_file_format() -> None:
    line = format_user("u", "pw", rounds=4)
    users = parse_users(line + "\n\n# comment\n" + line.replace("u:", "v:", 1)
                        .rsplit(":", 2)[0] + ":proj\n")
    assert (users["u"].project, users["u"].roles) == ("u", ("member", "reader"))
    assert (users["v"].project, users["v"].roles) == ("proj", ("member", "reader"))
    with pytest.raises(ValueError, match="line 1"):
        parse_users("u:plaintext\n")


def test_instance_client_acts_as_the_projects_user(basic_server: Server, tmp_path: Path
                                                   ) -> None:
    """``neutrino instance --project P`` under http_basic: the port is created as P's user
    (from neutrino up's credentials.json), bound by the admin."""
    import argparse

    from neutrino.cli import instance as instance_cli
    from neutrino.compute.client import ApiError

    creds = tmp_path / "credentials.json"
    creds.write_text(json.dumps({"endpoint": f"{basic_server.url}/", "users": {
        name: {"password": pw, "project": name,
               "roles": ["admin", "member", "reader"] if name == "admin" else ["member"]}
        for name, pw in PASSWORDS.items()}}))
    args = argparse.Namespace(token=None, credentials=str(creds), url=None)
    admin = instance_cli._client(args)
    alice, bob = admin.as_member("alice"), admin.as_member("bob")
    bobs = bob.request("POST", "/networks", {"network": {"name": "bobs"}})["network"]
    assert bobs["project_id"] == "bob"
    # alice may not use bob's network: it is not there for her
    with pytest.raises(ApiError) as e:
        alice.create_port(network_id=bobs["id"])
    assert e.value.status == 404
    port = bob.create_port(network_id=bobs["id"])
    assert port["project_id"] == "bob"
    # binding is the admin's (the service identity)
    bound = admin.update_port(port["id"], **{"binding:host_id": "h1"})
    assert bound["binding:host_id"] == "h1"
    with pytest.raises(ApiError) as e:
        bob.update_port(port["id"], **{"binding:host_id": "h2"})
    assert e.value.status == 403
    with pytest.raises(ValueError, match="no user of project nobody"):
        admin.as_member("nobody")
    admin.delete_port(port["id"])
    admin.request("DELETE", f"/networks/{bobs['id']}")
