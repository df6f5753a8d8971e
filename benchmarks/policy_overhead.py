"""Listing 1000 ports as a project member vs as an admin: the cost of policy.

Starts a neutrino server (SQLite, one API process), creates one network, a /22 subnet and
1000 ports in project "demo", then times GET /v2.0/ports with the member's and with an
admin's headers (alternating, after warm-up) and prints p50/p90 and the ratio.

    .venv/bin/python benchmarks/policy_overhead.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import Server

MEMBER = {"X-Project-Id": "demo", "X-User-Id": "u", "X-Roles": "member,reader"}
ADMIN = {"X-Project-Id": "ops", "X-User-Id": "a", "X-Roles": "admin,member,reader"}


def timed_list(port: int, headers: dict[str, str]) -> tuple[float, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    start = time.perf_counter()
    conn.request("GET", "/v2.0/ports", headers=headers)
    body = conn.getresponse().read()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed * 1000, len(json.loads(body)["ports"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--ports", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        conf = {"QUOTAS": {"quota_port": -1}}
        with Server(f"sqlite:///{work / 'n.sqlite'}", work, conf=conf) as srv:
            _, net = srv.request("POST", "/v2.0/networks", {"network": {"name": "p"}},
                                 headers=MEMBER)
            net_id = net["network"]["id"]
            srv.request("POST", "/v2.0/subnets", {"subnet": {
                "network_id": net_id, "cidr": "10.50.0.0/22", "ip_version": 4}},
                headers=MEMBER)
            for start in range(0, args.ports, 100):
                n = min(100, args.ports - start)
                status, body = srv.request(
                    "POST", "/v2.0/ports",
                    {"ports": [{"network_id": net_id} for _ in range(n)]}, headers=MEMBER)
                assert status == 201, body
            for _ in range(5):  # warm-up
                timed_list(srv.port, MEMBER)
                timed_list(srv.port, ADMIN)
            member, admin = [], []
            for _ in range(args.rounds):
                ms, count = timed_list(srv.port, MEMBER)
                assert count == args.ports
                member.append(ms)
                ms, count = timed_list(srv.port, ADMIN)
                assert count == args.ports
                admin.append(ms)
    m50, a50 = statistics.median(member), statistics.median(admin)
    print(f"list {args.ports} ports, {args.rounds} rounds each (ms):")
    print(f"  member p50 {m50:.1f}  p90 {statistics.quantiles(member, n=10)[-1]:.1f}")
    print(f"  admin  p50 {a50:.1f}  p90 {statistics.quantiles(admin, n=10)[-1]:.1f}")
    print(f"  member / admin = {m50 / a50:.2f} (target <= 1.25)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
