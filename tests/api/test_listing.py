"""Listing over HTTP: filters of every kind, fields, sorting, pagination with its links,
and bulk creation."""

from __future__ import annotations

import urllib.parse
import uuid
from typing import Any

import pytest

from tests.support.neutron import Api, expect_error, invalid_input


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items}


# --- filters -------------------------------------------------------------------------------
def test_network_filters(api: Api, admin: Api, project: str) -> None:
    a = api.network(name="alpha")
    b = api.network(name="beta", admin_state_up=False)
    c = api.network(name="")
    assert ids(api.list("networks", "name=alpha")) == {a["id"]}
    assert ids(api.list("networks", "name=alpha&name=beta")) == {a["id"], b["id"]}  # OR
    assert ids(api.list("networks", "name=alpha&admin_state_up=false")) == set()  # AND
    for false in ("false", "False", "0", "no", "off"):
        assert ids(api.list("networks", f"admin_state_up={false}")) == {b["id"]}
    assert ids(api.list("networks", "admin_state_up=true")) == {a["id"], c["id"]}
    assert ids(api.list("networks", "name=")) == {c["id"]}  # empty-string filtering
    assert ids(api.list("networks", f"id={a['id']}&id={c['id']}")) == {a["id"], c["id"]}
    assert ids(api.list("networks", "shared=false&status=ACTIVE")) == {a["id"], b["id"],
                                                                        c["id"]}
    assert ids(api.list("networks", "mtu=1450&revision_number=1")) == {a["id"], b["id"],
                                                                       c["id"]}
    # tenant_id is project_id under its old name; both given, both must hold
    assert ids(admin.list("networks", f"tenant_id={project}")) == {a["id"], b["id"], c["id"]}
    assert ids(admin.list("networks", f"project_id={project}&name=beta")) == {b["id"]}
    assert admin.list("networks", f"tenant_id={project}&project_id=other") == []
    # provider attributes filter for the admin (and, as in Neutron, for anyone)
    vxlan = admin.list("networks", f"provider:network_type=vxlan&project_id={project}")
    assert ids(vxlan) == {a["id"], b["id"], c["id"]}
    seg = vxlan[0]["provider:segmentation_id"]
    assert ids(admin.list("networks", f"provider:segmentation_id={seg}")) == {vxlan[0]["id"]}
    assert api.list("networks", "provider:network_type=flat") == []
    assert ids(api.list("networks", "provider:network_type=vxlan")) >= {a["id"]}

    expect_error(api.request("GET", "/v2.0/networks?admin_state_up=maybe"), 400,
                 "InvalidInput", invalid_input("'maybe' cannot be converted to boolean"))
    expect_error(api.request("GET", "/v2.0/networks?mtu=big"), 400, "InvalidInput",
                 invalid_input("'big' is not an integer"))
    expect_error(api.request("GET", "/v2.0/networks?foo=1"), 400, "HTTPBadRequest",
                 "['foo'] is invalid attribute for filtering")
    expect_error(api.request("GET", "/v2.0/networks?name=a&foo=1&bar=2"), 400,
                 "HTTPBadRequest", "['foo', 'bar'] is invalid attribute for filtering")
    for not_a_filter in ("subnets", "segments", "created_at"):
        expect_error(api.request("GET", f"/v2.0/networks?{not_a_filter}=x"), 400,
                     "HTTPBadRequest", f"['{not_a_filter}'] is invalid attribute for filtering")


