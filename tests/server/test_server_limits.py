"""Bounded and typed (issue 10, item 6): each probe payload gets the route family's envelope and
its documented status, stores nothing, and leaves the server answering the next request."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer, StorageError
from langchain_zilliz_bailian.server.fetch import FetchPolicy, IPAddress
from langchain_zilliz_bailian.server.limits import DEFAULT_MAX_BODY_BYTES
from tests.server.conftest import make_doc_pipelines, make_text_pipelines, ok, set_fetch_policy

APP = "/api/v1/apps/0123456789abcdef0123456789abcdef/completion"
SESSION = "limits0session0000000000000000aa"


@pytest.fixture(scope="module")
def text(http: httpx.Client) -> dict[str, str]:
    collection = "limits_text"
    return {"collection": collection, **make_text_pipelines(http, collection)}


@pytest.fixture(scope="module")
def docs(http: httpx.Client) -> dict[str, str]:
    collection = "limits_docs"
    return {"collection": collection, **make_doc_pipelines(http, collection)}


def stored(server: LocalServer, collection: str) -> int:
    """Rows in ``collection``, read from storage directly."""
    rows: int = server.app.state.context.storage.count(collection, "id >= 0")
    return rows


def zilliz_error(resp: httpx.Response, status: int) -> str:
    """Assert a Zilliz ``{code, message}`` envelope with ``status``; return the message."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message"}, body
    assert body["code"] == (80000 if status == 400 else status)
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


