"""Converters/validators for attribute values, with Neutron's semantics and wording.

Each is a callable ``(value) -> value`` that returns the normalized value. Neutron runs an
attribute's converter before its validator and reports them differently, so we do too:

* a value that cannot be *converted* raises ``ConversionError``; the API answers
  ``InvalidInput`` ("Invalid input for operation: <msg>.");
* a value that fails *validation* raises ``ValueError``; the API answers ``HTTPBadRequest``
  ("Invalid input for <attr>. Reason: <msg>.").

A validator may also raise a ``NeutronError`` directly where Neutron bypasses both (the
multi-provider ``segments`` check).

Beyond Neutron: an integer is refused (400) outside its database column's range (INT32,
INT64) rather than failing in SQL, and a message quotes only an excerpt of the value it
refuses (``exceptions.excerpt``), never a multi-megabyte string back.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

from neutrino.exceptions import excerpt

Validator = Callable[[Any], Any]


class ConversionError(ValueError):
    """A value that cannot be converted to the attribute's type (Neutron's converters):
    reported as InvalidInput, where a failed validation is an HTTPBadRequest."""


_HEX = "[0-9a-fA-F]"
# The spellings netaddr's EUI-48 parser accepts (what Neutron's valid_mac allows):
# 6 groups of 1-2 hex digits separated by ':' or '-', cisco dotted, bare, "pgsql" halves.
_MAC_FORMS = (
    re.compile(rf"^({_HEX}{{1,2}}):({_HEX}{{1,2}}):({_HEX}{{1,2}}):({_HEX}{{1,2}}):"
               rf"({_HEX}{{1,2}}):({_HEX}{{1,2}})$"),
    re.compile(rf"^({_HEX}{{1,2}})-({_HEX}{{1,2}})-({_HEX}{{1,2}})-({_HEX}{{1,2}})-"
               rf"({_HEX}{{1,2}})-({_HEX}{{1,2}})$"),
    re.compile(rf"^({_HEX}{{4}})\.({_HEX}{{4}})\.({_HEX}{{4}})$"),
    re.compile(rf"^({_HEX}{{12}})$"),
    re.compile(rf"^({_HEX}{{6}})[:-]({_HEX}{{6}})$"),
)
_INVALID_MACS = ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff")


# --- strings -------------------------------------------------------------------------------
def string(max_len: int | None = 255, *, nullable: bool = False) -> Validator:
    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        # NUL is refused too: PostgreSQL cannot store it in text (Neutron answers 500)
        if not isinstance(value, str) or "\x00" in value:
            raise ValueError(f"'{excerpt(value)}' is not a valid string")
        if max_len is not None and len(value) > max_len:
            raise ValueError(f"'{excerpt(value)}' exceeds maximum length of {max_len}")
        return value

    return check


def unique_strings(max_len: int | None = 255) -> Validator:
    """type:list_of_unique_strings: a list, no item twice (the duplicates are named, in
    the order they first repeat), then each item a string of at most ``max_len``."""
    item_check = string(max_len)

    def check(value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"'{excerpt(value)}' is not a list")
        seen: set[Any] = set()
        seen_unhashable: list[Any] = []  # dicts, lists: compared one by one
        dups: list[Any] = []
        for item in value:
            try:
                known = item in seen
                seen.add(item)
            except TypeError:
                known = item in seen_unhashable
                seen_unhashable.append(item)
            if known and item not in dups:
                dups.append(item)
        if dups:
            raise ValueError(f"Duplicate items in the list: '{excerpt(', '.join(map(str, dups)))}'")
        for item in value:
            item_check(item)
        return value

    return check


def _printable(char: str) -> bool:
    # Letters, marks, numbers, punctuation, symbols and horizontal spaces; not control,
    # format, unassigned or line/paragraph separators. Neutron's regex covers the BMP only.
    if ord(char) >= 0xFFFF:
        return False
    category = unicodedata.category(char)
    return not category.startswith("C") and (not category.startswith("Z") or category == "Zs")


def name_string(max_len: int = 255) -> Validator:
    """Neutron's ``type:name_string``: printable, no leading or trailing whitespace."""
    base = string(max_len)

    def check(value: Any) -> Any:
        base(value)
        if value and (not all(_printable(c) for c in value)
                      or unicodedata.category(value[0]) == "Zs"
                      or unicodedata.category(value[-1]) == "Zs"):
            raise ValueError(f"'{excerpt(value)}' is not a valid string")
        return value

    return check


# --- numbers and booleans ------------------------------------------------------------------
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")


def boolean(value: Any) -> bool:
    """convert_to_boolean: oslo's strict bool_from_string on str(value)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConversionError(f"'{excerpt(value)}' cannot be converted to boolean")


# The ranges of the database's integer columns. Every number a request gives is checked
# against its column's range before it reaches SQL: beyond it PostgreSQL fails the whole
# statement (a 500) and MySQL compares or clamps silently; the caller gets a 400 instead.
INT32 = (-(2**31), 2**31 - 1)  # sa.Integer
INT64 = (-(2**63), 2**63 - 1)  # sa.BigInteger


def to_int(value: Any) -> int:
    """convert_to_int: Python's int(), whatever it accepts (as Neutron's converter); the
    range is the validator's (``integer``, ``in_range``)."""
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        raise ConversionError(f"'{excerpt(value)}' is not an integer") from None


