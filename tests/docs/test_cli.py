"""The ``zilliz-bailian`` command line the README documents: ``pipelines create`` / ``list`` against
the session's local server, and bad flag values (given or read from ``ZILLIZ_BAILIAN_<FLAG>``) as a
one-line usage error with exit code 2, never a traceback."""

from __future__ import annotations

import argparse
import re
import socket
import uuid
from typing import Any

import pytest

from langchain_zilliz_bailian import cli
from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

#: Flags without a value: only their variables have one.
SWITCHES = {
    "--legacy",
    "--allow-private-fetch",
    "--enable-admin",
    "--model-download",
    "--embedding-fallback",
    "--any-app-id",
    "--lite-in-process",
}
#: A bad value for every ``serve`` flag (a switch takes none: only its variable has a value).
BAD_SERVE_VALUES = {
    "--host": " ",
    "--port": "abc",
    "--data-dir": " ",
    "--api-key": "two words",
    "--milvus-uri": " ",
    "--milvus-token": "",
    "--embedder": "no-colon",
    "--model-dir": " ",
    "--model-download": "maybe",
    "--embedding-fallback": "maybe",
    "--default-pipeline-ids": "pipe-ok,../admin",
    "--default-app-id": "bad id!",
    "--any-app-id": "maybe",
    "--lite-in-process": "maybe",
    "--default-system-prompt": "",
    "--legacy": "maybe",
    "--stream-interval-ms": "-1",
    "--log-level": "LOUD",
    "--fault-latency-ms": "1.5",
    "--fault-rate-429": "1.5",
    "--fault-rate-500": "nan",
    "--fault-retry-after": "-2",
    "--fault-stream-error-after": "x",
    "--fault-drop-after": "-1",
    "--fault-seed": "seed",
    "--fault-scope": "everywhere",
    "--max-body-bytes": "12",
    "--fetch-deadline": "0",
    "--allow-private-fetch": "maybe",
    "--api-key-file": "/nonexistent/zb-key",
    "--enable-admin": "maybe",
    "--admin-key": "two words",
    "--admin-key-file": "/nonexistent/zb-admin-key",
    "--workers": "0",
}
MORE_BAD_VALUES = [
    ("--host", "1.2.3.4.5"),
    ("--host", "bad_host!"),
    ("--milvus-uri", "ftp://milvus:19530"),
    ("--milvus-uri", "http://"),
    ("--port", "0"),
    ("--port", "65536"),
    ("--port", "80.5"),
    ("--fault-rate-429", "-0.1"),
    ("--log-level", ""),
    ("--max-body-bytes", "4MB"),
    ("--fetch-deadline", "inf"),
    ("--fetch-deadline", "-1"),
    ("--workers", "65"),
]


def _serve_flags() -> set[str]:
    parser = argparse.ArgumentParser()
    cli._add_serve_arguments(parser)
    return {a.option_strings[0] for a in parser._actions if a.option_strings[0] != "-h"}


def _variable(flag: str) -> str:
    return cli.ENV_PREFIX + flag.removeprefix("--").replace("-", "_").upper()


def _usage_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``argv``, expect argparse's exit 2; the error line."""
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2, err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