def bailian_error(resp: httpx.Response, status: int, code: str) -> str:
    """Assert a Bailian ``{code, message, request_id}`` envelope; return the message."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "request_id"}, body
    assert body["code"] == code and body["request_id"] == resp.headers["x-request-id"]
    return str(body["message"])


def still_healthy(http: httpx.Client, text: dict[str, str]) -> None:
    """A normal search and a normal completion both succeed afterwards."""
    url = f"/v1/pipelines/{text['search']}/run"
    assert "result" in ok(http.post(url, json={"data": {"query_text": "anything"}}))
    assert http.post(APP, json={"input": {"prompt": "hello"}}).status_code == 200


def unchanged(
    server: LocalServer, http: httpx.Client, text: dict[str, str], collection: str = ""
) -> None:
    """Nothing was stored in ``collection`` (default: the text one) and the server still serves."""
    assert stored(server, collection or text["collection"]) == 0
    still_healthy(http, text)


def ingest_body(size: int) -> bytes:
    """An INDEX_TEXT body of about ``size`` bytes."""
    text = "x" * 60_000
    count = size // len(text) + 1
    data = {"text_list": [text] * count, "year": 2024, "source": "probe"}
    return json.dumps({"data": data}).encode()


def test_oversize_body_with_content_length_is_413_before_it_is_read(
    server: LocalServer, http: httpx.Client, text: dict[str, str]
) -> None:
    body = ingest_body(DEFAULT_MAX_BODY_BYTES + 1024)
    resp = http.post(
        f"/v1/pipelines/{text['ingestion']}/run",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert "exceeds the limit" in zilliz_error(resp, 413)
    unchanged(server, http, text)


def test_oversize_streamed_body_is_413_while_it_is_read(
    server: LocalServer, http: httpx.Client, text: dict[str, str]
) -> None:
    body = ingest_body(DEFAULT_MAX_BODY_BYTES + 1024)

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    resp = http.post(f"/v1/pipelines/{text['ingestion']}/run", content=chunks())
    assert "exceeds the limit" in zilliz_error(resp, 413)
    prompt = {"input": {"prompt": "y" * (DEFAULT_MAX_BODY_BYTES + 10)}}
    raw = json.dumps(prompt).encode()
    resp = http.post(APP, content=iter([raw[: len(raw) // 2], raw[len(raw) // 2 :]]))
    bailian_error(resp, 413, "RequestTooLarge")
    unchanged(server, http, text)


def test_deep_json_is_400_in_both_envelopes(
    server: LocalServer, http: httpx.Client, text: dict[str, str]
) -> None:
    run = f"/v1/pipelines/{text['ingestion']}/run"
    deep = b'{"data": {"text_list": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}"
    resp = http.post(run, content=deep)
    assert "deeper than" in zilliz_error(resp, 400)
    resp = http.post(APP, content=b'{"input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert "deeper than" in bailian_error(resp, 400, "InvalidParameter")
    moderately = b'{"data": {"year": ' + b"[" * 70 + b"]" * 70 + b"}}"
    resp = http.post(run, content=moderately)
    assert "deeper than" in zilliz_error(resp, 400)
    unchanged(server, http, text)


def test_lone_surrogate_is_400_and_nothing_is_stored(
    server: LocalServer, http: httpx.Client, text: dict[str, str]
) -> None:
    raw = b'{"input": {"prompt": "hi \\ud800 there", "session_id": "%s"}}' % SESSION.encode()
    resp = http.post(APP, content=raw)
    assert "surrogate" in bailian_error(resp, 400, "InvalidParameter")
    assert server.app.state.context.storage.get_meta("session", SESSION) is None
    raw = b'{"data": {"text_list": ["a \\udfff b"], "year": 2024, "source": "s"}}'
    resp = http.post(f"/v1/pipelines/{text['ingestion']}/run", content=raw)
    assert "surrogate" in zilliz_error(resp, 400)
    unchanged(server, http, text)


def test_unknown_routes_are_404_in_the_family_envelope(
    http: httpx.Client, text: dict[str, str]
) -> None:
    zilliz_error(http.get("/v1/nothing/here"), 404)
    zilliz_error(http.get("/no-such-route"), 404)
    bailian_error(http.post("/api/v1/apps/x/nothing", json={}), 404, "NotFound")
    still_healthy(http, text)


def test_wrong_methods_are_405_in_the_family_envelope(
    http: httpx.Client, text: dict[str, str]
) -> None:
    resp = http.put("/v1/pipelines", json={})
    zilliz_error(resp, 405)
    assert "POST" in resp.headers["allow"]
    zilliz_error(http.patch(f"/v1/pipelines/{text['search']}"), 405)
    bailian_error(http.get(APP), 405, "MethodNotAllowed")
    still_healthy(http, text)


def test_engine_failures_are_500_in_the_envelope_and_the_server_recovers(
    server: LocalServer,
    http: httpx.Client,
    text: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = server.app.state.context.storage

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("the engine is down")

    def exploding(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("unexpected")

    with monkeypatch.context() as patch:
        patch.setattr(storage, "get_meta", broken)
        message = zilliz_error(http.get(f"/v1/pipelines/{text['search']}"), 500)
        assert "engine is down" not in message  # internals are logged, not sent
        body = {"input": {"prompt": "hi", "session_id": SESSION}}
        bailian_error(http.post(APP, json=body), 500, "InternalError")
    data = {"text_list": ["never stored"], "year": 2024, "source": "s"}
    for failure in (exploding, broken):  # a storage failure is the server's fault: not a 400
        with monkeypatch.context() as patch:
            patch.setattr(storage, "insert", failure)
            resp = http.post(f"/v1/pipelines/{text['ingestion']}/run", json={"data": data})
            zilliz_error(resp, 500)
    assert stored(server, text["collection"]) == 0
    assert storage.get_meta("session", SESSION) is None
    still_healthy(http, text)


# -- doc_url ---------------------------------------------------------------------------------------


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves ``routes[path](handler)``; records every path it was asked for."""

    routes: dict[str, Callable[[http.server.BaseHTTPRequestHandler], None]] = {}
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.routes.get(self.path, lambda h: h.send_error(404))(self)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def files() -> Iterator[Callable[[str], tuple[str, type[_Files]]]]:
    """``files(host)`` starts a file server on ``host``: its base URL and handler class."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(host: str) -> tuple[str, type[_Files]]:
        handler = type("Files", (_Files,), {"routes": {}, "seen": []})
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Srv", (http.server.ThreadingHTTPServer,), {"address_family": family})
        srv = server_class((host, 0), handler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{srv.server_address[1]}", handler

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _markdown(h: http.server.BaseHTTPRequestHandler) -> None:
    payload = b"# Secret\n\nThe internal admin password is hunter2.\n"
    h.send_response(200)
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    h.wfile.write(payload)


@dataclass
class DocProbe:
    """One doc_url probe: start file servers, set the fetch policy, ingest, check the aftermath."""

    server: LocalServer
    http: httpx.Client
    docs: dict[str, str]
    text: dict[str, str]
    files: Callable[[str], tuple[str, type[_Files]]]
    monkeypatch: pytest.MonkeyPatch

    def use(self, policy: FetchPolicy) -> None:
        set_fetch_policy(self.server, self.monkeypatch, policy)

    def ingest(self, url: str) -> httpx.Response:
        run = f"/v1/pipelines/{self.docs['ingestion']}/run"
        return self.http.post(run, json={"data": {"doc_url": url, "year": 2024}})

    def nothing_stored_and_healthy(self) -> None:
        unchanged(self.server, self.http, self.text, self.docs["collection"])


@pytest.fixture
def probe(
    server: LocalServer,
    http: httpx.Client,
    docs: dict[str, str],
    text: dict[str, str],
    files: Callable[[str], tuple[str, type[_Files]]],
    monkeypatch: pytest.MonkeyPatch,
) -> DocProbe:
    return DocProbe(server, http, docs, text, files, monkeypatch)


def test_ssrf_direct_loopback_url_is_refused_by_default(probe: DocProbe) -> None:
    base, handler = probe.files("127.0.0.1")
    handler.routes["/secret.md"] = _markdown
    for url in (f"{base}/secret.md", base.replace("127.0.0.1", "localhost") + "/secret.md"):
        assert "allow-private-fetch" in zilliz_error(probe.ingest(url), 400)
    assert handler.seen == []  # refused before any connection
    probe.nothing_stored_and_healthy()


def test_ssrf_redirect_to_loopback_is_refused_at_the_hop(probe: DocProbe) -> None:
    target, secret = probe.files("127.0.0.1")
    secret.routes["/secret.md"] = _markdown
    front, redirector = probe.files("::1")

    def redirect(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", f"{target}/secret.md")
        h.send_header("Content-Length", "0")
        h.end_headers()

    redirector.routes["/doc.md"] = redirect

    class OnlyTheFront(FetchPolicy):
        """Stands in for a public front server: ::1 passes, every other address is checked."""

        def address_allowed(self, address: IPAddress) -> bool:
            return str(address) == "::1" or super().address_allowed(address)

    probe.use(OnlyTheFront())
    message = zilliz_error(probe.ingest(f"{front}/doc.md"), 400)
    assert "127.0.0.1" in message and "allow-private-fetch" in message
    assert redirector.seen == ["/doc.md"] and secret.seen == []
    probe.nothing_stored_and_healthy()


def test_slow_doc_url_is_cut_at_the_total_deadline(probe: DocProbe) -> None:
    base, handler = probe.files("127.0.0.1")

    def trickle(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        try:
            for _ in range(100):  # one byte every 0.1 s: each read is quick, the whole is not
                h.wfile.write(b"a")
                h.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    handler.routes["/slow.md"] = trickle
    probe.use(FetchPolicy(allow_private=True, deadline_s=1.0))
    started = time.monotonic()
    message = zilliz_error(probe.ingest(f"{base}/slow.md"), 400)
    assert "within 1 s" in message
    assert time.monotonic() - started < 4
    probe.nothing_stored_and_healthy()


def test_oversize_doc_url_is_refused_while_downloading(probe: DocProbe) -> None:
    base, handler = probe.files("127.0.0.1")

    def endless(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)  # no Content-Length: the size is only known by counting
        h.end_headers()
        try:
            for _ in range(64):  # up to 16 MB, 256 KB at a time
                h.wfile.write(b"word " * 52_429)
        except OSError:
            pass

    handler.routes["/big.md"] = endless
    probe.use(FetchPolicy(allow_private=True))
    assert "10 MB limit" in zilliz_error(probe.ingest(f"{base}/big.md"), 400)
    probe.nothing_stored_and_healthy()
