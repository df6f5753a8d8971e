"""The declarative model: an ``Attr`` per attribute, a ``Resource`` per collection.

Everything the API layer does with a request body or a query string — which keys are
accepted on POST and PUT, defaults, conversion, what a response shows, what can be
filtered and sorted on — is read from these definitions, never coded per endpoint.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neutrino.schema import jsonschema as js
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


class _AsDefault:
    def __repr__(self) -> str:
        return "AS_DEFAULT"


# An Attr's policy_default when neutron-lib's default is the attribute's ``default``.
AS_DEFAULT: Any = _AsDefault()


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
    # Extension alias this attribute comes from (None: core).
    extension: str | None = None
    # JSON Schema of the value as the API shows it (and, for a writable attribute, as a
    # client should send it), for the OpenAPI document. None: derived from ``validate``
    # (schema/jsonschema.py); given where the validator is the service's own or there is
    # none (a read-only attribute).
    schema: dict[str, Any] | None = None
    # Where a response's value comes from (db/rowdict.py): the row's column ``column``
    # (None: the attribute's own name) passed through ``output`` (None: as stored), or,
    # when ``computed``, the service (other tables, another service's data).
    column: str | None = None
    output: Callable[[Any], Any] | None = None
    computed: bool = False
    # neutron-lib's 'enforce_policy': Neutron's policy engine ANDs rule
    # ``<action>_<resource>:<name>`` into a create or an update that sets the attribute
    # explicitly (api/body.py policy_attributes); a rule for any other attribute is
    # inert. ``policy_default``: neutron-lib's default, where neutrino's ``default``
    # differs from it (MISSING: none there, any value given sets the attribute); a
    # create giving that value does not set it. ``policy_keys``: the keys of a dict
    # value whose ``<action>_<resource>:<name>:<key>`` rules are ANDed too when given
    # (the sub-specification of neutron-lib's type:dict validator); a list value's
    # dicts bring a rule for each of their keys without being declared.
    enforce_policy: bool = False
    policy_default: Any = AS_DEFAULT
    policy_keys: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.allow_post and self.default is MISSING

    def set_explicitly(self, value: Any) -> bool:
        """Whether a create giving ``value`` sets this attribute in Neutron's policy
        engine's eyes (_is_attribute_explicitly_set): a value other than the default."""
        default = self.default if self.policy_default is AS_DEFAULT else self.policy_default
        return default is MISSING or default is AUTO or bool(value != default)


@dataclass(slots=True)
class Resource:
    name: str  # singular, e.g. "port"
    collection: str  # plural, e.g. "ports"
    attrs: dict[str, Attr] = field(default_factory=dict)
    # What lies below an item: sub-resources (/ports/{id}/bindings[/{host}]) and member
    # actions (PUT /routers/{id}/add_router_interface), each operation declared with its
    # bodies. api/ validates those bodies from them; api/openapi.py documents them.
    operations: tuple[Operation, ...] = ()
    # The URL segment, where it differs from the body's collection key
    # (/v2.0/rbac-policies holds {"rbac_policies": [...]}).
    path: str = ""
    # The table an item's row is read from (db/tables/), and columns the service's
    # SELECT adds to it under a label (a network's ``shared`` as the caller sees it).
    table: str = ""
    labels: tuple[str, ...] = ()
    # A create may name no project at all (``"project_id": null``): a system-wide item
    # (security-groups-default-statefulness); absent, it is the caller's project.
    null_project: bool = False

    @property
    def url_path(self) -> str:
        return self.path or self.collection

    def add(self, *attrs: Attr) -> None:
        for attr in attrs:
            self.attrs[attr.name] = attr

    @property
    def visible(self) -> tuple[str, ...]:
        return tuple(n for n, a in self.attrs.items() if a.visible)

    def post_defaults(self) -> dict[str, Any]:
        """What a create that names none of the attributes gets (a copy: lists too)."""
        return {name: (list(a.default) if isinstance(a.default, list) else a.default)
                for name, a in self.attrs.items() if a.allow_post and a.default is not MISSING}

    @property
    def member_operations(self) -> tuple[Operation, ...]:
        """The declared operations, plus the tags sub-resource of a resource with
        standard-attr-tag's attributes (core/standard_attrs.py serves it for all)."""
        return self.operations + (TAG_OPERATIONS if "tags" in self.attrs else ())


@dataclass(frozen=True, slots=True)
class Body:
    """A request or response body made of a resource's attributes: ``{name: {...}}``,
    ``{collection: [{...}, ...]}`` (``many``), or the attributes themselves (``bare``:
    add_router_interface's ``{"subnet_id": ...}``, tags' ``{"tags": [...]}``)."""
    resource: Resource
    many: bool = False
    bare: bool = False
    # Keys the resource does not declare are ignored, not refused (a router interface's
    # info: Neutron's plugin reads the keys it knows); in a response: may be there (the
    # tags API echoes the request's body, as Neutron's).
    ignore_unknown: bool = False
    # A request body's attributes: those allowed on POST (required ones required) or on
    # PUT (all optional).
    verb: str = "PUT"


