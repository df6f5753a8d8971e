"""Small helpers for API tests: create resources, assert Neutron error bodies."""

from __future__ import annotations

from typing import Any

from tests.support.server import Server


def expect_error(result: tuple[int, Any], status: int, type_: str,
                 message: str | None = None, *, contains: str | None = None) -> str:
    """Assert a NeutronError body of ``type_`` with HTTP ``status``; returns the message."""
    got_status, body = result
    assert got_status == status, (got_status, body)
    assert body is not None and set(body) == {"NeutronError"}, body
    err = body["NeutronError"]
    assert err["type"] == type_, err
    assert err["detail"] == "", err
    if message is not None:
        assert err["message"] == message, err
    if contains is not None:
        assert contains in err["message"], err
    return err["message"]


def invalid_input(reason: str) -> str:
    return f"Invalid input for operation: {reason}."


class Api:
    """One caller (a set of identity headers) talking to one server."""

    def __init__(self, server: Server, headers: dict[str, str] | None) -> None:
        self.server = server
        self.headers = headers

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.server.request(method, path, body, headers=self.headers)

    def post(self, collection: str, attrs: dict[str, Any]) -> tuple[int, Any]:
        return self.request("POST", f"/v2.0/{collection}", {collection[:-1]: attrs})

    def put(self, collection: str, id_: str, attrs: dict[str, Any]) -> tuple[int, Any]:
        return self.request("PUT", f"/v2.0/{collection}/{id_}", {collection[:-1]: attrs})

    def get(self, collection: str, id_: str) -> tuple[int, Any]:
        return self.request("GET", f"/v2.0/{collection}/{id_}")

    def delete(self, collection: str, id_: str) -> tuple[int, Any]:
        return self.request("DELETE", f"/v2.0/{collection}/{id_}")

    def list(self, collection: str, query: str = "") -> list[dict[str, Any]]:
        status, body = self.request("GET", f"/v2.0/{collection}{'?' + query if query else ''}")
        assert status == 200, body
        return body[collection]

    def create(self, collection: str, **attrs: Any) -> dict[str, Any]:
        status, body = self.post(collection, attrs)
        assert status == 201, body
        return body[collection[:-1]]

    def update(self, collection: str, id_: str, **attrs: Any) -> dict[str, Any]:
        status, body = self.put(collection, id_, attrs)
        assert status == 200, body
        return body[collection[:-1]]

    def remove(self, collection: str, id_: str) -> None:
        status, body = self.delete(collection, id_)
        assert status == 204, body

    # conveniences
    def network(self, **attrs: Any) -> dict[str, Any]:
        return self.create("networks", **attrs)

    def subnet(self, network_id: str, cidr: str, **attrs: Any) -> dict[str, Any]:
        version = 6 if ":" in cidr else 4
        return self.create("subnets", network_id=network_id, cidr=cidr,
                           ip_version=attrs.pop("ip_version", version), **attrs)

    def port(self, network_id: str, **attrs: Any) -> dict[str, Any]:
        return self.create("ports", network_id=network_id, **attrs)
