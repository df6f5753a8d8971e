"""Which call sites execute a SQL statement built anew at every request.

Building a SELECT (and its cache key) costs SQLAlchemy about as much CPU as running it; a
statement built once, with bind parameters, costs neither again. This runs a phase of
cost_model.py in-process on SQLite and counts, per call site in src/neutrino, the
statement objects executed for the first time after warm-up: a site listed at ~1 per
operation builds its statement per request; one at 1/N (N operations) only once.

    .venv/bin/python benchmarks/fresh_statements.py --phase show
    .venv/bin/python benchmarks/fresh_statements.py --phase create --ops 50
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import traceback
import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--phase", choices=["show", "create", "update", "list"], default="show")
    ap.add_argument("--ops", type=int, default=20)
    ap.add_argument("--ports", type=int, default=50)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    import cost_model as cm

    from neutrino import config
    from neutrino.api.factory import open_database
    from neutrino.api.server import make_app
    from neutrino.core.plugin import Ml2Plugin
    from neutrino.db import migrate

    seen: weakref.WeakSet[Any] = weakref.WeakSet()
    fresh: collections.Counter[str] = collections.Counter()
    reused = [0]
    counting = [False]
    execute = Connection.execute

    def counted(self: Connection, stmt: Any, *a: Any, **k: Any) -> Any:
        if counting[0] and isinstance(stmt, sa.sql.ClauseElement):
            stack = traceback.extract_stack(limit=10)[:-1]
            site = next((f"{f.filename.split('src/neutrino/')[-1]}:{f.lineno} {f.name}"
                         for f in reversed(stack) if "src/neutrino" in f.filename), "?")
            if stmt in seen:
                reused[0] += 1
            else:
                fresh[site] += 1
                seen.add(stmt)
        return execute(self, stmt, *a, **k)

    Connection.execute = counted  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        conf = config.make_conf(overrides={
            "DEFAULT": {"state_path": tmp},
            "database": {"connection": f"sqlite:///{tmp}/fresh.sqlite"},
            "QUOTAS": {"quota_port": -1}})
        db = open_database(conf)
        migrate.upgrade(db.engine)
        Ml2Plugin(conf, db).start()
        db.dispose()
        call = cm.Caller(make_app(conf))
        net, ids = cm.populate(call, args.ports)
        fn = cm.phases(net, ids, "/v2.0/ports")[args.phase]
        for i in range(5):
            fn(call, 1000 + i)  # warm-up
        counting[0] = True
        for i in range(args.ops):
            fn(call, 2000 + i)
    print(f"{args.phase}: statements executed for the first time, per operation")
    for site, n in fresh.most_common():
        print(f"  {n / args.ops:5.2f}  {site}")
    print(f"statements executed again (built once): {reused[0] / args.ops:.2f} per operation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
