"""List queries: filters, fields, sorting and pagination parsed from the query string,
checked against the resource's schema the way Neutron's api_common does; the
revision an If-Match header asks for."""

from __future__ import annotations

import re

from neutrino import exceptions as exc
from neutrino.db.listing import ListQuery
from neutrino.exceptions import excerpt
from neutrino.schema.base import Resource
from neutrino.schema.validators import INT32, INT64, in_range, to_int


def parse(resource: Resource, params: list[tuple[str, str]], *, max_limit: int = -1,
          is_admin: bool = True) -> ListQuery:
    """``is_admin`` is accepted for callers' convenience: Neutron validates filters and
    sort keys against the attribute map alone, whoever asks (a project may filter on
    provider:network_type; it just never sees the attribute)."""
    del is_admin
    q = ListQuery()
    sort_keys: list[str] = []
    sort_dirs: list[str] = []
    fields: list[str] = []
    limit: str | None = None
    for key, value in params:
        if key == "fields":
            fields.extend(f for f in value.split(",") if f)
        elif key == "sort_key":
            if value:  # empty values are ignored (api_common.list_args)
                sort_keys.append(value)
        elif key == "sort_dir":
            if value:
                sort_dirs.append(value)
        elif key == "limit":
            limit = value  # the last one wins, as webob's GET.get
        elif key == "marker":
            q.marker = value
        elif key == "page_reverse":
            q.page_reverse = value.lower() == "true"
        else:
            # a repeated key is an OR of its values; "" is a value (empty-string-filtering)
            q.filters.setdefault(key, []).append(value)

    bad = [excerpt(k) for k in q.filters if not _filterable(resource, k)]
    if bad:
        raise exc.HTTPBadRequest(f"{bad!r} is invalid attribute for filtering")
    if any("\x00" in v for values in q.filters.values() for v in values):
        # No stored value holds a NUL (they are refused on write), and PostgreSQL cannot
        # even compare with one: nothing matches.
        q.filters = {"id": []}
    if q.marker is not None:
        q.marker = q.marker.replace("\x00", "")
    for key, values in list(q.filters.items()):
        convert = resource.attrs[key].filter_convert
        if convert is not None:
            try:
                q.filters[key] = [convert(v) for v in values]
            except ValueError as e:  # ConversionError too; or beyond the column's range
                raise exc.InvalidInput(error_message=str(e)) from None
    if "tenant_id" in q.filters:
        # Two names of one column, each a filter of its own: both must hold.
        tenants = q.filters.pop("tenant_id")
        if "project_id" in q.filters:
            q.filters["project_id"] = [p for p in q.filters["project_id"] if p in tenants]
        else:
            q.filters["project_id"] = tenants

    if len(sort_dirs) != len(sort_keys):
        raise exc.HTTPBadRequest("The number of sort_keys and sort_dirs must be same")
    bad = [excerpt(k) for k in sort_keys if not _sortable(resource, k)]
    if bad:
        raise exc.HTTPBadRequest(f"{bad!r} is invalid attribute for sort_keys")
    bad = [excerpt(d) for d in sort_dirs if d not in ("asc", "desc")]
    if bad:
        raise exc.HTTPBadRequest(
            f"{bad!r} is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
        )
    for key, direction in zip(sort_keys, sort_dirs, strict=True):
        q.sorts.append(("project_id" if key == "tenant_id" else key, direction == "asc"))

    q.limit = _limit(limit, max_limit)
    if fields:
        q.fields = list(dict.fromkeys(fields))
    return q


def _filterable(resource: Resource, key: str) -> bool:
    attr = resource.attrs.get(key)
    return attr is not None and attr.is_filter


def _sortable(resource: Resource, key: str) -> bool:
    attr = resource.attrs.get(key)
    return attr is not None and attr.is_sort_key


def _limit(value: str | None, max_limit: int) -> int | None:
    """The page size, or None for no paging (limit absent or 0, and no maximum)."""
    limit = 0
    if value is not None:
        try:
            limit = int(value)
        except ValueError:
            limit = -1
        if limit < 0:
            raise exc.BadRequest(resource="limit", msg="Limit must be an integer 0 or "
                                 f"greater and not '{excerpt(value)}'")
        if limit > INT32[1]:
            # beyond what a LIMIT clause takes (the page's extra row counted); no
            # collection holds that many items anyway
            raise exc.BadRequest(resource="limit", msg="Limit must be an integer no "
                                 f"greater than {INT32[1]} and not '{excerpt(value)}'")
    if max_limit > 0:
        limit = min(max_limit, limit) or max_limit
    return limit or None


def if_match_revision(header: str) -> int | None:
    """``revision_number=N`` from an If-Match header (quoted or not; weak tags and other
    tags ignored), as Neutron reads it."""
    tags = re.findall(r'(W/)?"([^"]*)"', header) or [("", header.strip())]
    revisions = [tag for weak, tag in tags if not weak and tag.startswith("revision_number=")]
    if not revisions:
        return None
    if len(revisions) > 1:
        raise exc.BadRequest(resource="if-match",
                             msg="Multiple revision_number etags are not supported")
    try:
        # a revision_number column's range: never a number SQL cannot compare
        return in_range(to_int(revisions[0][len("revision_number="):]), INT64)
    except ValueError:
        raise exc.BadRequest(
            resource="if-match",
            msg="If-Match header must be in the format of revision_number=<int>",
        ) from None
