"""The real Keystone fixture: tokens for the test accounts, validated as keystonemiddleware
validates them, and the catalog clients use to find neutrino."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.keystone import (
    ACCOUNTS,
    ALICE,
    BOB,
    CAROL,
    PROJECT_A,
    PROJECT_B,
    SERVICE,
    Keystone,
    KeystoneError,
)
from tests.support.server import write_config


def _roles(token: dict[str, Any]) -> set[str]:
    return {r["name"] for r in token["roles"]}


def test_tokens_for_alice_and_bob(keystone: Keystone) -> None:
    alice = keystone.token_for("alice", ALICE.password, PROJECT_A)
    bob = keystone.token_for("bob", BOB.password, PROJECT_B)
    assert alice != bob

    body = keystone.validate_token(alice)  # with the admin's token, as X-Auth-Token
    assert body["user"]["name"] == "alice"
    assert body["project"]["name"] == PROJECT_A
    assert body["project"]["domain"]["id"] == "default"
    assert _roles(body) == {"member", "reader"}
    assert "password" in body["methods"]

    body = keystone.validate_token(bob)
    assert body["user"]["name"] == "bob"
    assert body["project"]["name"] == PROJECT_B
    assert _roles(body) == {"member", "reader"}  # member implies reader
    assert body["project"]["id"] != keystone.validate_token(alice)["project"]["id"]


@pytest.mark.parametrize("name", sorted(ACCOUNTS))
def test_every_account_has_its_roles(keystone: Keystone, name: str) -> None:
    account = ACCOUNTS[name]
    body = keystone.validate_token(keystone.token(account))
    assert body["project"]["name"] == account.project
    assert set(account.roles) <= _roles(body)


def test_carol_is_reader_only(keystone: Keystone) -> None:
    body = keystone.validate_token(keystone.token_for("carol", CAROL.password, PROJECT_A))
    assert _roles(body) == {"reader"}


def test_no_token_outside_ones_projects(keystone: Keystone) -> None:
    with pytest.raises(KeystoneError) as err:
        keystone.token_for("bob", BOB.password, PROJECT_A)
    assert err.value.status == 401
    with pytest.raises(KeystoneError) as err:
        keystone.token_for("alice", "wrong-password", PROJECT_A)
    assert err.value.status == 401


def test_service_user_validates_tokens(keystone: Keystone) -> None:
    """keystonemiddleware validates with the service user's own token: the service role
    must be enough under the secure-RBAC defaults; an ordinary user's is not."""
    alice = keystone.token(ALICE)
    service = keystone.token(SERVICE)
    assert keystone.validate_token(alice, auth_token=service)["user"]["name"] == "alice"
    with pytest.raises(KeystoneError) as err:
        keystone.validate_token(alice, auth_token=keystone.token(BOB))
    assert err.value.status == 403
    garbage = keystone.request("GET", "/v3/auth/tokens", token=service,
                               headers={"X-Subject-Token": "not-a-token"})
    assert garbage.status == 404


def _network_endpoints(token: dict[str, Any]) -> dict[str, str]:
    (network,) = [s for s in token["catalog"] if s["type"] == "network"]
    assert network["name"] == "neutron"
    return {e["interface"]: e["url"] for e in network["endpoints"]
            if e["region_id"] == "RegionOne"}


def test_network_endpoint_in_catalog(keystone: Keystone) -> None:
    keystone.register_network_endpoint("http://127.0.0.1:9")
    keystone.register_network_endpoint("http://127.0.0.1:9696")  # moved: updated in place
    body = keystone.validate_token(keystone.token(ALICE))
    assert _network_endpoints(body) == dict.fromkeys(
        ("public", "internal", "admin"), "http://127.0.0.1:9696")


def test_openstack_cli_finds_network_endpoint(keystone: Keystone) -> None:
    cli = Path(sys.executable).with_name("openstack")
    if not cli.exists() and not (cli := shutil.which("openstack")):
        pytest.skip("the openstack CLI (python-openstackclient) is not installed")
    url = "http://127.0.0.1:9696"
    keystone.register_network_endpoint(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(keystone.openstack_env("carol"))
    proc = subprocess.run([str(cli), "catalog", "show", "network", "-f", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["type"] == "network"
    assert url in json.dumps(shown["endpoints"])


def test_keystonemiddleware_accepts_the_fixture_tokens(keystone: Keystone,
                                                       tmp_path: Path) -> None:
    """authtoken_config() as neutrino's [keystone_authtoken] section, read by oslo.config
    and handed to keystonemiddleware's auth_token, as the API service will use it."""
    auth_token = pytest.importorskip(
        "keystonemiddleware.auth_token",
        reason="keystonemiddleware is not installed in neutrino's venv (yet)")
    import webob  # keystonemiddleware's own dependency
    from oslo_config import cfg

    conf_file = write_config(tmp_path / "neutrino.conf",
                             {"keystone_authtoken": keystone.authtoken_config()})
    conf = cfg.ConfigOpts()
    conf(args=["--config-file", str(conf_file)], project="neutrino", default_config_files=[])
    seen: dict[str, str] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.clear()
        seen.update({k: v for k, v in environ.items() if k.startswith("HTTP_X_")})
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    middleware = auth_token.AuthProtocol(app, {"oslo_config_config": conf})

    def call(token: str | None) -> webob.Response:
        headers = {"X-Auth-Token": token} if token else {}
        return webob.Request.blank("/v2.0/networks", headers=headers).get_response(middleware)

    resp = call(keystone.token(ALICE))
    assert resp.status_int == 200, resp.text
    assert seen["HTTP_X_IDENTITY_STATUS"] == "Confirmed"
    assert seen["HTTP_X_USER_NAME"] == "alice"
    assert seen["HTTP_X_PROJECT_NAME"] == PROJECT_A
    assert set(seen["HTTP_X_ROLES"].split(",")) == {"member", "reader"}

    resp = call(keystone.token(CAROL))
    assert resp.status_int == 200, resp.text
    assert seen["HTTP_X_ROLES"] == "reader"

    for bad in (None, "not-a-token"):
        resp = call(bad)
        assert resp.status_int == 401
        assert resp.headers["WWW-Authenticate"] == f"Keystone uri=\"{keystone.auth_url}\""
