"""A fuzzer of the whole API, derived from what the application registers: every
collection (its schema's attributes), member, sub-resource (tags, bindings, ...), action
(add_router_interface, ...) and route (quotas), with every verb, sent malformed input —
wrong types, nulls, huge and unicode strings, bad CIDRs/IPs/MACs, integers beyond any
column, bad query strings (filters, fields, sort keys, limits, markers, page_reverse),
wrong JSON, nested garbage, other content types, odd If-Match and identity headers.

It runs against a real server with two API processes on PostgreSQL and on MariaDB, with a
set of valid objects created first (so members and sub-resources exist), and asserts:
no response is a 5xx, no body carries a traceback or SQL, every error is a NeutronError
body, and the server logged no traceback.

The requests are generated from a fixed seed, then sent by a few concurrent clients.
NEUTRINO_FUZZ_SEED and NEUTRINO_FUZZ_REQUESTS (per backend) override the defaults for
longer runs (see tests/reliability/README.md).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from neutrino import config
from neutrino.api.app import App
from neutrino.api.factory import build_app, open_database
from neutrino.db import migrate
from neutrino.schema.base import Attr, Resource
from tests.conftest import migrated_database
from tests.support.server import Server, project_headers

SEED = int(os.environ.get("NEUTRINO_FUZZ_SEED", "20261207"))
REQUESTS = int(os.environ.get("NEUTRINO_FUZZ_REQUESTS", "5000"))
CLIENTS = int(os.environ.get("NEUTRINO_FUZZ_CLIENTS", "4"))
VERBS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")

# An item the fuzz itself created (a 201 earlier in the run), chosen when the request is
# sent: what lets updates, sub-resources and deletes reach items that may go away.
CREATED = "@created"
OWNER = "fz-owner"
FOREIGN = "fz-foreign"
ADMIN_PROJECT = "fz-admin"

# What no response body may contain: the marks of a traceback, of SQL errors and of the
# database drivers. (The generated garbage never contains them, so an echo of the
# caller's own input cannot trip them.)
LEAKS = ("Traceback (most recent call last)", 'File "/', "sqlalchemy", "psycopg",
         "pymysql", "MySQLdb", "[SQL:", "(Background on this error", "IntegrityError",
         "OperationalError", "ProgrammingError", "DataError")


# --- what the application registers ---------------------------------------------------------
@dataclass
class Surface:
    """The API's routes as the application registers them."""

    collections: dict[str, Resource]  # url path -> resource
    updatable: dict[str, bool]
    bulk: dict[str, bool]
    member_routes: list[str]  # sub-resources and actions: /{collection}/{id}/{name}
    routes: list[str]  # top-level controllers: /{name}/...
    extensions: list[str]


def discover(tmp: Path) -> Surface:
    """Build the application exactly as the server does (on a scratch SQLite database)
    and read its routing tables."""
    url = f"sqlite:///{tmp / 'surface.sqlite'}"
    conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp)},
                                       "database": {"connection": url}})
    db = open_database(conf)
    try:
        migrate.upgrade(db.engine)
        app: App = build_app(conf, db)
        return Surface(
            collections={p: c.resource for p, c in app.collections.items()},
            updatable={p: c.allow_update for p, c in app.collections.items()},
            bulk={p: c.allow_bulk for p, c in app.collections.items()},
            member_routes=sorted(app.member_routes),
            routes=sorted(app.routes),
            extensions=sorted(app.extensions),
        )
    finally:
        db.dispose()


# --- garbage --------------------------------------------------------------------------------
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
BIG_INTS = [INT32_MAX, INT32_MAX + 1, -INT32_MAX - 2, INT64_MAX, INT64_MAX + 1,
            -INT64_MAX - 2, 10**30, -(10**30), 2**64, 4095, 4096, 65536, 16777216, -1, 0]
STRINGS = ["", " ", "x", "default", "DEFAULT", "\u00e9t\u00e9", "\u65e5\u672c\u8a9e",
           "\U0001F600", "\u202eevil", "\ufeff", "a\nb", "a\tb", " lead", "trail ",
           "\x00", "a\x00b", "\x07\x1b[31m", "%00", "%s%s%n", "{0}", "${x}", "'\"",
           "\\", "../../etc/passwd", "<script>", "null", "true", "NaN", "1e400",
           "0x10", "  42  ", "\u0661\u0662", "\u2028",
           "y" * 255, "y" * 256, "z" * 4096]
CIDRS = ["10.0.0.0/24", "10.0.0.1/24", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/",
         "/24", "10.0.0/24", "256.0.0.0/8", "0.0.0.0/0", "::/0", "::/129",
         "fe80::/64", "fe80::1%eth0/64", "2001:db8::/32", "2001:db8:::/48", "10.0.0.0/8 ",
         "1.2.3.4", "localhost", "10.0.0.0/24/24", "127.0.0.0/8", "224.0.0.0/4",
         "169.254.0.0/16", "10.0.0.0\x00/24", "01.02.03.04/8"]
IPS = ["10.0.0.1", "10.0.0.256", "10.0.0", "010.000.000.001", "::1", "::ffff:10.0.0.1",
       "fe80::1%eth0", "1:2:3:4:5:6:7:8:9", "0.0.0.0", "255.255.255.255", "1.2.3.4 ",
       "\u0661.\u0662.\u0663.\u0664", "10.0.0.1/24", "", "::", "2001:db8::g"]
