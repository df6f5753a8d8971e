"""Input limits over HTTP (issue 9): integers beyond their column's range are a 400 in
limits, filters, bodies and If-Match (PostgreSQL answered 500); errors quote only an
excerpt of a value; tags of a resource that has none are 404; HEAD has no body."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from tests.support.neutron import Api, expect_error
from tests.support.server import Server

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


@pytest.mark.parametrize("limit", [str(INT64_MAX), str(INT64_MAX + 1), str(INT32_MAX + 1)])
def test_limit_beyond_range(api: Api, limit: str) -> None:
    expect_error(api.request("GET", f"/v2.0/networks?limit={limit}"), 400, "BadRequest",
                 contains="Limit must be an integer")


def test_largest_limit(api: Api) -> None:
    net = api.network()
    status, body = api.request("GET", f"/v2.0/networks?limit={INT32_MAX}")
    assert status == 200, body
    assert [n["id"] for n in body["networks"]] == [net["id"]]


@pytest.mark.parametrize("path", [
    "/v2.0/subnets?ip_version=2147483648",
    "/v2.0/subnets?ip_version=-99999999999999999999",
    "/v2.0/networks?mtu=99999999999999999999999",
    "/v2.0/networks?revision_number=9223372036854775808",
    "/v2.0/networks?provider:segmentation_id=9223372036854775808",
    "/v2.0/security-group-rules?port_range_min=2147483648",
    "/v2.0/security-group-rules?port_range_max=2147483648",
])
def test_filters_beyond_range(admin: Api, path: str) -> None:
    expect_error(admin.request("GET", path), 400, "InvalidInput")


def test_filters_within_range(api: Api) -> None:
    net = api.network()
    assert api.list("networks", f"revision_number={INT64_MAX}") == []
    assert api.list("networks", f"mtu={INT32_MAX}") == []
    assert [n["id"] for n in api.list("networks", f"revision_number={net['revision_number']}")
            ] == [net["id"]]


@pytest.mark.parametrize("attrs", [
    {"mtu": 2**31}, {"mtu": 10**30}, {"mtu": 123456789012345678901234567890},
])
def test_bodies_beyond_range(api: Api, attrs: dict[str, Any]) -> None:
    net = api.network()
    expect_error(api.put("networks", net["id"], attrs), 400, "HTTPBadRequest",
                 contains="is too large - must be no larger than '2147483647'")


def test_segmentation_id_beyond_range(admin: Api) -> None:
    for attrs in ({"provider:network_type": "vxlan", "provider:segmentation_id": 2**63},
                  {"segments": [{"provider:network_type": "vxlan",
                                 "provider:segmentation_id": 2**64}]}):
        expect_error(admin.post("networks", attrs), 400, "HTTPBadRequest",
                     contains="must be no larger than '9223372036854775807'")


@pytest.mark.parametrize("revision", [str(INT64_MAX + 1), str(10**30), str(-(2**63) - 1)])
def test_if_match_beyond_range(server: Server, api: Api, revision: str) -> None:
    net = api.network()
    result = server.request("PUT", f"/v2.0/networks/{net['id']}",
                            {"network": {"name": "x"}},
                            headers={**(api.headers or {}),
                                     "If-Match": f"revision_number={revision}"})
    expect_error(result, 400, "BadRequest", contains="If-Match header must be")


def test_security_group_rules_have_no_tags(api: Api) -> None:
    """Neutron tags no security group rule: the sub-resource does not exist (a 500, a
    KeyError, before)."""
    status, sg = api.request("POST", "/v2.0/security-groups",
                             {"security_group": {"name": "tagless"}})
    assert status == 201, sg
    rule_id = sg["security_group"]["security_group_rules"][0]["id"]
    base = f"/v2.0/security-group-rules/{rule_id}/tags"
    for method, path, body in (("GET", base, None), ("PUT", base, {"tags": ["a"]}),
                               ("POST", base, {"tags": ["a"]}), ("DELETE", base, None),
                               ("GET", f"{base}/a", None), ("PUT", f"{base}/a", None),
                               ("DELETE", f"{base}/a", None)):
        expect_error(api.request(method, path, body), 404, "HTTPNotFound")


def test_huge_value_is_not_echoed(api: Api) -> None:
    """A 100 KB name (within any body limit): the error quotes a short prefix of it."""
    for value in ("n" * 100_000, ["n" * 100_000], {"n" * 100_000: 1}):
        status, body = api.post("networks", {"name": value})
        assert status == 400, status
        message = body["NeutronError"]["message"]
        assert len(message) < 400, message
        assert "n" * 250 in message and message.count("n") < 270
    status, body = api.post("networks", {"n" * 100_000: 1})
    assert status == 400
    assert len(body["NeutronError"]["message"]) < 400


def test_project_id_longer_than_its_column(server: Server) -> None:
    for path in ("/v2.0/networks", "/v2.0/security-group-rules"):
        result = server.request("GET", path, headers={"X-Project-Id": "p" * 256,
                                                      "X-Roles": "member"})
        expect_error(result, 400, "HTTPBadRequest", contains="X-Project-Id")


def test_head_has_no_body(server: Server) -> None:
    """A HEAD answer without a body (one used to follow it on the connection, read by
    the client as the start of the next response)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        for path in ("/v2.0/networks", "/v2.0/nothing"):
            conn.request("HEAD", path)
            resp = conn.getresponse()
            assert resp.read() == b""
            conn.request("GET", "/v2.0/networks")
            resp = conn.getresponse()
            assert resp.status == 200
            assert "networks" in json.loads(resp.read())
    finally:
        conn.close()


def test_quota_of_a_project_id_longer_than_its_column(admin: Api) -> None:
    """(a 500 the fuzzer found: the row's project_id too long for its column)"""
    expect_error(admin.request("PUT", f"/v2.0/quotas/{'z' * 256}",
                               {"quota": {"network": 5}}), 400, "HTTPBadRequest",
                 contains="exceeds maximum length of 255")
    status, body = admin.request("PUT", f"/v2.0/quotas/{'z' * 255}",
                                 {"quota": {"network": 5}})
    assert status == 200, body
    assert admin.request("DELETE", f"/v2.0/quotas/{'z' * 255}")[0] == 204
