"""Where one API process spends its CPU on port show, create, update and list.

The application the server runs (``api.server.make_app``: auth, limits, the App, the
plugin, the in-process bus) is called in-process through WSGI on a real database, as a
project member, after warm-up; each phase is timed (``time.process_time`` per operation,
median of rounds, no profiler) and then profiled with cProfile (CPU time) to split that
time into parts. Time spent in built-in functions (``str.join``, ``dict.get`` ...) goes
to the part of the Python function that called them. Driver calls made in C (sqlite3,
mysqlclient, psycopg's C core) are the "driver" part; on SQLite that includes the
database engine itself, which runs in the process.

The HTTP server (waitress) is measured apart: the same requests over HTTP to a real
``neutrino server`` process, its CPU read from /proc before and after; its CPU per
operation minus the in-process figure is what the HTTP layer costs (``--http``).

    .venv/bin/python benchmarks/cost_model.py --backend sqlite --ports 1000
    .venv/bin/python benchmarks/cost_model.py --backend mariadb --ports 1000 --http
    .venv/bin/python benchmarks/cost_model.py --backend postgresql --phases list --ports 10000

(MariaDB on 127.0.0.1:3306 as root, PostgreSQL on 127.0.0.1:5432 as postgres; a database
``neutrino_cost_model`` is created and dropped. ``--mysql-url mysql+pymysql://...``
chooses PyMySQL.)
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MEMBER = {"HTTP_X_PROJECT_ID": "cost", "HTTP_X_USER_ID": "u",
          "HTTP_X_ROLES": "member,reader"}
# NEUTRINO_COST_DB: another name, so that two runs on one database server stay apart
DB_NAME = os.environ.get("NEUTRINO_COST_DB", "neutrino_cost_model")

# (part, test on "path:function") in order: the first that matches wins.
PARTS: list[tuple[str, Callable[[str, str], bool]]] = [
    ("HTTP server (waitress)", lambda f, n: "/waitress/" in f),
    ("JSON encode/decode", lambda f, n: "orjson" in n or "/json/" in f
     or "msgspec" in n),
    ("driver (DB-API, C client)", lambda f, n: any(
        d in f for d in ("/pymysql/", "/MySQLdb/", "/psycopg/", "/psycopg_binary/",
                         "/sqlite3/"))
     or any(d in n for d in ("sqlite3.", "_mysql.", "psycopg", "MySQLdb"))),
    ("SQL compile (SQLAlchemy compiler, cache keys)", lambda f, n: "/sqlalchemy/sql/" in f and (
        "compiler.py" in f or "cache_key.py" in f or "crud.py" in f)),
    ("SQL statement building (SQLAlchemy sql)", lambda f, n: "/sqlalchemy/sql/" in f),
    ("SQLAlchemy execution, pool, result rows", lambda f, n: "/sqlalchemy/" in f),
    ("policy (oslo.policy, policy/)", lambda f, n: "/oslo_policy/" in f
     or "/neutrino/policy/" in f),
    ("auth / request context", lambda f, n: "/neutrino/api/auth.py" in f
     or "/neutrino/context.py" in f or "/neutrino/api/limits.py" in f
     or "dataclasses.py" in f),
    ("validation (api/body, schema)", lambda f, n: "/neutrino/api/body.py" in f
     or "/neutrino/schema/" in f or "/neutrino/api/query.py" in f),
    ("row -> dict (services' formatting)", lambda f, n: "/neutrino/" in f and any(
        n.endswith(":" + x) for x in (
            "to_dicts", "_dict", "plain_rows", "standard_fields", "project_fields",
            "fmt_time", "default_fields", "fields", "<listcomp>", "<dictcomp>",
            "_row_dict", "row_to_dict", "load", "<genexpr>", "_fields"))),
    ("service logic (core/, services/, db/)", lambda f, n: any(
        d in f for d in ("/neutrino/core/", "/neutrino/services/", "/neutrino/db/"))),
    ("API layer (routing, views, paging)", lambda f, n: "/neutrino/api/" in f),
    ("notifications, bus", lambda f, n: "/neutrino/bus/" in f),
]
OTHER = "other (stdlib: uuid, logging, threading ...)"


def part_of(func: tuple[str, int, str]) -> str | None:
    filename, _line, name = func
    key = f"{filename}:{name}"
    if filename == "~":
        # a built-in: the driver's C functions by name, the rest goes to its callers
        for part, test in PARTS[:3]:
            if test("", name):
                return part
        return None
    for part, test in PARTS:
        if test(filename, key):
            return part
    return OTHER


def breakdown(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of CPU per part (self time; built-ins charged to their callers' parts in
    proportion to the time spent in them from each)."""
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    parts: dict[str, float] = defaultdict(float)

    def charge(func: Any, seconds: float, depth: int = 0) -> None:
        part = part_of(func)
        if part is not None or depth > 4:
            parts[part or OTHER] += seconds
            return
        callers = raw[func][4]
        total = sum(c[2] for c in callers.values()) or 0.0
        if not callers or total <= 0:
            parts[OTHER] += seconds
            return
        for caller, c in callers.items():
            if caller in raw:
                charge(caller, seconds * c[2] / total, depth + 1)
            else:
                parts[OTHER] += seconds * c[2] / total

    for func, (_cc, _nc, tt, _ct, _callers) in raw.items():
        charge(func, tt)
    return dict(parts)


