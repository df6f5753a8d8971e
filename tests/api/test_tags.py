"""Tags (standard-attr-tag, tag-creation, tag-ports-during-bulk-creation) over HTTP on
networks, subnets and ports: the /tags routes and their errors, revisions, the list
filters, tags on port creation, clean-up with the resources, and real clients."""

from __future__ import annotations

import concurrent.futures
import itertools
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openstack
import pytest
import sqlalchemy as sa
from openstack import exceptions as sdk_exc

from tests.support.neutron import Api, expect_error, invalid_input
from tests.support.osc import as_json, openstack_cli
from tests.support.server import Server, project_headers

# openstacksdk's own deprecation notices about its internals
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

COLLECTIONS = ["networks", "subnets", "ports"]
_CIDRS = (f"10.{n % 250}.0.0/24" for n in itertools.count(10))
NOT_FOUND = {"networks": ("NetworkNotFound", "Network"),
             "subnets": ("SubnetNotFound", "Subnet"),
             "ports": ("PortNotFound", "Port")}


def make(api: Api, collection: str, network_id: str | None = None, **attrs: Any
         ) -> dict[str, Any]:
    """A new item of ``collection`` (subnets and ports on ``network_id`` or a new network)."""
    if collection == "networks":
        return api.network(**attrs)
    network_id = network_id or api.network()["id"]
    if collection == "subnets":
        return api.subnet(network_id, next(_CIDRS), **attrs)
    return api.port(network_id, **attrs)


def url(collection: str, id_: str, tag: str | None = None) -> str:
    path = f"/v2.0/{collection}/{id_}/tags"
    return path if tag is None else f"{path}/{urllib.parse.quote(tag)}"


def tags_of(api: Api, collection: str, id_: str) -> list[str]:
    status, body = api.request("GET", url(collection, id_))
    assert status == 200, body
    return body["tags"]


def ids(items: list[dict[str, Any]]) -> set[str]:
    return {i["id"] for i in items}


# --- the routes ----------------------------------------------------------------------------
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_routes(api: Api, collection: str) -> None:
    item = make(api, collection)
    assert item["tags"] == []
    assert tags_of(api, collection, item["id"]) == []

    # replace all: the body comes back as it was sent
    body = {"tags": ["b", "a", "B"]}
    assert api.request("PUT", url(collection, item["id"]), body) == (200, body)
    assert tags_of(api, collection, item["id"]) == ["B", "a", "b"]  # sorted, case kept
    # add (tag-creation): what is missing is added, the rest stays
    assert api.request("POST", url(collection, item["id"]), {"tags": ["c", "a"]}) == (
        200, {"tags": ["c", "a"]})
    assert tags_of(api, collection, item["id"]) == ["B", "a", "b", "c"]

    # one tag: add (again: still 201), check, remove
    assert api.request("PUT", url(collection, item["id"], "d")) == (201, None)
    assert api.request("PUT", url(collection, item["id"], "d")) == (201, None)
    assert api.request("GET", url(collection, item["id"], "d")) == (204, None)
    expect_error(api.request("GET", url(collection, item["id"], "D")), 404, "TagNotFound",
                 "Tag D could not be found.")
    assert api.request("DELETE", url(collection, item["id"], "d")) == (204, None)
    expect_error(api.request("DELETE", url(collection, item["id"], "d")), 404, "TagNotFound",
                 "Tag d could not be found.")

    # tags are shown by show and list
    status, body = api.get(collection, item["id"])
    assert status == 200 and body[collection[:-1]]["tags"] == ["B", "a", "b", "c"]
    listed = api.list(collection, f"id={item['id']}")
    assert [i["tags"] for i in listed] == [["B", "a", "b", "c"]]
    assert api.list(collection, f"id={item['id']}&fields=tags") == [
        {"tags": ["B", "a", "b", "c"]}]

    # replace with fewer, then remove all (twice: nothing to remove is fine)
    assert api.request("PUT", url(collection, item["id"]), {"tags": ["a", "z"]})[0] == 200
    assert tags_of(api, collection, item["id"]) == ["a", "z"]
    assert api.request("DELETE", url(collection, item["id"])) == (204, None)
    assert api.request("DELETE", url(collection, item["id"])) == (204, None)
    assert tags_of(api, collection, item["id"]) == []
    # the empty string is a tag too (it cannot be named in a URL)
    assert api.request("PUT", url(collection, item["id"]), {"tags": [""]})[0] == 200
    assert tags_of(api, collection, item["id"]) == [""]


