"""Scale figures: port creates/s and whole-list latency with 1k, 10k (, 100k) ports, and
the server's memory after each list (a streamed list must not grow it).

One ``neutrino server`` process (api_workers = 1) on a fresh database; ports are added in
bulk (200 a request) up to each size, then: 100 single port creates, one after the other
(ops/s, server CPU ms each), and 3 lists of every port as the project member (wall ms,
server CPU ms, RSS after). The driver is stated with the results.

    .venv/bin/python benchmarks/scale.py --backend mariadb --sizes 1000,10000
    .venv/bin/python benchmarks/scale.py --backend postgresql --sizes 1000,10000,100000
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

HEADERS = {"X-Project-Id": "scale", "X-User-Id": "u", "X-Roles": "member,reader",
           "Content-Type": "application/json"}


def main() -> int:
    import cost_model as cm
    import run_bench
    from tests.support.server import Server

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "mariadb", "postgresql"], default="mariadb")
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--creates", type=int, default=100)
    ap.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306/")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp_s, cm.database(
            args.backend, args, Path(tmp_s),
            name=os.environ.get("NEUTRINO_BENCH_DB", "neutrino_scale")) as url:
        tmp = Path(tmp_s)
        with Server(url, tmp, conf={"QUOTAS": {"quota_port": -1}}) as srv:
            assert srv.proc is not None
            pid = srv.proc.pid
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)

            def call(method: str, path: str, body: Any = None) -> tuple[int, bytes]:
                conn.request(method, path, headers=HEADERS,
                             body=orjson.dumps(body) if body is not None else None)
                resp = conn.getresponse()
                return resp.status, resp.read()

            status, body = call("POST", "/v2.0/networks", {"network": {"name": "scale"}})
            net = orjson.loads(body)["network"]["id"]
            status, body = call("POST", "/v2.0/subnets", {"subnet": {
                "network_id": net, "cidr": "10.0.0.0/8", "ip_version": 4}})
            assert status == 201, body
            have = 0
            rss0 = cm._rss_mb(pid)
            for size in sizes:
                while have < size - args.creates:
                    n = min(200, size - args.creates - have)
                    status, body = call("POST", "/v2.0/ports", {"ports": [
                        {"network_id": net} for _ in range(n)]})
                    assert status == 201, body
                    have += n
                c0, t0 = cm._cpu_seconds(pid), time.perf_counter()
                for i in range(args.creates):
                    status, body = call("POST", "/v2.0/ports", {"port": {
                        "network_id": net, "name": f"s{i}"}})
                    assert status == 201, body
                wall = time.perf_counter() - t0
                create_cpu = (cm._cpu_seconds(pid) - c0) * 1000 / args.creates
                have += args.creates
                walls, cpus, rss = [], [], []
                for _ in range(3):
                    c0, t0 = cm._cpu_seconds(pid), time.perf_counter()
                    status, body = call("GET", "/v2.0/ports")
                    walls.append((time.perf_counter() - t0) * 1000)
                    cpus.append((cm._cpu_seconds(pid) - c0) * 1000)
                    assert status == 200 and len(orjson.loads(body)["ports"]) == have
                    rss.append(cm._rss_mb(pid))
                rows.append((size, args.creates / wall, create_cpu, statistics.median(walls),
                             statistics.median(cpus), len(body), rss))
            conn.close()
    print(f"\nbackend {args.backend} ({run_bench.driver_of(url)}), one API process, "
          f"member, load {os.getloadavg()[0]:.1f}; server RSS at start {rss0:.0f} MB")
    print("| ports | creates/s (1 client) | create CPU ms | list p50 ms | list CPU ms "
          "| body KB | RSS after each list MB |")
    print("|---|---|---|---|---|---|---|")
    for size, rate, ccpu, lwall, lcpu, nbytes, rss in rows:
        print(f"| {size} | {rate:.0f} | {ccpu:.1f} | {lwall:.0f} | {lcpu:.0f} | "
              f"{nbytes // 1024} | {', '.join(f'{r:.0f}' for r in rss)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
