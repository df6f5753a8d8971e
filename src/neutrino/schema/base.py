"""The declarative model: an ``Attr`` per attribute, a ``Resource`` per collection.

Everything the API layer does with a request body or a query string — which keys are
accepted on POST and PUT, defaults, conversion, what a response shows, what can be
filtered and sorted on — is read from these definitions, never coded per endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neutrino.schema import validators as v


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


# "Not specified, the service chooses": a default that is neither required nor a value,
# e.g. a subnet's gateway_ip (first address unless given, null for none) or a port's MAC.
AUTO: Any = _Auto()


@dataclass(frozen=True, slots=True)
class Attr:
    name: str
    validate: v.Validator = v.any_value
    allow_post: bool = True
    allow_put: bool = True
    # A POST without this key gets the default; MISSING with allow_post means "required".
    default: Any = MISSING
    visible: bool = True
    is_filter: bool = True
    is_sort_key: bool = True
    # Query-string values are strings; this turns one into the stored type for filtering
    # (raising validators.ConversionError, reported as InvalidInput, when it cannot).
    filter_convert: Callable[[str], Any] | None = None
    # Only admins may set it (Neutron's policy defaults say the same, e.g. provider:*).
    admin_only_write: bool = False
    # Anyone may set it on create, only admins change it afterwards (a port's MAC).
    admin_only_put: bool = False
    # Only admins may read it; left out of responses for others.
    admin_only_read: bool = False
    # Extension alias this attribute comes from (None: core).
    extension: str | None = None

    @property
    def required(self) -> bool:
        return self.allow_post and self.default is MISSING


@dataclass(slots=True)
class Resource:
    name: str  # singular, e.g. "port"
    collection: str  # plural, e.g. "ports"
    attrs: dict[str, Attr] = field(default_factory=dict)
    # Resource-level actions (PUT /{collection}/{id}/{action}), filled by services.
    actions: tuple[str, ...] = ()
    # The URL segment, where it differs from the body's collection key
    # (/v2.0/rbac-policies holds {"rbac_policies": [...]}).
    path: str = ""

    @property
    def url_path(self) -> str:
        return self.path or self.collection

    def add(self, *attrs: Attr) -> None:
        for attr in attrs:
            self.attrs[attr.name] = attr

    @property
    def visible(self) -> tuple[str, ...]:
        return tuple(n for n, a in self.attrs.items() if a.visible)


@dataclass(frozen=True, slots=True)
class Extension:
    alias: str
    name: str
    description: str
    updated: str = "2013-01-01T10:00:00-00:00"


def bool_filter(value: str) -> bool:
    return v.boolean(value)


def int_filter(value: str) -> int:
    """A filter on an Integer column (a number beyond its range: ValueError, a 400)."""
    return v.in_range(v.to_int(value), v.INT32, value)


def bigint_filter(value: str) -> int:
    """A filter on a BigInteger column (revision numbers, segmentation ids)."""
    return v.in_range(v.to_int(value), v.INT64, value)


def standard_attrs() -> list[Attr]:
    """description, timestamps and revision_number: on every resource Neutron calls
    'standard attribute' resources."""
    # As Neutron's extensions define them: description and revision_number filter but do
    # not sort, the timestamps do neither.
    return [
        Attr("description", v.string(255), default="", is_sort_key=False,
             extension="standard-attr-description"),
        Attr("created_at", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, extension="standard-attr-timestamp"),
        Attr("updated_at", allow_post=False, allow_put=False, is_filter=False,
             is_sort_key=False, extension="standard-attr-timestamp"),
        Attr("revision_number", allow_post=False, allow_put=False, filter_convert=bigint_filter,
             is_sort_key=False, extension="standard-attr-revisions"),
    ]


def project_attrs() -> list[Attr]:
    # project_id and its older name tenant_id: either can be given, both are shown.
    return [
        Attr("project_id", v.project_id, allow_put=False, default=None,
             extension="project-id"),
        Attr("tenant_id", v.project_id, allow_put=False, default=None),
    ]


MAX_TAG_LEN = 255
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def tag_attrs(*, allow_post: bool = False) -> list[Attr]:
    """standard-attr-tag: ``tags`` shown and filtered on, plus three filters that are never
    shown (core/tags.py gives them their meaning). Tags are changed through
    /{collection}/{id}/tags, never by PUT on the item; only ports take them on POST
    (tag-ports-during-bulk-creation)."""
    return [
        Attr("tags", v.unique_strings(MAX_TAG_LEN) if allow_post else v.any_value,
             allow_post=allow_post, allow_put=False, default=[] if allow_post else MISSING,
             is_sort_key=False, extension="standard-attr-tag"),
        *(Attr(name, allow_post=False, allow_put=False, visible=False, is_sort_key=False,
               extension="standard-attr-tag") for name in TAG_FILTERS[1:]),
    ]