# --- the application, in-process -------------------------------------------------------
class Caller:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        path, _, qs = path.partition("?")
        data = orjson.dumps(body) if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": qs,
            "SERVER_NAME": "localhost", "SERVER_PORT": "9696", "SCRIPT_NAME": "",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data), "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)) if data else "", **MEMBER,
        }
        status: list[str] = []
        result = self.app(environ, lambda s, _h, *_e: status.append(s))
        try:
            out = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(status[0].split()[0]), out


@contextmanager
def database(backend: str, args: argparse.Namespace, tmp: Path,
             name: str = DB_NAME) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp / 'cost.sqlite'}"
        return
    server = args.mysql_url if backend == "mariadb" else args.pg_url
    url = sa.engine.make_url(server)
    admin_url = url.set(database="postgres" if backend == "postgresql" else None)
    kw: dict[str, Any] = {"poolclass": sa.NullPool}
    if backend == "postgresql":
        kw["isolation_level"] = "AUTOCOMMIT"
        if admin_url.drivername == "postgresql":
            admin_url = admin_url.set(drivername="postgresql+psycopg")
    elif admin_url.drivername == "mysql":
        from neutrino.db.engine import mysql_driver

        admin_url = admin_url.set(drivername=f"mysql+{mysql_driver()}")
    admin = sa.create_engine(admin_url, **kw)
    q = '"' if backend == "postgresql" else "`"

    def run(sql: str) -> None:
        with admin.connect() as c:
            c.exec_driver_sql(sql)
            if backend != "postgresql":
                c.commit()

    # PostgreSQL: connections of the populating app still open do not stop the drop
    drop = f"DROP DATABASE IF EXISTS {q}{name}{q}" + (
        " WITH (FORCE)" if backend == "postgresql" else "")
    run(drop)
    run(f"CREATE DATABASE {q}{name}{q}" + (
        "" if backend == "postgresql" else " CHARACTER SET utf8mb4"))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        run(drop)
        admin.dispose()


