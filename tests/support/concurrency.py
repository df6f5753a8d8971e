"""Races through the real API for concurrency tests: a server with two API processes that
share nothing but the database, many client threads each on its own keep-alive HTTP
connection, released together by a barrier so that their requests really overlap.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import migrated_database
from tests.support.server import Server

THREADS = 16
HTTP_TIMEOUT = 60  # seconds for one request; a test can never hang longer than this
RACE_TIMEOUT = 240  # seconds for a whole race


@contextlib.contextmanager
def two_worker_server(backend: str, workdir: Path,
                      conf: dict[str, dict[str, Any]] | None = None) -> Iterator[Server]:
    """A running server with ``api_workers = 2`` on a fresh database of ``backend``
    (at the schema's head: tests.conftest.migrated_database)."""
    with migrated_database(backend, workdir) as url, \
            Server(url, workdir, workers=2, conf=conf) as srv:
        yield srv


class Client:
    """One keep-alive HTTP connection, as one client thread would hold."""

    def __init__(self, server: Server, headers: dict[str, str]) -> None:
        self.server = server
        self.headers = {"Content-Type": "application/json", "Accept": "application/json",
                        **headers}
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                                   timeout=HTTP_TIMEOUT)
        try:
            self.conn.request(method, path, body=json.dumps(body) if body is not None
                              else None, headers=self.headers)
            resp = self.conn.getresponse()
            payload = resp.read()
        except Exception:
            # Never resend: a POST that may have been executed must be counted as it is.
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, json.loads(payload) if payload else None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def race_indexed(server: Server, headers: dict[str, str],
                 work: Callable[[Client, int], list[Any]], threads: int = THREADS
                 ) -> list[Any]:
    """``work(client, thread_index)`` in ``threads`` threads, each with its own connection,
    all released at once; returns the concatenated results. Any exception in a thread
    fails the test."""
    barrier = threading.Barrier(threads)

    def run(index: int) -> list[Any]:
        client = Client(server, headers)
        try:
            barrier.wait(timeout=30)
            return work(client, index)
        finally:
            client.close()

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(run, i) for i in range(threads)]
        return [r for f in futures for r in f.result(timeout=RACE_TIMEOUT)]


def race(server: Server, headers: dict[str, str], work: Callable[[Client], list[Any]],
         threads: int = THREADS) -> list[Any]:
    """``race_indexed`` for work that does not care which thread it runs in."""
    return race_indexed(server, headers, lambda client, _index: work(client), threads)


def create(server: Server, path: str, body: Any, headers: dict[str, str]) -> Any:
    """POST that must succeed; the created resource."""
    status, answer = server.request("POST", path, body, headers=headers)
    assert status == 201, (answer, server.log()[-5000:])
    return next(iter(answer.values()))


def error_type(body: Any) -> str | None:
    return body.get("NeutronError", {}).get("type") if isinstance(body, dict) else None


def db_rows(db_url: str, query: sa.Executable) -> Any:
    """The rows of ``query``, read straight from the database (not through the API)."""
    engine = sa.create_engine(db_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return conn.execute(query).all()
    finally:
        engine.dispose()
