"""What security groups add to ports and networks: ``security_groups``
(security-group), ``port_security_enabled`` (port-security) and ``allowed_address_pairs``
(allowed-address-pairs). Validators as Neutron's."""

from __future__ import annotations

import ipaddress
from typing import Any

from neutrino import exceptions as exc
from neutrino.exceptions import excerpt
from neutrino.schema import jsonschema as js
from neutrino.schema import validators as v
from neutrino.schema.base import AUTO, Attr, Extension, as_bool, bool_filter

MAX_ALLOWED_ADDRESS_PAIRS = 10  # Neutron's [DEFAULT] max_allowed_address_pair


def _errors() -> Any:
    from neutrino.exceptions import security_groups as errors

    return errors


def uuid_list(value: Any) -> list[str]:
    """convert_none_to_empty_list + type:uuid_list: a duplicate is refused (400), as
    Neutron's list validator does."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{excerpt(value)}' is not a list")
    ids = [v.uuid_str(item) for item in value]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        raise ValueError(f"Duplicate items in the list: '{', '.join(dups)}'")
    return ids


def _pair_ip(value: Any) -> str:
    """type:ip_or_subnet_or_none for a pair's ip_address: an address or a CIDR."""
    if not isinstance(value, str):
        raise ValueError(f"'{excerpt(value)}' is not a valid IP address")
    if "/" in value:
        try:
            return str(ipaddress.ip_interface(value))
        except ValueError:
            raise ValueError(f"'{excerpt(value)}' is not a valid IP subnet") from None
    return v.ip_address(value)


_MULTICAST = {4: ipaddress.ip_network("224.0.0.0/4"), 6: ipaddress.ip_network("ff00::/8")}


def _not_multicast(ip: str, mac: str | None) -> None:
    """aap-reject-multicast: no multicast address, no network overlapping the multicast
    range (0.0.0.0/0 excepted), no multicast MAC; 400 with neutron-lib's messages."""
    if "/" in ip:
        net = ipaddress.ip_interface(ip).network
        mcast = _MULTICAST[net.version]
        if net != ipaddress.ip_network("0.0.0.0/0") and net.overlaps(mcast):
            raise exc.HTTPBadRequest(f"Subnet {ip} overlaps with multicast range {mcast}, "
                                     "which is not supported.")
    elif ipaddress.ip_address(ip).is_multicast:
        raise exc.HTTPBadRequest(f"IP {ip} is a multicast address, which is not supported.")
    if mac is not None and int(mac.split(":")[0], 16) & 1:
        raise exc.HTTPBadRequest(f"MAC address {mac} is a multicast address, which is not "
                                 "supported.")


def allowed_address_pairs(value: Any) -> list[dict[str, Any]]:
    """null -> []; each pair ip_address (required, an address or CIDR) and an optional
    mac_address (the port's when absent); no duplicates; at most 10; nothing multicast."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{excerpt(value)}' is not a list")
    if len(value) > MAX_ALLOWED_ADDRESS_PAIRS:
        raise _errors().AllowedAddressPairExhausted(quota=MAX_ALLOWED_ADDRESS_PAIRS)
    out: list[dict[str, Any]] = []
    seen: set[tuple[Any, str]] = set()
    for pair in value:
        if not isinstance(pair, dict):
            raise ValueError(f"'{excerpt(pair)}' is not a dictionary")
        unknown = [k for k in pair if k not in ("mac_address", "ip_address")]
        if unknown:
            raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{excerpt(', '.join(unknown))}'")
        if "ip_address" not in pair:
            raise _errors().AllowedAddressPairsMissingIP()
        mac = pair.get("mac_address")
        mac = None if mac is None else v.mac_address(mac)
        ip = _pair_ip(pair["ip_address"])
        _not_multicast(ip, mac)
        if (mac, ip) in seen:
            raise _errors().DuplicateAddressPairInRequest(mac_address=mac, ip_address=excerpt(ip))
        seen.add((mac, ip))
        entry: dict[str, Any] = {"ip_address": ip}
        if mac is not None:
            entry["mac_address"] = mac
        out.append(entry)
    return out


def port_attrs() -> list[Attr]:
    return [
        Attr("security_groups", uuid_list, default=AUTO, is_sort_key=False,
             extension="security-group", schema=js.array(js.UUID), computed=True),
        Attr("port_security_enabled", v.boolean, default=AUTO, filter_convert=bool_filter,
             is_sort_key=False, extension="port-security", computed=True,
             enforce_policy=True),
        Attr("allowed_address_pairs", allowed_address_pairs, default=AUTO, is_filter=False,
             is_sort_key=False, extension="allowed-address-pairs", computed=True,
             enforce_policy=True,
             schema=js.array(js.obj({"ip_address": {"type": "string"}, "mac_address": js.MAC},
                                    ("ip_address",)))),
    ]


def network_attrs() -> list[Attr]:
    return [
        Attr("port_security_enabled", v.boolean, default=True, filter_convert=bool_filter,
             is_sort_key=False, extension="port-security", output=as_bool,
             enforce_policy=True),
    ]


# The API extensions this module declares (schema/extensions.py lists them)
EXTENSIONS = (
    Extension("port-security", "Port Security",
              "Provides port security", "2012-07-23T10:00:00-00:00"),
    Extension("allowed-address-pairs", "Allowed Address Pairs",
              "Provides allowed address pairs", "2013-07-23T10:00:00-00:00"),
    Extension("aap-reject-multicast", "Allowed address pairs reject multicast extension",
              "Reject multicast addresses in Allowed Address Pairs",
              "2026-04-01T00:00:00-00:00"),
    Extension("port-security-groups-filtering", "Port filtering on security groups",
              "Provides security groups filtering when listing ports", "2018-01-09T09:00:00-00:00"),
)