MACS = ["fa:16:3e:00:00:01", "00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff", "fa-16-3e-00-00-02",
        "fa163e000003", "fa16.3e00.0004", "fa:16:3e:00:00", "fa:16:3e:00:00:01:02",
        "zz:zz:zz:zz:zz:zz", "FA:16:3E:AA:BB:CC", "01:00:5e:00:00:01", ""]


class Garbage:
    """Values, shaped by an attribute's name where that says what it holds, or not."""

    def __init__(self, rng: random.Random, ids: dict[str, list[str]]) -> None:
        self.rng = rng
        self.ids = ids

    def choice(self, seq: list[Any] | tuple[Any, ...]) -> Any:
        return seq[self.rng.randrange(len(seq))]

    def some_id(self) -> str:
        all_ids = [i for ids in self.ids.values() for i in ids]
        return self.choice([
            *([self.choice(all_ids)] if all_ids else []), str(uuid.uuid4()),
            str(uuid.uuid4()).upper(), uuid.uuid4().hex, "{" + str(uuid.uuid4()) + "}",
            "urn:uuid:" + str(uuid.uuid4()), str(uuid.uuid4())[:-1], "not-a-uuid",
            self.choice(STRINGS)])

    def scalar(self) -> Any:
        r = self.rng.random()
        if r < 0.15:
            return self.choice(BIG_INTS)
        if r < 0.25:
            return self.choice([None, True, False, 0.5, -0.0, 1e308, 1.0, 4.0, 6.0])
        if r < 0.6:
            return self.choice(STRINGS)
        if r < 0.7:
            return self.some_id()
        if r < 0.8:
            return self.choice(CIDRS)
        if r < 0.9:
            return self.choice(IPS)
        return self.choice(MACS)

    def nested(self, depth: int = 0) -> Any:
        r = self.rng.random()
        if depth > 3 or r < 0.5:
            return self.scalar()
        if r < 0.75:
            return [self.nested(depth + 1) for _ in range(self.rng.randrange(4))]
        keys = ["ip_address", "subnet_id", "start", "end", "destination", "nexthop",
                "network_id", "mac_address", "opt_name", "opt_value", "ip_version",
                "enable_snat", "x", "", "\u00e9"]
        return {self.choice(keys): self.nested(depth + 1)
                for _ in range(self.rng.randrange(4))}

    def huge(self) -> Any:
        """Big values (below Neutron's 112 KiB body limit, mostly)."""
        return self.choice([
            "h" * 100_000, "\u00e9" * 50_000, [self.some_id() for _ in range(2000)],
            {f"k{i}": i for i in range(3000)}, 10**4000,
            "9" * 5000, _deep(40),
        ])

    def id_in(self, collection: str) -> str:
        ids = self.ids.get(collection)
        return self.choice(ids) if ids else str(uuid.uuid4())

    def plausible(self, name: str) -> Any:
        """A value that might well be accepted for attribute ``name`` (what takes a
        request past validation into the services)."""
        c, rng = self.choice, self.rng
        host = rng.randrange(2, 250)
        ref = {"network_id": "networks", "floating_network_id": "networks",
               "object_id": "networks", "subnet_id": "subnets", "port_id": "ports",
               "router_id": "routers", "security_group_id": "security-groups",
               "remote_group_id": "security-groups"}
        if name in ref:
            return self.id_in(ref[name])
        values: dict[str, list[Any]] = {
            "name": ["fz", "\u00e9t\u00e9", "\u65e5\u672c", "y" * 255],
            "description": ["", "d", "\U0001F600" * 10],
            "admin_state_up": [True, False, "true", "0"], "shared": [True, False],
            "enable_dhcp": [True, False], "port_security_enabled": [True, False],
            "router:external": [True, False], "stateful": [True, False],
            "fixed_ips": [[{"subnet_id": self.id_in("subnets")}],
                          [{"ip_address": f"10.77.0.{host}"}],
                          [{"subnet_id": self.id_in("subnets"),
                            "ip_address": f"10.77.0.{host}"}], []],
            "cidr": [f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24",
                     f"2001:db8:{rng.randrange(65536):x}::/64", "10.77.0.0/24"],
            "gateway_ip": [f"10.77.0.{host}", None],
            "allocation_pools": [[{"start": "10.77.0.100", "end": f"10.77.0.{host}"}]],
            "mac_address": [f"fa:16:3e:{rng.randrange(256):02x}:{host:02x}:01"],
            "security_groups": [[self.id_in("security-groups")], []],
            "allowed_address_pairs": [[{"ip_address": f"10.77.0.{host}"}],
                                      [{"ip_address": "10.0.0.0/8",
                                        "mac_address": "fa:16:3e:00:00:09"}]],
            "device_owner": ["", "compute:nova", "network:dhcp", "network:router_interface",
                             "network:router_gateway", "network:floatingip"],
            "device_id": [str(uuid.uuid4()), self.id_in("routers"), ""],
            "mtu": [1400, 1450, 68, 9000, 0],
            "protocol": ["tcp", "udp", "icmp", "6", None],
            "port_range_min": [1, 22, 80, None], "port_range_max": [22, 443, 65535, None],
            "external_gateway_info": [{"network_id": self.id_in("networks")}, None],
            "routes": [[{"destination": "10.99.0.0/24", "nexthop": f"10.77.0.{host}"}], []],
            "tags": [["a", "b"], []],
            "binding:host_id": ["fz-host", ""], "binding:vnic_type": ["normal", "direct"],
            "binding:profile": [{}, {"a": 1}],
            "extra_dhcp_opts": [[{"opt_name": "ntp-server", "opt_value": "10.0.0.1"}]],
            "dns_nameservers": [["8.8.8.8"], []],
            "host_routes": [[{"destination": "10.99.0.0/24", "nexthop": "10.77.0.5"}]],
            "ip_version": [4, 6], "ipv6_ra_mode": ["slaac", None],
            "ipv6_address_mode": ["slaac", None], "target_tenant": ["*", str(uuid.uuid4())],
            "action": ["access_as_shared", "access_as_external"],
            "object_type": ["network"],
            "provider:network_type": ["vxlan", "vlan", "flat", "local"],
            "provider:physical_network": ["physnet1", None],
            "provider:segmentation_id": [rng.randrange(1, 5000)],
            "floating_ip_address": [f"172.31.77.{host}"],
            "fixed_ip_address": [f"10.77.0.{host}", None],
            "direction": ["ingress", "egress"], "ethertype": ["IPv4", "IPv6"],
            "remote_ip_prefix": ["10.0.0.0/8", "::/0", None],
            "project_id": [OWNER, FOREIGN], "tenant_id": [OWNER, FOREIGN],
        }
        return c(values[name]) if name in values else self.for_attr(name)

    def for_attr(self, name: str) -> Any:
        """A value for attribute ``name``: shaped for what the name says half the time,
        any garbage the other half."""
        rng = self.rng
        if rng.random() < 0.4:
            return self.huge() if rng.random() < 0.03 else self.nested()
        if name in ("cidr", "remote_ip_prefix", "destination"):
            return self.choice(CIDRS)
        if name.endswith("ip_address") or name in ("gateway_ip", "nexthop"):
            return self.choice([*IPS, None])
        if name == "mac_address":
            return self.choice(MACS)
        if name.endswith("_id") or name == "id" or name == "target_tenant":
            return self.some_id()
        if name in ("mtu", "ip_version", "prefixlen", "port_range_min", "port_range_max",
                    "provider:segmentation_id", "revision_number"):
            return self.choice([*BIG_INTS, 4, 6, 1500, 68, "4", "1500", "x", None, 1.5])
        if name in ("fixed_ips", "external_fixed_ips"):
            return [{self.choice(["ip_address", "subnet_id", "bogus"]): self.choice(
                [*IPS, self.some_id(), None, 5])} for _ in range(rng.randrange(4))]
        if name == "allocation_pools":
            return [{"start": self.choice(IPS), "end": self.choice(IPS)}
                    for _ in range(rng.randrange(3))] + self.choice([[], [{}], [None]])
        if name in ("host_routes", "routes"):
            return [{"destination": self.choice(CIDRS), "nexthop": self.choice(IPS)}
                    for _ in range(rng.randrange(4))]
        if name == "dns_nameservers":
            return [self.choice(IPS) for _ in range(rng.randrange(8))]
        if name == "segments":
            return [{"provider:network_type": self.choice(["vlan", "vxlan", "flat", "x"]),
                     "provider:physical_network": self.choice(["physnet1", None, "\u00e9"]),
                     "provider:segmentation_id": self.choice(BIG_INTS)}
                    for _ in range(rng.randrange(3))]
        if name == "provider:network_type":
            return self.choice(["vlan", "vxlan", "flat", "local", "gre", "geneve", "", 5])
        if name == "extra_dhcp_opts":
            return [{"opt_name": self.choice(["router", "ntp-server", "", "x" * 70, 3]),
                     "opt_value": self.choice([*IPS, None, "a\nb"]),
                     "ip_version": self.choice([4, 6, "4", 5, *BIG_INTS])}
                    for _ in range(rng.randrange(4))]
        if name == "allowed_address_pairs":
            return [{"ip_address": self.choice([*IPS, *CIDRS]),
                     "mac_address": self.choice([*MACS, None])}
                    for _ in range(rng.randrange(12))]
        if name in ("security_groups", "tags"):
            return [self.choice([self.some_id(), *STRINGS]) for _ in range(rng.randrange(5))]
        if name == "external_gateway_info":
            return self.choice([None, {}, {"network_id": self.some_id()},
                                {"network_id": self.some_id(), "enable_snat": self.scalar(),
                                 "external_fixed_ips": self.for_attr("fixed_ips")},
                                {"bogus": 1}])
        if name == "binding:profile":
            return self.choice([None, {}, {"a": self.nested()}, "x", [1]])
        if name == "protocol":
            return self.choice(["tcp", "udp", "icmp", "any", None, 6, 256, -1, "TCP", "ipip",
                                "6", "1000", *BIG_INTS])
        if name in ("direction", "ethertype", "object_type", "action", "binding:vnic_type",
                    "ipv6_ra_mode", "ipv6_address_mode"):
            return self.choice(["ingress", "egress", "IPv4", "ipv6", "network",
                                "access_as_shared", "access_as_external", "normal",
                                "slaac", "dhcpv6-stateful", "", None, 1])
        return self.nested()


