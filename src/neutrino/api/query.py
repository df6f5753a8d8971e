"""List queries: filters, fields, sorting and pagination parsed from the query string,
checked against the resource's schema."""

from __future__ import annotations

from neutrino import exceptions as exc
from neutrino.db.listing import ListQuery
from neutrino.schema.base import Resource

_RESERVED = {"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"}


def parse(resource: Resource, params: list[tuple[str, str]], *, max_limit: int = -1,
          is_admin: bool = True) -> ListQuery:
    q = ListQuery()
    sort_keys: list[str] = []
    sort_dirs: list[str] = []
    fields: list[str] = []
    for key, value in params:
        if key == "fields":
            fields.extend(f for f in value.split(",") if f)
        elif key == "sort_key":
            sort_keys.append(value)
        elif key == "sort_dir":
            sort_dirs.append(value)
        elif key == "limit":
            q.limit = _limit(value)
        elif key == "marker":
            q.marker = value
        elif key == "page_reverse":
            q.page_reverse = value.lower() == "true"
        else:
            q.filters.setdefault(key, []).append(value)

    bad = [k for k in q.filters if not _filterable(resource, k, is_admin)]
    if bad:
        raise exc.HTTPBadRequest(f"{bad!r} is invalid attribute for filtering")
    for key, values in list(q.filters.items()):
        attr = resource.attrs[key]
        if attr.filter_convert is not None:
            try:
                q.filters[key] = [attr.filter_convert(v) for v in values]
            except ValueError:
                raise exc.InvalidInput(
                    error_message=f"'{values[0]}' is not a valid value for {key}"
                ) from None
    if "tenant_id" in q.filters:
        q.filters.setdefault("project_id", []).extend(q.filters.pop("tenant_id"))

    if len(sort_dirs) != len(sort_keys):
        raise exc.HTTPBadRequest("The number of sort_keys and sort_dirs must be same")
    bad = [k for k in sort_keys if not _sortable(resource, k, is_admin)]
    if bad:
        raise exc.HTTPBadRequest(f"{bad!r} is invalid attribute for sort_keys")
    bad = [d for d in sort_dirs if d not in ("asc", "desc")]
    if bad:
        raise exc.HTTPBadRequest(
            f"{bad!r} is invalid value for sort_dirs, valid value is 'asc' and 'desc'"
        )
    for key, direction in zip(sort_keys, sort_dirs, strict=True):
        q.sorts.append(("project_id" if key == "tenant_id" else key, direction == "asc"))

    if q.limit is not None and max_limit > 0 and (q.limit == 0 or q.limit > max_limit):
        q.limit = max_limit
    if q.limit == 0:
        q.limit = None
    if fields:
        q.fields = list(dict.fromkeys(fields))
    return q


def _filterable(resource: Resource, key: str, is_admin: bool) -> bool:
    attr = resource.attrs.get(key)
    return attr is not None and attr.is_filter and (is_admin or not attr.admin_only_read)


def _sortable(resource: Resource, key: str, is_admin: bool) -> bool:
    attr = resource.attrs.get(key)
    return (attr is not None and attr.is_sort_key and attr.visible
            and (is_admin or not attr.admin_only_read))


def _limit(value: str) -> int:
    try:
        limit = int(value)
    except ValueError:
        limit = -1
    if limit < 0:
        raise exc.BadRequest(
            resource="limit", msg=f"Limit must be an integer 0 or greater and not '{value}'"
        )
    return limit
