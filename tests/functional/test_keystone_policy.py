"""A custom admin role behind a real Keystone: with ``context_is_admin: role:admin or
role:cloud_admin`` in the policy file, a token carrying ``cloud_admin`` is an admin to
neutrino (is_admin is that rule's verdict on the token's credentials, as in Neutron),
and one carrying neither role is not."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.keystone import ALICE, Account, Keystone
from tests.support.server import Server

pytestmark = pytest.mark.keystone

CLOUD_OPS = Account("cloudops", "cloudops-password", "project-ops", ("cloud_admin",))
PLAIN = Account("plainops", "plainops-password", "project-ops", ("member",))


@pytest.fixture(scope="module")
def neutrino(keystone: Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("neutrino-keystone-policy")
    policy_file = workdir / "policy.yaml"
    policy_file.write_text(json.dumps({"context_is_admin": "role:admin or role:cloud_admin"}))
    conf = {"DEFAULT": {"auth_strategy": "keystone"},
            "keystone_authtoken": keystone.authtoken_config(),
            "oslo_policy": {"policy_file": str(policy_file)}}
    for account in (CLOUD_OPS, PLAIN):
        keystone.ensure_account(account)
    with Server(f"sqlite:///{Path(workdir) / 'neutrino.sqlite'}", workdir,
                conf=conf) as server:
        yield server


def test_cloud_admin_token_is_an_admin(neutrino: Server, keystone: Keystone) -> None:
    def call(account: Account, method: str, path: str, body: object = None
             ) -> tuple[int, dict]:
        return neutrino.request(method, path, body,
                                headers={"X-Auth-Token": keystone.token(account)})

    code, body = call(ALICE, "POST", "/v2.0/networks", {"network": {"name": "alices"}})
    assert code == 201, body
    net = body["network"]
    try:
        code, body = call(CLOUD_OPS, "GET", f"/v2.0/networks/{net['id']}")
        assert code == 200, body
        assert "provider:network_type" in body["network"]  # an admin-only attribute
        code, body = call(CLOUD_OPS, "PUT", f"/v2.0/networks/{net['id']}",
                          {"network": {"shared": True}})
        assert code == 200 and body["network"]["shared"] is True, body
        # a member of the same project without the role sees it only because it is shared
        code, body = call(PLAIN, "PUT", f"/v2.0/networks/{net['id']}",
                          {"network": {"name": "x"}})
        assert code == 403, body
    finally:
        code, body = call(CLOUD_OPS, "DELETE", f"/v2.0/networks/{net['id']}")
        assert code == 204, body
