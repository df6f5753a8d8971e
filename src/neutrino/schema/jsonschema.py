"""JSON Schema (2020-12, as OpenAPI 3.1 uses it) of attribute values.

An attribute's schema is its ``Attr.schema`` when the definition gives one (a read-only
attribute has no validator to say what it holds; a service's own validator is opaque),
else derived from its validator in ``schema/validators.py``: the module's plain functions
by identity, its factories (``string(255)``, ``one_of(...)``) by the arguments their
closures hold. tests/unit/test_openapi.py fails when an attribute resolves to nothing,
so a new validator cannot silently drop out of the document.

A schema describes the value as the API answers it (what a validator returns), which is
also what a client should send: converters accept more spellings ("true" for true, an
upper-case MAC), which the document does not promise.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from neutrino.schema import validators as v

Schema = dict[str, Any]

UUID: Schema = {"type": "string", "format": "uuid"}
IP: Schema = {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}
# an address (either family) and a prefix length; the service checks the length's range
CIDR: Schema = {"type": "string", "pattern": r"^[0-9a-fA-F.:]+/[0-9]{1,3}$"}
MAC: Schema = {"type": "string", "pattern": "^([0-9a-f]{2}:){5}[0-9a-f]{2}$"}
STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
INTEGER: Schema = {"type": "integer"}
OBJECT: Schema = {"type": "object"}
# Timestamps as the services render them: ISO 8601 in UTC, e.g. 2026-12-07T12:00:00Z
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}


def string(max_len: int | None = 255) -> Schema:
    return {"type": "string"} if max_len is None else {"type": "string",
                                                       "maxLength": max_len}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: Schema, *, unique: bool = False) -> Schema:
    out: Schema = {"type": "array", "items": items}
    if unique:
        out["uniqueItems"] = True
    return out


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (),
        *, strict: bool = True) -> Schema:
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if strict:
        out["additionalProperties"] = False
    return out


def enum(*choices: Any, nullable_: bool = False) -> Schema:
    values = list(choices)
    types = {type(c) for c in values}
    out: Schema = {"enum": values + ([None] if nullable_ else [])}
    if len(types) == 1 and not nullable_:
        out["type"] = {str: "string", int: "integer", bool: "boolean"}.get(types.pop(),
                                                                             "string")
    return out


ROUTE: Schema = obj({"destination": CIDR, "nexthop": IP}, ("destination", "nexthop"))
ROUTES: Schema = array(ROUTE)
FIXED_IPS: Schema = array(obj({"ip_address": IP, "subnet_id": UUID}))
POOLS: Schema = array(obj({"start": IP, "end": IP}, ("start", "end")))

_PLAIN: dict[Callable[..., Any], Schema] = {
    v.boolean: BOOLEAN,
    v.to_int: INTEGER,
    v.non_negative: {"type": "integer", "minimum": 0},
    v.uuid_str: UUID,
    v.uuid_or_none: nullable(UUID),
    v.project_id: string(255),
    v.mac_address: MAC,
    v.sanitize_mac: MAC,
    v.ip_address: IP,
    v.ip_address_or_none: nullable(IP),
    v.canonical_ip: IP,
    v.cidr: CIDR,
    v.route_cidr: CIDR,
    v.allocation_pools: POOLS,
    v.nameservers: array(IP, unique=True),
    v.host_routes: ROUTES,
    v.fixed_ips: FIXED_IPS,
    v.dict_or_empty: OBJECT,
}


def _closure(fn: Callable[..., Any]) -> dict[str, Any]:
    return dict(inspect.getclosurevars(fn).nonlocals)


def _string(fn: Callable[..., Any]) -> Schema | None:
    c = _closure(fn)
    out = string(c.get("max_len"))
    return nullable(out) if c.get("nullable") else out


def _one_of(fn: Callable[..., Any]) -> Schema | None:
    c = _closure(fn)
    return enum(*c["choices"], nullable_=bool(c.get("nullable")))


def _integer(fn: Callable[..., Any]) -> Schema | None:
    c = _closure(fn)
    out: Schema = {"type": "integer"}
    if c.get("minimum") is not None:
        out["minimum"] = c["minimum"]
    if c.get("maximum") is not None:
        out["maximum"] = c["maximum"]
    return nullable(out) if c.get("nullable") else out


def _inner(name: str) -> Callable[[Callable[..., Any]], Schema | None]:
    """A factory whose closure wraps another validator: that one's schema."""
    def derive(fn: Callable[..., Any]) -> Schema | None:
        inner = _closure(fn).get(name)
        return None if inner is None else of_validator(inner)

    return derive


def _unique(fn: Callable[..., Any]) -> Schema | None:
    item = _closure(fn).get("item_check")
    items = of_validator(item) if item is not None else None
    return None if items is None else array(items, unique=True)


_FACTORIES: dict[str, Callable[[Callable[..., Any]], Schema | None]] = {
    "string.<locals>.check": _string,
    "name_string.<locals>.check": _inner("base"),
    "unique_strings.<locals>.check": _unique,
    "one_of.<locals>.check": _one_of,
    "int_one_of.<locals>.convert": _inner("check"),
    "integer.<locals>.check": _integer,
    "none_to_empty.<locals>.convert": _inner("check"),
}


def of_validator(fn: Callable[..., Any]) -> Schema | None:
    """The schema of what ``fn`` returns, or None when it is not one of validators.py's."""
    try:
        plain = _PLAIN.get(fn)
    except TypeError:  # unhashable callable
        plain = None
    if plain is not None:
        return plain
    if getattr(fn, "__module__", None) != v.__name__:
        return None
    derive = _FACTORIES.get(getattr(fn, "__qualname__", ""))
    return None if derive is None else derive(fn)


def of_attr(attr: Any) -> Schema | None:
    """An attribute's schema (None: unknown, which the unit test reports)."""
    if attr.schema is not None:
        return attr.schema
    return of_validator(attr.validate)