def populate(call: Caller, ports: int) -> tuple[str, list[str]]:
    status, body = call("POST", "/v2.0/networks", {"network": {"name": "cost"}})
    assert status == 201, body
    net = orjson.loads(body)["network"]["id"]
    status, body = call("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net, "cidr": "10.96.0.0/12", "ip_version": 4}})
    assert status == 201, body
    ids: list[str] = []
    for start in range(0, ports, 200):
        n = min(200, ports - start)
        status, body = call("POST", "/v2.0/ports",
                            {"ports": [{"network_id": net} for _ in range(n)]})
        assert status == 201, body
        ids += [p["id"] for p in orjson.loads(body)["ports"]]
    return net, ids


def phases(net: str, ids: list[str], list_path: str) -> dict[str, Callable[[Caller, int], None]]:
    def show(call: Caller, i: int) -> None:
        status, _ = call("GET", f"/v2.0/ports/{ids[i % len(ids)]}")
        assert status == 200

    def create(call: Caller, i: int) -> None:
        status, body = call("POST", "/v2.0/ports", {"port": {"network_id": net,
                                                             "name": f"c{i}"}})
        assert status == 201, body

    def update(call: Caller, i: int) -> None:
        status, _ = call("PUT", f"/v2.0/ports/{ids[i % len(ids)]}",
                         {"port": {"name": f"u{i}"}})
        assert status == 200

    def list_ports(call: Caller, i: int) -> None:
        status, _ = call("GET", list_path)
        assert status == 200

    return {"show": show, "create": create, "update": update, "list": list_ports}


def one_round(call: Any, fn: Callable[[Any, int], None], ops: int, first: int,
              cpu: Callable[[], float]) -> float:
    """CPU ms per operation over ``ops`` operations (``cpu``: seconds of the process
    doing the work)."""
    c0 = cpu()
    for i in range(first, first + ops):
        fn(call, i)
    return (cpu() - c0) * 1000 / ops


def profile(call: Caller, fn: Callable[[Caller, int], None], ops: int) -> dict[str, float]:
    prof = cProfile.Profile(time.process_time)
    for i in range(ops):
        prof.enable()
        fn(call, 900_000 + i)
        prof.disable()
    parts = breakdown(pstats.Stats(prof))
    total = sum(parts.values()) or 1.0
    return {k: v / total for k, v in parts.items()}


# --- over HTTP, a real server process ------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class HttpCaller:
    """The same calls over HTTP (one keep-alive connection) to a server process."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"X-Project-Id": MEMBER["HTTP_X_PROJECT_ID"], "X-User-Id": "u",
                        "X-Roles": "member,reader", "Content-Type": "application/json"}

    def __call__(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        self.conn.request(method, path, headers=self.headers,
                          body=orjson.dumps(body) if body is not None else None)
        resp = self.conn.getresponse()
        return resp.status, resp.read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "mariadb", "postgresql"], default="sqlite")
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--phases", default="show,list,update,create",
                    help="in this order (creates add ports: list before create)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--http", action="store_true",
                    help="also measure a real server process over HTTP (the HTTP layer)")
    ap.add_argument("--list-path", default="/v2.0/ports")
    ap.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306/")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()

    from neutrino import config
    from neutrino.api.factory import open_database
    from neutrino.api.server import make_app
    from neutrino.core.plugin import Ml2Plugin
    from neutrino.db import migrate

    names = [p for p in args.phases.split(",") if p]
    ops = {"show": 200, "create": 100, "update": 100,
           "list": max(3, 20_000 // max(args.ports, 1))}
    http: dict[str, float] = {}
    rss: list[float] = []
    with tempfile.TemporaryDirectory() as tmp_s, database(args.backend, args,
                                                          Path(tmp_s)) as url:
        tmp = Path(tmp_s)
        conf = config.make_conf(overrides={"DEFAULT": {"state_path": str(tmp)},
                                           "database": {"connection": url},
                                           "QUOTAS": {"quota_port": -1}})
        db = open_database(conf)
        migrate.upgrade(db.engine)
        Ml2Plugin(conf, db).start()
        driver = db.engine.dialect.driver
        db.dispose()
        app = make_app(conf)
        call = Caller(app)
        net, ids = populate(call, args.ports)
        fns = phases(net, ids, args.list_path)
        results: dict[str, tuple[float, dict[str, float]]] = {}
        with contextlib.ExitStack() as stack:
            srv = None
            if args.http:
                from tests.support.server import Server

                srv = stack.enter_context(Server(url, tmp / "http", conf={
                    "QUOTAS": {"quota_port": -1}}))
                assert srv.proc is not None
                pid = srv.proc.pid
                remote = HttpCaller(srv.port)
                rss.append(_rss_mb(pid))
            for name in names:
                fn = fns[name]
                for i in range(max(3, ops[name] // 4)):  # warm-up: caches, imports
                    fn(call, 100_000 + i)
                    if srv is not None:
                        fn(remote, 200_000 + i)  # type: ignore[arg-type]
                inproc, over_http = [], []
                for r in range(args.rounds):  # interleaved: both meet the same load
                    inproc.append(one_round(call, fn, ops[name], 300_000 + r * 1000,
                                            time.process_time))
                    if srv is not None:
                        over_http.append(one_round(remote, fn, ops[name],  # type: ignore[arg-type]
                                                   400_000 + r * 1000,
                                                   lambda: _cpu_seconds(pid)))
                results[name] = (statistics.median(inproc), profile(call, fn, ops[name]))
                if over_http:
                    http[name] = statistics.median(over_http)
                    rss.append(_rss_mb(pid))

    print(f"\nbackend {args.backend} (driver {driver}), {args.ports} ports, member caller, "
          f"load {os.getloadavg()[0]:.1f}")
    print("CPU ms per operation, in-process (median of rounds):  " + ", ".join(
        f"{n} {results[n][0]:.2f}" for n in names))
    if http:
        print("CPU ms per operation, server process over HTTP:      " + ", ".join(
            f"{n} {http[n]:.2f}" for n in names))
        print("server RSS MB at start and after each phase: " + ", ".join(
            f"{m:.0f}" for m in rss))
    all_parts = sorted({p for _, parts in results.values() for p in parts},
                       key=lambda p: -sum(results[n][1].get(p, 0) * results[n][0]
                                          for n in names))
    head = "| part | " + " | ".join(f"{n} ms (%)" for n in names) + " |"
    print("\n" + head)
    print("|---" * (len(names) + 1) + "|")
    if http:
        print("| HTTP server (waitress), by difference | " + " | ".join(
            f"{max(0.0, http[n] - results[n][0]):.2f}" for n in names) + " |")
    for part in all_parts:
        cells = []
        for n in names:
            cpu, parts = results[n]
            share = parts.get(part, 0.0)
            cells.append(f"{share * cpu:.2f} ({share * 100:.0f} %)")
        print(f"| {part} | " + " | ".join(cells) + " |")
    print("| **total in-process** | " + " | ".join(
        f"**{results[n][0]:.2f}**" for n in names) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