@dataclass(frozen=True, slots=True)
class Operation:
    """One HTTP operation below an item: ``path`` is relative to the item's URL and its
    first segment is the route (``bindings/{host}/activate``, ``add_extraroutes``).
    ``params`` are the attributes whose values the path's ``{placeholders}`` are."""
    method: str
    path: str
    status: int  # on success
    summary: str
    request: Body | None = None
    response: Body | None = None  # None: no body (204), or the parent item's if ``item``
    params: tuple[Attr, ...] = ()
    # GET of a list: its filters (the response resource's filter attributes) and fields
    query: bool = False
    # the response is the parent item, as the item's own GET shows it
    item: bool = False
    kind: str = "sub-resource"  # or "action"
    # server-side statuses it answers by design, beyond the 4xx every operation may give
    # (500 PortBindingError when no mechanism driver binds a port, as Neutron's)
    failures: tuple[int, ...] = ()

    @property
    def route(self) -> str:
        return self.path.split("/", 1)[0]


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


def api_time(value: dt.datetime | str | None) -> str | None:
    """A stored (naive UTC) time as the API shows it: "%Y-%m-%dT%H:%M:%SZ" (isoformat is
    three times faster than strftime; lists format thousands). A string is such a time
    already, formatted by the database (core/port_dict.py api_time_columns)."""
    if value is None or value.__class__ is str:
        return value  # type: ignore[return-value]
    return value.isoformat(timespec="seconds") + "Z"  # type: ignore[union-attr]


def as_bool(value: Any) -> bool:
    # a boolean read from an EXISTS or a nullable column: 0/1/None on some engines
    return bool(value)


def standard_attrs() -> list[Attr]:
    """description, timestamps and revision_number: on every resource Neutron calls
    'standard attribute' resources."""
    # As Neutron's extensions define them: description and revision_number filter but do
    # not sort, the timestamps do neither.
    return [
        Attr("description", v.string(255), default="", is_sort_key=False,
             extension="standard-attr-description"),
        *(Attr(name, allow_post=False, allow_put=False, is_filter=False, is_sort_key=False,
               extension="standard-attr-timestamp", schema=js.TIMESTAMP, output=api_time)
          for name in ("created_at", "updated_at")),
        Attr("revision_number", allow_post=False, allow_put=False, filter_convert=bigint_filter,
             is_sort_key=False, extension="standard-attr-revisions", schema=js.INTEGER),
    ]


def project_attrs() -> list[Attr]:
    # project_id and its older name tenant_id: either can be given, both are shown.
    return [
        Attr("project_id", v.project_id, allow_put=False, default=None,
             extension="project-id"),
        Attr("tenant_id", v.project_id, allow_put=False, default=None, column="project_id"),
    ]


MAX_TAG_LEN = 255
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


TAGS_SCHEMA = js.array(js.string(MAX_TAG_LEN), unique=True)


def tag_attrs(*, allow_post: bool = False) -> list[Attr]:
    """standard-attr-tag: ``tags`` shown and filtered on, plus three filters that are never
    shown (core/tags.py gives them their meaning). Tags are changed through
    /{collection}/{id}/tags, never by PUT on the item; only ports take them on POST
    (tag-ports-during-bulk-creation)."""
    return [
        Attr("tags", v.unique_strings(MAX_TAG_LEN) if allow_post else v.any_value,
             allow_post=allow_post, allow_put=False, default=[] if allow_post else MISSING,
             is_sort_key=False, extension="standard-attr-tag", schema=TAGS_SCHEMA,
             computed=True),
        *(Attr(name, allow_post=False, allow_put=False, visible=False, is_sort_key=False,
               extension="standard-attr-tag") for name in TAG_FILTERS[1:]),
    ]


def _tag_operations() -> tuple[Operation, ...]:
    """/{collection}/{id}/tags[/{tag}] (api/tags.py): the list is read, replaced, added
    to and cleared; one tag is checked (204 or 404), added (201) and removed."""
    tags = Resource("tags", "tags")
    tags.add(Attr("tags", v.unique_strings(MAX_TAG_LEN), default=MISSING,
                  schema=TAGS_SCHEMA))
    body = Body(tags, bare=True, verb="POST")
    echo = Body(tags, bare=True, ignore_unknown=True)
    tag = Attr("tag", v.string(MAX_TAG_LEN))
    return (
        Operation("GET", "tags", 200, "List the item's tags", response=body),
        Operation("PUT", "tags", 200, "Replace the item's tags (the body is echoed)",
                  request=body, response=echo),
        Operation("POST", "tags", 200,
                  "Add tags to the item (tag-creation; the body is echoed)",
                  request=body, response=echo),
        Operation("DELETE", "tags", 204, "Remove all the item's tags"),
        Operation("GET", "tags/{tag}", 204, "Whether the item has the tag", params=(tag,)),
        Operation("PUT", "tags/{tag}", 201, "Add one tag", params=(tag,)),
        Operation("DELETE", "tags/{tag}", 204, "Remove one tag", params=(tag,)),
    )


TAG_OPERATIONS = _tag_operations()


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("project-id", "project_id field enabled",
              "Extension that indicates that project_id field is enabled.",
              "2016-09-09T09:09:09-09:09"),
    Extension("standard-attr-description", "standard-attr-description",
              "Extension to add descriptions to standard attributes", "2016-02-10T10:00:00-00:00"),
    Extension("standard-attr-timestamp", "Resource timestamps",
              "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
              "standard attributes.", "2016-09-12T10:00:00-00:00"),
    Extension("standard-attr-revisions", "Resource revision numbers",
              "This extension will display the revision number of neutron resources.",
              "2016-04-11T10:00:00-00:00"),
)
