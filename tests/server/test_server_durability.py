"""No acknowledged write is lost or damaged (issue 10, item 1), short of a crash.

The SIGKILL test is ``test_server_crash.py``. Here: non-finite numbers are refused with the 400
envelope before anything is stored, every write goes through the one storage lock, concurrent
read-modify-writes keep every update, and a damaged vector cannot turn a search into a 500.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.server import LexicalEmbedder
from langchain_zilliz_bailian.server.storage import InvalidValueError, Storage
from tests.server.conftest import create_search, create_text_ingestion, ok, search, unique

APP = "/api/v1/apps/0123456789abcdef0123456789abcdef/completion"


@pytest.fixture(scope="module")
def typed(http: httpx.Client) -> dict[str, str]:
    """Text pipelines whose collection preserves a Float and a Double."""
    collection = unique("typed")
    ingestion = create_text_ingestion(http, collection, f32="Float", f64="Double")
    return {"ingestion": ingestion, "search": create_search(http, collection)}


def _stored(http: httpx.Client, pipes: dict[str, str]) -> int:
    return len(ok(search(http, pipes["search"], "value", limit=500))["result"])


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"data": {"text_list": ["value"], "f32": NaN, "f64": 1.0}}', "NaN"),
        ('{"data": {"text_list": ["value"], "f32": 1.0, "f64": Infinity}}', "Infinity"),
        ('{"data": {"text_list": ["value"], "f32": 1.0, "f64": -Infinity}}', "-Infinity"),
        ('{"data": {"text_list": ["value"], "f32": 1.0, "f64": 1e400}}', "out of range"),
        ('{"data": {"text_list": ["value"], "f32": 1e39, "f64": 1.0}}', "expected Float"),
        ('{"data": {"text_list": ["value"], "f32": -3.5e38, "f64": 1.0}}', "expected Float"),
        # Integers too large for a double (float() overflows rather than giving inf).
        ('{"data": {"text_list": ["value"], "f32": 1.0, "f64": 1' + "0" * 400 + "}}", "Double"),
        ('{"data": {"text_list": ["value"], "f32": -1' + "0" * 39 + ', "f64": 1.0}}', "Float"),
    ],
)
def test_non_finite_numbers_are_refused_before_anything_is_stored(
    http: httpx.Client, typed: dict[str, str], raw: str, fragment: str
) -> None:
    before = _stored(http, typed)
    resp = http.post(
        f"/v1/pipelines/{typed['ingestion']}/run",
        content=raw.encode(),
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"code", "message"} and body["code"] == 80000
    assert fragment in body["message"]
    assert _stored(http, typed) == before


def test_float_and_double_limits_are_kept_exactly(
    http: httpx.Client, typed: dict[str, str]
) -> None:
    data = {"text_list": ["value at the limits"], "f32": 3.4e38, "f64": 1.7976931348623157e308}
    ok(http.post(f"/v1/pipelines/{typed['ingestion']}/run", json={"data": data}))
    hits = ok(search(http, typed["search"], "value at the limits", output_fields=["f32", "f64"]))
    top = hits["result"][0]
    assert math.isclose(top["f32"], 3.4e38, rel_tol=1e-6) and top["f64"] == 1.7976931348623157e308


def test_nan_in_multipart_data_and_bailian_bodies_is_400(http: httpx.Client) -> None:
    from tests.server.conftest import make_doc_pipelines

    docs = make_doc_pipelines(http, unique("nan_docs"))
    resp = http.post(
        f"/v1/pipelines/{docs['ingestion']}/run_ingestion_with_file",
        files={"file": ("a.md", b"# A\n\ntext", "text/markdown")},
        data={"data": '{"year": NaN}'},
    )
    assert resp.status_code == 400 and resp.json()["code"] == 80000
    assert "NaN" in resp.json()["message"]
    resp = http.post(
        APP,
        content=b'{"input": {"prompt": "hi"}, "parameters": {"temperature": NaN}}',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    body = resp.json()
    assert body["code"] == "InvalidParameter" and set(body) == {"code", "message", "request_id"}


def test_concurrent_usage_updates_are_all_kept(http: httpx.Client, typed: dict[str, str]) -> None:
    run = f"/v1/pipelines/{typed['ingestion']}/run"
    before = ok(http.get(f"/v1/pipelines/{typed['ingestion']}"))["totalUsage"]["embedding"]

    def ingest(i: int) -> int:
        data = {"text_list": [f"value {i} one two three"], "f32": 1.0, "f64": 2.0}
        return int(ok(http.post(run, json={"data": data}))["usage"]["embedding"])

    with ThreadPoolExecutor(8) as pool:
        spent = sum(pool.map(ingest, range(16)))
    after = ok(http.get(f"/v1/pipelines/{typed['ingestion']}"))["totalUsage"]["embedding"]
    assert after - before == spent


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    store = Storage(tmp_path / "direct")
    store.create_data_collection("direct", "text", {"f32": "Float"}, LexicalEmbedder().dim)
    yield store
    store.close()


def _row(text: str, **extra: Any) -> dict[str, Any]:
    return {"text": text, "embedding": LexicalEmbedder().embed([text])[0], "f32": 1.0, **extra}


def test_storage_refuses_non_finite_rows_and_writes_only_under_its_lock(storage: Storage) -> None:
    vector = LexicalEmbedder().embed(["x"])[0]
    bad_rows = [
        _row("nan scalar", f32=math.nan),
        _row("float32 overflow", f32=1e39),
        {**_row("nan vector"), "embedding": [math.nan, *vector[1:]]},
        {**_row("inf vector"), "embedding": [math.inf, *vector[1:]]},
        {**_row("huge vector"), "embedding": [1e39, *vector[1:]]},
    ]
    for row in bad_rows:
        with pytest.raises(InvalidValueError):
            storage.insert("direct", [_row("good"), row])
    assert storage.count("direct", "") == 0
    assert len(storage.insert("direct", [_row("good")])) == 1
    with pytest.raises(AssertionError, match="_write"):
        storage._call("insert", "direct", [_row("bypass")])
    with pytest.raises(AssertionError, match="_call"):
        storage._write("query", "direct", filter="")
    assert storage.count("direct", "") == 1


def test_concurrent_inserts_and_meta_updates_are_serialised(storage: Storage) -> None:
    storage.put_meta("session", "0" * 32, {"turns": []})

    def work(i: int) -> list[int]:
        storage.update_meta(
            "session", "0" * 32, lambda rec: {"turns": [*(rec or {"turns": []})["turns"], i]}
        )
        return storage.insert("direct", [_row(f"row {i} {k}") for k in range(4)])

    with ThreadPoolExecutor(8) as pool:
        ids = [i for batch in pool.map(work, range(40)) for i in batch]
    assert len(set(ids)) == 160
    rows = storage.get_rows("direct", ids, ["id", "text"])
    assert len(rows) == 160
    record = storage.get_meta("session", "0" * 32)
    assert record is not None and sorted(record["turns"]) == list(range(40))


def test_a_damaged_vector_never_reaches_a_response(storage: Storage) -> None:
    good = _row("good row")
    good["id"] = 1
    damaged = {**_row("damaged row"), "id": 2}
    damaged["embedding"] = [math.nan] * len(damaged["embedding"])
    storage._write("insert", "direct", [good, damaged])  # as a corrupted log would leave it
    hits = storage.search("direct", LexicalEmbedder().embed(["row"])[0], 10, 0, "", ["text"])
    assert [h.id for h in hits] == [1]
    assert all(math.isfinite(h.distance) for h in hits)
    json.dumps([h.distance for h in hits], allow_nan=False)
