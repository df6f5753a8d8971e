"""Instructions per operation (valgrind's callgrind): the steady figure on a busy machine.

CPU time per request moves by 2x with the load of a shared 2-CPU machine; the number of
instructions the server executes for it does not. This runs the application in-process
(``api.server.make_app``, as cost_model.py does) under valgrind with instrumentation off,
and counts only the operations themselves: for each phase, counters zeroed and
instrumentation switched on from outside (``callgrind_control``), N operations, then the
total dumped. The database is populated beforehand by a process of its own (not
counted). On SQLite the count includes the database engine (it runs in the process); on
MariaDB/PostgreSQL only the server side of the client.

    .venv/bin/python benchmarks/cost_instructions.py --backend sqlite --ports 1000
    # another tree, same database contents and counts (before/after a change):
    git archive <commit> src | tar -x -C /tmp/before
    .venv/bin/python benchmarks/cost_instructions.py --tree /tmp/before/src

Needs valgrind (``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OPS = {"show": 50, "list": 3, "update": 20, "create": 20}


def child(args: argparse.Namespace) -> int:
    """Runs under valgrind: builds the app, then runs each phase when told to."""
    sys.path.insert(0, str(HERE))
    import cost_model as cm
    import orjson

    from neutrino import config
    from neutrino.api.server import make_app

    conf = config.make_conf(overrides={"DEFAULT": {"state_path": args.state},
                                       "database": {"connection": args.url},
                                       "QUOTAS": {"quota_port": -1}})
    call = cm.Caller(make_app(conf))
    status, body = call("GET", "/v2.0/ports?fields=id&fields=network_id")
    assert status == 200, body
    ports = orjson.loads(body)["ports"]
    fns = cm.phases(ports[0]["network_id"], [p["id"] for p in ports], "/v2.0/ports")
    for name in args.phases.split(","):
        for i in range(2):
            fns[name](call, 500_000 + i)  # warm-up: statement caches
        print(f"ready {name}", flush=True)
        sys.stdin.readline()
        for i in range(OPS[name]):
            fns[name](call, 600_000 + i)
        print(f"done {name}", flush=True)
        sys.stdin.readline()
    return 0


def _control(*argv: str) -> None:
    subprocess.run(["callgrind_control", *argv], check=True, capture_output=True,
                   timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=["sqlite", "mariadb", "postgresql"], default="sqlite")
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--phases", default="show,list,update,create")
    ap.add_argument("--tree", default=str(HERE.parent / "src"),
                    help="the src/ directory of the tree to count (default: this one)")
    ap.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306/")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--keep", metavar="DIR",
                    help="copy callgrind's dumps here (callgrind_annotate reads them)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--state", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args)

    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(HERE.parent))
    import cost_model as cm

    from neutrino import config
    from neutrino.api.factory import open_database
    from neutrino.api.server import make_app
    from neutrino.core.plugin import Ml2Plugin
    from neutrino.db import migrate

    counts: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_s, cm.database(args.backend, args,
                                                             Path(tmp_s)) as url:
        conf = config.make_conf(overrides={"DEFAULT": {"state_path": tmp_s},
                                           "database": {"connection": url},
                                           "QUOTAS": {"quota_port": -1}})
        db = open_database(conf)
        migrate.upgrade(db.engine)
        Ml2Plugin(conf, db).start()
        db.dispose()
        cm.populate(cm.Caller(make_app(conf)), args.ports)
        out = Path(tmp_s) / "cg.out"
        env = {**os.environ, "PYTHONPATH": args.tree}
        proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, __file__, "--child",
             "--url", url, "--state", tmp_s, "--phases", args.phases],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env)
        assert proc.stdin is not None and proc.stdout is not None
        pid = str(proc.pid)
        for name in args.phases.split(","):
            line = proc.stdout.readline()
            assert line.startswith("ready"), line
            _control("-z", pid)
            _control("-i", "on", pid)
            proc.stdin.write("\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            assert line.startswith("done"), line
            _control("-i", "off", pid)
            _control("-d", name, pid)
            proc.stdin.write("\n")
            proc.stdin.flush()
            time.sleep(0.5)
            dumps = sorted(Path(tmp_s).glob("cg.out.*"), key=lambda p: p.stat().st_mtime)
            text = dumps[-1].read_text(errors="replace")
            total = re.search(r"^totals:\s+(\d+)", text, re.M)
            assert total, dumps[-1]
            counts[name] = int(total.group(1)) / OPS[name]
            if args.keep:
                Path(args.keep).mkdir(parents=True, exist_ok=True)
                shutil.copy(dumps[-1], Path(args.keep) / f"callgrind.{name}")
        proc.wait(timeout=300)

    print(f"\nbackend {args.backend}, {args.ports} ports, member caller, tree {args.tree}")
    print("| phase | instructions per operation (millions) |")
    print("|---|---|")
    for name, n in counts.items():
        print(f"| {name} | {n / 1e6:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
