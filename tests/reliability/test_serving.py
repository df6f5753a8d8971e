"""Serving under abusive clients (issue #9): real sockets against a real server subprocess.

Idle and slowloris connections do not stall other clients; bodies over
max_request_body_size are refused (413) before they are read and stalled uploads keep
memory bounded; bodies must be JSON (415); every answer of the HTTP layer is a NeutronError;
workers die with their parent; the API runs under another WSGI server as
neutrino.wsgi:application; with Keystone, no token is 401 whatever delay_auth_decision says.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.functional.conftest import keystone  # noqa: F401  (the session's real Keystone)
from tests.support.keystone import ALICE, Keystone
from tests.support.server import Server, free_port, write_config
from tests.support.wait import wait_until

LIMIT = 114688  # Neutron's default max_request_body_size
REQUEST_TIMEOUT = 3  # client_request_timeout of the servers here, seconds


def _conf(**extra: Any) -> dict[str, dict[str, Any]]:
    return {"DEFAULT": {"client_request_timeout": REQUEST_TIMEOUT, **extra}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Two API processes, as the findings were made with."""
    workdir = tmp_path_factory.mktemp("serving")
    with Server(f"sqlite:///{workdir / 'neutrino.sqlite'}", workdir, workers=2,
                conf=_conf()) as srv:
        yield srv


@pytest.fixture(scope="module", autouse=True)
def _enough_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))


# --- helpers -------------------------------------------------------------------------------
def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _read_response(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response from a raw socket (status, lower-cased headers, body)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def _raw(port: int, data: bytes, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
    with _connect(port) as sock:
        sock.sendall(data)
        return _read_response(sock, timeout)


def _neutron_error(body: bytes, type_: str | None = None) -> dict[str, str]:
    err = json.loads(body)["NeutronError"]
    assert set(err) == {"type", "message", "detail"}, err
    if type_ is not None:
        assert err["type"] == type_, err
    return err


def _timed_get(port: int, path: str = "/v2.0/networks", timeout: float = 5
               ) -> tuple[int, float]:
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, time.monotonic() - started
    finally:
        conn.close()


def _server_pids(srv: Server) -> list[int]:
    """The server's processes: its session (the parent and the workers it forked)."""
    assert srv.proc is not None
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry)) == srv.proc.pid:
                    pids.append(int(entry))
    return pids


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- idle and slow clients -----------------------------------------------------------------
def test_idle_and_slowloris_connections_do_not_stall_new_clients(server: Server) -> None:
    idle: list[socket.socket] = []
    slow: list[socket.socket] = []
    try:
        for _ in range(500):
            idle.append(_connect(server.port))
        for i in range(200):
            s = _connect(server.port)
            s.sendall(b"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Slow-%d: a" % i)
            slow.append(s)
        for _ in range(5):
            for s in slow:  # keep them trickling, as slowloris does
                s.sendall(b"a")
            status, took = _timed_get(server.port)
            assert status == 200
            assert took < 1.0, f"GET took {took:.2f}s with 500 idle and 200 slow clients"
    finally:
        for s in idle + slow:
            s.close()


