"""/v2.0/{collection}/{id}/tags: Neutron's tag API (extensions standard-attr-tag,
tag-creation) for every resource registered in core.standard_attrs.

    GET    .../tags          200 {"tags": [...]}
    PUT    .../tags          200, the body echoed: {"tags": [...]} replaces them all
    POST   .../tags          200, the body echoed: adds those missing (tag-creation)
    DELETE .../tags          204, removes them all
    GET    .../tags/{tag}    204, or 404 TagNotFound
    PUT    .../tags/{tag}    201 (also when it is there already)
    DELETE .../tags/{tag}    204, or 404 TagNotFound

Neutron's order of checks: the body or tag (400), the item (404, as the caller can see
it), policy (403), the limit of 50 tags (400). A change honours If-Match:
revision_number=N against the item (412), where Neutron fails with a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino import exceptions as exc
from neutrino.api.app import Collection, Request
from neutrino.core import standard_attrs
from neutrino.core.standard_attrs import StandardAttrResource
from neutrino.core.tags import TagService, check_limit
from neutrino.db.engine import Database
from neutrino.schema import validators as v
from neutrino.schema.base import MAX_TAG_LEN, Extension

_check_tag = v.string(MAX_TAG_LEN)
_check_tags = v.unique_strings(MAX_TAG_LEN)

_VERBS = {"GET": "get", "PUT": "update", "POST": "create", "DELETE": "delete"}


def extensions() -> list[Extension]:
    """The extensions of this API, standard-attr-tag naming the resources that have it
    (call once every service registered its resources)."""
    members = ", ".join(e.member for e in standard_attrs.registered())
    return [
        Extension("standard-attr-tag",
                  f"Tag support for resources with standard attribute: {members}",
                  "Enables to set tag on resources with standard attribute.",
                  "2017-01-01T00:00:00-00:00"),
        Extension("tag-creation", "Tag creation extension",
                  "Allow to create multiple tags for a resource",
                  "2024-23-07T10:00:00-00:00"),  # sic: Neutron's own date, month 23
        Extension("tag-ports-during-bulk-creation", "Tag Ports During Bulk Creation",
                  "Allow to tag ports during bulk creation", "2019-12-29T19:00:00-00:00"),
    ]


def authorize(req: Request, entry: StandardAttrResource, verb: str,
              target: dict[str, Any]) -> None:
    """Who may read or change an item's tags (one the caller can see): Neutron's
    ``<verb>_<member>:tags`` rules, e.g. update_network:tags: the owner (member role) or
    an admin changes them; whoever may read the item reads them."""
    req.policy.enforce(f"{verb}_{entry.member}:tags", target)


def _valid_tag(tag: str) -> str:
    try:
        return _check_tag(tag)
    except ValueError as e:
        raise exc.InvalidInput(error_message=str(e)) from None


def _valid_body(body: Any) -> list[str]:
    if not isinstance(body, dict) or "tags" not in body:
        raise exc.InvalidInput(error_message="Invalid tags body")
    try:
        return _check_tags(body["tags"])
    except ValueError as e:
        raise exc.InvalidInput(error_message=str(e)) from None


Targets = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


class TagController:
    """The MemberHandler of ``member_routes["tags"]``. ``targets`` completes an item with
    what policy rules read beyond its own attributes (its network's owner)."""

    def __init__(self, db: Database, targets: Targets | None = None) -> None:
        self.service = TagService(db)
        self.targets: Targets = targets or (lambda items: items)

    def _item(self, req: Request, coll: Collection, entry: StandardAttrResource,
              id_: str) -> dict[str, Any]:
        """The item as the caller sees it (its NotFound otherwise), if policy lets the
        caller do what it asks with the item's tags."""
        item = coll.service.get(req.ctx, id_)
        authorize(req, entry, _VERBS[req.method], self.targets([item])[0])
        return item

    def __call__(self, req: Request, coll: Collection, id_: str, rest: list[str]
                 ) -> tuple[int, Any]:
        entry = standard_attrs.lookup(coll.resource.collection)
        if entry is None or "tags" not in coll.resource.attrs or len(rest) > 1:
            # not taggable (security group rules have standard attributes but no tags,
            # as in Neutron): no such sub-resource
            raise exc.HTTPNotFound()
        if req.method not in _VERBS or (rest and req.method == "POST"):
            raise exc.HTTPMethodNotAllowed()
        if rest:
            return self._one(req, coll, entry, id_, _valid_tag(rest[0]))
        if req.method == "GET":
            return 200, {"tags": self._item(req, coll, entry, id_)["tags"]}
        if req.method == "DELETE":
            self._item(req, coll, entry, id_)
            self.service.clear(req.ctx, entry, id_)
            return 204, None
        body = req.json()
        tags = _valid_body(body)
        self._item(req, coll, entry, id_)
        check_limit(entry, tags)
        if req.method == "PUT":
            self.service.replace(req.ctx, entry, id_, tags)
        else:
            self.service.add(req.ctx, entry, id_, tags)
        return 200, body

    def _one(self, req: Request, coll: Collection, entry: StandardAttrResource, id_: str,
             tag: str) -> tuple[int, Any]:
        item = self._item(req, coll, entry, id_)
        if req.method == "GET":
            if tag not in item["tags"]:
                raise exc.TagNotFound(tag=tag)
            return 204, None
        if req.method == "PUT":
            self.service.add(req.ctx, entry, id_, [tag], limit_all=True)
            return 201, None
        self.service.remove(req.ctx, entry, id_, tag)
        return 204, None
