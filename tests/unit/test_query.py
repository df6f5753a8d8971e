"""api/query.py: list query strings checked against the real resource definitions."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from neutrino import exceptions as exc
from neutrino.api import query
from neutrino.schema import network, port, subnet

NETS = network.resource()
SUBNETS = subnet.resource()
PORTS = port.resource()


def parse(qs: str, resource: Any = NETS, **kw: Any) -> Any:
    return query.parse(resource, urllib.parse.parse_qsl(qs, keep_blank_values=True), **kw)


def error(qs: str, resource: Any = NETS) -> tuple[str, str]:
    with pytest.raises(exc.NeutronError) as caught:
        parse(qs, resource)
    return caught.value.type, caught.value.msg


def test_filters() -> None:
    q = parse("name=a&name=b&admin_state_up=False&mtu=1450&shared=0&name=")
    assert q.filters == {"name": ["a", "b", ""], "admin_state_up": [False], "mtu": [1450],
                         "shared": [False]}
    assert parse("tenant_id=p1&tenant_id=p2").filters == {"project_id": ["p1", "p2"]}
    # both names of the project: both must hold
    assert parse("tenant_id=p1&project_id=p1&project_id=p2").filters == {"project_id": ["p1"]}
    assert parse("tenant_id=p1&project_id=p2").filters == {"project_id": []}
    assert parse("provider:segmentation_id=7", is_admin=False).filters == {
        "provider:segmentation_id": [7]}
    assert parse("ip_version=6&enable_dhcp=true", SUBNETS).filters == {
        "ip_version": [6], "enable_dhcp": [True]}
    assert parse("mac_address=FA-16-3E-00-00-01&fixed_ips=ip_address%3D1.2.3.4",
                 PORTS).filters == {"mac_address": ["fa:16:3e:00:00:01"],
                                    "fixed_ips": ["ip_address=1.2.3.4"]}
    # a NUL can match nothing
    assert parse("name=a%00").filters == {"id": []}


def test_filter_errors() -> None:
    assert error("foo=1&name=x&bar=2") == ("HTTPBadRequest",
                                           "['foo', 'bar'] is invalid attribute for filtering")
    for key in ("subnets", "segments", "created_at", "updated_at"):
        assert error(f"{key}=x") == ("HTTPBadRequest",
                                     f"['{key}'] is invalid attribute for filtering")
    for key in ("allocation_pools", "dns_nameservers", "host_routes", "prefixlen"):
        assert error(f"{key}=x", SUBNETS)[0] == "HTTPBadRequest"
    assert error("admin_state_up=maybe") == (
        "InvalidInput", "Invalid input for operation: 'maybe' cannot be converted to boolean.")
    assert error("mtu=1.5") == ("InvalidInput",
                                "Invalid input for operation: '1.5' is not an integer.")
    assert error("ip_version=x", SUBNETS)[0] == "InvalidInput"


def test_fields() -> None:
    assert parse("fields=name&fields=id,name&fields=&fields=bogus").fields == [
        "name", "id", "bogus"]
    assert parse("").fields is None


def test_sorting() -> None:
    q = parse("sort_key=name&sort_dir=desc&sort_key=tenant_id&sort_dir=asc&sort_key="
              "&sort_dir=")
    assert q.sorts == [("name", False), ("project_id", True)]
    assert error("sort_key=name") == ("HTTPBadRequest",
                                      "The number of sort_keys and sort_dirs must be same")
    assert error("sort_key=bogus&sort_dir=asc") == (
        "HTTPBadRequest", "['bogus'] is invalid attribute for sort_keys")
    for key in ("shared", "subnets", "provider:network_type", "created_at",
                "revision_number", "description"):
        assert error(f"sort_key={key}&sort_dir=asc")[1] == \
            f"['{key}'] is invalid attribute for sort_keys"
    assert error("sort_key=name&sort_dir=up") == (
        "HTTPBadRequest",
        "['up'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'")
    assert parse("sort_key=mac_address&sort_dir=asc", PORTS).sorts == [("mac_address", True)]
    assert error("sort_key=fixed_ips&sort_dir=asc", PORTS)[0] == "HTTPBadRequest"


@pytest.mark.parametrize(("qs", "max_limit", "limit"), [
    ("", -1, None), ("limit=0", -1, None), ("limit=5", -1, 5), ("limit=1&limit=3", -1, 3),
    ("", 100, 100), ("limit=0", 100, 100), ("limit=500", 100, 100), ("limit=7", 100, 7),
])
def test_limit(qs: str, max_limit: int, limit: int | None) -> None:
    assert parse(qs, max_limit=max_limit).limit == limit


@pytest.mark.parametrize("value", ["-1", "x", "1.5", ""])
def test_bad_limit(value: str) -> None:
    assert error(f"limit={value}") == (
        "BadRequest", f"Bad limit request: Limit must be an integer 0 or greater and not "
        f"'{value}'.")


def test_marker_and_page_reverse() -> None:
    q = parse("limit=2&marker=abc&page_reverse=TRUE")
    assert (q.marker, q.page_reverse) == ("abc", True)
    assert parse("page_reverse=yes").page_reverse is False  # only "true" counts