def test_tags_are_exact(api: Api) -> None:
    """Case, trailing spaces and non-ASCII characters count, on every database (MySQL's
    usual collations would fold the first two)."""
    net = api.network()
    exact = ["a", "A", "a ", " a", "été", "ÉTÉ"]
    assert api.request("PUT", url("networks", net["id"]), {"tags": exact})[0] == 200
    assert tags_of(api, "networks", net["id"]) == sorted(exact)
    assert api.request("PUT", url("networks", net["id"], "Été")) == (201, None)
    assert api.request("GET", url("networks", net["id"], "été")) == (204, None)
    assert api.request("DELETE", url("networks", net["id"], "a ")) == (204, None)
    assert tags_of(api, "networks", net["id"]) == sorted(["a", "A", " a", "été", "ÉTÉ", "Été"])
    for tag, expected in (("a", {net["id"]}), ("a ", set()), ("ÉTÉ", {net["id"]}),
                          ("été,Été", {net["id"]}), ("eTe", set())):
        query = urllib.parse.urlencode({"tags": tag, "id": net["id"]})
        assert ids(api.list("networks", query)) == expected, tag
    # as in Neutron, a ".json" ending of the URL is a format, not part of the tag
    assert api.request("PUT", url("networks", net["id"], "x.json")) == (201, None)
    assert "x" in tags_of(api, "networks", net["id"])


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_revisions(api: Api, collection: str) -> None:
    """A change of tags is a new revision of the item (once per request); a request that
    changes nothing is none."""
    item = make(api, collection)
    path = url(collection, item["id"])

    def revision() -> tuple[int, str]:
        status, body = api.get(collection, item["id"])
        assert status == 200, body
        got = body[collection[:-1]]
        return got["revision_number"], got["updated_at"]

    rev, updated = revision()
    steps: list[tuple[str, str, Any, int]] = [
        ("PUT", path, {"tags": ["a", "b"]}, 1),
        ("PUT", path, {"tags": ["b", "a"]}, 0),
        ("POST", path, {"tags": ["a"]}, 0),
        ("PUT", url(collection, item["id"], "a"), None, 0),
        ("POST", path, {"tags": ["a", "c"]}, 1),
        ("PUT", url(collection, item["id"], "d"), None, 1),
        ("DELETE", url(collection, item["id"], "d"), None, 1),
        ("PUT", path, {"tags": ["x", "y"]}, 1),  # two removed, two added: one revision
        ("DELETE", path, None, 1),
        ("DELETE", path, None, 0),
    ]
    for method, where, body, bump in steps:
        status, _ = api.request(method, where, body)
        assert status in (200, 201, 204), (method, where)
        new_rev, new_updated = revision()
        assert new_rev == rev + bump, (method, where, body)
        assert new_updated >= updated
        rev, updated = new_rev, new_updated


def test_concurrent_changes(api: Api) -> None:
    """Changes of one item's tags at the same time: none is lost, each is one revision."""
    net = api.network()
    before = api.get("networks", net["id"])[1]["network"]["revision_number"]
    wanted = [f"c{i}" for i in range(12)]
    with concurrent.futures.ThreadPoolExecutor(len(wanted)) as pool:
        results = list(pool.map(
            lambda tag: api.request("PUT", url("networks", net["id"], tag)), wanted))
    assert results == [(201, None)] * len(wanted)
    assert tags_of(api, "networks", net["id"]) == sorted(wanted)
    after = api.get("networks", net["id"])[1]["network"]["revision_number"]
    assert after == before + len(wanted)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(
            lambda _: api.request("POST", url("networks", net["id"]), {"tags": ["same"]}),
            range(4)))
    assert [status for status, _ in results] == [200] * 4
    assert api.get("networks", net["id"])[1]["network"]["revision_number"] == after + 1


