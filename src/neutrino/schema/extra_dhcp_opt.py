"""extra_dhcp_opt: a port's ``extra_dhcp_opts``, DHCP options its DHCP agent gives only to
that port ([{"opt_name", "opt_value", "ip_version"}], Neutron's extension of that alias).

Validation as neutron-lib's key specs: ``opt_name`` a non-empty one-line string of at most
64 characters (a dnsmasq option name such as ``ntp-server``, or a number); ``opt_value`` a
one-line string of at most 255, non-empty except for ``router`` and
``classless-static-route`` (empty: send the option empty), or null (on update: remove the
option; on create: nothing); ``ip_version`` 4 (the default) or 6, "4" and "6" accepted.
Beyond Neutron: one option per name and IP version in a request (Neutron fails on its
unique key with a 500), and no NUL (PostgreSQL cannot store it).
"""

from __future__ import annotations

from typing import Any

from neutrino.exceptions import excerpt
from neutrino.schema import jsonschema as js
from neutrino.schema.base import Attr, Extension

NAME_MAX_LEN = 64
VALUE_MAX_LEN = 255
BLANK_ALLOWED = ("router", "classless-static-route")
KEYS = ("opt_name", "opt_value", "ip_version")


def _one_line(value: Any, max_len: int, what: str, *, empty_ok: bool) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise ValueError(f"'{excerpt(value)}' is not a valid string")
    if len(value) > max_len:
        raise ValueError(f"'{excerpt(value)}' exceeds maximum length of {max_len}")
    if not empty_ok and not value.strip():
        raise ValueError(f"'{excerpt(value)}' Blank strings are not permitted")
    if "\n" in value or "\r" in value:
        # the agent writes each option as one line of dnsmasq's options file
        raise ValueError(f"Multi-line string is not allowed for {what}: '{excerpt(value)}'")
    return value


def _ip_version(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{excerpt(value)} is not in valid_values [4, 6]")
    try:
        version = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"'{excerpt(value)}' is not an integer") from None
    if version not in (4, 6):
        raise ValueError(f"{excerpt(version)} is not in valid_values [4, 6]")
    return version


def option(item: Any) -> dict[str, Any]:
    """One entry, normalized to all three keys (opt_value None: removal)."""
    if not isinstance(item, dict):
        raise ValueError(f"'{excerpt(item)}' is not a dictionary")
    unknown = sorted(set(item) - set(KEYS))
    missing = [k for k in ("opt_name", "opt_value") if k not in item]
    if unknown or missing:
        raise ValueError(f"Validation of dictionary's keys failed. Expected keys: "
                         f"{{'opt_name', 'opt_value'}} (optional: 'ip_version'). Provided "
                         f"keys: {excerpt(sorted(item))}")
    name = _one_line(item["opt_name"], NAME_MAX_LEN, "opt_name", empty_ok=False)
    value = item["opt_value"]
    if value is not None:
        value = _one_line(value, VALUE_MAX_LEN, "opt_value",
                          empty_ok=name in BLANK_ALLOWED)
    version = _ip_version(item["ip_version"]) if item.get("ip_version") is not None else 4
    return {"opt_name": name, "opt_value": value, "ip_version": version}


def extra_dhcp_opts(value: Any) -> list[dict[str, Any]] | None:
    """type:list_of_any_key_specs_or_none, plus no (opt_name, ip_version) twice."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError(f"'{excerpt(value)}' is not a list")
    out = [option(item) for item in value]
    seen: set[tuple[str, int]] = set()
    for o in out:
        key = (o["opt_name"], o["ip_version"])
        if key in seen:
            raise ValueError(f"Duplicate option '{excerpt(o['opt_name'])}' for IP version "
                             f"{o['ip_version']}")
        seen.add(key)
    return out


def attrs() -> list[Attr]:
    return [Attr("extra_dhcp_opts", extra_dhcp_opts, default=None, is_filter=False,
                 is_sort_key=False, extension="extra_dhcp_opt", schema=SCHEMA,
                 computed=True)]


SCHEMA = js.array(js.obj({
    "opt_name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX_LEN},
    "opt_value": js.nullable(js.string(VALUE_MAX_LEN)),
    "ip_version": js.enum(4, 6),
}, ("opt_name", "opt_value")))


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("extra_dhcp_opt", "Neutron Extra DHCP options",
              "Extra options configuration for DHCP. For example PXE boot options to DHCP clients"
              " can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
              "2013-03-17T12:00:00-00:00"),
)
