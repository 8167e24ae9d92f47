"""The app registry: definitions checked, stored in the data dir, managed by the CLI, and resolved
by the server (an undefined id is 404 ``NotFound`` unless the server runs with ``--any-app-id``)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_zilliz_bailian.cli import main
from langchain_zilliz_bailian.server import LocalServer, bailian
from langchain_zilliz_bailian.server.apps import (
    AppCatalog,
    AppRegistry,
    AppSpec,
    AppSpecError,
    UnknownAppError,
    default_app,
)
from langchain_zilliz_bailian.server.errors import BailianError
from langchain_zilliz_bailian.server.responder import Delta, Turn, Usage
from tests.server.conftest import parse_sse

PIPE = "pipe-" + "ab" * 11


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"app_id": "bad id!"}, "app_id"),
        ({"pipeline_ids": ["pipe-x"]}, "pipeline_ids"),
        ({"type": "agent"}, "type"),
        ({"retrieval": {"top_k": 0}}, "top_k"),
        ({"model": {"base_url": "ftp://x", "model": "m"}}, "base_url"),
        ({"model": {"base_url": "http://x", "model": "m", "api_key_env": "A B"}}, "api_key_env"),
        ({"parameters": [{"name": "1city"}]}, "name"),
        ({"api_key": "sk-123"}, "api_key"),  # keys never go into the registry
    ],
)
def test_bad_definitions_are_refused_with_the_field(
    fields: dict[str, object], problem: str
) -> None:
    with pytest.raises(AppSpecError, match=problem) as caught:
        AppSpec.build(**fields)
    assert "sk-123" not in caught.value.message


def test_an_app_id_is_minted_in_the_real_format() -> None:
    spec = AppSpec.build(type="model")
    assert len(spec.app_id) == 32 and int(spec.app_id, 16) >= 0


def test_registry_round_trip_and_duplicates(tmp_path: Path) -> None:
    registry = AppRegistry(tmp_path)
    spec = AppSpec.build(
        app_id="handbook",
        pipeline_ids=[PIPE],
        system_prompt="Answer from the handbook.",
        model={"base_url": "http://127.0.0.1:11434/v1/", "model": "qwen", "api_key_env": "K"},
        parameters=[{"name": "city", "required": True}],
    )
    registry.create(spec)
    assert AppRegistry(tmp_path).get("handbook") == spec  # another process reads the file
    assert spec.model is not None and spec.model.base_url == "http://127.0.0.1:11434/v1"
    with pytest.raises(AppSpecError, match="already exists"):
        registry.create(spec)
    registry.create(spec.model_copy(update={"description": "v2"}), replace=True)
    assert [s.description for s in registry.list()] == ["v2"]
    assert registry.delete("handbook") and not registry.delete("handbook")
    assert json.loads((tmp_path / "apps.json").read_text())["apps"] == []


def test_concurrent_creates_all_survive(tmp_path: Path) -> None:
    def create(n: int) -> None:
        AppRegistry(tmp_path).create(AppSpec.build(app_id=f"app{n}"))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(s.app_id for s in AppRegistry(tmp_path).list()) == sorted(
        f"app{n}" for n in range(16)
    )


def test_catalog_order_and_catch_all(tmp_path: Path) -> None:
    registry = AppRegistry(tmp_path)
    registry.create(AppSpec.build(app_id="shared", description="registry"))
    given = AppSpec.build(app_id="shared", description="given")
    strict = AppCatalog(registry, default_app("main", [PIPE]), [given])
    assert strict.resolve("shared").description == "given"
    assert strict.resolve("main").pipeline_ids == [PIPE] and strict.resolve("main").type == "rag"
    with pytest.raises(UnknownAppError):
        strict.resolve("other")
    loose = AppCatalog(registry, default_app(None, []), catch_all=True)
    assert loose.resolve("other").type == "model"


def test_cli_apps_create_list_show_delete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = str(tmp_path)
    argv = ["apps", "create", "--data-dir", d, "--app-id", "hb", "--pipeline-ids", PIPE]
    assert main([*argv, "--parameter", "city:required:The city", "--top-k", "3"]) == 0
    assert capsys.readouterr().out.strip() == "hb"
    assert main(["apps", "list", "--data-dir", d]) == 0
    assert capsys.readouterr().out.startswith("hb  rag")
    assert main(["apps", "show", "hb", "--data-dir", d]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["retrieval"]["top_k"] == 3
    assert shown["parameters"] == [{"name": "city", "required": True, "description": "The city"}]
    assert main(["apps", "create", "--data-dir", d, "--app-id", "hb"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["apps", "create", "--data-dir", d, "--pipeline-ids", "nope"]) == 2
    assert main(["apps", "delete", "hb", "--data-dir", d]) == 0
    assert main(["apps", "show", "hb", "--data-dir", d]) == 1
    model = ["--model-base-url", "http://127.0.0.1:11434/v1", "--model-name", "qwen2.5"]
    assert main(["apps", "create", "--data-dir", d, "--app-id", "m", *model, "--no-memory"]) == 0
    spec = AppRegistry(tmp_path).get("m")
    assert spec is not None and spec.type == "model" and not spec.memory
    assert spec.model is not None and (spec.model.model, spec.model.api_key_env) == (
        "qwen2.5",
        None,
    )
    slow = [*model, "--model-deadline", "900"]
    assert main(["apps", "create", "--data-dir", d, "--app-id", "slow", *slow]) == 0
    slow_spec = AppRegistry(tmp_path).get("slow")
    assert slow_spec is not None and slow_spec.model is not None
    assert slow_spec.model.deadline_s == 900.0 and spec.model.deadline_s is None
    assert main(["apps", "create", "--data-dir", d, *model, "--model-deadline", "0"]) == 2
    assert "deadline_s" in capsys.readouterr().err
    assert main(["apps", "create", "--data-dir", d, "--model-deadline", "0"]) == 2  # not dropped
    assert "deadline_s" in capsys.readouterr().err
    bad_model = ["--model-base-url", "file:///etc", "--model-name", "x"]
    assert main(["apps", "create", "--data-dir", d, *bad_model]) == 2
    assert "base_url" in capsys.readouterr().err


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with LocalServer(
        data_dir=tmp_path_factory.mktemp("apps-server"),
        default_app_id="main",
        apps=[{"app_id": "given", "type": "model", "system_prompt": "Be brief."}],
        stream_interval_ms=0,
    ) as server:
        yield server


def _ask(server: LocalServer, app_id: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{server.bailian_base_url}/apps/{app_id}/completion",
        json={"input": {"prompt": "Hello there."}},
        headers={"Authorization": f"Bearer {server.api_key}", **headers},
    )


def test_unknown_app_is_404_not_found_envelope(strict_server: LocalServer) -> None:
    r = _ask(strict_server, "0123456789abcdef0123456789abcdef")
    assert r.status_code == 404
    body = r.json()
    assert body["code"] == "NotFound" and "0123456789abcdef" in body["message"]
    assert body["request_id"] == r.headers["x-request-id"]
    sse = _ask(strict_server, "nope", **{"X-DashScope-SSE": "enable"})
    assert sse.status_code == 404
    (event,) = parse_sse(sse.content)
    assert event["lines"][:3] == ["id:1", "event:error", ":HTTP_STATUS/404"]


def test_a_default_server_answers_only_its_default_app_unless_told_otherwise(
    tmp_path: Path,
) -> None:
    with LocalServer(data_dir=tmp_path / "strict", stream_interval_ms=0) as server:
        assert _ask(server, "default").status_code == 200
        assert _ask(server, "a-typo-of-my-app").status_code == 404
    with LocalServer(data_dir=tmp_path / "loose", stream_interval_ms=0, any_app_id=True) as loose:
        assert _ask(loose, "a-typo-of-my-app").status_code == 200


def test_defined_apps_answer(strict_server: LocalServer) -> None:
    assert _ask(strict_server, "main").status_code == 200
    assert _ask(strict_server, "given").status_code == 200
    assert _ask(strict_server, "later").status_code == 404
    AppRegistry(strict_server.data_dir).create(AppSpec.build(app_id="later", type="model"))
    assert _ask(strict_server, "later").status_code == 200  # seen without a restart


class _Scripted:
    """A responder that yields two deltas, failing before or after the first when told to."""

    def __init__(self, fail_at: int | None) -> None:
        self.fail_at = fail_at
        self.turns: list[Turn] = []

    async def respond(self, turn: Turn) -> AsyncIterator[Delta]:
        self.turns.append(turn)
        for n, piece in enumerate(["Hello", " world<ref>[1]</ref>"]):
            if n == self.fail_at:
                raise BailianError("ModelServiceFailed", "The model endpoint failed.", 500)
            yield Delta(piece, Usage("scripted", 7, n + 1))


def _use(monkeypatch: pytest.MonkeyPatch, responder: _Scripted) -> None:
    monkeypatch.setattr(bailian, "choose_responder", lambda *_: responder)


def test_responder_seam_deltas_usage_and_turn(
    strict_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    responder = _Scripted(fail_at=None)
    _use(monkeypatch, responder)
    body = _ask(strict_server, "given").json()
    assert body["output"]["text"] == "Hello world<ref>[1]</ref>"
    assert body["usage"] == {
        "models": [{"input_tokens": 7, "output_tokens": 2, "model_id": "scripted"}]
    }
    (turn,) = responder.turns
    assert turn.app.system_prompt == "Be brief." and turn.query == "Hello there."
    assert "doc_references" not in body["output"]  # no passage 1: nothing to cite
    events = parse_sse(_ask(strict_server, "given", **{"X-DashScope-SSE": "enable"}).content)
    assert [e["data"]["output"]["text"] for e in events] == [
        "Hello",
        "Hello world<ref>[1]</ref>",
    ] + ["Hello world<ref>[1]</ref>"]
    assert events[-1]["data"]["output"]["finish_reason"] == "stop"


def test_responder_errors_become_envelopes_or_error_events(
    strict_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, _Scripted(fail_at=0))
    early = _ask(strict_server, "given")
    assert early.status_code == 500 and early.json()["code"] == "ModelServiceFailed"
    early_sse = _ask(strict_server, "given", **{"X-DashScope-SSE": "enable"})
    assert early_sse.status_code == 500
    _use(monkeypatch, _Scripted(fail_at=1))
    late = _ask(strict_server, "given", **{"X-DashScope-SSE": "enable"})
    assert late.status_code == 200
    first, error = parse_sse(late.content)
    assert first["data"]["output"]["text"] == "Hello"
    assert error["lines"][:3] == ["id:2", "event:error", ":HTTP_STATUS/500"]
    assert error["data"]["code"] == "ModelServiceFailed"


class Clock:
    """A hand-moved monotonic clock."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_atomic_replace_with_same_size_and_mtime_is_read(tmp_path: Path) -> None:
    clock = Clock()
    registry = AppRegistry(tmp_path, clock=clock)
    AppRegistry(tmp_path).create(AppSpec.build(app_id="swapped", description="old one"))
    assert registry.get("swapped").description == "old one"  # type: ignore[union-attr]
    path = tmp_path / "apps.json"
    before = path.stat()
    replacement = tmp_path / "apps.json.new"
    replacement.write_text(path.read_text().replace("old one", "new one"))
    os.utime(replacement, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(replacement, path)
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    clock.now += 1.5
    assert registry.get("swapped").description == "new one"  # type: ignore[union-attr]


def test_lookups_within_the_interval_stat_the_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    registry = AppRegistry(tmp_path, clock=clock)
    registry.create(AppSpec.build(app_id="hot", description="v1"))
    catalog = AppCatalog(registry, default_app(None, []))
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if Path(path) == registry.path:
            stats.append(str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    for _ in range(500):
        assert catalog.resolve("hot").description == "v1"
        assert catalog.resolve("default").app_id == "default"  # a miss the default answers
        clock.now += 0.001
    assert len(stats) <= 1
    # Another process replaces the app: seen once the interval has passed.
    AppRegistry(tmp_path).create(AppSpec.build(app_id="hot", description="v2"), replace=True)
    assert catalog.resolve("hot").description == "v1"
    clock.now += 1.0
    assert catalog.resolve("hot").description == "v2"


def test_an_app_created_elsewhere_answers_at_once(tmp_path: Path) -> None:
    registry = AppRegistry(tmp_path, clock=Clock())
    catalog = AppCatalog(registry, default_app(None, []))
    with pytest.raises(UnknownAppError):
        catalog.resolve("fresh")
    AppRegistry(tmp_path).create(AppSpec.build(app_id="fresh"))
    assert catalog.resolve("fresh").app_id == "fresh"  # the clock has not moved
    with pytest.raises(UnknownAppError):
        catalog.resolve("still-unknown")


def test_a_catch_all_catalog_serves_a_new_app_at_once(tmp_path: Path) -> None:
    registry = AppRegistry(tmp_path, clock=Clock())
    catalog = AppCatalog(registry, default_app(None, []), catch_all=True)
    assert catalog.resolve("made-up").app_id == "default"
    AppRegistry(tmp_path).create(AppSpec.build(app_id="made-up", description="mine"))
    assert catalog.resolve("made-up").description == "mine"