@pytest.fixture(autouse=True)
def _no_server_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that let a bad value through would otherwise start uvicorn and hang the test."""
    import uvicorn

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the server was started")

    monkeypatch.setattr(uvicorn, "run", refuse)
    for flag in BAD_SERVE_VALUES:
        monkeypatch.delenv(_variable(flag), raising=False)


def test_every_serve_flag_has_a_bad_value_here() -> None:
    assert _serve_flags() == set(BAD_SERVE_VALUES)


@pytest.mark.parametrize(
    ("flag", "value"),
    [(f, v) for f, v in BAD_SERVE_VALUES.items() if f not in SWITCHES] + MORE_BAD_VALUES,
)
def test_bad_serve_flag_value_is_a_one_line_usage_error(
    flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_error(capsys, ["serve", f"{flag}={value}"])
    assert line.startswith(f"zilliz-bailian serve: error: argument {flag}: invalid "), line


@pytest.mark.parametrize(("flag", "value"), list(BAD_SERVE_VALUES.items()))
def test_bad_value_in_the_flags_variable_names_the_variable(
    flag: str, value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(_variable(flag), value)
    line = _usage_error(capsys, ["serve"])
    assert line.startswith(f"zilliz-bailian serve: error: argument {flag}: invalid "), line
    assert f"(from {_variable(flag)})" in line


def test_variables_set_every_serve_flag_and_flags_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    (tmp_path / "key").write_text("key-from-file\n")
    (tmp_path / "admin").write_text("  admin-from-file  ")
    good = {
        "--host": "::1",
        "--port": "9001",
        "--data-dir": "/tmp/zb-state",
        "--api-key": "k-1",
        "--milvus-uri": "http://milvus:19530",
        "--milvus-token": "root:Milvus",
        "--embedder": "mypkg.emb:Model",
        "--model-dir": "/tmp/zb-models",
        "--model-download": "on",
        "--embedding-fallback": "yes",
        "--default-pipeline-ids": "pipe-a1,pipe-b2",
        "--default-app-id": "handbook",
        "--any-app-id": "1",
        "--lite-in-process": "yes",
        "--default-system-prompt": "Answer briefly.",
        "--legacy": "true",
        "--stream-interval-ms": "0",
        "--log-level": "WARNING",
        "--fault-latency-ms": "10",
        "--fault-rate-429": "0.25",
        "--fault-rate-500": "0.5",
        "--fault-retry-after": "3",
        "--fault-stream-error-after": "2",
        "--fault-drop-after": "4",
        "--fault-seed": "-7",
        "--fault-scope": "Bailian",
        "--max-body-bytes": "65536",
        "--fetch-deadline": "2.5",
        "--allow-private-fetch": "yes",
        "--api-key-file": str(tmp_path / "key"),
        "--enable-admin": "on",
        "--admin-key": "admin-k",
        "--admin-key-file": str(tmp_path / "admin"),
        "--workers": "3",
    }
    assert set(good) == set(BAD_SERVE_VALUES)
    for flag, value in good.items():
        monkeypatch.setenv(_variable(flag), value)
    args = cli.build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.data_dir, args.api_key) == (
        "::1",
        9001,
        "/tmp/zb-state",
        "k-1",
    )
    assert (args.milvus_uri, args.milvus_token) == ("http://milvus:19530", "root:Milvus")
    assert (args.embedder, cli._ids(args.default_pipeline_ids)) == (
        "mypkg.emb:Model",
        ["pipe-a1", "pipe-b2"],
    )
    assert (args.model_dir, args.model_download, args.embedding_fallback) == (
        "/tmp/zb-models",
        True,
        True,
    )
    assert (args.default_app_id, args.default_system_prompt) == ("handbook", "Answer briefly.")
    assert args.any_app_id is True and args.lite_in_process is True
    assert args.legacy is True and args.stream_interval_ms == 0 and args.log_level == "warning"
    assert args.workers == 3
    assert (args.fault_latency_ms, args.fault_rate_429, args.fault_rate_500) == (10, 0.25, 0.5)
    assert (args.fault_retry_after, args.fault_stream_error_after, args.fault_drop_after) == (
        3,
        2,
        4,
    )
    assert (args.fault_seed, args.fault_scope) == (-7, "bailian")
    assert (args.max_body_bytes, args.fetch_deadline, args.allow_private_fetch) == (
        65536,
        2.5,
        True,
    )
    assert (args.api_key_file, args.enable_admin) == ("key-from-file", True)
    assert (args.admin_key, args.admin_key_file) == ("admin-k", "admin-from-file")

    monkeypatch.setenv(_variable("--log-level"), "LOUD")  # a flag on the command line wins
    monkeypatch.setenv(_variable("--legacy"), "off")
    args = cli.build_parser().parse_args(["serve", "--log-level", "debug", "--legacy"])
    assert args.log_level == "debug" and args.legacy is True
    monkeypatch.delenv(_variable("--log-level"))
    defaults = cli.build_parser().parse_args(["serve"])
    assert (
        defaults.legacy is False and defaults.allow_private_fetch is True
    )  # still from its variable
    monkeypatch.delenv(_variable("--allow-private-fetch"))
    assert cli.build_parser().parse_args(["serve"]).allow_private_fetch is False


def test_serve_defaults_are_the_servers_own() -> None:
    from langchain_zilliz_bailian.server.fetch import DEFAULT_FETCH_DEADLINE_S
    from langchain_zilliz_bailian.server.limits import DEFAULT_MAX_BODY_BYTES

    args = cli.build_parser().parse_args(["serve"])
    assert args.max_body_bytes == DEFAULT_MAX_BODY_BYTES
    assert args.fetch_deadline == DEFAULT_FETCH_DEADLINE_S
    assert args.allow_private_fetch is False
    # Semantic by default; nothing downloaded, nothing silently substituted.
    assert (args.embedder, args.model_download, args.embedding_fallback) == ("minilm", False, False)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--fault-rate-429", "0.6", "--fault-rate-500", "0.6"],
            "fault flags: rate_429 + rate_500",
        ),
        (["--embedder", "no_such_module_zb:Thing"], "argument --embedder: cannot load"),
        (
            ["--model-dir", "/nonexistent/zb-models"],
            "argument --model-dir: '/nonexistent/zb-models'",
        ),
        (["--milvus-token", "t"], "argument --milvus-token: only with --milvus-uri"),
        (["--default-pipeline-ids", "pipe-ABC"], "argument --default-pipeline-ids: 'pipe-ABC'"),
    ],
)
def test_values_wrong_together_are_usage_errors_too(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    assert cli.main(["serve", "--data-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zilliz-bailian serve: error: {message}"), err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "0.0.0.0"], "argument --host: binding to '0.0.0.0' (not loopback) needs"),
        (["--host", "::"], "argument --host: binding to '::' (not loopback) needs"),
        (["--api-key", "k1", "--api-key-file", "{key}"], "argument --api-key-file: not with"),
        (["--enable-admin"], "argument --enable-admin: needs --admin-key-file"),
        (["--admin-key", "adm"], "argument --admin-key: only with --enable-admin"),
        (["--enable-admin", "--admin-key", "local-dev-key"], "argument --admin-key: must differ"),
        (
            ["--api-key", "same", "--enable-admin", "--admin-key-file", "{same}"],
            "argument --admin-key: must differ",
        ),
        (
            ["--enable-admin", "--admin-key", "a", "--admin-key-file", "{key}"],
            "argument --admin-key-file: not with --admin-key",
        ),
    ],
)
def test_keys_and_exposure_are_checked_before_serving(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    (tmp_path / "key").write_text("key-in-a-file")
    (tmp_path / "same").write_text("same")
    files = {"key": str(tmp_path / "key"), "same": str(tmp_path / "same")}
    argv = [arg.format(**files) for arg in argv]
    assert cli.main(["serve", "--data-dir", str(tmp_path / "data"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zilliz-bailian serve: error: {message}"), err
    assert "key-in-a-file" not in err


def test_a_non_loopback_host_with_a_key_of_ones_own_is_served(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    (tmp_path / "key").write_text("a-key-of-my-own\n")
    argv = ["serve", "--host", "0.0.0.0", "--api-key-file", str(tmp_path / "key")]
    assert cli.main([*argv, "--data-dir", str(tmp_path / "data")]) == 0
    assert served["host"] == "0.0.0.0"
    assert served["app"].state.settings.api_key == "a-key-of-my-own"
    assert served["app"].state.settings.admin_key is None
    assert served["app"].state.settings.freeze_gc  # the process is the server's own


def test_data_dir_that_is_a_file_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    assert cli.main(["serve", "--data-dir", str(target)]) == 2
    assert "argument --data-dir:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--api-key", "sk-SECRET-123 trailing"],
        ["serve", "--milvus-uri", "http://m:19530", "--milvus-token", ""],
        ["pipelines", "list", "--api-key", "sk-SECRET-123 trailing"],
    ],
)
def test_a_bad_key_or_token_is_refused_without_repeating_it(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    line = _usage_error(capsys, argv)
    assert "SECRET" not in line and "trailing" not in line
    assert "invalid API key" in line or "invalid token" in line
    # The same for a key read from the environment (a real cloud key with a stray space).
    monkeypatch.setenv("ZILLIZ_CLOUD_API_KEY", "sk-SECRET-123 trailing")
    line = _usage_error(capsys, ["pipelines", "list"])
    assert "SECRET" not in line and line.endswith("must be non-empty, without spaces")


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_data_dir_that_cannot_be_created_is_a_usage_error(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main([command, "--data-dir", str(blocker / "below")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"zilliz-bailian {command}: error: argument --data-dir:"), err
    assert len(err.strip().splitlines()) == 1


def test_demo_flags_are_checked_too(capsys: pytest.CaptureFixture[str]) -> None:
    line = _usage_error(capsys, ["demo", "--stream-interval-ms", "fast"])
    assert line.startswith("zilliz-bailian demo: error: argument --stream-interval-ms")


# -- pipelines create / list, against the session's local server --------------------------------


def _endpoint(server: Any) -> list[str]:
    return ["--base-url", server.url, "--api-key", server.api_key]


def _exports(out: str) -> dict[str, str]:
    return dict(re.findall(r"^export ([A-Z_]+)=(pipe-\w+)$", out, re.MULTILINE))


@pytest.mark.server
def test_pipelines_create_makes_a_set_and_prints_its_ids(
    local_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    argv = ["pipelines", "create", "--name", name, "--kind", "doc"]
    argv += ["--preserve", "year:Int16", "--preserve", "title:varchar", *_endpoint(local_server)]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    exports = _exports(out)
    roles = ("INGESTION", "SEARCH", "DELETION")
    assert list(exports) == [f"ZILLIZ_DOC_{role}_PIPELINE_ID" for role in roles]
    for pipeline_id in exports.values():
        assert re.search(rf"^# \w+ +{pipeline_id}  {name}_\w+$", out, re.MULTILINE), out
    with ZillizPipelinesClient(base_url=local_server.url, api_key=local_server.api_key) as zc:
        made = {role: zc.describe(exports[f"ZILLIZ_DOC_{role}_PIPELINE_ID"]) for role in roles}
    assert [made[role].type for role in roles] == list(roles)
    ingestion = made["INGESTION"]
    assert ingestion.collection_name == name
    kept = {f.output_field: f.field_type for f in ingestion.functions if f.action == "PRESERVE"}
    assert kept == {"year": "INT16", "title": "VARCHAR"}  # the model reads enums upper-cased
    assert made["SEARCH"].functions[0].action == "SEARCH_DOC_CHUNK"

    assert cli.main(["pipelines", "list", *_endpoint(local_server)]) == 0
    listed = capsys.readouterr().out
    for role, pipeline_id in zip(roles, exports.values(), strict=True):
        assert re.search(rf"^{pipeline_id}  {role} +{name}_\w+ +{name}$", listed, re.MULTILINE)


@pytest.mark.server
def test_pipelines_reads_the_variables_the_classes_read(
    local_server: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZILLIZ_PIPELINES_BASE_URL", local_server.url)
    monkeypatch.setenv("ZILLIZ_CLOUD_API_KEY", local_server.api_key)
    collection = f"cli_{uuid.uuid4().hex[:8]}"
    argv = ["pipelines", "create", "--name", "notes", "--kind", "text", "--collection", collection]
    assert cli.main(argv) == 0
    exports = _exports(capsys.readouterr().out)
    assert set(exports) == {
        f"ZILLIZ_TEXT_{r}_PIPELINE_ID" for r in ("INGESTION", "SEARCH", "DELETION")
    }
    with ZillizPipelinesClient() as zc:
        ingestion = zc.describe(exports["ZILLIZ_TEXT_INGESTION_PIPELINE_ID"])
    assert ingestion.collection_name == collection
    assert ingestion.functions[0].action == "INDEX_TEXT"

    assert cli.main(["pipelines", "list", "--project-id", "proj-empty"]) == 0
    assert capsys.readouterr().out.startswith("# no pipelines in proj-empty")


@pytest.mark.server
def test_pipelines_errors_are_one_line(
    local_server: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["pipelines", "list", "--base-url", local_server.url, "--api-key", "wrong-key"]
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("zilliz-bailian pipelines list: error: The token is illegal.")
    assert len(err.strip().splitlines()) == 1

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli.main(["pipelines", "list", "--base-url", f"http://127.0.0.1:{port}"]) == 1
    err = capsys.readouterr().err
    assert "error: Cannot connect to" in err and "zilliz-bailian serve" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--name", "docs", "--preserve", "year"], "--preserve"),
        (["--name", "docs", "--preserve", "year:Int99"], "--preserve"),
        (["--name", "docs", "--preserve", "9year:Int16"], "--preserve"),
        (["--name", "docs", "--kind", "image"], "--kind"),
        (["--name", "x"], "--name"),
        (["--name", "a-b-c"], "--name"),
        (["--name", "docs", "--collection", "no spaces"], "--collection"),
        (["--name", "docs", "--base-url", "ftp://host"], "--base-url"),
        (["--name", "docs", "--project-id", "project"], "--project-id"),
        (["--name", "docs", "--cluster-id", "cluster"], "--cluster-id"),
        (["--name", "docs", "--api-key", ""], "--api-key"),
    ],
)
def test_bad_pipelines_create_values_are_usage_errors(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _usage_error(capsys, ["pipelines", "create", *argv])
    assert line.startswith(f"zilliz-bailian pipelines create: error: argument {flag}: "), line
