#!/usr/bin/env python3
"""Run the shared API benchmark (bench_api.py) against a neutrino server.

Starts ``neutrino server`` on the chosen backend with the chosen number of API workers,
runs bench_api.py against it (concurrency 1 and 8 by default), stops the server by its PID
and drops the benchmark database:

    .venv/bin/python benchmarks/run_bench.py --backend sqlite --workers 1
    .venv/bin/python benchmarks/run_bench.py --backend mariadb --workers 2
    .venv/bin/python benchmarks/run_bench.py --backend all          # 3 backends x w1,w2

Backends: sqlite (a file in a temporary directory), postgresql (database
``neutrino_bench`` on 127.0.0.1:5432, user postgres, trust), mariadb (alias mysql; database
``neutrino_bench`` on 127.0.0.1:3306, user root, no password); hosts, ports and users
can be changed with --pg-host/--pg-port/--pg-user and --mysql-host/--mysql-port/
--mysql-user. Server databases are created fresh, migrated with
``neutrino db upgrade`` and dropped afterwards.

Results go to benchmarks/results/<backend>-w<workers>.json (not in git);
``--summarize FILE...`` prints them as a Markdown table (ops/s, p50, p99, server CPU per
request, and the CPU other processes on the host used meanwhile).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BENCH = Path(os.environ.get("NEUTRINO_BENCH_API", "/work/shared/bench/bench_api.py"))
# NEUTRINO_BENCH_DB: another name, so that two runs on one database server do not drop
# each other's database
DB_NAME = os.environ.get("NEUTRINO_BENCH_DB", "neutrino_bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


# --- databases ------------------------------------------------------------------------------
def create_db(backend: str, args: argparse.Namespace, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'neutrino.sqlite'}"
    if backend == "postgresql":
        psql(args, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        psql(args, f"CREATE DATABASE \"{DB_NAME}\" ENCODING 'UTF8'")
        return f"postgresql+psycopg://{args.pg_user}@{args.pg_host}:{args.pg_port}/{DB_NAME}"
    mysql(args, f"DROP DATABASE IF EXISTS `{DB_NAME}`")
    mysql(args, f"CREATE DATABASE `{DB_NAME}` CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_unicode_ci")
    # "mysql://": the server's own choice (mysqlclient if installed, else PyMySQL)
    scheme = "mysql" if args.mysql_driver == "auto" else f"mysql+{args.mysql_driver}"
    return f"{scheme}://{args.mysql_user}@{args.mysql_host}:{args.mysql_port}/{DB_NAME}"


def driver_of(url: str) -> str:
    """The DB-API driver (and its build) a server on ``url`` uses, as the server
    resolves it (db/engine.py): stated with every result."""
    import importlib.metadata

    import sqlalchemy as sa

    from neutrino.db.engine import mysql_driver

    u = sa.engine.make_url(url)
    backend = u.get_backend_name()
    if backend == "mysql":
        name = u.drivername.partition("+")[2] or mysql_driver()
        dist = "mysqlclient" if name == "mysqldb" else "PyMySQL"
        return f"{dist} {importlib.metadata.version(dist)}"
    if backend == "postgresql":
        import psycopg

        return f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__})"
    import sqlite3

    return f"sqlite3 (SQLite {sqlite3.sqlite_version})"


def drop_db(backend: str, args: argparse.Namespace) -> None:
    if backend == "postgresql":
        psql(args, f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    elif backend == "mariadb":
        mysql(args, f"DROP DATABASE IF EXISTS `{DB_NAME}`")


def psql(args: argparse.Namespace, sql: str) -> None:
    subprocess.run(["psql", "-h", args.pg_host, "-p", str(args.pg_port), "-U", args.pg_user,
                    "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql], check=True)


def mysql(args: argparse.Namespace, sql: str) -> None:
    subprocess.run(["mysql", "-h", args.mysql_host, "-P", str(args.mysql_port),
                    "-u", args.mysql_user, "-e", sql], check=True)


def listener_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` of this host, if any."""
    import psutil  # a test dependency; only the CPU accounting needs it

    for c in psutil.net_connections("tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port and c.pid:
            return c.pid
    return None


def db_server_pid(backend: str, args: argparse.Namespace) -> int | None:
    """The database server's main process, so that the benchmark reports its CPU apart
    from the rest of the host (it is shared: other users' load shows there too)."""
    try:
        if backend == "postgresql":
            datadir = subprocess.run(
                ["psql", "-h", args.pg_host, "-p", str(args.pg_port), "-U", args.pg_user,
                 "-d", "postgres", "-Atc", "SHOW data_directory"],
                capture_output=True, text=True, check=True).stdout.strip()
            return int(Path(datadir, "postmaster.pid").read_text().split()[0])
        if backend == "mariadb":
            # the server listening on the benchmark's port: a host may run two MariaDBs
            # (real Neutron's reference instance on 3307), and pidof names either first
            return listener_pid(args.mysql_port)
    except (OSError, ValueError, IndexError, subprocess.CalledProcessError):
        return None
    return None


# --- server ---------------------------------------------------------------------------------
def write_config(path: Path, port: int, workers: int, state: Path, url: str,
                 threads: int | None) -> None:
    lines = ["[DEFAULT]", "bind_host = 127.0.0.1", f"bind_port = {port}",
             f"api_workers = {workers}", f"state_path = {state}"]
    if threads:
        lines.append(f"wsgi_threads = {threads}")
    lines += ["", "[database]", f"connection = {url}", ""]
    path.write_text("\n".join(lines))


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with status {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/")
            if c.getresponse().status == 200:
                c.close()
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer on port {port} within {timeout}s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server PID we started; with api_workers > 1 it is the supervisor,
    which stops its own workers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        # its own session (start_new_session): the supervisor and the workers it forked
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@dataclass
class Served:
    """A neutrino server on a fresh database, as ``served`` started it."""

    port: int
    proc: subprocess.Popen[bytes]
    url: str
    tmp: Path


@contextlib.contextmanager
def served(backend: str, workers: int, args: argparse.Namespace,
           prefix: str = "neutrino-bench") -> Iterator[Served]:
    """A fresh database (migrated), a config and ``neutrino server`` on a free port, ready;
    afterwards the server stopped, the database dropped and the directory removed (unless
    ``--keep-tmp``), whatever happened in between."""
    tmp = Path(tempfile.mkdtemp(prefix=f"{prefix}-{backend}-"))
    py = server_python()
    proc: subprocess.Popen[bytes] | None = None
    created_db = False
    try:
        url = create_db(backend, args, tmp)
        created_db = backend != "sqlite"
        port = free_port()
        conf = tmp / "neutrino.conf"
        write_config(conf, port, workers, tmp, url, args.wsgi_threads)
        if backend != "sqlite":
            subprocess.run([py, "-m", "neutrino.cli.main", "db", "upgrade",
                            "--config-file", str(conf)], check=True,
                           stdout=subprocess.DEVNULL)
        nice = ["nice", "-n", str(args.nice)] if getattr(args, "nice", 0) else []
        with (tmp / "server.log").open("ab") as log:
            proc = subprocess.Popen(
                [*nice, py, "-m", "neutrino.cli.main", "server", "--config-file", str(conf)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        wait_ready(port, proc)
        print(f"### {backend} api_workers={workers} pid={proc.pid} port={port}",
              file=sys.stderr, flush=True)
        yield Served(port, proc, url, tmp)
    finally:
        if proc is not None:
            stop_server(proc)
        if created_db:
            drop_db(backend, args)
        if args.keep_tmp:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run_one(backend: str, workers: int, args: argparse.Namespace) -> int:
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"{backend}-w{workers}.json"
    with served(backend, workers, args) as srv:
        nice = ["nice", "-n", str(args.nice)] if args.nice else []
        cmd = [*nice, sys.executable if args.bench_python is None else args.bench_python,
               str(BENCH), "--endpoint", f"http://127.0.0.1:{srv.port}", "--project", "demo",
               "--concurrency", args.concurrency, "--count", str(args.count),
               "--ports", str(args.ports), "--skip", args.skip,
               "--rss", f"server={srv.proc.pid}", "--label",
               f"neutrino {backend} w{workers} ({driver_of(srv.url)})",
               "--output", str(out)]
        cmd[-2:-2] = shlex.split(args.bench_args)
        dbpid = args.db_pid or db_server_pid(backend, args)
        if dbpid:
            cmd[-2:-2] = ["--rss", f"db={dbpid}"]
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode
        print(f"### {backend} w{workers}: bench exit {rc}, results in {out}",
              file=sys.stderr, flush=True)
        return rc


PHASES = ["net_create", "subnet_create", "port_create", "net_list", "port_list",
          "port_list_by_network", "port_show", "port_update", "port_delete",
          "subnet_delete", "net_delete"]


def summarize(files: list[str]) -> None:
    import json

    print("| run | phase | c | ops/s | p50 ms | p99 ms | server CPU ms/op | other CPU % | err |")
    print("|---|---|---|---|---|---|---|---|---|")
    for f in files:
        data = json.loads(Path(f).read_text())
        label = data["meta"].get("label") or Path(f).stem
        for run in data["runs"]:
            by_name = {p["phase"]: p for p in run["phases"]}
            for name in PHASES:
                p = by_name.get(name)
                if p is None or p.get("skipped"):
                    continue
                cpu = (p.get("server") or {}).get("server", {}).get("cpu_ms_per_op")
                other = (p.get("host") or {}).get("other_cpu_pct")
                print(f"| {label} | {name} | {p['concurrency']} | {p.get('ops_per_s')} | "
                      f"{p.get('p50_ms')} | {p.get('p99_ms')} | {cpu} | {other} | "
                      f"{p['errors']} |")


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--summarize":
        summarize(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", default="sqlite",
                    choices=["sqlite", "postgresql", "mysql", "mariadb", "all"])
    ap.add_argument("--workers", default="1",
                    help="api_workers; a comma list runs each (default 1; 'all' backend: 1,2)")
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--skip", default="sg,router,fip")
    ap.add_argument("--wsgi-threads", type=int, default=None)
    ap.add_argument("--bench-args", default="",
                    help="more arguments for bench_api.py, as the Neutron run had them "
                    "(e.g. '--subnets 15 --list-repeats 5 --warmup 3')")
    ap.add_argument("--results-dir", default=str(HERE / "results"))
    ap.add_argument("--bench-python", default=None,
                    help="interpreter for bench_api.py (default: this one)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep config, DB file and log")
    ap.add_argument("--nice", type=int, default=0,
                    help="run server and benchmark under 'nice -n N' (e.g. -5 as root on a "
                    "machine shared with other work; the database server is not changed)")
    ap.add_argument("--pg-host", default="127.0.0.1")
    ap.add_argument("--pg-port", type=int, default=5432)
    ap.add_argument("--pg-user", default="postgres")
    ap.add_argument("--mysql-host", default="127.0.0.1")
    ap.add_argument("--mysql-port", type=int, default=3306)
    ap.add_argument("--mysql-user", default="root")
    ap.add_argument("--db-pid", type=int, default=None,
                    help="the database server's PID for --rss db= (default: found by name; "
                    "give it when several MariaDB servers run, e.g. Neutron's private one)")
    ap.add_argument("--mysql-driver", choices=["auto", "pymysql", "mysqldb"], default="auto",
                    help="driver of the server's MariaDB URL (auto: mysql://, which uses "
                    "mysqlclient when installed, else PyMySQL)")
    args = ap.parse_args()

    backends = (["sqlite", "mariadb", "postgresql"] if args.backend == "all"
                else ["mariadb" if args.backend == "mysql" else args.backend])
    workers_arg = "1,2" if args.backend == "all" and args.workers == "1" else args.workers
    workers = [int(w) for w in workers_arg.split(",") if w.strip()]
    rc = 0
    for b in backends:
        for w in workers:
            rc |= run_one(b, w, args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