def test_if_match(api: Api) -> None:
    """A change of tags with If-Match: revision_number=N is made only if the item is at
    revision N (Neutron fails these requests with a 500)."""
    net = api.network()
    rev = net["revision_number"]
    stale = {**(api.headers or {}), "If-Match": f"revision_number={rev + 1}"}
    for method, path, body in (("PUT", url("networks", net["id"]), {"tags": ["a"]}),
                               ("POST", url("networks", net["id"]), {"tags": ["a"]}),
                               ("PUT", url("networks", net["id"], "a"), None),
                               ("DELETE", url("networks", net["id"]), None)):
        expect_error(api.server.request(method, path, body, headers=stale), 412,
                     "RevisionNumberConstraintFailed",
                     f"Constrained to {rev + 1}, but current revision is {rev}")
    current = {**(api.headers or {}), "If-Match": f'"revision_number={rev}"'}
    assert api.server.request("PUT", url("networks", net["id"], "a"), headers=current) == (
        201, None)
    assert tags_of(api, "networks", net["id"]) == ["a"]
    expect_error(api.server.request("DELETE", url("networks", net["id"], "a"),
                                    headers=current), 412, "RevisionNumberConstraintFailed")
    assert tags_of(api, "networks", net["id"]) == ["a"]


def test_only_the_item_is_revised(api: Api) -> None:
    net = api.network()
    subnet = api.subnet(net["id"], "10.9.0.0/24")
    port = api.port(net["id"])
    before = api.get("networks", net["id"])[1]["network"]["revision_number"]
    for collection, item in (("subnets", subnet), ("ports", port)):
        assert api.request("PUT", url(collection, item["id"], "t"))[0] == 201
    assert api.get("networks", net["id"])[1]["network"]["revision_number"] == before


# --- errors --------------------------------------------------------------------------------
def test_invalid_bodies_and_tags(api: Api) -> None:
    net = api.network()
    path = url("networks", net["id"])
    for method in ("PUT", "POST"):
        for body in (None, {}, {"tag": ["a"]}, ["a"], "a", {"tags": ["a"], "x": 1}):
            result = api.request(method, path, body)
            if isinstance(body, dict) and "tags" in body:
                assert result == (200, body)  # extra keys are echoed, not refused
                continue
            expect_error(result, 400, "InvalidInput", invalid_input("Invalid tags body"))
        for tags, reason in (
            ("a", "'a' is not a list"),
            (None, "'None' is not a list"),
            (["a", "b", "a", "c", "b", "a"], "Duplicate items in the list: 'a, b'"),
            (["a", 1], "'1' is not a valid string"),
            (["a", None], "'None' is not a valid string"),
            (["x" * 256], f"'{'x' * 256}' exceeds maximum length of 255"),
        ):
            expect_error(api.request(method, path, {"tags": tags}), 400, "InvalidInput",
                         invalid_input(reason))
    long_tag = "y" * 256
    for method in ("GET", "PUT", "DELETE"):
        expect_error(api.request(method, url("networks", net["id"], long_tag)), 400,
                     "InvalidInput",
                     invalid_input(f"'{long_tag}' exceeds maximum length of 255"))
    assert api.request("PUT", url("networks", net["id"], "y" * 255)) == (201, None)
    # bad input is refused before the item is looked for (Neutron's order)
    missing = str(uuid.uuid4())
    expect_error(api.request("PUT", url("networks", missing), {"tags": "a"}), 400,
                 "InvalidInput")
    expect_error(api.request("PUT", url("networks", missing, long_tag)), 400, "InvalidInput")
    assert tags_of(api, "networks", net["id"]) == ["a", "y" * 255]