# --- requests -------------------------------------------------------------------------------
@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None

    def label(self) -> str:
        size = 0 if self.body is None else len(self.body)
        headers = {k: v[:40] for k, v in self.headers.items()}
        return f"{self.method} {self.path[:200]} ({size} bytes, {headers})"


@dataclass
class Fixture:
    """The valid objects created before fuzzing, by collection path."""

    ids: dict[str, list[str]]
    # required attributes' valid values, by attribute name (what a template body uses)
    valid: dict[str, Any]
    projects: list[str]


class Generator:
    def __init__(self, surface: Surface, fixture: Fixture, seed: int) -> None:
        self.s = surface
        self.f = fixture
        self.rng = random.Random(seed)
        self.g = Garbage(self.rng, fixture.ids)

    # identity: the owner of the objects, a foreign project, a reader, the admin
    def identity(self) -> dict[str, str]:
        r = self.rng.random()
        if r < 0.35:
            return project_headers(ADMIN_PROJECT, admin=True)
        if r < 0.7:
            return project_headers(OWNER)
        if r < 0.82:
            return project_headers(FOREIGN)
        if r < 0.9:
            return {"X-Project-Id": OWNER, "X-User-Id": "u", "X-Roles": "reader"}
        if r < 0.95:
            return {}  # the noauth operator
        return {"X-Project-Id": self.g.choice(["", " ", "p" * 300, "%00", "\u00e9"]),
                "X-Roles": self.g.choice(["", ",", "admin,,", "Admin", "x" * 300]),
                "X-User-Id": "u"}

    def headers(self) -> dict[str, str]:
        h = {k: v for k, v in self.identity().items() if _one_line(v)}
        r = self.rng.random()
        if r < 0.85:
            h["Content-Type"] = "application/json"
        elif r < 0.9:
            h["Content-Type"] = self.g.choice(["text/plain", "application/xml",
                                               "application/x-www-form-urlencoded",
                                               "application/json; charset=latin-1",
                                               "multipart/form-data; boundary=x", ""])
        if self.rng.random() < 0.08:
            h["If-Match"] = self.g.choice([
                "revision_number=1", "revision_number=0", "revision_number=-1",
                f"revision_number={INT64_MAX}", f"revision_number={INT64_MAX + 1}",
                f"revision_number={10**30}", "revision_number=x", "revision_number=",
                '"revision_number=1", "revision_number=2"', 'W/"revision_number=1"', "*",
                "revision_number=1" * 50, "revision_number=\u0661"])
        return h

    def ids_of(self, path: str) -> list[str]:
        return self.f.ids.get(path, [])

    def member_id(self, path: str) -> str:
        own = self.ids_of(path)
        r = self.rng.random()
        if r < 0.12:
            return CREATED
        r = self.rng.random()
        if own and r < 0.7:
            return self.g.choice(own)
        if r < 0.85:
            return self.g.some_id()
        return self.g.choice([*STRINGS[1:], "x" * 2000, "..", ".", "tags", "%2F"])

    def body(self, payload: Any) -> bytes:
        """JSON of ``payload``, or now and then something that is not quite JSON."""
        r = self.rng.random()
        if r < 0.9:
            return json.dumps(payload, ensure_ascii=self.rng.random() < 0.5).encode()
        if r < 0.93:
            data = json.dumps(payload).encode()
            return data[: self.rng.randrange(max(1, len(data)))]  # truncated
        return self.g.choice([b"", b"null", b"[]", b"{}", b"\"x\"", b"1", b"{,}", b"\xff\xfe",
                              b"{\"a\": \"\xc3\x28\"}", b"[" * 5000, b"{\"a\":1}{}",
                              b"\x00", b"<xml/>", b"a=1&b=2", b"{\"a\": NaN}",
                              b"{\"a\": 1e400}", b"{\"a\": 123456789012345678901234567890}"])

    # bodies of a collection's items
    def item(self, resource: Resource, *, update: bool) -> dict[str, Any]:
        """A valid body for the resource (its required attributes from the fixture) with
        one to three attributes spoilt, an unknown key now and then."""
        item: dict[str, Any] = {}
        if not update:
            for name, attr in resource.attrs.items():
                if attr.required and name in self.f.valid:
                    item[name] = self.f.valid[name]
        writable = [a for a in resource.attrs.values()
                    if (a.allow_put if update else a.allow_post)]
        others: list[Attr] = list(resource.attrs.values())
        # a fifth of the bodies are plausible throughout (they reach the services)
        careful = self.rng.random() < 0.2
        for _ in range(self.rng.randrange(1, 4)):
            pool = writable if writable and (careful or self.rng.random() < 0.85) \
                else others
            if not pool:
                break
            attr = self.g.choice(pool)
            item[attr.name] = self.g.plausible(attr.name) if (
                careful or self.rng.random() < 0.3) else self.g.for_attr(attr.name)
        if careful:
            return item
        if self.rng.random() < 0.05:
            item[self.g.choice(["bogus", "", "\u00e9", "x" * 300])] = self.g.scalar()
        if item and self.rng.random() < 0.05:
            item.pop(self.g.choice(list(item)))
        return item

    def wrap(self, resource: Resource, item: Any, *, bulk_ok: bool) -> Any:
        r = self.rng.random()
        if r < 0.8:
            return {resource.name: item}
        if r < 0.88 and bulk_ok:
            return {resource.collection: self.g.choice([
                [item, item], [{resource.name: item}], [], None, item, [None, 1]])}
        return self.g.choice([item, [item], None, {resource.name: None},
                              {resource.name: [item]}, {resource.name: "x"}, {}, 1])

    def query(self, resource: Resource | None) -> str:
        """A query string: filters on the resource's attributes (and unknown ones), fields,
        sort keys and directions, limit, marker, page_reverse; malformed now and then."""
        names = list(resource.attrs) if resource else ["id", "name"]
        params: list[tuple[str, str]] = []
        if resource is not None and self.rng.random() < 0.3:
            params = self.paging(resource)
        for _ in range(self.rng.randrange(0, 5)):
            kind = self.rng.random()
            if kind < 0.4:
                name = self.g.choice([*names, "bogus", "tags-any", "not-tags", "fixed_ips"])
                value = self.g.plausible(name) if self.rng.random() < 0.3 \
                    else self.g.for_attr(name)
                if name == "fixed_ips":
                    key = self.g.choice(["ip_address", "subnet_id", "ip_address_substr",
                                         "x", ""])
                    value = f"{key}={self.g.for_attr(key or 'x')}"
                elif isinstance(value, list | dict):
                    value = json.dumps(value)
                params.append((name, "" if value is None else str(value)))
            elif kind < 0.55:
                params.append(("fields", self.g.choice([*names, "bogus", "", "id,name,,"])))
            elif kind < 0.7:
                params.append(("sort_key", self.g.choice([*names, "bogus", ""])))
                if self.rng.random() < 0.8:
                    params.append(("sort_dir", self.g.choice(["asc", "desc", "up", ""])))
            elif kind < 0.82:
                params.append(("limit", str(self.g.choice([
                    *BIG_INTS, 1, 2, "x", "", "1.5", " 3", "\u0663", "0x10", "9" * 5000]))))
            elif kind < 0.94:
                params.append(("marker", self.g.some_id()))
            else:
                params.append(("page_reverse", self.g.choice(["True", "false", "x", ""])))
        qs = urllib.parse.urlencode(params)
        if self.rng.random() < 0.05:
            qs += self.g.choice(["&%zz=1", "&=", "&&", "&a=%ff%fe", "&limit=%00", "&;",
                                 "&fields", "&sort_key=name&sort_key=id&sort_dir=asc"])
        return qs

    def paging(self, resource: Resource) -> list[tuple[str, str]]:
        """A well-formed page request: sorted by one or two sort keys, a small limit, a
        marker of an existing item (or not), forwards or backwards."""
        keys = [n for n, a in resource.attrs.items() if a.is_sort_key]
        params: list[tuple[str, str]] = []
        for key in self.rng.sample(keys, min(len(keys), self.rng.randrange(0, 3))):
            params += [("sort_key", key), ("sort_dir", self.g.choice(["asc", "desc"]))]
        params.append(("limit", str(self.rng.randrange(1, 4))))
        path = resource.url_path
        if self.rng.random() < 0.8:
            params.append(("marker", self.member_id(path)))
        if self.rng.random() < 0.4:
            params.append(("page_reverse", "True"))
        return params

    def path(self, *segments: str) -> str:
        return "/v2.0/" + "/".join(urllib.parse.quote(s, safe="") for s in segments)

    def verb(self, common: tuple[str, ...]) -> str:
        return self.g.choice(common) if self.rng.random() < 0.85 else self.g.choice(VERBS)

    # one request of each kind
    def collection_request(self) -> Req:
        path = self.g.choice(sorted(self.s.collections))
        resource = self.s.collections[path]
        method = self.verb(("GET", "GET", "POST", "POST"))
        body = None
        if method in ("POST", "PUT", "PATCH", "DELETE") and (
                method == "POST" or self.rng.random() < 0.5):
            body = self.body(self.wrap(resource, self.item(resource, update=False),
                                       bulk_ok=self.s.bulk[path]))
        qs = self.query(resource) if method == "GET" or self.rng.random() < 0.1 else ""
        return Req(method, self.path(path) + (f"?{qs}" if qs else ""), self.headers(), body)

    def member_request(self) -> Req:
        path = self.g.choice(sorted(self.s.collections))
        resource = self.s.collections[path]
        method = self.verb(("GET", "GET", "PUT", "PUT", "DELETE"))
        item_id = self.member_id(path)
        headers = self.headers()
        body = None
        if method in ("PUT", "POST", "PATCH"):
            body = self.body(self.wrap(resource, self.item(resource, update=True),
                                       bulk_ok=False))
        elif method == "DELETE" and item_id in self.ids_of(path):
            # the fixture's objects stay: only a foreign project (404), a body (400) or
            # an id that is not one of them
            if self.rng.random() < 0.5:
                headers.update(project_headers(FOREIGN))
            else:
                body = self.body(self.g.nested())
                if not body.strip():
                    body = b"{}"
        qs = ""
        if method == "GET" and self.rng.random() < 0.5:
            qs = urllib.parse.urlencode([("fields", self.g.choice([*resource.attrs, "x"]))
                                         for _ in range(self.rng.randrange(3))])
        return Req(method, self.path(path, item_id) + (f"?{qs}" if qs else ""), headers, body)

    def sub_request(self) -> Req:
        """/{collection}/{id}/{sub-resource or action}[/...]: every registered member
        route under every collection (most answer 404 where they do not apply)."""
        path = self.g.choice(sorted(self.s.collections))
        name = self.g.choice(self.s.member_routes)
        method = self.verb(("GET", "PUT", "POST", "DELETE"))
        rest: list[str] = []
        r = self.rng.random()
        if r < 0.3:
            rest = [self.g.choice([*STRINGS[1:], "fz-host", "red", "a/b", "x" * 300])]
        elif r < 0.4:
            rest = [self.g.choice(["fz-host", "x"]), self.g.choice(["activate", "x"])]
        elif r < 0.42:
            rest = ["a", "b", "c"]
        headers = self.headers()
        item_id = self.member_id(path)
        if method == "DELETE" and item_id in self.ids_of(path) and not rest:
            headers.update(project_headers(FOREIGN))  # keep the fixture's tags
        body = None
        if method in ("PUT", "POST", "PATCH") or (method == "DELETE" and r > 0.9):
            payload = self.g.choice([
                {"tags": self.g.for_attr("tags")}, {"tags": self.g.nested()},
                {"binding": {"host": self.g.for_attr("host"),
                             "vnic_type": self.g.for_attr("binding:vnic_type"),
                             "profile": self.g.for_attr("binding:profile")}},
                {"binding": self.g.nested()},
                {"subnet_id": self.g.for_attr("subnet_id")},
                {"port_id": self.g.for_attr("port_id")},
                {"subnet_id": self.g.some_id(), "port_id": self.g.some_id()},
                {"router": {"routes": self.g.for_attr("routes")}},
                {"router": self.g.nested()}, self.g.nested(), {}])
            body = self.body(payload)
        qs = self.query(None) if method == "GET" and self.rng.random() < 0.3 else ""
        return Req(method, self.path(path, item_id, name, *rest) + (f"?{qs}" if qs else ""),
                   headers, body)

    def route_request(self) -> Req:
        """The top-level controllers (quotas) with their segments and bodies."""
        name = self.g.choice(self.s.routes)
        method = self.verb(("GET", "GET", "PUT", "DELETE"))
        project = self.g.choice([*self.f.projects, "tenant", "project", "",
                                 *STRINGS[1:], str(uuid.uuid4())])
        r = self.rng.random()
        segs = [name] if r < 0.15 else [name, project] if r < 0.75 else \
            [name, project, self.g.choice(["default", "details", "x", ""])]
        headers = self.headers()
        body = None
        if method in ("PUT", "POST", "PATCH"):
            quota = {self.g.choice(["network", "subnet", "port", "router", "floatingip",
                                    "security_group", "security_group_rule",
                                    "rbac_policy", "force", "check_limit", "bogus"]):
                     self.g.choice([*BIG_INTS, "10", "x", None, True, 1.5, [], {}])
                     for _ in range(self.rng.randrange(1, 4))}
            body = self.body(self.g.choice([{"quota": quota}, quota, {"quota": None}]))
        elif method == "DELETE" and project in self.f.projects:
            headers.update(project_headers(FOREIGN))  # not the fixture's own quotas
        return Req(method, self.path(*segs), headers, body)

    def misc_request(self) -> Req:
        method = self.verb(("GET",))
        path = self.g.choice([
            "/", "/v2.0", "/v2.0/", "/v2.0/extensions",
            "/v2.0/extensions/" + urllib.parse.quote(
                self.g.choice([*self.s.extensions, *STRINGS[1:]]), safe=""),
            "/v2.0/extensions/a/b", "/v3/networks", "/v2.0/nothing", "/v2.0//networks",
            "/v2.0/networks.json", "/v2.0/networks/.json", "/v2.0/%00", "/v2.0/networks%2F",
            "/" + "a" * 3000, "/v2.0/networks/" + "/".join(["x"] * 50)])
        return Req(method, path, self.headers(),
                   self.body(self.g.nested()) if method in ("POST", "PUT") else None)

    def requests(self, count: int) -> list[Req]:
        kinds = [(0.3, self.collection_request), (0.3, self.member_request),
                 (0.25, self.sub_request), (0.1, self.route_request),
                 (0.05, self.misc_request)]
        out = []
        for _ in range(count):
            r = self.rng.random()
            for weight, make in kinds:
                if r < weight:
                    out.append(make())
                    break
                r -= weight
            else:
                out.append(self.misc_request())
        return out