def in_range(number: int, bounds: tuple[int, int] = INT32, given: Any = None) -> int:
    """type:range: ``number`` within ``bounds`` (a column's range by default), else a
    ValueError quoting ``given`` (what the caller sent; the number itself by default)."""
    low, high = bounds
    shown = excerpt(number if given is None else given)
    if number < low:
        raise ValueError(f"'{shown}' is too small - must be at least '{low}'")
    if number > high:
        raise ValueError(f"'{shown}' is too large - must be no larger than '{high}'")
    return number


def integer(minimum: int | None = None, maximum: int | None = None, *, nullable: bool = False,
            column: tuple[int, int] = INT32) -> Validator:
    """convert_to_int, then type:range within [minimum, maximum] and the column's range."""
    bounds = (column[0] if minimum is None else max(minimum, column[0]),
              column[1] if maximum is None else min(maximum, column[1]))

    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        return in_range(to_int(value), bounds, value)

    return check


def non_negative(value: Any) -> int:
    """convert_to_int, then type:non_negative (and an Integer column's range)."""
    result = to_int(value)
    if result < 0:
        raise ValueError(f"'{excerpt(result)}' should be non-negative")
    return in_range(result, INT32, value)


# --- identifiers ---------------------------------------------------------------------------
def uuid_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"'{excerpt(value)}' is not a valid UUID")
    try:
        uuid.UUID(value)
    except ValueError:
        raise ValueError(f"'{excerpt(value)}' is not a valid UUID") from None
    # oslo's is_uuid_like compares the canonical form case-insensitively and dashes
    # optional; ids are stored as given in canonical lower-case form.
    return str(uuid.UUID(value))


def uuid_or_none(value: Any) -> str | None:
    return None if value is None else uuid_str(value)


def project_id(value: Any) -> str:
    # Keystone project ids are hex strings; noauth deployments use free-form names.
    return string(255)(value)


def one_of(*choices: Any, nullable: bool = False) -> Validator:
    """type:values; the message names the literal "valid_values", as Neutron's does."""
    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        if value not in choices:
            raise ValueError(f"{excerpt(value)} is not in valid_values")
        return value

    return check


def int_one_of(*choices: int) -> Validator:
    """convert_to_int, then type:values (a subnet's ip_version)."""
    check = one_of(*choices)

    def convert(value: Any) -> int:
        return check(to_int(value))

    return convert


# --- MAC addresses -------------------------------------------------------------------------
def sanitize_mac(value: Any) -> Any:
    """convert_to_sanitized_mac_address: lower-case colon form; anything unparseable is
    returned as given, for the validator to refuse."""
    if not isinstance(value, str):
        return value
    for form in _MAC_FORMS:
        m = form.match(value)
        if m:
            digits = "".join(g.zfill(2) if len(m.groups()) == 6 else g for g in m.groups())
            return ":".join(digits[i:i + 2] for i in range(0, 12, 2)).lower()
    return value


def mac_address(value: Any) -> str:
    mac = sanitize_mac(value)
    if not isinstance(mac, str) or not _MAC_FORMS[0].match(mac) or mac in _INVALID_MACS:
        raise ValueError(f"'{excerpt(value)}' is not a valid MAC address")
    return mac


# --- IP addresses and networks -------------------------------------------------------------
def ip_message(value: Any) -> str | None:
    """validate_ip_address: None when valid, else Neutron's reason."""
    # (no IPv6 zone "%eth0" either: an address of a subnet is not link-scoped)
    if not isinstance(value, str) or re.search(r"[\s%]", value):
        return f"'{excerpt(value)}' is not a valid IP address"
    if ":" not in value:
        parts = value.split(".")
        if len(parts) != 4:
            return f"'{excerpt(value)}' is not a valid IP address"
        # Leading zeros are ambiguous (octal?): refused, with the decimal reading offered.
        if all(p.isdigit() for p in parts) and all(int(p) < 256 for p in parts):
            canonical = ".".join(str(int(p)) for p in parts)
            if canonical != value:
                return (f"'{excerpt(value)}' is not an accepted IP address, '{canonical}' is "
                        "recommended")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return f"'{excerpt(value)}' is not a valid IP address"
    return None


def canonical_ip(value: Any) -> Any:
    """convert_ip_to_canonical_format: IPv6 in compact form; anything else unchanged."""
    if isinstance(value, str) and ":" in value:
        try:
            return str(ipaddress.IPv6Address(value))
        except ValueError:
            return value
    return value


def ip_address(value: Any) -> str:
    value = canonical_ip(value)
    msg = ip_message(value)
    if msg:
        raise ValueError(msg)
    return value