@pytest.mark.parametrize("collection", ["networks", "subnets"])
def test_limit_of_50(api: Api, collection: str) -> None:
    item = make(api, collection)
    path = url(collection, item["id"])
    message = (f"Bad {collection} request: The number of tags exceed the per-resource limit "
               "of 50.")
    fifty = [f"t{i:02d}" for i in range(50)]
    for method in ("PUT", "POST"):
        expect_error(api.request(method, path, {"tags": [*fifty, "one-more"]}), 400,
                     "BadRequest", message)
    assert api.request("PUT", path, {"tags": fifty})[0] == 200
    expect_error(api.request("PUT", url(collection, item["id"], "one-more")), 400,
                 "BadRequest", message)
    assert api.request("PUT", url(collection, item["id"], "t07")) == (201, None)  # has it
    assert len(tags_of(api, collection, item["id"])) == 50
    # As Neutron: POST counts only the tags it sends, PUT replaces them all.
    assert api.request("POST", path, {"tags": ["u1", "u2"]})[0] == 200
    assert len(tags_of(api, collection, item["id"])) == 52
    assert api.request("PUT", path, {"tags": ["only"]})[0] == 200
    assert tags_of(api, collection, item["id"]) == ["only"]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_missing_or_invisible_item(server: Server, api: Api, collection: str) -> None:
    item = make(api, collection)
    assert api.request("PUT", url(collection, item["id"], "mine"))[0] == 201
    other = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    type_, noun = NOT_FOUND[collection]
    for who, id_ in ((api, str(uuid.uuid4())), (other, item["id"])):
        for method, path, body in (
            ("GET", url(collection, id_), None),
            ("PUT", url(collection, id_), {"tags": ["x"]}),
            ("POST", url(collection, id_), {"tags": ["x"]}),
            ("DELETE", url(collection, id_), None),
            ("GET", url(collection, id_, "mine"), None),
            ("PUT", url(collection, id_, "x"), None),
            ("DELETE", url(collection, id_, "mine"), None),
        ):
            expect_error(who.request(method, path, body), 404, type_,
                         f"{noun} {id_} could not be found.")
    assert tags_of(api, collection, item["id"]) == ["mine"]


def test_routing_errors(api: Api) -> None:
    net = api.network()
    expect_error(api.request("POST", url("networks", net["id"], "a"), {"tags": ["a"]}), 405,
                 "HTTPMethodNotAllowed")
    expect_error(api.request("PATCH", url("networks", net["id"]), {"tags": ["a"]}), 405,
                 "HTTPMethodNotAllowed")
    expect_error(api.request("GET", url("networks", net["id"]) + "/a/b"), 404, "HTTPNotFound")
    expect_error(api.request("GET", f"/v2.0/nothings/{net['id']}/tags"), 404, "HTTPNotFound")
    expect_error(api.request("GET", "/v2.0/networks?sort_key=tags&sort_dir=asc"), 400,
                 "HTTPBadRequest", "['tags'] is invalid attribute for sort_keys")