def test_subnet_and_port_filters(api: Api, admin: Api) -> None:
    net = api.network()
    v4 = api.subnet(net["id"], "10.20.0.0/24", enable_dhcp=False, name="v4")
    v6 = api.subnet(net["id"], "2001:db8:20::/64", name="v6")
    assert ids(api.list("subnets", f"network_id={net['id']}&ip_version=6")) == {v6["id"]}
    assert ids(api.list("subnets", f"network_id={net['id']}&enable_dhcp=0")) == {v4["id"]}
    assert ids(api.list("subnets", "cidr=10.20.0.0/24")) == {v4["id"]}
    assert ids(api.list("subnets", "gateway_ip=2001:db8:20::")) == {v6["id"]}
    # `shared` is not shown but filters
    assert ids(api.list("subnets", f"network_id={net['id']}&shared=false")) == {v4["id"],
                                                                                 v6["id"]}
    assert api.list("subnets", f"network_id={net['id']}&shared=true") == []
    for not_a_filter in ("allocation_pools", "dns_nameservers", "host_routes"):
        expect_error(api.request("GET", f"/v2.0/subnets?{not_a_filter}=x"), 400,
                     "HTTPBadRequest", f"['{not_a_filter}'] is invalid attribute for filtering")

    p1 = api.port(net["id"], fixed_ips=[{"ip_address": "10.20.0.11"}],
                  mac_address="fa:16:3e:aa:bb:01", device_owner="compute:nova")
    p2 = api.port(net["id"], fixed_ips=[{"ip_address": "10.20.0.111"},
                                        {"subnet_id": v6["id"]}])
    p3 = api.port(net["id"], fixed_ips=[])
    q = f"network_id={net['id']}&"
    assert ids(api.list("ports", q + "fixed_ips=ip_address%3D10.20.0.11")) == {p1["id"]}
    assert ids(api.list("ports", q + "fixed_ips=ip_address%3D10.20.0.11"
                                     "&fixed_ips=ip_address%3D10.20.0.111")) == {p1["id"],
                                                                                 p2["id"]}
    assert ids(api.list("ports", q + f"fixed_ips=subnet_id%3D{v6['id']}")) == {p2["id"]}
    assert ids(api.list("ports", q + f"fixed_ips=subnet_id%3D{v4['id']}"
                                     "&fixed_ips=ip_address%3D10.20.0.11")) == {p1["id"]}
    assert ids(api.list("ports", q + "fixed_ips=ip_address_substr%3D0.11")) == {p1["id"],
                                                                               p2["id"]}
    assert ids(api.list("ports", q + "fixed_ips=ip_address_substr%3D.111")) == {p2["id"]}
    assert ids(api.list("ports", q + "mac_address=FA:16:3E:AA:BB:01")) == {p1["id"]}
    assert ids(api.list("ports", q + "device_owner=")) == {p2["id"], p3["id"]}
    assert ids(api.list("ports", q + "device_owner=compute:nova")) == {p1["id"]}
    expect_error(api.request("GET", "/v2.0/ports?fixed_ips=10.20.0.11"), 400, "InvalidInput",
                 invalid_input("'10.20.0.11' is not of the form <key>=[value]"))


# --- fields --------------------------------------------------------------------------------
def test_fields(api: Api) -> None:
    net = api.network(name="fielded")
    q = f"/v2.0/networks?id={net['id']}"
    assert api.request("GET", q + "&fields=name")[1]["networks"] == [{"name": "fielded"}]
    both = api.request("GET", q + "&fields=name&fields=id&fields=name&fields=")[1]
    assert both["networks"] == [{"name": "fielded", "id": net["id"]}]
    assert api.request("GET", q + "&fields=id,status")[1]["networks"] == [
        {"id": net["id"], "status": "ACTIVE"}]
    # unknown or hidden fields are simply absent
    assert api.request("GET", q + "&fields=bogus&fields=provider:network_type")[1][
        "networks"] == [{}]
    assert api.request("GET", f"/v2.0/networks/{net['id']}?fields=mtu")[1] == {
        "network": {"mtu": 1450}}
    assert api.request("POST", "/v2.0/networks?fields=name",
                       {"network": {"name": "new"}})[1] == {"network": {"name": "new"}}
    assert api.request("PUT", f"/v2.0/networks/{net['id']}?fields=revision_number",
                       {"network": {"name": "renamed"}})[1] == {
        "network": {"revision_number": 2}}


