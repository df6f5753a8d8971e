"""Paging by a sort key whose marker value is a boolean or NULL (the fuzzer's find: a
500, SQLAlchemy refusing ``col > True`` and ``col > NULL``). NULL sorts first ascending,
last descending, on every backend, and pages walk every item exactly once."""

from __future__ import annotations

from typing import Any

from tests.support.neutron import Api


def walk(api: Api, collection: str, query: str, *, reverse_from: str | None = None
         ) -> list[str]:
    """The ids of every page of ``limit=1`` in turn (backwards from a marker if asked)."""
    ids: list[str] = []
    marker = reverse_from
    for _ in range(20):
        q = f"{query}&limit=1" + (f"&marker={marker}" if marker else "")
        if reverse_from:
            q += "&page_reverse=True"
        page = api.list(collection, q)
        if not page:
            return ids
        assert len(page) == 1
        marker = page[0]["id"]
        ids.append(marker)
    raise AssertionError(f"no end of pages: {ids}")


def ordered(items: list[dict[str, Any]], key: str, *, desc: bool) -> list[str]:
    """Sorted by ``key`` (None first ascending), then id ascending."""
    present = sorted((i for i in items if i[key] is not None),
                     key=lambda i: (i[key], i["id"]))
    absent = sorted((i for i in items if i[key] is None), key=lambda i: i["id"])
    if desc:
        present = sorted(present, key=lambda i: i["id"])
        present = sorted(present, key=lambda i: i[key], reverse=True)
        return [i["id"] for i in present + absent]
    return [i["id"] for i in absent + present]


def test_paging_by_a_boolean(api: Api) -> None:
    nets = [api.network(name=f"b{i}") for i in range(3)]
    nets[1] = api.update("networks", nets[1]["id"], admin_state_up=False)
    for direction in ("asc", "desc"):
        query = f"sort_key=admin_state_up&sort_dir={direction}"
        expected = ordered(nets, "admin_state_up", desc=direction == "desc")
        assert walk(api, "networks", query) == expected
        assert walk(api, "networks", query, reverse_from=expected[-1]) == \
            list(reversed(expected[:-1]))


def test_paging_by_a_key_with_nulls(api: Api) -> None:
    net = api.network()
    subnets = [api.subnet(net["id"], "10.0.1.0/24"), api.subnet(net["id"], "10.0.2.0/24"),
               api.subnet(net["id"], "2001:db8:1::/64", ip_version=6,
                          ipv6_ra_mode="slaac", ipv6_address_mode="slaac")]
    for direction in ("asc", "desc"):
        query = f"sort_key=ipv6_ra_mode&sort_dir={direction}"
        expected = ordered(subnets, "ipv6_ra_mode", desc=direction == "desc")
        assert [s["id"] for s in api.list("subnets", query)] == expected
        assert walk(api, "subnets", query) == expected
        assert walk(api, "subnets", query, reverse_from=expected[-1]) == \
            list(reversed(expected[:-1]))