def test_who_may_tag(server: Server, api: Api, admin: Api, project: str) -> None:
    """Whoever sees an item reads its tags; its project (members) and admins change them."""
    net = api.network()
    subnet = api.subnet(net["id"], "10.8.0.0/24")
    admin.update("networks", net["id"], shared=True)
    other = Api(server, project_headers(f"p-{uuid.uuid4().hex[:12]}"))
    for collection, item in (("networks", net), ("subnets", subnet)):
        assert api.request("PUT", url(collection, item["id"], "owner's"))[0] == 201
        member = collection[:-1]
        assert tags_of(other, collection, item["id"]) == ["owner's"]
        assert other.request("GET", url(collection, item["id"], "owner's")) == (204, None)
        for method, path, body, verb in (
            ("PUT", url(collection, item["id"]), {"tags": ["x"]}, "update"),
            ("POST", url(collection, item["id"]), {"tags": ["x"]}, "create"),
            ("DELETE", url(collection, item["id"]), None, "delete"),
            ("PUT", url(collection, item["id"], "x"), None, "update"),
            ("DELETE", url(collection, item["id"], "owner's"), None, "delete"),
        ):
            expect_error(other.request(method, path, body), 403, "PolicyNotAuthorized",
                         f"rule:{verb}_{member}:tags is disallowed by policy")
        # an admin tags anything
        assert admin.request("PUT", url(collection, item["id"], "admin's")) == (201, None)
        assert tags_of(api, collection, item["id"]) == ["admin's", "owner's"]
    # a reader of the project reads, but does not change
    reader = Api(server, {"X-Project-Id": project, "X-User-Id": "r", "X-Roles": "reader"})
    assert tags_of(reader, "networks", net["id"]) == ["admin's", "owner's"]
    expect_error(reader.request("PUT", url("networks", net["id"], "x")), 403,
                 "PolicyNotAuthorized", "rule:update_network:tags is disallowed by policy")


# --- filters -------------------------------------------------------------------------------
@pytest.mark.parametrize("collection", COLLECTIONS)
def test_filters(api: Api, admin: Api, project: str, collection: str) -> None:
    network_id = api.network()["id"] if collection != "networks" else None
    items = {}
    for name, tags in (("r1", ["a", "b"]), ("r2", ["a"]), ("r3", ["b", "c"]), ("r4", [])):
        item = make(api, collection, network_id, name=name)
        assert api.request("PUT", url(collection, item["id"]), {"tags": tags})[0] == 200
        items[name] = item["id"]
    # (other projects' shared networks are listed too)
    scope = f"network_id={network_id}&" if network_id else f"project_id={project}&"

    def found(query: str) -> set[str]:
        got = api.list(collection, scope + query)
        return {n for n, id_ in items.items() if id_ in ids(got)} | (
            {"?"} if ids(got) - set(items.values()) else set())

    for query, expected in (
        ("", {"r1", "r2", "r3", "r4"}),
        ("tags=a", {"r1", "r2"}),
        ("tags=a,b", {"r1"}),  # all of them
        ("tags=a&tags=b", {"r1"}),  # repeated is the same as comma-separated
        ("tags=a,b&tags=c", set()),
        ("tags=a,a", {"r1", "r2"}),
        ("tags-any=a,c", {"r1", "r2", "r3"}),  # one of them at least
        ("tags-any=c&tags-any=zz", {"r3"}),
        ("not-tags=a,b", {"r2", "r3", "r4"}),  # not all of them
        ("not-tags=a", {"r3", "r4"}),
        ("not-tags-any=a,c", {"r4"}),  # none of them
        ("not-tags-any=b", {"r2", "r4"}),
        ("tags=a&not-tags=b", {"r2"}),
        ("tags-any=a,b&not-tags-any=c", {"r1", "r2"}),
        ("tags=A", set()),
        ("tags=zz", set()),
        ("tags=", set()),
        ("not-tags=zz", {"r1", "r2", "r3", "r4"}),
        ("tags-any=a,b,c&name=r3", {"r3"}),
    ):
        assert found(query) == expected, query
    # with paging, and for the admin too
    page = api.list(collection, scope + "tags-any=a,b&limit=2&sort_key=name&sort_dir=asc")
    assert [i["name"] for i in page] == ["r1", "r2"]
    assert ids(admin.list(collection, f"tags=a,b&id={items['r1']}&id={items['r2']}")) == {
        items["r1"]}
    # the filters are never shown
    assert not {"tags-any", "not-tags", "not-tags-any"} & set(page[0])


