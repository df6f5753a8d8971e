"""Every error class neutrino defines, rendered as the API sends it, against a table taken
from the classes as they were before they were folded into one declarative shape
(``data/error_catalogue.json``): the type (the class name clients match on), the status,
the message with sample values, with none and with each one left out (defaults, the
template left as it is when a value is missing), a message given outright, and the
classes each error is also caught as (``except NotFound`` and the like).

The table is data, not code: ``python tests/unit/test_error_catalogue.py --capture``
writes it from the classes of the tree it runs in; it was written once from main before
the fold, and the test keeps the folded classes to it."""

from __future__ import annotations

import functools
import importlib
import json
import pkgutil
import re
import sys
from pathlib import Path
from typing import Any

import pytest

import neutrino
from neutrino import exceptions as exc
from neutrino.api.responses import error_body

TABLE = Path(__file__).parent / "data" / "error_catalogue.json"
_KEY = re.compile(r"%\((\w+)\)")


@functools.cache
def _classes() -> dict[str, type[exc.NeutronError]]:
    """Every subclass of NeutronError in neutrino, by name (importing every module: an
    error is defined where it is defined, the test must not need to know where)."""
    for info in pkgutil.walk_packages(neutrino.__path__, "neutrino."):
        # alembic's scripts run only under alembic; a __main__ runs what it holds
        if not info.name.startswith("neutrino.db.migrations") and \
                not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found: dict[str, type[exc.NeutronError]] = {}
    todo: list[type[exc.NeutronError]] = [exc.NeutronError]
    while todo:
        cls = todo.pop()
        if cls.__module__.startswith("neutrino."):
            assert found.setdefault(cls.__name__, cls) is cls, f"two classes {cls.__name__}"
        todo.extend(cls.__subclasses__())
    return found


def _make(cls: type[exc.NeutronError], *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        e = cls(*args, **kwargs)
    except TypeError:  # a class whose __init__ takes only some keywords (OverQuota)
        return {"raises": "TypeError"}
    return {"status": e.status, "body": error_body(e), "kwargs": e.kwargs}


def render(cls: type[exc.NeutronError]) -> dict[str, Any]:
    keys = sorted(set(_KEY.findall(cls.message)))
    sample = {k: f"<{k}>" for k in keys}
    return {
        "ancestors": [c.__name__ for c in cls.__mro__[1:] if issubclass(c, exc.NeutronError)],
        "full": _make(cls, **sample),
        "none": _make(cls),
        "without": {k: _make(cls, **{o: v for o, v in sample.items() if o != k})
                    for k in keys},
        "given": _make(cls, "A message given outright."),
    }


@functools.cache
def _table() -> dict[str, Any]:
    return json.loads(TABLE.read_text())


def test_no_error_lost_or_added() -> None:
    assert sorted(_classes()) == sorted(_table())


def test_errors_live_in_one_place() -> None:
    """Every error is declared in the package neutrino.exceptions (its areas' modules), so
    that one finds it there by name."""
    assert sorted(n for n, c in _classes().items()
                  if c.__module__.split(".")[:2] != ["neutrino", "exceptions"]) == []


# (no table yet while --capture writes it)
@pytest.mark.parametrize("name", sorted(_table()) if TABLE.exists() else [])
def test_error_renders_as_before(name: str) -> None:
    assert render(_classes()[name]) == _table()[name]


if __name__ == "__main__" and sys.argv[1:] == ["--capture"]:
    TABLE.parent.mkdir(exist_ok=True)
    rows = [f"{json.dumps(n)}: {json.dumps(render(c), sort_keys=True)}"
            for n, c in sorted(_classes().items())]
    TABLE.write_text("{\n" + ",\n".join(rows) + "\n}\n")  # a class a line, for diffs
