"""Converters/validators for attribute values.

Each is a callable ``(value) -> value`` that returns the normalized value or raises
``ValueError`` with Neutron's wording of what is wrong; the API layer wraps that message in
``InvalidInput`` ("Invalid input for operation: ...").
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable
from typing import Any

Validator = Callable[[Any], Any]


class ConversionError(ValueError):
    """A value that cannot be converted to the attribute's type (Neutron's converters):
    reported as InvalidInput, where a failed validation is an HTTPBadRequest."""

_MAC_RE = re.compile(r"^([0-9a-fA-F]{2})([:-])(?:[0-9a-fA-F]{2}\2){4}[0-9a-fA-F]{2}$")


def string(max_len: int | None = 255, *, nullable: bool = False) -> Validator:
    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise ValueError(f"'{value}' is not a valid string")
        if max_len is not None and len(value) > max_len:
            raise ValueError(f"'{value}' exceeds maximum length of {max_len}")
        return value

    return check


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "1", "yes", "on", "t", "y"):
            return True
        if low in ("false", "0", "no", "off", "f", "n"):
            return False
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConversionError(f"'{value}' cannot be converted to boolean")


def integer(minimum: int | None = None, maximum: int | None = None, *, nullable: bool = False
            ) -> Validator:
    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        if isinstance(value, bool):
            raise ValueError(f"'{value}' is not an integer")
        try:
            result = int(value)
        except (TypeError, ValueError):
            raise ConversionError(f"'{value}' is not an integer") from None
        if isinstance(value, float) and value != result:
            raise ConversionError(f"'{value}' is not an integer")
        if minimum is not None and result < minimum:
            raise ValueError(f"'{value}' is too small - must be at least '{minimum}'")
        if maximum is not None and result > maximum:
            raise ValueError(f"'{value}' is too large - must be no larger than '{maximum}'")
        return result

    return check


def uuid_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"'{value}' is not a valid UUID")
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"'{value}' is not a valid UUID") from None


def uuid_or_none(value: Any) -> str | None:
    return None if value is None else uuid_str(value)


def project_id(value: Any) -> str:
    # Keystone project ids are hex strings; noauth deployments use free-form names.
    if not isinstance(value, str) or not value or len(value) > 255:
        raise ValueError(f"'{value}' is not a valid project id")
    return value


def one_of(*choices: Any, nullable: bool = False) -> Validator:
    def check(value: Any) -> Any:
        if value is None and nullable:
            return None
        if value not in choices:
            raise ValueError(f"'{value}' is not in {list(choices)}")
        return value

    return check


def mac_address(value: Any) -> str:
    if not isinstance(value, str) or not _MAC_RE.match(value):
        raise ValueError(f"'{value}' is not a valid MAC address")
    mac = value.lower().replace("-", ":")
    if mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        raise ValueError(f"'{value}' is not a valid MAC address")
    return mac


def ip_address(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"'{value}' is not a valid IP address")
    try:
        # Neutron refuses IPv4 with leading zeros and other non-canonical spellings
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IP address") from None


def ip_address_or_none(value: Any) -> str | None:
    return None if value is None else ip_address(value)


def cidr(value: Any) -> str:
    """A network in canonical CIDR form: host bits masked ("10.0.0.5/24" is 10.0.0.0/24)
    and a bare address taken as a host route (/32, /128), as Neutron converts them."""
    if not isinstance(value, str):
        raise ValueError(f"'{value}' is not a valid IP subnet")
    try:
        net = ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"'{value}' is not a valid IP subnet") from None
    return str(net)


def list_of(item: Validator, *, unique: bool = True, what: str = "items") -> Validator:
    def check(value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"'{value}' is not a list")
        result = [item(v) for v in value]
        if unique:
            seen: list[Any] = []
            for v in result:
                if v in seen:
                    raise ValueError(f"Duplicate {what} '{v}'")
                seen.append(v)
        return result

    return check


def dict_with(keys: dict[str, Validator], required: tuple[str, ...] = (), *,
              name: str = "dict") -> Validator:
    def check(value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"'{value}' is not a dictionary")
        extra = set(value) - set(keys)
        if extra:
            raise ValueError(f"Unexpected keys supplied: {', '.join(sorted(extra))}")
        missing = [k for k in required if k not in value]
        if missing:
            raise ValueError(f"Validation of dictionary's keys failed. Expected keys: "
                             f"{set(required)} Provided keys: {set(value)}")
        return {k: keys[k](v) for k, v in value.items()}

    return check


def any_value(value: Any) -> Any:
    return value


def dict_or_empty(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'{value}' is not a dictionary")
    return value