# --- tags on create, and in other bodies ---------------------------------------------------
def test_ports_take_tags_on_create(api: Api) -> None:
    net = api.network()
    api.subnet(net["id"], "10.7.0.0/24")
    status, body = api.request("POST", "/v2.0/ports", {"ports": [
        {"network_id": net["id"], "name": "p1", "tags": ["y", "x"]},
        {"network_id": net["id"], "name": "p2", "tags": []},
        {"port": {"network_id": net["id"], "name": "p3", "tags": ["z"]}},
        {"network_id": net["id"], "name": "p4"},
    ]})
    assert status == 201, body
    made = {p["name"]: p for p in body["ports"]}
    assert {n: p["tags"] for n, p in made.items()} == {
        "p1": ["x", "y"], "p2": [], "p3": ["z"], "p4": []}
    for port in made.values():
        assert api.get("ports", port["id"])[1]["port"]["tags"] == port["tags"]
    assert {p["name"] for p in api.list("ports", f"network_id={net['id']}&tags-any=x,z")} == {
        "p1", "p3"}
    one = api.port(net["id"], tags=["solo"])
    assert one["tags"] == ["solo"] and tags_of(api, "ports", one["id"]) == ["solo"]
    # an update shows them too, and does not touch them
    updated = api.update("ports", one["id"], name="renamed")
    assert updated["tags"] == ["solo"]

    for tags, reason in ((["x", "x"], "Duplicate items in the list: 'x'"),
                         ("x", "'x' is not a list"),
                         ([["x"]], "'['x']' is not a valid string"),
                         (["z" * 256], f"'{'z' * 256}' exceeds maximum length of 255")):
        expect_error(api.post("ports", {"network_id": net["id"], "tags": tags}), 400,
                     "HTTPBadRequest", f"Invalid input for tags. Reason: {reason}.")
    # a bulk create is refused as a whole
    status, _ = api.request("POST", "/v2.0/ports", {"ports": [
        {"network_id": net["id"], "name": "good", "tags": ["ok"]},
        {"network_id": net["id"], "name": "bad", "tags": ["x", "x"]},
    ]})
    assert status == 400
    assert api.list("ports", f"network_id={net['id']}&tags=ok") == []


def test_tags_not_in_other_bodies(api: Api) -> None:
    net = api.network()
    subnet = api.subnet(net["id"], "10.6.0.0/24")
    port = api.port(net["id"])
    for collection, attrs in (("networks", {}),
                              ("subnets", {"network_id": net["id"], "ip_version": 4,
                                           "cidr": "10.5.0.0/24"})):
        expect_error(api.post(collection, {**attrs, "tags": ["a"]}), 400, "HTTPBadRequest",
                     "Attribute 'tags' not allowed in POST")
    for collection, item in (("networks", net), ("subnets", subnet), ("ports", port)):
        expect_error(api.put(collection, item["id"], {"tags": ["a"]}), 400, "HTTPBadRequest",
                     "Cannot update read-only attribute tags")
        for hidden in ("tags-any", "not-tags", "not-tags-any"):
            expect_error(api.put(collection, item["id"], {hidden: ["a"]}), 400,
                         "HTTPBadRequest")


def test_extensions(server: Server) -> None:
    status, body = server.request("GET", "/v2.0/extensions")
    assert status == 200
    ext = {e["alias"]: e for e in body["extensions"]}
    assert {"standard-attr-tag", "tag-creation", "tag-ports-during-bulk-creation"} <= set(ext)
    prefix = "Tag support for resources with standard attribute: "
    name = ext["standard-attr-tag"]["name"]
    assert name.startswith(prefix)
    assert {"network", "subnet", "port"} <= set(name[len(prefix):].split(", "))
    assert ext["tag-creation"]["updated"] == "2024-23-07T10:00:00-00:00"  # sic, as Neutron


# --- deleting resources deletes their tags -------------------------------------------------
@pytest.fixture
def db(server: Server) -> Iterator[sa.Engine]:
    engine = sa.create_engine(server.db_url, poolclass=sa.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def stored(db: sa.Engine, *ids_: str) -> list[tuple[str, str]]:
    with db.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(  # type: ignore[misc]
            sa.text("SELECT resource_id, tag FROM tags WHERE resource_id IN :ids")
            .bindparams(sa.bindparam("ids", expanding=True)), {"ids": list(ids_)}))


