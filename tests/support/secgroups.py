"""API helper for collections whose URL differs from their body key
(/v2.0/security-groups holds {"security_groups": [...]})."""

from __future__ import annotations

from typing import Any

from tests.support.neutron import Api


def _key(collection: str) -> str:
    return collection.replace("-", "_")


class SgApi(Api):
    def post(self, collection: str, attrs: dict[str, Any]) -> tuple[int, Any]:
        return self.request("POST", f"/v2.0/{collection}", {_key(collection)[:-1]: attrs})

    def put(self, collection: str, id_: str, attrs: dict[str, Any]) -> tuple[int, Any]:
        return self.request("PUT", f"/v2.0/{collection}/{id_}",
                            {_key(collection)[:-1]: attrs})

    def list(self, collection: str, query: str = "") -> list[dict[str, Any]]:
        status, body = self.request("GET", f"/v2.0/{collection}{'?' + query if query else ''}")
        assert status == 200, body
        return body[_key(collection)]

    def create(self, collection: str, **attrs: Any) -> dict[str, Any]:
        status, body = self.post(collection, attrs)
        assert status == 201, body
        return body[_key(collection)[:-1]]

    def update(self, collection: str, id_: str, **attrs: Any) -> dict[str, Any]:
        status, body = self.put(collection, id_, attrs)
        assert status == 200, body
        return body[_key(collection)[:-1]]

    def show(self, collection: str, id_: str) -> dict[str, Any]:
        status, body = self.get(collection, id_)
        assert status == 200, body
        return body[_key(collection)[:-1]]

    def rule(self, group_id: str, direction: str = "ingress", **attrs: Any) -> dict[str, Any]:
        return self.create("security-group-rules", security_group_id=group_id,
                           direction=direction, **attrs)