# --- sorting -------------------------------------------------------------------------------
def test_sorting(api: Api) -> None:
    made = [api.network(name=name, admin_state_up=up)
            for name, up in (("b", True), ("a", False), ("c", True), ("a", True))]
    mine = f"id={'&id='.join(n['id'] for n in made)}"
    by_name = api.list("networks", mine + "&sort_key=name&sort_dir=desc")
    assert [n["name"] for n in by_name] == ["c", "b", "a", "a"]
    two = api.list("networks", mine + "&sort_key=name&sort_dir=asc"
                                      "&sort_key=admin_state_up&sort_dir=desc")
    assert [(n["name"], n["admin_state_up"]) for n in two] == [
        ("a", True), ("a", False), ("b", True), ("c", True)]
    expect_error(api.request("GET", "/v2.0/networks?sort_key=name"), 400, "HTTPBadRequest",
                 "The number of sort_keys and sort_dirs must be same")
    expect_error(api.request("GET", "/v2.0/networks?sort_key=foo&sort_dir=asc"), 400,
                 "HTTPBadRequest", "['foo'] is invalid attribute for sort_keys")
    expect_error(api.request("GET", "/v2.0/networks?sort_key=shared&sort_dir=asc"), 400,
                 "HTTPBadRequest", "['shared'] is invalid attribute for sort_keys")
    expect_error(api.request("GET", "/v2.0/networks?sort_key=name&sort_dir=up"), 400,
                 "HTTPBadRequest",
                 "['up'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'")


# --- pagination ----------------------------------------------------------------------------
def _get(api: Api, href: str) -> dict[str, Any]:
    url = urllib.parse.urlsplit(href)
    assert url.netloc == f"127.0.0.1:{api.server.port}"
    status, body = api.request("GET", f"{url.path}?{url.query}")
    assert status == 200, body
    return body


def _links(body: dict[str, Any], collection: str = "networks") -> dict[str, str]:
    links = body[f"{collection}_links"]
    assert all(set(link) == {"rel", "href"} for link in links)
    return {link["rel"]: link["href"] for link in links}


@pytest.mark.parametrize("sort", ["", "&sort_key=name&sort_dir=desc"])
def test_pagination_walks_both_ways(api: Api, sort: str) -> None:
    names = ["n3", "n1", "n4", "n1", "n0", "n2", "n5"]
    made = [api.network(name=n) for n in names]
    # pages without sort keys are in id order; with them, id breaks ties
    everything = api.list("networks", sort.lstrip("&") or "sort_key=id&sort_dir=asc")
    assert sorted(ids(everything)) == sorted(n["id"] for n in made)
    order = [n["id"] for n in everything]

    first = api.request("GET", f"/v2.0/networks?limit=3{sort}")[1]
    assert [n["id"] for n in first["networks"]] == order[:3]
    links = _links(first)
    assert set(links) == {"next", "previous"}  # a full first page has both
    seen, body = list(order[:3]), first
    while "next" in _links(body):
        body = _get(api, _links(body)["next"])
        seen += [n["id"] for n in body["networks"]]
    assert seen == order  # forward: every item once, in order
    assert len(body["networks"]) == 1 and set(_links(body)) == {"previous"}

    back = [n["id"] for n in body["networks"]]
    while "previous" in _links(body):
        body = _get(api, _links(body)["previous"])
        back = [n["id"] for n in body["networks"]] + back  # pages keep forward order
    assert back == order
    assert body["networks"] == [] or [n["id"] for n in body["networks"]] == order[:3]


