"""A turn the server cannot store is answered in the Bailian envelope, never a cut stream."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.storage import StorageError
from tests.server.conftest import parse_sse
from tests.server.test_server_bailian import APP

SSE = {"X-DashScope-SSE": "enable"}


@contextlib.contextmanager
def failing_sessions(server: LocalServer) -> Iterator[list[str]]:
    """Session writes raise (as a storage outage would) while inside; other writes go through.
    Yields the session keys whose write was attempted."""
    storage = server.app.state.context.apps.storage
    update_meta = storage.update_meta
    attempted: list[str] = []

    def failing(kind: str, key: str, change: Any) -> Any:
        if kind == "session":
            attempted.append(key)
            raise StorageError("disk full (test)")
        return update_meta(kind, key, change)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(storage, "update_meta", failing)
        yield attempted


def check_envelope(data: dict[str, Any], request_id: str) -> None:
    assert set(data) == {"code", "message", "request_id"}
    assert data["code"] == "InternalError"
    assert "could not be stored" in data["message"] and "disk full" not in data["message"]
    assert data["request_id"] == request_id


def check_healthy(http: httpx.Client) -> None:
    """A later turn is answered and stored normally once storage works again."""
    first = http.post(APP, json={"input": {"prompt": "Still there?"}})
    assert first.status_code == 200
    sid = first.json()["output"]["session_id"]
    second = http.post(APP, json={"input": {"prompt": "And now?", "session_id": sid}})
    assert '"Still there?"' in second.json()["output"]["text"]


def test_a_stream_whose_turn_cannot_be_stored_ends_with_an_error_event(
    http: httpx.Client, server: LocalServer
) -> None:
    body = {"input": {"prompt": "Remember me."}, "parameters": {"incremental_output": True}}
    with failing_sessions(server) as attempted:
        response = http.post(APP, json=body, headers=SSE)
    assert attempted  # the failure came from the session write
    assert response.status_code == 200  # the head had gone out with the first delta
    events = parse_sse(response.content)
    assert [e["event"] for e in events] == ["result"] * (len(events) - 1) + ["error"]
    assert len(events) > 1
    assert all(e["data"]["output"]["finish_reason"] == "null" for e in events[:-1])
    error = events[-1]
    assert error["status"] == 500 and error["id"] == str(len(events))
    check_envelope(error["data"], response.headers["x-request-id"])
    check_healthy(http)


def test_a_json_turn_that_cannot_be_stored_is_a_500_envelope(
    http: httpx.Client, server: LocalServer
) -> None:
    with failing_sessions(server) as attempted:
        response = http.post(APP, json={"input": {"prompt": "Remember me."}})
    assert len(attempted) == 1
    assert response.status_code == 500
    check_envelope(response.json(), response.headers["x-request-id"])
    check_healthy(http)
