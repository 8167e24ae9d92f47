"""Persistence across restarts on the same data dir, plus constructor options (legacy, defaults)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from langchain_zilliz_bailian.server import LocalServer
from tests.server.conftest import make_text_pipelines, ok, search

TEXTS = ["The archive keeps invoices for seven years.", "Backups run every night at two."]
APP = "/api/v1/apps/restart_app/completion"


def _client(srv: LocalServer) -> httpx.Client:
    return httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.api_key}"})


def test_restart_keeps_pipelines_data_and_sessions(tmp_path: Path) -> None:
    with (
        LocalServer(
            data_dir=tmp_path, stream_interval_ms=0, embedding_fallback=True, any_app_id=True
        ) as srv,
        _client(srv) as http,
    ):
        pipes = make_text_pipelines(http, "persisted")
        ids = ok(
            http.post(
                f"/v1/pipelines/{pipes['ingestion']}/run",
                json={"data": {"text_list": TEXTS, "year": 2021, "source": "ops"}},
            )
        )["ids"]
        before = ok(http.get(f"/v1/pipelines/{pipes['search']}"))
        first = http.post(APP, json={"input": {"prompt": "How long are invoices kept?"}}).json()
        sid = first["output"]["session_id"]

    # Same directory, new process state; legacy quirks and a default knowledge base switched on.
    with (
        LocalServer(
            data_dir=tmp_path,
            api_key="second-key",
            legacy=True,
            default_pipeline_ids=[pipes["search"]],
            stream_interval_ms=0,
            any_app_id=True,
        ) as srv,
        _client(srv) as http,
    ):
        assert ok(http.get(f"/v1/pipelines/{pipes['search']}")) == before
        data = ok(
            search(http, pipes["search"], "how long are invoices kept", output_fields=["year"])
        )
        top = data["result"][0]
        # Legacy variants: numeric-string ids and a flat token_usage.
        assert top["id"] == str(ids[0]) and top["text"] == TEXTS[0] and top["year"] == 2021
        assert "usage" not in data and isinstance(data["token_usage"], int)
        ingest = ok(
            http.post(
                f"/v1/pipelines/{pipes['ingestion']}/run",
                json={"data": {"text_list": ["x y"], "year": 1, "source": "s"}},
            )
        )
        assert set(ingest) == {"num_entities", "ids", "token_usage"}
        # Legacy bad token: HTTP 200 with the success code and no data (Z2).
        r = httpx.get(
            f"{srv.url}/v1/pipelines/{pipes['search']}", headers={"Authorization": "Bearer x"}
        )
        assert r.status_code == 200 and r.json() == {
            "code": 200,
            "message": "The token is illegal.",
        }

        # Default pipeline ids serve apps without rag_options; the session survived the restart.
        fresh = http.post(APP, json={"input": {"prompt": "How long are invoices kept?"}}).json()
        assert "seven years" in fresh["output"]["text"]
        assert fresh["output"]["doc_references"][0]["text"] == TEXTS[0]
        again = http.post(
            APP, json={"input": {"prompt": "How long are invoices kept?", "session_id": sid}}
        ).json()
        assert again["output"]["session_id"] == sid
        fresh_in = fresh["usage"]["models"][0]["input_tokens"]
        assert again["usage"]["models"][0]["input_tokens"] > fresh_in

    # A separate process (the CLI) opens the same directory once the server above has released it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cmd = [sys.executable, "-m", "langchain_zilliz_bailian", "serve", "--port", str(port)]
    cmd += ["--data-dir", str(tmp_path), "--api-key", "cli-key", "--log-level", "warning"]
    cmd += ["--any-app-id"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(base + "/health")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline
                time.sleep(0.05)
        auth = {"Authorization": "Bearer cli-key"}
        with httpx.Client(base_url=base, headers=auth) as http:
            hits = ok(search(http, pipes["search"], "nightly backups"))["result"]
            assert hits[0]["text"] == TEXTS[1] and hits[0]["id"] == ids[1]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