def test_a_request_not_received_in_time_is_answered_408(server: Server) -> None:
    with _connect(server.port) as s:
        s.sendall(b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Type: applic")
        started = time.monotonic()
        answer: list[tuple[int, dict[str, str], bytes]] = []

        def trickle() -> bool:  # a byte every 0.2 s: never idle, never done
            try:
                s.sendall(b"a")
                s.settimeout(0.2)
                answer.append(_read_response(s, 0.2))
                return True
            except (TimeoutError, BlockingIOError):
                return False
            except OSError:
                return True

        wait_until(trickle, REQUEST_TIMEOUT + 10, 0)  # trickle paces itself
        assert answer, "the connection was dropped without an answer"
        status, _, body = answer[0]
        assert status == 408
        _neutron_error(body, "HTTPRequestTimeout")
        assert time.monotonic() - started >= REQUEST_TIMEOUT - 0.5


# --- bodies ----------------------------------------------------------------------------------
def test_body_over_the_limit_is_refused_before_it_is_read(server: Server) -> None:
    with _connect(server.port) as s:
        s.sendall(b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n")
        status, headers, body = _read_response(s, 5)  # nothing of the 50 MB was sent
    assert status == 413
    _neutron_error(body, "HTTPRequestEntityTooLarge")
    assert headers.get("connection") == "close"
    # a client that waits for "100 Continue" is not invited to send the body
    with _connect(server.port) as s:
        s.sendall(b"PUT /v2.0/networks/x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 52428800\r\n\r\n")
        status, headers, body = _read_response(s, 5)
    assert status == 413
    # exactly the limit is still accepted (as Neutron's limiter: larger than, not equal)
    name = "n" * 10
    payload = json.dumps({"network": {"name": name, "description": ""}})
    padded = payload[:-2] + " " * (LIMIT - len(payload)) + payload[-2:]
    assert len(padded) == LIMIT
    status, _ = server.request("POST", "/v2.0/networks", raw=padded.encode())
    assert status == 201


def test_chunked_body_is_cut_off_at_the_limit(server: Server) -> None:
    with _connect(server.port) as s:
        s.sendall(b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (8192, b" " * 8192)
        sent = 0
        with contextlib.suppress(OSError):  # the server may close mid-upload
            while sent < 4 * LIMIT:
                s.sendall(chunk)
                sent += 8192
        status, _, body = _read_response(s, 5)
    assert status == 413
    _neutron_error(body, "HTTPRequestEntityTooLarge")


def test_stalled_and_huge_uploads_keep_memory_bounded(server: Server) -> None:
    pids = _server_pids(server)
    assert len(pids) >= 3  # the arbiter and two workers
    before = _rss_kb(pids)
    stalled: list[socket.socket] = []
    try:
        # 40 uploads that stop just short of their end, each body as large as allowed
        for _ in range(40):
            s = _connect(server.port)
            s.sendall(b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n" % LIMIT)
            s.sendall(b"{" + b" " * (LIMIT - 100))
            stalled.append(s)
        # 8 at 50 MB each: refused from their Content-Length, their bodies never sent
        for _ in range(8):
            status, _, _ = _raw(server.port, b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Type: application/json\r\n"
                                   b"Content-Length: 52428800\r\n\r\n")
            assert status == 413
        status, took = _timed_get(server.port)
        assert status == 200 and took < 1.0, took
        grown_mb = (_rss_kb(pids) - before) / 1024
        # 40 x 112 KB buffered is 4.5 MB; a server that took the 50 MB bodies in grows by
        # hundreds of MB
        assert grown_mb < 40, f"server processes grew by {grown_mb:.0f} MB"
    finally:
        for s in stalled:
            s.close()


# --- content types ---------------------------------------------------------------------------
REFUSED_TYPES = ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                 "multipart/form-data; boundary=x", "application/xml", "text/xml"]


def test_bodies_must_be_json_415_otherwise(server: Server) -> None:
    for content_type in REFUSED_TYPES:
        name = f"ct-{uuid.uuid4().hex[:8]}"
        body = json.dumps({"network": {"name": name}}).encode()
        status, err = server.request("POST", "/v2.0/networks", raw=body,
                                     headers={"Content-Type": content_type})
        assert status == 415, (content_type, err)
        assert err["NeutronError"]["type"] == "HTTPUnsupportedMediaType"
        status, listed = server.request("GET", f"/v2.0/networks?name={name}")
        assert listed["networks"] == [], content_type
        status, err = server.request("PUT", "/v2.0/networks/whatever", raw=body,
                                     headers={"Content-Type": content_type})
        assert status == 415, (content_type, err)

    # JSON with a charset is JSON
    body = json.dumps({"network": {"name": "json-charset"}}).encode()
    status, created = server.request("POST", "/v2.0/networks", raw=body,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
    assert status == 201, created
    net = created["network"]["id"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        # no Content-Type at all: refused too (a cross-site fetch() of a Blob sends none)
        conn.putrequest("POST", "/v2.0/networks")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        assert resp.status == 415, resp.read()
        assert json.loads(resp.read())["NeutronError"]["type"] == "HTTPUnsupportedMediaType"
        # an action with an empty body and no Content-Type: unchanged
        conn.putrequest("PUT", f"/v2.0/networks/{net}/tags/red")
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 201
    finally:
        conn.close()


# --- errors of the HTTP layer ----------------------------------------------------------------
HTTP_LAYER_ERRORS = [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n", 400),
    (b"GET /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n", 400),
    (b"GET /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    (b"PATCH /v2.0/networks HTTP/1.1\r\nHost: x\r\n\r\n", 405),
]


def test_http_layer_errors_are_neutron_errors(server: Server) -> None:
    for request_bytes, status in HTTP_LAYER_ERRORS:
        got, headers, body = _raw(server.port, request_bytes)
        case = request_bytes[:60]
        assert got == status, (case, body)
        assert headers["content-type"].startswith("application/json"), (case, headers)
        _neutron_error(body)


def test_errors_quote_only_a_prefix_of_a_huge_value(server: Server) -> None:
    huge = "x" * 100_000  # under the body limit
    status, err = server.request("POST", "/v2.0/networks", {"network": {"name": huge}})
    assert status == 400
    message = err["NeutronError"]["message"]
    assert len(message) < 2100 and "x" * 200 in message, message[:300]


# --- processes -------------------------------------------------------------------------------
def test_workers_stop_on_sigterm_and_die_with_their_parent(tmp_path: Path) -> None:
    for how in ("SIGTERM", "SIGKILL"):
        workdir = tmp_path / how
        srv = Server(f"sqlite:///{workdir / 'n.sqlite'}", workdir, workers=2).start()
        try:
            assert srv.proc is not None
            parent = srv.proc.pid
            wait_until(lambda s=srv: len(_server_pids(s)) >= 3, 20)
            workers = [p for p in _server_pids(srv) if p != parent]
            assert srv.request("GET", "/v2.0/networks")[0] == 200
            if how == "SIGTERM":
                os.kill(parent, signal.SIGTERM)
                assert srv.proc.wait(timeout=20) == 0
            else:
                os.kill(parent, signal.SIGKILL)
                srv.proc.wait(timeout=5)
            wait_until(lambda ws=workers: not any(_alive(p) for p in ws), 5,
                       what=f"the workers gone after the parent's {how}")
            with pytest.raises(OSError):
                _timed_get(srv.port, timeout=2)
        finally:
            for pid in _server_pids(srv):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


# --- under another WSGI server ---------------------------------------------------------------
def test_the_api_runs_as_a_wsgi_application_under_gunicorn(tmp_path: Path) -> None:
    port = free_port()
    conf = write_config(tmp_path / "neutrino.conf", {
        "DEFAULT": {"state_path": str(tmp_path), "max_request_body_size": 4096},
        "database": {"connection": f"sqlite:///{tmp_path / 'n.sqlite'}"}})
    env = {**os.environ, "NEUTRINO_CONFIG_FILES": str(conf)}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    # gunicorn's own threaded worker: not the front neutrino serves with by default
    proc = subprocess.Popen(
        [gunicorn, "--worker-class", "gthread", "--workers", "2", "--threads", "4",
         "--bind", f"127.0.0.1:{port}", "neutrino.wsgi:application"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    srv = Server(f"sqlite:///{tmp_path / 'n.sqlite'}", tmp_path)
    srv.port = port
    try:
        def up() -> bool:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                return srv.request("GET", "/")[0] == 200
            except OSError:
                return False

        wait_until(up, 60, 0.2)
        status, created = srv.request("POST", "/v2.0/networks", {"network": {"name": "g"}})
        assert status == 201, created
        status, listed = srv.request("GET", "/v2.0/networks?name=g")
        assert [n["id"] for n in listed["networks"]] == [created["network"]["id"]]
        # the configured limit and the JSON-only rule hold under this server too
        status, err = srv.request("POST", "/v2.0/networks",
                                  {"network": {"name": "x" * 5000}})
        assert status == 413 and err["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"
        status, err = srv.request("POST", "/v2.0/networks", raw=b'{"network": {}}',
                                  headers={"Content-Type": "text/plain"})
        assert status == 415
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


# --- Keystone --------------------------------------------------------------------------------
def test_no_token_is_401_even_with_delay_auth_decision(
        keystone: Keystone, tmp_path: Path) -> None:  # noqa: F811
    conf = {"DEFAULT": {"auth_strategy": "keystone"},
            "keystone_authtoken": {**keystone.authtoken_config(),
                                   "delay_auth_decision": "true"}}
    with Server(f"sqlite:///{tmp_path / 'n.sqlite'}", tmp_path, conf=conf) as srv:
        status, body = srv.request("GET", "/v2.0/networks")
        assert status == 401, body
        status, body = srv.request("GET", "/v2.0/networks",
                                   headers={"X-Auth-Token": "not-a-token"})
        assert status == 401, body
        # identity headers of the caller's own making are not an identity
        status, body = srv.request("POST", "/v2.0/networks", {"network": {"name": "a"}},
                                   headers={"X-Identity-Status": "Confirmed",
                                            "X-Project-Id": "p", "X-User-Id": "u",
                                            "X-Roles": "admin"})
        assert status == 401, body
        token = keystone.token(ALICE)
        status, body = srv.request("GET", "/v2.0/networks", headers={"X-Auth-Token": token})
        assert status == 200, body
        assert srv.request("GET", "/")[0] == 200  # the version document needs no token
