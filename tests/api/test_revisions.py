"""revision_number and If-Match (revision-if-match): a stale write is refused with 412."""

from __future__ import annotations

from tests.support.server import Server


def _network(server: Server, headers: dict[str, str]) -> dict:
    status, body = server.request("POST", "/v2.0/networks", {"network": {"name": "r"}},
                                  headers=headers)
    assert status == 201, body
    return body["network"]


def test_if_match_on_update_and_delete(server: Server, headers: dict[str, str]) -> None:
    net = _network(server, headers)
    rev = net["revision_number"]
    path = f"/v2.0/networks/{net['id']}"
    status, body = server.request("PUT", path, {"network": {"name": "r2"}},
                                  headers={**headers, "If-Match": f"revision_number={rev}"})
    assert status == 200 and body["network"]["revision_number"] == rev + 1
    # the same constraint again is now stale
    status, body = server.request("PUT", path, {"network": {"name": "r3"}},
                                  headers={**headers, "If-Match": f"revision_number={rev}"})
    assert status == 412
    assert body["NeutronError"] == {
        "type": "RevisionNumberConstraintFailed",
        "message": f"Constrained to {rev}, but current revision is {rev + 1}", "detail": ""}
    status, _ = server.request("DELETE", path,
                               headers={**headers, "If-Match": f'"revision_number={rev}"'})
    assert status == 412
    status, _ = server.request("DELETE", path,
                               headers={**headers, "If-Match": f'"revision_number={rev + 1}"'})
    assert status == 204


def test_if_match_forms(server: Server, headers: dict[str, str]) -> None:
    net = _network(server, headers)
    path = f"/v2.0/networks/{net['id']}"
    # weak tags and tags of other kinds do not constrain anything
    for value in ('W/"revision_number=999"', '"abc"', "*"):
        status, _ = server.request("PUT", path, {"network": {"name": "x"}},
                                   headers={**headers, "If-Match": value})
        assert status == 200, value
    status, body = server.request(
        "PUT", path, {"network": {"name": "y"}},
        headers={**headers, "If-Match": '"revision_number=1" "revision_number=2"'})
    assert status == 400
    assert body["NeutronError"]["message"] == (
        "Bad if-match request: Multiple revision_number etags are not supported.")
    status, body = server.request("PUT", path, {"network": {"name": "y"}},
                                  headers={**headers, "If-Match": "revision_number=x"})
    assert status == 400 and "revision_number=<int>" in body["NeutronError"]["message"]


def test_if_match_on_ports_and_subnets(server: Server, headers: dict[str, str]) -> None:
    net = _network(server, headers)
    status, body = server.request(
        "POST", "/v2.0/subnets",
        {"subnet": {"network_id": net["id"], "cidr": "10.61.0.0/24", "ip_version": 4}},
        headers=headers)
    subnet = body["subnet"]
    status, body = server.request("POST", "/v2.0/ports", {"port": {"network_id": net["id"]}},
                                  headers=headers)
    port = body["port"]
    for path, key, item in ((f"/v2.0/ports/{port['id']}", "port", port),
                            (f"/v2.0/subnets/{subnet['id']}", "subnet", subnet)):
        stale = item["revision_number"] + 5
        status, body = server.request("PUT", path, {key: {"name": "n"}},
                                      headers={**headers,
                                               "If-Match": f"revision_number={stale}"})
        assert status == 412, body