def test_link_format_and_limits(api: Api) -> None:
    made = [api.network(name=f"l{i}") for i in range(3)]
    base = f"http://127.0.0.1:{api.server.port}/v2.0/networks"
    body = api.request("GET", "/v2.0/networks?limit=2&name=l0&name=l1&name=l2")[1]
    page = [n["id"] for n in body["networks"]]
    assert page == sorted(ids(made))[:2]  # paging without sort keys: by id
    assert body["networks_links"] == [
        {"rel": "next", "href": f"{base}?limit=2&name=l0&name=l1&name=l2&marker={page[1]}"},
        {"rel": "previous", "href": f"{base}?limit=2&name=l0&name=l1&name=l2"
                                    f"&marker={page[0]}&page_reverse=True"},
    ]
    last = api.request("GET", f"/v2.0/networks?limit=2&name=l0&name=l1&name=l2"
                              f"&marker={page[1]}")[1]
    assert len(last["networks"]) == 1
    assert [link["rel"] for link in last["networks_links"]] == ["previous"]
    # an empty page keeps no marker
    none = api.request("GET", "/v2.0/networks?limit=2&name=nothing-has-this-name")[1]
    assert none["networks"] == []
    assert none["networks_links"] == [{"rel": "previous", "href": f"{base}?limit=2&name="
                                       "nothing-has-this-name&page_reverse=True"}]
    assert "networks_links" not in api.request("GET", "/v2.0/networks?limit=0")[1]
    for bad in ("-1", "x"):
        expect_error(api.request("GET", f"/v2.0/networks?limit={bad}"), 400, "BadRequest",
                     f"Bad limit request: Limit must be an integer 0 or greater and not "
                     f"'{bad}'.")
    missing = str(uuid.uuid4())
    expect_error(api.request("GET", f"/v2.0/networks?limit=2&marker={missing}"), 404,
                 "NetworkNotFound", f"Network {missing} could not be found.")
    expect_error(api.request("GET", f"/v2.0/ports?limit=2&marker={missing}"), 404,
                 "PortNotFound")
    expect_error(api.request("GET", f"/v2.0/subnets?limit=2&marker={missing}"), 404,
                 "SubnetNotFound")


# --- bulk ----------------------------------------------------------------------------------
def test_bulk_create(api: Api) -> None:
    status, body = api.request("POST", "/v2.0/networks", {"networks": [
        {"name": "bulk-1"}, {"network": {"name": "bulk-2"}}]})
    assert status == 201, body
    assert [n["name"] for n in body["networks"]] == ["bulk-1", "bulk-2"]
    net = body["networks"][0]

    # one bad item: nothing is created
    expect_error(api.request("POST", "/v2.0/networks", {"networks": [
        {"name": "bulk-3"}, {"name": "bulk-4", "mtu": 9000}]}), 400, "InvalidInput")
    assert api.list("networks", "name=bulk-3") == []
    expect_error(api.request("POST", "/v2.0/subnets", {"subnets": [
        {"network_id": net["id"], "cidr": "10.30.0.0/24", "ip_version": 4},
        {"network_id": net["id"], "cidr": "10.30.0.0/25", "ip_version": 4}]}),
        400, "InvalidInput", contains="overlaps with another subnet")
    assert api.list("subnets", f"network_id={net['id']}") == []
    expect_error(api.request("POST", "/v2.0/subnets", {"subnets": [
        {"network_id": net["id"], "cidr": "10.30.0.0/24", "ip_version": 4},
        {"network_id": net["id"], "cidr": "10.31.0.0/24"}]}),
        400, "HTTPBadRequest",
        "Failed to parse request. Required attribute 'ip_version' not specified")
    subnet = api.subnet(net["id"], "10.30.0.0/24")
    expect_error(api.request("POST", "/v2.0/ports", {"ports": [
        {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.30.0.5"}]},
        {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.30.0.5"}]}]}),
        409, "IpAddressAlreadyAllocated",
        f"IP address 10.30.0.5 already allocated in subnet {subnet['id']}")
    assert api.list("ports", f"network_id={net['id']}") == []
    status, body = api.request("POST", "/v2.0/ports", {"ports": [
        {"port": {"network_id": net["id"]}}, {"network_id": net["id"], "name": "two"}]})
    assert status == 201 and len(body["ports"]) == 2
    expect_error(api.request("POST", "/v2.0/networks", {"networks": []}), 400,
                 "HTTPBadRequest", "Resources required")
