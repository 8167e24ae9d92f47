"""Fault injection, driven at run time through ``/_admin/faults`` like a client test would.

The admin routes need ``admin_key`` (off otherwise), so this module runs its own server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from tests.server.conftest import make_text_pipelines, ok, parse_sse, unique

APP = "/api/v1/apps/faults_app/completion"
SSE = {"X-DashScope-SSE": "enable"}
LONG_PROMPT = " ".join(f"word{i}" for i in range(40))
ADMIN_KEY = "admin-only-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    data_dir: Path = tmp_path_factory.mktemp("zb-faults")
    with LocalServer(
        data_dir=data_dir,
        stream_interval_ms=1,
        admin_key=ADMIN_KEY,
        embedding_fallback=True,
        any_app_id=True,
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server: LocalServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def admin(server: LocalServer) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        yield client


def faults(admin: httpx.Client, **patch: Any) -> dict[str, Any]:
    r = admin.post("/_admin/faults", json=patch)
    assert r.status_code == 200, r.text
    state: dict[str, Any] = r.json()
    return state


@pytest.fixture(scope="module")
def pipes(http: httpx.Client) -> dict[str, str]:
    return make_text_pipelines(http, unique("faults"))


def test_admin_endpoint_needs_the_admin_key_and_validates(
    server: LocalServer, http: httpx.Client, admin: httpx.Client
) -> None:
    assert httpx.post(f"{server.url}/_admin/faults", json={"rate_429": 1.0}).status_code == 401
    refused = http.post("/_admin/faults", json={"rate_429": 1.0})  # the data key is not enough
    assert refused.status_code == 401 and set(refused.json()) == {"code", "message"}
    assert admin.post("/_admin/faults", json={"rate_429": 2}).status_code == 400
    assert admin.post("/_admin/faults", json={"bogus": 1}).status_code == 400
    bad_kind = {"fail_next": {"kind": "teapot"}}
    assert admin.post("/_admin/faults", json=bad_kind).status_code == 400
    state = admin.get("/_admin/faults").json()
    assert state["rate_429"] == 0.0 and state["fail_next"] == []
    assert http.get("/v1/pipelines", params={"projectId": "proj-empty"}).status_code == 200


@pytest.mark.parametrize(
    "patch",
    [
        {"latency_ms": 1e9},
        {"latency_ms": 60_001},
        {"latency_ms": -1},
        {"latency_ms": "100"},
        {"retry_after_s": 100_000},
        {"rate_500": 1.5},
        {"rate_429": -0.1},
        {"rate_429": True},
        {"stream_error_after": 10**9},
        {"drop_after": 1.5},
        {"seed": 2**70},
        {"fail_next": {"kind": "latency", "ms": 10**9}},
        {"fail_next": {"kind": "429", "count": 10**9}},
        {"fail_next": {"kind": "drop", "after": -1}},
        {"fail_next": [{"kind": "500"}] * 101},
    ],
)
def test_fault_parameters_out_of_bounds_are_400_and_change_nothing(
    admin: httpx.Client, patch: dict[str, Any]
) -> None:
    before = admin.get("/_admin/faults").json()
    r = admin.post("/_admin/faults", json=patch)
    assert r.status_code == 400, r.text
    assert r.json()["code"] == 80000 and "Invalid fault settings" in r.json()["message"]
    assert admin.get("/_admin/faults").json() == before


def test_fail_next_429_is_exact_and_scoped(
    http: httpx.Client, admin: httpx.Client, pipes: dict[str, str]
) -> None:
    faults(admin, fail_next={"kind": "429", "count": 2, "scope": "zilliz"}, retry_after_s=3)
    url = f"/v1/pipelines/{pipes['search']}"
    # A Bailian call does not consume a zilliz-scoped fault.
    assert http.post(APP, json={"input": {"prompt": "hi"}}).status_code == 200
    for _ in range(2):
        r = http.get(url)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "3"
        assert r.json()["code"] == 429 and "message" in r.json()
    assert http.get(url).status_code == 200
    assert admin.get("/_admin/faults").json()["injected"]["429"] == 2


def test_fail_next_500_on_bailian_json_and_sse(http: httpx.Client, admin: httpx.Client) -> None:
    faults(admin, fail_next={"kind": "500", "count": 2, "scope": "bailian"})
    r = http.post(APP, json={"input": {"prompt": "hi"}})
    assert r.status_code == 500
    assert r.json()["code"] == "InternalError" and r.json()["request_id"]
    r = http.post(APP, json={"input": {"prompt": "hi"}}, headers=SSE)
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/event-stream")
    (ev,) = parse_sse(r.content)
    assert ev["lines"][:3] == ["id:1", "event:error", ":HTTP_STATUS/500"]
    assert http.post(APP, json={"input": {"prompt": "hi"}}).status_code == 200


def test_rate_429_uses_throttling_envelope_with_retry_after(
    http: httpx.Client, admin: httpx.Client
) -> None:
    faults(admin, rate_429=1.0, scope="bailian", retry_after_s=2)
    r = http.post(APP, json={"input": {"prompt": "hi"}})
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert r.json()["code"] == "Throttling.RateQuota"
    assert http.get("/v1/pipelines", params={"projectId": "proj-empty"}).status_code == 200


def test_seeded_rates_are_deterministic(http: httpx.Client, admin: httpx.Client) -> None:
    def pattern() -> list[int]:
        faults(admin, reset=True, rate_500=0.4, rate_429=0.2, seed=1234)
        return [
            http.get("/v1/pipelines", params={"projectId": "proj-empty"}).status_code
            for _ in range(12)
        ]

    first, second = pattern(), pattern()
    assert first == second
    assert {200, 500} <= set(first)


def test_latency(http: httpx.Client, admin: httpx.Client) -> None:
    faults(admin, latency_ms=250)
    start = time.perf_counter()
    assert http.get("/v1/pipelines", params={"projectId": "proj-empty"}).status_code == 200
    assert time.perf_counter() - start >= 0.25
    faults(admin, reset=True, fail_next={"kind": "latency", "ms": 500})
    start = time.perf_counter()
    http.post(APP, json={"input": {"prompt": "hi"}})
    assert time.perf_counter() - start >= 0.5
    assert faults(admin)["fail_next"] == []  # used up by that one request
    start = time.perf_counter()
    http.post(APP, json={"input": {"prompt": "hi"}})
    assert time.perf_counter() - start < 0.5


def test_stream_error_event_after_n_events(http: httpx.Client, admin: httpx.Client) -> None:
    faults(admin, stream_error_after=3)
    body = {"input": {"prompt": LONG_PROMPT}, "parameters": {"incremental_output": True}}
    # Non-stream calls are unaffected by stream faults.
    assert http.post(APP, json={"input": {"prompt": "hi"}}).status_code == 200
    r = http.post(APP, json=body, headers=SSE)
    assert r.status_code == 200
    events = parse_sse(r.content)
    assert [ev["event"] for ev in events] == ["result"] * 3 + ["error"]
    err = events[-1]
    assert err["lines"][:3] == ["id:4", "event:error", ":HTTP_STATUS/400"]
    assert err["data"]["code"] == "DataInspectionFailed"
    assert err["data"]["request_id"] == events[0]["data"]["request_id"]
    assert all(ev["data"]["output"]["finish_reason"] == "null" for ev in events[:3])


def test_dropped_connection_mid_stream(http: httpx.Client, admin: httpx.Client) -> None:
    faults(admin, fail_next={"kind": "drop", "after": 2})
    body = {"input": {"prompt": LONG_PROMPT}, "parameters": {"incremental_output": True}}
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream("POST", APP, json=body, headers=SSE) as r,
    ):
        assert r.status_code == 200
        for chunk in r.iter_raw():
            received += chunk
    events = parse_sse(received)
    assert [ev["id"] for ev in events] == ["1", "2"]
    assert all(ev["data"]["output"]["finish_reason"] == "null" for ev in events)
    # The planned fault was consumed: the next stream completes.
    r = http.post(APP, json=body, headers=SSE)
    assert parse_sse(r.content)[-1]["data"]["output"]["finish_reason"] == "stop"


def test_python_side_injector_is_the_same_state(
    server: LocalServer, http: httpx.Client, admin: httpx.Client
) -> None:
    server.faults.update({"fail_next": {"kind": "500"}})
    assert admin.get("/_admin/faults").json()["fail_next"][0]["kind"] == "500"
    assert http.get("/v1/pipelines", params={"projectId": "proj-empty"}).status_code == 500
    assert ok(http.get("/v1/pipelines", params={"projectId": "proj-empty"})) == []