def test_deleting_items_deletes_their_tags(api: Api, admin: Api, project: str,
                                           db: sa.Engine) -> None:
    net = api.network()
    subnet = api.subnet(net["id"], "10.4.0.0/24")
    port = api.port(net["id"], tags=["p"])
    dhcp = admin.port(net["id"], device_owner="network:dhcp", project_id=project,
                      tags=["dhcp"])
    for collection, item in (("networks", net), ("subnets", subnet)):
        assert api.request("PUT", url(collection, item["id"]), {"tags": ["t1", "t2"]})[0] == 200
    everything = (net["id"], subnet["id"], port["id"], dhcp["id"])
    assert len(stored(db, *everything)) == 6
    api.remove("ports", port["id"])
    assert stored(db, port["id"]) == []
    api.remove("networks", net["id"])  # with its subnet and its own (DHCP) port
    assert stored(db, *everything) == []

    other = api.network()
    other_subnet = api.subnet(other["id"], "10.3.0.0/24")
    assert api.request("PUT", url("subnets", other_subnet["id"], "s"))[0] == 201
    api.remove("subnets", other_subnet["id"])
    assert stored(db, other_subnet["id"]) == []


# --- real clients --------------------------------------------------------------------------
def test_sdk(server: Server, headers: dict[str, str]) -> None:
    conn = openstack.connection.Connection(
        auth_type="none", network_endpoint_override=f"{server.url}/")
    conn.session.additional_headers.update(headers)
    try:
        net = conn.network.create_network(name="sdk-tags")
        conn.network.set_tags(net, ["b", "a"])
        assert conn.network.get_network(net.id).tags == ["a", "b"]
        conn.network.add_tag(net, "c")
        conn.network.add_tags(net, ["d", "a"])
        conn.network.check_tag(net, "d")  # raises unless there
        with pytest.raises(sdk_exc.NotFoundException):
            conn.network.check_tag(net, "zz")
        conn.network.remove_tag(net, "b")
        assert conn.network.get_tags(net) == ["a", "c", "d"]
        assert [n.id for n in conn.network.networks(tags="a,c")] == [net.id]
        assert [n.id for n in conn.network.networks(any_tags="c,zz", name="sdk-tags")] == [
            net.id]
        assert net.id not in {n.id for n in conn.network.networks(not_any_tags="d")}
        port = conn.network.create_port(network_id=net.id, tags=["at-create"])
        assert conn.network.get_port(port.id).tags == ["at-create"]
        conn.network.remove_all_tags(net)
        assert conn.network.get_network(net.id).tags == []
        conn.network.delete_port(port)
        conn.network.delete_network(net)
    finally:
        conn.close()


@pytest.fixture
def osc(server: Server, tmp_path: Path) -> Callable[..., Any]:
    """The openstack CLI (tests.support.osc); JSON out."""
    run = openstack_cli(server, tmp_path)
    return lambda *args: as_json(run(*args))


def test_openstack_cli(osc: Callable[..., Any], server: Server) -> None:
    name = f"cli-tags-{uuid.uuid4().hex[:8]}"
    net = osc("network", "create", "--tag", "red", name, "-f", "json")
    assert net["tags"] == ["red"]
    osc("network", "set", "--tag", "blue", "--tag", "green", name)
    listed = osc("network", "list", "--tags", "red,blue", "--long", "-f", "json")
    assert [(n["ID"], sorted(n["Tags"])) for n in listed] == [
        (net["id"], ["blue", "green", "red"])]
    assert osc("network", "list", "--not-any-tags", "green", "--name", name, "-f",
               "json") == []
    osc("network", "unset", "--tag", "red", name)
    status, body = server.request("GET", f"/v2.0/networks/{net['id']}/tags")
    assert (status, body) == (200, {"tags": ["blue", "green"]})
    server.request("DELETE", f"/v2.0/networks/{net['id']}")