def ip_address_or_none(value: Any) -> str | None:
    return None if value is None else ip_address(value)


def cidr(value: Any) -> str:
    """convert_cidr_to_canonical_format + type:subnet_or_none: "<address>/<prefixlen>"
    with the address canonical (host bits are kept here; the service masks them) and a
    bare address taken as a host route (/32, /128)."""
    try:
        if not isinstance(value, str) or re.search(r"[\s%]", value):
            raise ValueError
        iface = ipaddress.ip_interface(value)
    except ValueError:
        raise ConversionError(f"{excerpt(value)} is not in a CIDR format") from None
    return f"{iface.ip}/{iface.network.prefixlen}"


def route_cidr(value: Any) -> str:
    """validate_route_cidr: a network address with its prefix, not loopback."""
    try:
        if not isinstance(value, str) or "/" not in value or re.search(r"[\s%]", value):
            raise ValueError
        net = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError(f"'{excerpt(value)}' is not a valid CIDR") from None
    if net.is_loopback:
        raise ValueError(f"'{excerpt(value)}' is not a routable CIDR")
    return str(net)


# --- structures ----------------------------------------------------------------------------
def none_to_empty(check: Validator) -> Validator:
    """convert_none_to_empty_list before the validator."""
    def convert(value: Any) -> Any:
        return [] if value is None else check(value)

    return convert


def verify_keys(expected: tuple[str, ...], value: Any) -> None:
    """_verify_dict_keys (strict): exactly the expected keys."""
    if not isinstance(value, dict):
        raise ValueError(f"Invalid input. '{excerpt(value)}' must be a dictionary with keys: "
                         f"{list(expected)}")
    if set(value) != set(expected):
        raise ValueError(f"Validation of dictionary's keys failed. Expected keys: "
                         f"{_set_text(expected)} Provided keys: {excerpt(_set_text(value))}")


def _set_text(keys: Any) -> str:
    # A Python set's repr, in a stable order (Neutron's depends on the hash seed).
    return "{" + ", ".join(repr(k) for k in sorted(keys)) + "}"


def allocation_pools(value: Any) -> list[dict[str, str]]:
    """convert_allocation_pools_to_canonical_format + type:ip_pools."""
    if value is None:
        return []
    try:
        pools = [{k: canonical_ip(v) for k, v in pool.items()} for pool in value]
    except (AttributeError, TypeError):
        raise ConversionError("Invalid data format for allocation pools") from None
    if not isinstance(value, list):
        raise ValueError(f"Invalid data format for IP pool: '{excerpt(value)}'")
    for pool in pools:
        verify_keys(("start", "end"), pool)
        for key in ("start", "end"):
            msg = ip_message(pool[key])
            if msg:
                raise ValueError(msg)
    return [{"start": p["start"], "end": p["end"]} for p in pools]


def nameservers(value: Any) -> list[str]:
    if not isinstance(value, list | tuple | str | dict):
        raise ValueError(f"Invalid data format for nameserver: '{excerpt(value)}'")
    hosts: list[str] = []
    for host in value:
        msg = ip_message(host)
        if msg:
            raise ValueError(f"'{excerpt(host)}' is not a valid nameserver. {msg}")
        if host in hosts:
            raise ValueError(f"Duplicate nameserver '{excerpt(host)}'")
        hosts.append(host)
    return hosts


def host_routes(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise ValueError(f"Invalid data format for hostroute: '{excerpt(value)}'")
    routes: list[dict[str, str]] = []
    for route in value:
        verify_keys(("destination", "nexthop"), route)
        route_cidr(route["destination"])
        msg = ip_message(route["nexthop"])
        if msg:
            raise ValueError(msg)
        entry = {"destination": route["destination"], "nexthop": route["nexthop"]}
        if entry in routes:
            raise ValueError(f"Duplicate hostroute '{excerpt(route)}'")
        routes.append(entry)
    return routes


def fixed_ips(value: Any) -> list[dict[str, str]]:
    """type:fixed_ips: a list of dicts, each with an optional ip_address and subnet_id
    (other keys are ignored, as Neutron ignores them)."""
    if not isinstance(value, list):
        raise ValueError(f"Invalid data format for fixed IP: '{excerpt(value)}'")
    out: list[dict[str, str]] = []
    seen: list[Any] = []
    for item in value:
        if not isinstance(item, dict):
            raise ValueError(f"Invalid data format for fixed IP: '{excerpt(item)}'")
        entry: dict[str, str] = {}
        if "ip_address" in item:
            ip = item["ip_address"]
            if ip in seen:
                raise ValueError(f"Duplicate IP address '{excerpt(ip)}'")
            msg = ip_message(ip)
            if msg:
                raise ValueError(msg)
            seen.append(ip)
            entry["ip_address"] = canonical_ip(ip)
        if "subnet_id" in item:
            entry["subnet_id"] = uuid_str(item["subnet_id"])
        out.append(entry)
    return out


def any_value(value: Any) -> Any:
    return value


def dict_or_empty(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'{excerpt(value)}' is not a dictionary")
    return value
