"""schema/validators.py and the input limits built on it: integers within their columns'
ranges, and error messages that quote only an excerpt of what they were given."""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest

from neutrino import exceptions as exc
from neutrino.api import body, query
from neutrino.context import Context
from neutrino.schema import network, security_group_rule, subnet
from neutrino.schema import validators as v
from neutrino.schema.base import bigint_filter, int_filter

NETS = network.resource()
SUBNETS = subnet.resource()
RULES = security_group_rule.resource()
ADMIN = Context.admin()
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


# --- excerpts -------------------------------------------------------------------------------
def test_excerpt() -> None:
    assert exc.excerpt("short") == "short"
    assert exc.excerpt("x" * 256) == "x" * 256  # a 255-character name is quoted whole
    assert exc.excerpt("x" * 257) == "x" * 256 + "..."
    assert exc.excerpt(["a" * 300]) == "['" + "a" * 254 + "..."
    assert exc.excerpt(None) == "None"
    assert exc.excerpt(10**5000) == "<int>"  # too long for str() at all


def test_messages_quote_an_excerpt() -> None:
    huge = "n" * 5_000_000
    for check in (v.string(255), v.name_string(255), v.uuid_str, v.mac_address,
                  v.ip_address, v.route_cidr, v.cidr, v.boolean, v.to_int):
        with pytest.raises(ValueError) as caught:
            check(huge)
        assert len(str(caught.value)) < 400, check
        assert "n" * 256 + "..." in str(caught.value)
    with pytest.raises(ValueError) as caught:
        v.unique_strings(255)([huge])
    assert len(str(caught.value)) < 400


def test_error_messages_are_bounded() -> None:
    """Whatever a message was built from, an error carries at most 1 KB of it."""
    e = exc.HTTPBadRequest("Unrecognized attribute(s) '" + "k" * 100_000 + "'")
    assert len(e.msg) <= exc.MAX_MESSAGE_LEN + 3
    assert len(str(e)) <= exc.MAX_MESSAGE_LEN + 3
    e2 = exc.TagNotFound(tag="t" * 100_000)
    assert len(e2.msg) <= exc.MAX_MESSAGE_LEN + 3


def test_body_errors_quote_an_excerpt() -> None:
    for item in ({"name": "x" * 5_000_000}, {"name": ["x" * 100_000]},
                 {"x" * 100_000: 1}, {"mtu": "9" * 100_000}):
        with pytest.raises(exc.NeutronError) as caught:
            body.for_create(NETS, item, ADMIN)
        assert caught.value.status == 400
        assert len(caught.value.msg) < 500, caught.value.msg


def test_rule_errors_quote_an_excerpt() -> None:
    for attr, value in (("protocol", "p" * 100_000), ("port_range_min", "9" * 100_000),
                        ("ethertype", "e" * 100_000), ("remote_ip_prefix", "r" * 100_000)):
        with pytest.raises(exc.NeutronError) as caught:
            body.for_create(RULES, {"security_group_id": "x", "direction": "ingress",
                                    attr: value}, ADMIN)
        assert caught.value.status == 400
        assert len(caught.value.msg) < 700, (attr, caught.value.msg)


# --- integers within their columns ------------------------------------------------------------
def test_in_range() -> None:
    assert v.in_range(INT32_MAX) == INT32_MAX
    assert v.in_range(-(2**31)) == -(2**31)
    with pytest.raises(ValueError, match=r"'2147483648' is too large - must be no larger "
                       r"than '2147483647'"):
        v.in_range(2**31)
    with pytest.raises(ValueError, match="too small"):
        v.in_range(-(2**31) - 1)
    assert v.in_range(INT64_MAX, v.INT64) == INT64_MAX
    with pytest.raises(ValueError):
        v.in_range(INT64_MAX + 1, v.INT64)


def test_integer_validators_keep_to_the_column() -> None:
    check = v.integer()
    assert check("12") == 12
    with pytest.raises(ValueError, match="no larger than '2147483647'"):
        check(2**31)
    with pytest.raises(ValueError, match="must be at least '-1'"):
        v.integer(-1, None)(-2)
    assert v.integer(column=v.INT64)(2**40) == 2**40
    with pytest.raises(v.ConversionError):
        check(float("inf"))  # a converter's failure, not a crash
    assert v.non_negative("1500") == 1500
    with pytest.raises(ValueError, match="should be non-negative"):
        v.non_negative(-(2**70))
    with pytest.raises(ValueError, match="too large"):
        v.non_negative(2**31)


def test_filters_keep_to_the_column() -> None:
    assert int_filter("2147483647") == INT32_MAX
    with pytest.raises(ValueError):
        int_filter("2147483648")
    assert bigint_filter(str(INT64_MAX)) == INT64_MAX
    with pytest.raises(ValueError):
        bigint_filter(str(INT64_MAX + 1))


@pytest.mark.parametrize(("resource", "qs"), [
    (SUBNETS, "ip_version=2147483648"),
    (SUBNETS, "ip_version=-2147483649"),
    (NETS, "mtu=99999999999999999999999"),
    (NETS, "revision_number=9223372036854775808"),
    (NETS, "provider:segmentation_id=9223372036854775808"),
    (RULES, "port_range_min=2147483648"),
    (RULES, "port_range_max=-99999999999"),
])
def test_out_of_range_filters_are_invalid_input(resource: Any, qs: str) -> None:
    with pytest.raises(exc.InvalidInput):
        query.parse(resource, urllib.parse.parse_qsl(qs))


def test_in_range_filters() -> None:
    q = query.parse(NETS, [("revision_number", str(INT64_MAX)), ("mtu", str(INT32_MAX))])
    assert q.filters == {"revision_number": [INT64_MAX], "mtu": [INT32_MAX]}


def test_limit_keeps_to_a_limit_clause() -> None:
    assert query.parse(NETS, [("limit", str(INT32_MAX))]).limit == INT32_MAX
    for value in (str(INT32_MAX + 1), str(INT64_MAX), "9" * 5000):
        with pytest.raises(exc.BadRequest) as caught:
            query.parse(NETS, [("limit", value)])
        assert caught.value.type == "BadRequest"
        assert len(caught.value.msg) < 400


@pytest.mark.parametrize(("attrs", "type_"), [
    ({"mtu": 2**31}, "HTTPBadRequest"),
    ({"mtu": 10**30}, "HTTPBadRequest"),
    ({"provider:segmentation_id": 2**63}, "HTTPBadRequest"),
    ({"segments": [{"provider:network_type": "vlan",
                    "provider:segmentation_id": 2**64}]}, "HTTPBadRequest"),
])
def test_out_of_range_bodies(attrs: dict[str, Any], type_: str) -> None:
    with pytest.raises(exc.NeutronError) as caught:
        body.for_create(NETS, attrs, ADMIN)
    assert (caught.value.status, caught.value.type) == (400, type_)


def test_port_values_beyond_any_float() -> None:
    for value in (float("inf"), 1e308, 2**70):
        with pytest.raises(exc.NeutronError) as caught:
            security_group_rule.port_value(value)
        assert caught.value.status == 400