def _deep(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = [value]
    return value


def _one_line(value: str) -> bool:
    return not any(c in value for c in "\r\n\x00")


# --- the fixture: valid objects -------------------------------------------------------------
def create_fixture(server: Server) -> Fixture:
    admin = project_headers(ADMIN_PROJECT, admin=True)
    owner = project_headers(OWNER)

    def make(headers: dict[str, str], path: str, key: str, attrs: dict[str, Any]
             ) -> dict[str, Any]:
        status, body = server.request("POST", f"/v2.0/{path}", {key: attrs},
                                      headers=headers)
        assert status == 201, (path, attrs, status, body)
        return body[key]

    net = make(owner, "networks", "network", {"name": "fz-net"})
    subnet = make(owner, "subnets", "subnet", {"network_id": net["id"], "ip_version": 4,
                                               "cidr": "10.77.0.0/24"})
    make(owner, "subnets", "subnet", {"network_id": net["id"], "ip_version": 6,
                                      "cidr": "2001:db8:77::/64"})
    port = make(owner, "ports", "port", {"network_id": net["id"], "name": "fz-port"})
    ext = make(admin, "networks", "network", {"name": "fz-ext", "router:external": True})
    make(admin, "subnets", "subnet", {"network_id": ext["id"], "ip_version": 4,
                                      "cidr": "172.31.77.0/24"})
    router = make(owner, "routers", "router", {
        "name": "fz-router", "external_gateway_info": {"network_id": ext["id"]}})
    status, body = server.request("PUT", f"/v2.0/routers/{router['id']}/add_router_interface",
                                  {"subnet_id": subnet["id"]}, headers=owner)
    assert status == 200, body
    fip = make(owner, "floatingips", "floatingip", {"floating_network_id": ext["id"],
                                                    "port_id": port["id"]})
    sg = make(owner, "security-groups", "security_group", {"name": "fz-sg"})
    rule = make(owner, "security-group-rules", "security_group_rule", {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22})
    rbac = make(owner, "rbac-policies", "rbac_policy", {
        "object_type": "network", "object_id": net["id"], "action": "access_as_shared",
        "target_tenant": str(uuid.uuid4())})
    bound = make(admin, "ports", "port", {"network_id": net["id"], "name": "fz-bound",
                                          "device_owner": "compute:nova",
                                          "device_id": str(uuid.uuid4()),
                                          "binding:host_id": "fz-host"})
    for coll, id_ in (("networks", net["id"]), ("ports", port["id"]),
                      ("routers", router["id"])):
        status, _ = server.request("PUT", f"/v2.0/{coll}/{id_}/tags",
                                   {"tags": ["red", "blue"]}, headers=owner)
        assert status == 200
    status, _ = server.request("PUT", f"/v2.0/quotas/{OWNER}", {"quota": {"network": 50}},
                               headers=admin)
    assert status == 200
    ids = {
        "networks": [net["id"], ext["id"]],
        "subnets": [subnet["id"]],
        "ports": [port["id"], bound["id"]],
        "routers": [router["id"]],
        "floatingips": [fip["id"]],
        "security-groups": [sg["id"]],
        "security-group-rules": [rule["id"]],
        "rbac-policies": [rbac["id"]],
    }
    status, body = server.request("GET", "/v2.0/agents", headers=admin)
    ids["agents"] = [a["id"] for a in body.get("agents", [])] if status == 200 else []
    valid = {
        "network_id": net["id"], "floating_network_id": ext["id"],
        "security_group_id": sg["id"], "cidr": "10.78.0.0/24", "ip_version": 4,
        "direction": "ingress", "object_type": "network", "object_id": net["id"],
        "action": "access_as_shared", "target_tenant": "*",
    }
    return Fixture(ids, valid, [OWNER, FOREIGN, ADMIN_PROJECT])


# --- sending and judging --------------------------------------------------------------------
@dataclass
class Outcome:
    req: Req
    status: int
    body: bytes
    content_type: str


class Client:
    """One keep-alive connection per thread."""

    def __init__(self, port: int, seed: int) -> None:
        self.port = port
        self.local = threading.local()
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.created: dict[str, list[str]] = {}

    def _resolve(self, req: Req) -> str:
        """The path with an item created earlier in the run for CREATED (a random id if
        none is left); a DELETE of the item itself takes it out of the pool."""
        token = urllib.parse.quote(CREATED, safe="")
        if token not in req.path:
            return req.path
        parts = req.path.split("?")[0].split("/")
        collection = parts[2] if len(parts) > 2 else ""
        with self.lock:
            pool = self.created.get(collection) or []
            if not pool:
                return req.path.replace(token, str(uuid.uuid4()))
            i = self.rng.randrange(len(pool))
            item_id = pool.pop(i) if req.method == "DELETE" and len(parts) == 4 \
                else pool[i]
        return req.path.replace(token, item_id)

    def _record(self, req: Req, status: int, data: bytes) -> None:
        if req.method != "POST" or status != 201:
            return
        parts = req.path.split("?")[0].split("/")
        if len(parts) != 3:
            return
        body = json.loads(data)
        (value,) = body.values()
        items = value if isinstance(value, list) else [value]
        with self.lock:
            self.created.setdefault(parts[2], []).extend(
                i["id"] for i in items if isinstance(i, dict) and "id" in i)

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.local.conn = conn
        return conn

    def send(self, req: Req) -> Outcome:
        for attempt in (1, 2):
            conn = self._conn()
            try:
                # header values as UTF-8 bytes (http.client would insist on latin-1)
                headers = {k: v.encode() for k, v in req.headers.items()}
                conn.request(req.method, self._resolve(req), body=req.body,
                             headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self._record(req, resp.status, data)
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self.local.conn = None
                return Outcome(req, resp.status, data, resp.getheader("Content-Type", ""))
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # the server closed a kept-alive connection (or refused this request's
                # connection reuse); a new connection gets one more try
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
            except http.client.HTTPException as e:
                # not HTTP (e.g. the rest of an earlier response): a finding, and the
                # connection is unusable
                conn.close()
                self.local.conn = None
                return Outcome(req, 0, repr(e).encode()[:300], "")
        raise AssertionError("unreachable")


# The 5xx answers Neutron gives on purpose, with the same types: POST /v2.0/quotas
# (webob's HTTPNotImplemented in its quota controller) and a tenant network type with no
# free segment (NoNetworkAvailable, a ResourceExhausted: 503). Anything else >= 500 is a
# fault.
NEUTRON_5XX = {(501, "HTTPNotImplemented"), (503, "NoNetworkAvailable")}


def _error_type(data: bytes) -> str | None:
    try:
        return json.loads(data)["NeutronError"]["type"]
    except (ValueError, KeyError, TypeError):
        return None


def problems(o: Outcome) -> list[str]:
    """What is wrong with one response."""
    out = []
    text = o.body.decode("utf-8", "replace")
    if o.status == 0:
        return [f"not an HTTP response: {o.body!r}"]
    if o.status >= 500 and (o.status, _error_type(o.body)) not in NEUTRON_5XX:
        out.append(f"status {o.status}")
    for mark in LEAKS:
        if mark in text:
            out.append(f"body leaks {mark!r}")
    if o.req.method == "HEAD" or o.status in (204, 304):
        return out
    if o.body and not o.content_type.startswith("application/json"):
        out.append(f"Content-Type {o.content_type!r}")
    if o.status >= 400:
        try:
            body = json.loads(o.body)
        except ValueError:
            return [*out, "error body is not JSON"]
        err = body.get("NeutronError") if isinstance(body, dict) else None
        if not (isinstance(err, dict) and set(body) == {"NeutronError"}
                and isinstance(err.get("type"), str) and isinstance(err.get("message"), str)
                and "detail" in err):
            out.append("error body is not a NeutronError")
        elif len(err["message"]) > 2048:
            out.append(f"error message of {len(err['message'])} characters")
    elif o.body:
        try:
            json.loads(o.body)
        except ValueError:
            out.append("success body is not JSON")
    return out


@pytest.fixture(scope="module")
def surface(tmp_path_factory: pytest.TempPathFactory) -> Surface:
    return discover(tmp_path_factory.mktemp("surface"))


@pytest.fixture(scope="module", params=["postgresql", "mysql"])
def fuzz_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    with migrated_database(request.param, workdir) as url, \
            Server(url, workdir, workers=2) as srv:
        yield srv


def test_surface_is_reached(surface: Surface) -> None:
    """The generator covers what the application registers (a new collection, sub-resource
    or action is fuzzed without touching this file)."""
    fixture = Fixture({}, {}, [OWNER])
    reqs = Generator(surface, fixture, SEED).requests(3000)
    paths = [urllib.parse.unquote(r.path.split("?")[0]) for r in reqs]
    for coll in surface.collections:
        assert any(p == f"/v2.0/{coll}" for p in paths), coll
        assert any(p.startswith(f"/v2.0/{coll}/") for p in paths), coll
    for name in surface.member_routes:
        assert any(f"/{name}" in p for p in paths), name
    for name in surface.routes:
        assert any(p.startswith(f"/v2.0/{name}") for p in paths), name
    assert {r.method for r in reqs} == set(VERBS)
    assert {"tags", "bindings", "add_router_interface"} <= set(surface.member_routes)


def test_fuzz(surface: Surface, fuzz_server: Server) -> None:
    fixture = create_fixture(fuzz_server)
    reqs = Generator(surface, fixture, SEED).requests(REQUESTS)
    client = Client(fuzz_server.port, SEED)
    with ThreadPoolExecutor(CLIENTS) as pool:
        outcomes = list(pool.map(client.send, reqs))

    statuses: dict[int, int] = {}
    bad: list[str] = []
    for i, o in enumerate(outcomes):
        statuses[o.status] = statuses.get(o.status, 0) + 1
        found = problems(o)
        if found:
            bad.append(f"#{i} {o.req.label()} -> {o.status} {', '.join(found)}: "
                       f"{o.body[:300]!r}")
    print(f"\nfuzz seed {SEED}: {len(outcomes)} requests, statuses "
          f"{dict(sorted(statuses.items()))}")
    log = fuzz_server.log()
    tracebacks = log.count("Traceback (most recent call last)")
    assert not bad and not tracebacks, (
        f"{len(bad)} bad responses (seed {SEED}):\n" + "\n".join(bad[:40])
        + f"\n\n{tracebacks} tracebacks in the server log:\n"
        + "\n".join(_last_lines_of_tracebacks(log)[:40]))
    # the fixture's objects are still there (the fuzzer did not fuzz an empty cloud)
    status, _ = fuzz_server.request("GET", f"/v2.0/networks/{fixture.ids['networks'][0]}",
                                    headers=project_headers(OWNER))
    assert status == 200


def _last_lines_of_tracebacks(log: str) -> list[str]:
    out = []
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            j = i + 1
            while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                j += 1
            context = lines[i - 1][:200] if i else ""
            out.append(f"{context} => {lines[j][:300] if j < len(lines) else '?'}")
    return out
