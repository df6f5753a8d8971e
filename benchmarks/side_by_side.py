"""Two bench_api.py results (real Neutron and neutrino, one round) as one Markdown table.

    .venv/bin/python benchmarks/side_by_side.py neutron-r1.json neutrino-r1/mariadb-w1.json

Per phase and client count: ops/s, p50 and the server's CPU per operation (the --rss
``server`` tree) of each, the throughput ratio and the CPU ratio (Neutron / neutrino), the
database server's CPU per operation (--rss ``db``) of each, and the CPU other processes on
the host used meanwhile (in % of one CPU; 200 % = both CPUs of this machine).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def phases(path: str) -> dict[tuple[str, int], dict[str, Any]]:
    data = json.loads(Path(path).read_text())
    out = {}
    for run in data["runs"]:
        for p in run["phases"]:
            # a run's one-off set-up phases (quota_set, bignet_create: 1-2 requests) say
            # nothing; keyed by the run's concurrency, not the phase's own
            if not p.get("skipped") and (p.get("ops") or 0) >= 5:
                out[(p["phase"], run["concurrency"])] = p
    return out


def cpu(p: dict[str, Any], label: str) -> float | None:
    return ((p.get("server") or {}).get(label) or {}).get("cpu_ms_per_op")


def fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:,.{nd}f}"


def ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    r = a / b
    return f"{r:.0f}x" if r >= 10 else f"{r:.1f}x"


def main(neutron: str, neutrino: str) -> None:
    n, m = phases(neutron), phases(neutrino)
    print("| phase | c | Neutron ops/s · p50 ms · CPU ms/op | neutrino ops/s · p50 ms · CPU ms/op "
          "| throughput ratio | CPU ratio | DB CPU ms/op (N / n) | other CPU % (N / n) |")
    print("|---|---|---|---|---|---|---|---|")
    for key in n:
        if key not in m:
            continue
        a, b = n[key], m[key]
        print(f"| {key[0]} | {key[1]} "
              f"| {fmt(a['ops_per_s'])} · {fmt(a['p50_ms'], 0)} · {fmt(cpu(a, 'server'))} "
              f"| {fmt(b['ops_per_s'])} · {fmt(b['p50_ms'], 0)} · {fmt(cpu(b, 'server'))} "
              f"| {ratio(b['ops_per_s'], a['ops_per_s'])} "
              f"| {ratio(cpu(a, 'server'), cpu(b, 'server'))} "
              f"| {fmt(cpu(a, 'db'))} / {fmt(cpu(b, 'db'))} "
              f"| {fmt((a.get('host') or {}).get('other_cpu_pct'), 0)} / "
              f"{fmt((b.get('host') or {}).get('other_cpu_pct'), 0)} |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
