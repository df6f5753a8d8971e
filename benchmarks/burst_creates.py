#!/usr/bin/env python3
"""A burst of concurrent port creates on one network (issue #14: 250 creates from 50
clients in <= 1 s with 2 API processes).

Starts ``neutrino server`` the way run_bench.py does (its functions: fresh database,
config, ``db upgrade``, start, stop, drop), then for each round: a new project with one
network and a /20 subnet; ``--clients`` threads each open a keep-alive HTTP connection
(and send one GET on it, so that connection set-up is not in the figure), wait on a
barrier, and on release share ``--count`` ``POST /v2.0/ports`` between them. Measured from
the release to the last response: wall time, p50/p99 latency, failures (any non-201, with
its body), CPU of the server's processes (its session) and of the database server, and the
CPU the whole host used meanwhile. Afterwards the network must hold exactly ``--count``
ports with ``--count`` distinct addresses.

    .venv/bin/python benchmarks/burst_creates.py --backend mariadb --workers 2 --rounds 3
    .venv/bin/python benchmarks/burst_creates.py --backend postgresql --workers 2 --rounds 3

Prints one JSON line per round and a human summary per round on stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
# a database name of its own, so that a run_bench.py run on the same server is not dropped
os.environ.setdefault("NEUTRINO_BENCH_DB", "neutrino_burst")
from run_bench import (
    DB_NAME,
    driver_of,
    listener_pid,
    served,
)


class Client:
    """One keep-alive connection with a project's member identity (auth_strategy noauth)."""

    def __init__(self, port: int, project: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"X-Project-Id": project, "X-Tenant-Id": project,
                        "X-User-Id": "burst", "X-Roles": "member,reader",
                        "Accept": "application/json", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        self.conn.request(method, "/v2.0" + path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()


def cpu_seconds(pids: list[int], reaped: bool = False) -> float:
    """User + system CPU of ``pids``; ``reaped``: with that of the children they have
    reaped (a server worker that ended, so that its CPU is not lost)."""
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
            if reaped:
                total += t.children_user + t.children_system
        except psutil.Error:
            pass  # a process that ended meanwhile: its CPU is lost to the figure
    return total


def session_pids(sid: int) -> list[int]:
    """The server's supervisor and workers: started with start_new_session, so their
    session id is the supervisor's PID."""
    pids = []
    for p in psutil.process_iter():
        try:
            if os.getsid(p.pid) == sid:
                pids.append(p.pid)
        except OSError:
            pass
    return pids


def db_pids(backend: str, dbpid: int | None) -> list[int]:
    """MariaDB: its one process (all its threads: other users' queries count too);
    PostgreSQL: the backends connected to our database (the server's pool keeps them
    for the whole run; the postmaster's reaped children would include other users')."""
    if dbpid is None:
        return []
    if backend != "postgresql":
        return [dbpid]
    pids = []
    for c in psutil.Process(dbpid).children():
        try:
            if f" {DB_NAME} " in " ".join(c.cmdline()):
                pids.append(c.pid)
        except psutil.Error:
            pass
    return pids


def host_busy() -> float:
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq + t.steal


def percentile(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return float("nan")
    i = min(len(sorted_vals) - 1, max(0, round(q / 100 * len(sorted_vals) + 0.5) - 1))
    return sorted_vals[i]


def one_round(port: int, server_pid: int, backend: str, dbpid: int | None, rnd: int,
              args: argparse.Namespace) -> dict[str, Any]:
    project = f"burst{rnd}"
    admin = Client(port, project)
    st, body = admin.call("POST", "/networks", {"network": {"name": f"burst{rnd}"}})
    assert st == 201, body
    net = json.loads(body)["network"]["id"]
    st, body = admin.call("POST", "/subnets", {"subnet": {
        "network_id": net, "ip_version": 4, "cidr": "10.40.0.0/20"}})
    assert st == 201, body

    clients = [Client(port, project) for _ in range(args.clients)]
    for c in clients:  # connect and warm up: the burst measures creates, not TCP set-up
        assert c.call("GET", f"/networks/{net}")[0] == 200
    shares = [args.count // args.clients + (i < args.count % args.clients)
              for i in range(args.clients)]
    latencies: list[float] = []
    failures: list[dict[str, Any]] = []
    ids: list[str] = []
    ends: list[float] = []
    lock = threading.Lock()
    srv_pids = session_pids(server_pid)
    dbs = db_pids(backend, dbpid)
    marks: dict[str, float] = {}
    db_before: dict[int, float] = {}

    def release() -> None:  # barrier action: runs once, just before all are let go
        marks["cpu_srv"] = cpu_seconds(srv_pids, reaped=True)
        db_before.update({pid: cpu_seconds([pid]) for pid in dbs})
        marks["host"] = host_busy()
        marks["cpu_cli"] = cpu_seconds([os.getpid()])
        marks["t0"] = time.perf_counter()

    barrier = threading.Barrier(args.clients, action=release)

    def run(c: Client, n: int) -> None:
        barrier.wait()
        for _ in range(n):
            t = time.perf_counter()
            try:
                st, body = c.call("POST", "/ports", {"port": {"network_id": net}})
            except (OSError, http.client.HTTPException) as e:
                st, body = 0, f"{type(e).__name__}: {e}".encode()
            done = time.perf_counter()
            with lock:
                latencies.append(done - t)
                ends.append(done)
                if st == 201:
                    ids.append(json.loads(body)["port"]["id"])
                else:
                    failures.append({"status": st, "body": body.decode(errors="replace")})

    threads = [threading.Thread(target=run, args=(c, n))
               for c, n in zip(clients, shares, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu_srv = cpu_seconds(srv_pids, reaped=True) - marks["cpu_srv"]
    # per backend: one opened during the burst counts from zero, one closed is lost
    cpu_db = sum(cpu_seconds([pid]) - db_before.get(pid, 0.0)
                 for pid in db_pids(backend, dbpid))
    host = host_busy() - marks["host"]
    cpu_cli = cpu_seconds([os.getpid()]) - marks["cpu_cli"]
    wall = max(ends) - marks["t0"]
    for c in clients:
        c.close()

    st, body = admin.call("GET", f"/ports?network_id={net}")
    assert st == 200, body
    ports = json.loads(body)["ports"]
    addrs = {ip["ip_address"] for p in ports for ip in p["fixed_ips"]}
    admin.close()
    lat = sorted(latencies)
    return {
        "round": rnd, "count": args.count, "clients": args.clients,
        "wall_s": round(wall, 3), "creates_per_s": round(len(ids) / wall, 1),
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "max_ms": round(lat[-1] * 1000, 1),
        "created": len(ids), "failures": len(failures), "failure_samples": failures[:5],
        "server_cpu_s": round(cpu_srv, 2), "db_cpu_s": round(cpu_db, 2),
        "client_cpu_s": round(cpu_cli, 2),
        "host_cpu_s": round(host, 2), "host_cpus": psutil.cpu_count(),
        "ports_on_network": len(ports), "distinct_addresses": len(addrs),
        "verified": len(ports) == args.count and len(addrs) == args.count
        and len(set(ids)) == args.count,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="mariadb",
                    choices=["sqlite", "postgresql", "mysql", "mariadb"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--count", type=int, default=250)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--wsgi-threads", type=int, default=None)
    ap.add_argument("--keep-tmp", action="store_true", help="keep config and server log")
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=5432)
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument("--mysql-host", default="127.0.0.1")
    ap.add_argument("--mysql-port", type=int, default=3306)
    ap.add_argument("--mysql-user", default="root")
    ap.add_argument("--mysql-driver", choices=["auto", "pymysql", "mysqldb"], default="auto")
    args = ap.parse_args()
    if args.count > 4000:
        ap.error("--count: the /20 subnet holds 4093 ports")
    backend = "mariadb" if args.backend == "mysql" else args.backend

    ok = True
    with served(backend, args.workers, args, prefix="neutrino-burst") as srv:
        port, proc, url = srv.port, srv.proc, srv.url
        dbpid = (None if backend == "sqlite" else listener_pid(
            args.pg_port if backend == "postgresql" else args.mysql_port))
        label = f"{backend} w{args.workers} ({driver_of(url)})"
        for rnd in range(1, args.rounds + 1):
            r = one_round(port, proc.pid, backend, dbpid, rnd, args)
            r["label"] = label
            ok &= r["verified"] and not r["failures"]
            print(json.dumps(r), flush=True)
            print(f"# {label} round {rnd}: {r['created']}/{r['count']} created by "
                  f"{r['clients']} clients in {r['wall_s']} s ({r['creates_per_s']}/s), "
                  f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, failures "
                  f"{r['failures']}; CPU server {r['server_cpu_s']} s, database "
                  f"{r['db_cpu_s']} s, clients {r['client_cpu_s']} s, whole host "
                  f"{r['host_cpu_s']} s of "
                  f"{r['host_cpus']} CPUs x {r['wall_s']} s; network holds "
                  f"{r['ports_on_network']} ports, {r['distinct_addresses']} distinct "
                  f"addresses: {'OK' if r['verified'] else 'MISMATCH'}",
                  file=sys.stderr, flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
