"""The ``zilliz-bailian`` command: ``serve`` runs the local compatible server; ``pipelines``
creates and lists pipelines on a running server (or any Pipelines endpoint); ``apps`` defines the
server's Bailian apps (:mod:`langchain_zilliz_bailian.cli_apps`); ``demo`` runs the
end-to-end demo (see :mod:`langchain_zilliz_bailian.demo`).

Every ``serve`` flag also reads an environment variable (``ZILLIZ_BAILIAN_<FLAG>``), e.g.
``ZILLIZ_BAILIAN_API_KEY``; flags win. Keys are best given by variable or file
(``--api-key-file``): a flag's value is visible to every local user in ``ps``. The default key
``local-dev-key`` is for loopback use only: another ``--host`` needs a key of your own.
A bad value, on the command line or in such a variable, is a one-line usage error (exit code 2).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from langchain_zilliz_bailian.cli_apps import add_apps_arguments, apps
from langchain_zilliz_bailian.demo.options import add_arguments as add_demo_arguments

DEFAULT_PORT = 8765
DEFAULT_API_KEY = "local-dev-key"
#: The server's own defaults (``server.limits``, ``server.fetch``), repeated so that parsing
#: ``serve`` flags does not need the ``[server]`` extra; a test keeps them equal.
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_FETCH_DEADLINE_S = 30.0
ENV_PREFIX = "ZILLIZ_BAILIAN_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's
FAULT_SCOPES = ("all", "zilliz", "bailian")
#: PRESERVE field types of Zilliz Cloud Pipelines.
FIELD_TYPES = ("Bool", "Int8", "Int16", "Int32", "Int64", "Float", "Double", "VarChar")
#: Project and cluster ids ``pipelines`` uses by default: any well-formed ids work locally.
LOCAL_PROJECT_ID = "proj-local"
LOCAL_CLUSTER_ID = "in01-local"
#: The variables ``pipelines create`` prints, e.g. ``ZILLIZ_DOC_SEARCH_PIPELINE_ID``.
PIPELINE_ENV = "ZILLIZ_{kind}_{role}_PIPELINE_ID"

_T = TypeVar("_T")
_NAME = re.compile(r"^[A-Za-z0-9_]{3,54}$")  # + "_ingestion" stays within the 64-character limit
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class _EnvValue(str):
    """A flag's default read from an environment variable. argparse converts a string default
    with the flag's ``type``, so a bad value is a usage error that names the variable."""

    variable: str

    def __new__(cls, value: str, variable: str) -> _EnvValue:
        obj = super().__new__(cls, value)
        obj.variable = variable
        return obj


def _env(name: str, default: str | None = None) -> str | None:
    """``ZILLIZ_BAILIAN_<name>`` (marked as coming from there), else ``default``."""
    variable = ENV_PREFIX + name
    value = os.environ.get(variable)
    return default if value is None else _EnvValue(value, variable)


def _checked(
    kind: str, convert: Callable[[str], _T], *, secret: bool = False
) -> Callable[[str], _T]:
    """An argparse ``type``: ``convert``, its ``ValueError`` turned into a one-line usage error.

    A ``secret`` value (a key, a token) is never repeated in the message: it would reach a
    terminal or a CI log.
    """

    def parse(value: str) -> _T:
        try:
            return convert(value)
        except ValueError as exc:
            source = f" (from {value.variable})" if isinstance(value, _EnvValue) else ""
            shown = "" if secret else f" {value!r}"
            raise argparse.ArgumentTypeError(f"invalid {kind}{shown}{source}: {exc}") from None

    parse.__name__ = kind
    return parse


def _int_at_least(low: int | None, high: int | None = None) -> Callable[[str], int]:
    """An integer converter, bounded below by ``low`` (None: unbounded) and above by ``high``."""

    def convert(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise ValueError("expected an integer") from None
        if low is None:
            return number
        if number < low or (high is not None and number > high):
            raise ValueError(
                f"expected {low}..{high}" if high is not None else f"expected >= {low}"
            )
        return number

    return convert


def _rate(value: str) -> float:
    """A fault rate: a number in [0, 1] (NaN refused)."""
    try:
        rate = float(value.strip())
    except ValueError:
        raise ValueError("expected a number between 0 and 1") from None
    if math.isnan(rate) or not 0.0 <= rate <= 1.0:
        raise ValueError("expected a number between 0 and 1")
    return rate


def _seconds(value: str) -> float:
    """A positive, finite number of seconds."""
    try:
        seconds = float(value.strip())
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("expected a positive number of seconds")
    return seconds


def _one_of(options: Sequence[str]) -> Callable[[str], str]:
    """A case-insensitive choice, returned lower-cased (uvicorn wants lower-case levels)."""

    def convert(value: str) -> str:
        if value.strip().lower() not in options:
            raise ValueError(f"choose from {', '.join(options)}")
        return value.strip().lower()

    return convert


def _switch(value: str) -> bool:
    """A boolean environment value: true/false, 1/0, yes/no, on/off (empty is false)."""
    if value.strip().lower() in _TRUE:
        return True
    if value.strip().lower() in _FALSE:
        return False
    raise ValueError(f"expected one of {', '.join(_TRUE)} or {', '.join(v for v in _FALSE if v)}")


def _text(value: str) -> str:
    """Any non-blank string."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _key(value: str) -> str:
    """An API key: a Bearer token cannot hold whitespace."""
    if not value or any(c.isspace() for c in value):
        raise ValueError("must be non-empty, without spaces")
    return value


def _key_file(value: str) -> str:
    """A key read from a file (its surrounding whitespace dropped); errors never show the key."""
    try:
        content = Path(value).expanduser().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the file: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return _key(content)
    except ValueError:
        raise ValueError("the file must hold one key: non-empty, without spaces") from None


def _host(value: str) -> str:
    """An IP address or a host name (RFC 1123 labels, not all-numeric at the end)."""
    host = value.strip()
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        if not all(_HOST_LABEL.fullmatch(label) for label in labels) or labels[-1].isdigit():
            raise ValueError("expected an IP address or a host name") from None
    return host


def _milvus_uri(value: str) -> str:
    """A Milvus endpoint pymilvus can open: http(s)://, tcp://, unix: or a local ``*.db`` file."""
    uri = value.strip()
    if uri.endswith(".db") and "://" not in uri:
        return uri
    parsed = urlsplit(uri)
    if parsed.scheme == "unix" and (parsed.path or parsed.netloc):
        return uri
    if parsed.scheme not in ("http", "https", "tcp") or not parsed.hostname:
        raise ValueError("expected http(s)://host:port, tcp://host:port, unix:PATH or a .db file")
    return uri


#: ``--embedder`` names of the bundled embedders (``server.embeddings.NAMED_EMBEDDERS``, repeated
#: so that parsing needs no ``[server]`` extra; a test keeps them equal).
EMBEDDER_NAMES = ("minilm", "lexical", "hybrid")


def _embedder_spec(value: str) -> str:
    """A bundled embedder's name or ``module:callable`` (loaded later, by ``serve``)."""
    module, sep, attr = value.partition(":")
    if value not in EMBEDDER_NAMES and not (sep and module and attr):
        raise ValueError(f"expected one of {', '.join(EMBEDDER_NAMES)} or 'module:callable'")
    return value


def _pipeline_ids(value: str) -> str:
    """Comma-separated pipeline ids, each ``pipe-...`` (kept as the string ``serve`` splits)."""
    from langchain_zilliz_bailian._http.checks import PATTERNS

    for pipeline_id in _ids(value):
        if not PATTERNS["pipeline_id"].fullmatch(pipeline_id):
            raise ValueError(f"{pipeline_id!r} is not a pipeline id (pipe-...)")
    return value


def _app_id(value: str) -> str:
    """An app id: 1-64 letters, digits, '_' or '-' (real ones are 32 hex characters)."""
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", value):
        raise ValueError("1-64 letters, digits, '_' or '-'")
    return value


def _base_url(value: str) -> str:
    """An http(s) base URL, checked as the clients check it."""
    from langchain_zilliz_bailian._http.checks import check_base_url

    return check_base_url(value)  # InvalidInputError is a ValueError


def _id_of(kind: str) -> Callable[[str], str]:
    """A project or cluster id, matched against the pattern the clients enforce."""

    def convert(value: str) -> str:
        from langchain_zilliz_bailian._http.checks import check_id

        return check_id(kind, value)

    return convert


def _set_name(value: str) -> str:
    """A pipeline set or collection name the server accepts once suffixed."""
    if not _NAME.fullmatch(value):
        raise ValueError("3-54 letters, digits or underscores")
    return value


def _preserve(value: str) -> tuple[str, str]:
    """``FIELD:TYPE`` for a PRESERVE function, TYPE matched case-insensitively."""
    field, sep, type_name = value.partition(":")
    types = {t.lower(): t for t in FIELD_TYPES}
    if not sep or not _FIELD.fullmatch(field) or type_name.lower() not in types:
        raise ValueError(f"expected FIELD:TYPE, TYPE one of {', '.join(FIELD_TYPES)}")
    return field, types[type_name.lower()]


def _ids(value: str | None) -> list[str]:
    """The ids of a comma-separated list, blanks dropped."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]


class _Switch(argparse.Action):
    """A flag without a value (like ``store_true``) whose default may come from the environment:
    its ``type`` converts that string default (``true``/``false``, ``1``/``0``, ...)."""

    def __init__(
        self,
        option_strings: Sequence[str],
        dest: str,
        default: Any = False,
        type: Callable[[str], Any] | None = None,
        help: str | None = None,
    ) -> None:
        super().__init__(option_strings, dest, nargs=0, default=default, type=type, help=help)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, True)


def _option(
    group: Any,
    flag: str,
    convert: Callable[[str], Any],
    default: str | None,
    help: str | None = None,
    *,
    kind: str = "value",
    metavar: str | None = None,
    secret: bool = False,
) -> None:
    """A ``serve`` flag whose default is ``ZILLIZ_BAILIAN_<FLAG>`` when set, checked either way."""
    name = flag.removeprefix("--").replace("-", "_").upper()
    group.add_argument(
        flag,
        type=_checked(kind, convert, secret=secret),
        default=_env(name, default),
        help=help,
        metavar=metavar,
    )


def _switch_option(group: Any, flag: str, help: str) -> None:
    """A ``serve`` switch, off unless given or ``ZILLIZ_BAILIAN_<FLAG>`` is true."""
    name = flag.removeprefix("--").replace("-", "_").upper()
    group.add_argument(
        flag,
        action=_Switch,
        type=_checked("switch", _switch),
        default=_env(name, None) or False,
        help=help,
    )


def _add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    """Every ``serve`` flag, each with its ``ZILLIZ_BAILIAN_<FLAG>`` variable."""
    _option(serve, "--host", _host, "127.0.0.1", "bind address", kind="host")
    _option(serve, "--port", _int_at_least(1, 65535), str(DEFAULT_PORT), kind="port")
    _option(
        serve,
        "--data-dir",
        _text,
        None,
        "state directory (Milvus Lite DB, file:// root; one server process per directory); "
        "default: the user cache dir",
        kind="directory",
    )
    _option(
        serve,
        "--api-key",
        _key,
        DEFAULT_API_KEY,
        "Bearer key for both APIs (default local-dev-key: loopback use only)",
        kind="API key",
        secret=True,
    )
    _option(
        serve,
        "--api-key-file",
        _key_file,
        None,
        "read the Bearer key from this file instead (like $ZILLIZ_BAILIAN_API_KEY, it stays "
        "out of `ps`, unlike --api-key)",
        kind="key file",
        metavar="PATH",
    )
    _option(serve, "--milvus-uri", _milvus_uri, None, "remote Milvus/Zilliz URI", kind="URI")
    _option(serve, "--milvus-token", _text, None, "remote Milvus token", kind="token", secret=True)
    _switch_option(
        serve,
        "--lite-in-process",
        "run Milvus Lite inside the server process (default: a child process on a core of its "
        "own, about 1.6x the searches per second under load, 3 s more to start)",
    )
    _option(
        serve,
        "--workers",
        _int_at_least(1, 64),
        "1",
        "worker processes behind the one port (more than 1 needs --milvus-uri: a Milvus server)",
        kind="count",
    )
    _option(
        serve,
        "--embedder",
        _embedder_spec,
        EMBEDDER_NAMES[0],
        "default embedder: 'minilm' (default: all-MiniLM-L6-v2, bundled, offline), 'lexical' "
        "(hashed words), 'hybrid' (both) or 'module:callable' returning an Embedder",
        kind="embedder",
    )
    models = serve.add_argument_group("embedding models (a pipeline's `embedding` picks one)")
    _option(
        models,
        "--model-dir",
        _text,
        None,
        "directory holding model files (e.g. bge-base-en-v1.5/model.onnx + tokenizer.json), "
        "looked up before the cache under the data dir",
        kind="directory",
        metavar="PATH",
    )
    _switch_option(
        models,
        "--model-download",
        "fetch a missing bge model into the cache on first use (off: nothing is downloaded)",
    )
    _switch_option(
        models,
        "--embedding-fallback",
        "serve a pipeline whose model cannot be loaded with the default embedder (off: its "
        "create call is refused with a message naming the model)",
    )
    _option(
        serve,
        "--default-pipeline-ids",
        _pipeline_ids,
        "",
        "comma-separated search pipeline ids: the knowledge bases of the default app",
        kind="pipeline ids",
    )
    _option(
        serve,
        "--default-app-id",
        _app_id,
        None,
        "id of the default app (default: 'default'); an id neither registered "
        "(`zilliz-bailian apps list`) nor this one is 404 NotFound, as on Bailian",
        kind="app id",
    )
    _switch_option(
        serve,
        "--any-app-id",
        "let the default app answer every app id that is not defined (for code that sends "
        "made-up ids; a real Bailian answers them 404)",
    )
    _option(
        serve,
        "--default-system-prompt",
        _text,
        None,
        "system prompt of the default app",
        kind="system prompt",
    )
    _switch_option(serve, "--legacy", "emit legacy quirk variants (bad token as HTTP 200)")
    _option(
        serve, "--stream-interval-ms", _int_at_least(0), "5", "pause between SSE events", kind="ms"
    )
    _option(
        serve,
        "--log-level",
        _one_of(LOG_LEVELS),
        "info",
        kind="log level",
        metavar="{" + ",".join(LOG_LEVELS) + "}",
    )
    limits = serve.add_argument_group("limits")
    _option(
        limits,
        "--max-body-bytes",
        _int_at_least(1024),
        str(DEFAULT_MAX_BODY_BYTES),
        "largest request body (uploads: the 10 MB document limit plus framing); bigger: 413",
        kind="byte count",
        metavar="N",
    )
    _option(
        limits,
        "--fetch-deadline",
        _seconds,
        str(DEFAULT_FETCH_DEADLINE_S),
        "total seconds a doc_url download may take",
        kind="seconds",
        metavar="S",
    )
    _switch_option(
        limits,
        "--allow-private-fetch",
        "let doc_url reach loopback, link-local and private addresses (refused by default: "
        "a server reachable by others would fetch internal pages for them)",
    )
    admin = serve.add_argument_group("admin routes (/_admin/faults; off by default)")
    _switch_option(
        admin, "--enable-admin", "serve /_admin/* (with its own key, never the data key)"
    )
    _option(
        admin,
        "--admin-key",
        _key,
        None,
        "Bearer key of /_admin/* (prefer $ZILLIZ_BAILIAN_ADMIN_KEY or --admin-key-file)",
        kind="admin key",
        secret=True,
    )
    _option(
        admin,
        "--admin-key-file",
        _key_file,
        None,
        "read the admin key from this file",
        kind="key file",
        metavar="PATH",
    )
    faults = serve.add_argument_group("fault injection (off by default)")
    _option(faults, "--fault-latency-ms", _int_at_least(0), "0", kind="ms")
    _option(faults, "--fault-rate-429", _rate, "0", "share of requests answered 429", kind="rate")
    _option(faults, "--fault-rate-500", _rate, "0", "share of requests answered 500", kind="rate")
    _option(faults, "--fault-retry-after", _int_at_least(0), "1", "Retry-After seconds", kind="s")
    _option(faults, "--fault-stream-error-after", _int_at_least(0), None, kind="count", metavar="N")
    _option(faults, "--fault-drop-after", _int_at_least(0), None, kind="count", metavar="N")
    _option(faults, "--fault-seed", _int_at_least(None), None, kind="seed")
    _option(
        faults,
        "--fault-scope",
        _one_of(FAULT_SCOPES),
        "all",
        kind="scope",
        metavar="{" + ",".join(FAULT_SCOPES) + "}",
    )


def _add_endpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """Where ``pipelines`` commands go: the variables the Zilliz classes read, else the local
    server's defaults."""
    parser.add_argument(
        "--base-url",
        type=_checked("base URL", _base_url),
        default=os.environ.get("ZILLIZ_PIPELINES_BASE_URL") or f"http://127.0.0.1:{DEFAULT_PORT}",
        help="Pipelines endpoint (default: $ZILLIZ_PIPELINES_BASE_URL, else the local server "
        f"on port {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--api-key",
        type=_checked("API key", _key, secret=True),
        default=os.environ.get("ZILLIZ_CLOUD_API_KEY") or DEFAULT_API_KEY,
        help=f"API key (default: $ZILLIZ_CLOUD_API_KEY, else {DEFAULT_API_KEY})",
    )
    parser.add_argument(
        "--project-id",
        type=_checked("project id", _id_of("project_id")),
        default=os.environ.get("ZILLIZ_PROJECT_ID") or LOCAL_PROJECT_ID,
        help=f"project (default: $ZILLIZ_PROJECT_ID, else {LOCAL_PROJECT_ID}: any proj-... id "
        "works locally)",
    )


def _add_pipelines_arguments(pipelines: argparse.ArgumentParser) -> None:
    """``pipelines create`` and ``pipelines list``."""
    actions = pipelines.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create",
        help="create an ingestion, a search and a deletion pipeline over one collection",
        description="Create an ingestion, a search and a deletion pipeline over one collection "
        "and print their ids, also as `export ZILLIZ_<KIND>_<ROLE>_PIPELINE_ID=...` lines "
        '(so `eval "$(zilliz-bailian pipelines create ...)"` sets them).',
    )
    create.add_argument(
        "--name", required=True, type=_checked("name", _set_name), help="name of the set"
    )
    create.add_argument(
        "--kind",
        type=_checked("kind", _one_of(("text", "doc"))),
        default="doc",
        metavar="{text,doc}",
        help="text: texts and Documents (INDEX_TEXT); doc: files and doc URLs, chunked "
        "(INDEX_DOC); default doc",
    )
    create.add_argument(
        "--collection",
        type=_checked("collection", _set_name),
        default=None,
        help="collection name (default: the name)",
    )
    create.add_argument(
        "--preserve",
        action="append",
        type=_checked("preserve field", _preserve),
        default=[],
        metavar="FIELD:TYPE",
        help=f"a metadata field to keep (repeatable), TYPE one of {', '.join(FIELD_TYPES)}",
    )
    create.add_argument(
        "--cluster-id",
        type=_checked("cluster id", _id_of("cluster_id")),
        default=os.environ.get("ZILLIZ_CLUSTER_ID") or LOCAL_CLUSTER_ID,
        help=f"cluster (default: $ZILLIZ_CLUSTER_ID, else {LOCAL_CLUSTER_ID}: any in..-... id "
        "works locally)",
    )
    _add_endpoint_arguments(create)
    listing = actions.add_parser("list", help="list the pipelines of a project")
    _add_endpoint_arguments(listing)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="zilliz-bailian",
        description="Local compatible server for Zilliz Cloud Pipelines and Bailian apps.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve_arguments(sub.add_parser("serve", help="run the local compatible server (uvicorn)"))
    _add_pipelines_arguments(
        sub.add_parser("pipelines", help="create or list pipelines on a running server")
    )
    add_apps_arguments(
        sub.add_parser("apps", help="define, list, show or delete the local server's Bailian apps")
    )
    add_demo_arguments(
        sub.add_parser(
            "demo",
            help="end-to-end demo: pipelines, ingestion, LangChain and LlamaIndex answers "
            "(offline: the local server on loopback)",
        )
    )
    return parser


def _unusable_dir(path: Path) -> str | None:
    """Why ``path`` cannot serve as a state directory (created if missing), or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return exc.strerror or str(exc)
    if not os.access(path, os.W_OK | os.X_OK):
        return "not writable"
    return None


def _usage_error(prog: str, message: str) -> int:
    """Report like argparse does (``prog: error: message``) and return its exit code, 2."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def _serve_keys(args: argparse.Namespace) -> tuple[str, str | None] | str:
    """``(api_key, admin_key)`` from flags, variables and files, or the usage error's message."""
    from langchain_zilliz_bailian.server.context import check_exposure

    api_key: str = args.api_key
    if args.api_key_file is not None:
        if api_key != DEFAULT_API_KEY:
            return "argument --api-key-file: not with --api-key (or ZILLIZ_BAILIAN_API_KEY)"
        api_key = args.api_key_file
    try:
        check_exposure(args.host, api_key)
    except ValueError as exc:
        return f"argument --host: {exc}; set ZILLIZ_BAILIAN_API_KEY or --api-key-file"
    if args.admin_key is not None and args.admin_key_file is not None:
        return "argument --admin-key-file: not with --admin-key (or ZILLIZ_BAILIAN_ADMIN_KEY)"
    admin_key: str | None = args.admin_key or args.admin_key_file
    if not args.enable_admin:
        if admin_key is not None:
            return "argument --admin-key: only with --enable-admin"
        return api_key, None
    if admin_key is None:
        return "argument --enable-admin: needs --admin-key-file or ZILLIZ_BAILIAN_ADMIN_KEY"
    if admin_key in (api_key, DEFAULT_API_KEY):
        return "argument --admin-key: must differ from the data API key and the default key"
    return api_key, admin_key


def serve(args: argparse.Namespace) -> int:
    """Run uvicorn in the foreground until interrupted."""
    prog = "zilliz-bailian serve"
    try:
        import uvicorn

        from langchain_zilliz_bailian.server import FaultConfig, create_app, load_embedder
        from langchain_zilliz_bailian.server.ids import is_valid
        from langchain_zilliz_bailian.server.runner import run_workers
    except ImportError as exc:
        print(f"the server needs the [server] extra: {exc}", file=sys.stderr)
        return 2
    for pipeline_id in _ids(args.default_pipeline_ids):
        if not is_valid("pipeline", pipeline_id):  # the server mints pipe- + 22 hex characters
            return _usage_error(
                prog,
                f"argument --default-pipeline-ids: {pipeline_id!r} is not a pipeline id of this "
                "server ('pipe-' followed by 22 hex characters)",
            )
    faults = FaultConfig(
        latency_ms=args.fault_latency_ms,
        rate_429=args.fault_rate_429,
        rate_500=args.fault_rate_500,
        retry_after_s=args.fault_retry_after,
        stream_error_after=args.fault_stream_error_after,
        drop_after=args.fault_drop_after,
        seed=args.fault_seed,
        scope=args.fault_scope,
    )
    try:
        faults.validate()
    except ValueError as exc:
        return _usage_error(prog, f"fault flags: {exc}")
    data_dir = Path(args.data_dir).expanduser() if args.data_dir is not None else None
    if data_dir is not None and data_dir.exists() and not data_dir.is_dir():
        return _usage_error(prog, f"argument --data-dir: {args.data_dir!r} is not a directory")
    if data_dir is not None and (problem := _unusable_dir(data_dir)):
        return _usage_error(prog, f"argument --data-dir: {args.data_dir!r}: {problem}")
    if args.model_dir is not None and not Path(args.model_dir).expanduser().is_dir():
        return _usage_error(prog, f"argument --model-dir: {args.model_dir!r} is not a directory")
    if args.milvus_token is not None and args.milvus_uri is None:
        return _usage_error(prog, "argument --milvus-token: only with --milvus-uri")
    keys = _serve_keys(args)
    if isinstance(keys, str):
        return _usage_error(prog, keys)
    api_key, admin_key = keys
    try:
        embedder = load_embedder(args.embedder)
    except (ImportError, AttributeError, TypeError, ValueError) as exc:
        return _usage_error(prog, f"argument --embedder: cannot load {args.embedder!r}: {exc}")
    if args.workers > 1 and (args.milvus_uri is None or args.milvus_uri.endswith(".db")):
        return _usage_error(
            prog, "argument --workers: several workers need --milvus-uri (a Milvus server)"
        )
    app_options: dict[str, Any] = {
        "data_dir": args.data_dir,
        "api_key": api_key,
        "milvus_uri": args.milvus_uri,
        "milvus_token": args.milvus_token,
        # A Unix socket and a pipe the child can wait on: POSIX only (elsewhere, in-process).
        "lite_process": not args.lite_in_process and os.name == "posix",
        "embedder": embedder,
        "model_dir": args.model_dir,
        "model_download": args.model_download,
        "embedding_fallback": args.embedding_fallback,
        "default_pipeline_ids": _ids(args.default_pipeline_ids),
        "default_app_id": args.default_app_id,
        "any_app_id": args.any_app_id,
        "default_system_prompt": args.default_system_prompt or "",
        "legacy": args.legacy,
        "stream_interval_ms": args.stream_interval_ms,
        "faults": faults,
        "max_body_bytes": args.max_body_bytes,
        "allow_private_fetch": args.allow_private_fetch,
        "fetch_deadline_s": args.fetch_deadline,
        "admin_key": admin_key,
        "freeze_gc": True,  # this process is the server's own
    }
    app = create_app(**app_options)
    settings = app.state.settings
    print(
        f"zilliz-bailian: serving on http://{args.host}:{args.port} "
        f"(Zilliz base http://{args.host}:{args.port}, Bailian base "
        f"http://{args.host}:{args.port}/api/v1), data dir {settings.data_dir}",
        file=sys.stderr,
    )
    if args.workers > 1:  # each worker process loads the embedder again, from its spec
        options = dict(app_options, embedder=args.embedder)
        run_workers(
            options, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level
        )
        return 0
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, workers=1)
    except SystemExit:
        error = getattr(app.state, "startup_error", None)
        if error is None:
            raise
        if args.log_level == "critical":  # uvicorn's log (one line for a data dir in use) is off
            print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    return 0


def _pipeline_exports(kind: str, made: Any) -> list[tuple[str, str]]:
    """``(variable, pipeline id)`` for the three pipelines of a set."""
    roles = (("INGESTION", made.ingestion), ("SEARCH", made.search), ("DELETION", made.deletion))
    return [
        (PIPELINE_ENV.format(kind=kind.upper(), role=role), pipe.pipeline_id)
        for role, pipe in roles
    ]


def pipelines(args: argparse.Namespace) -> int:
    """``pipelines create`` / ``pipelines list`` through :class:`ZillizPipelinesClient`."""
    from langchain_zilliz_bailian.errors import ZillizBailianError
    from langchain_zilliz_bailian.zilliz import ZillizPipelinesClient

    try:
        with ZillizPipelinesClient(base_url=args.base_url, api_key=args.api_key) as client:
            if args.action == "create":
                collection = args.collection or args.name
                made = client.create_pipeline_set(
                    name=args.name,
                    project_id=args.project_id,
                    cluster_id=args.cluster_id,
                    collection_name=collection,
                    kind=args.kind,
                    preserve=dict(args.preserve),
                )
                print(f"# {args.kind} pipelines over collection {collection} at {args.base_url}")
                for role, pipe in zip(
                    ("ingestion", "search", "deletion"),
                    (made.ingestion, made.search, made.deletion),
                    strict=True,
                ):
                    print(f"# {role:<9} {pipe.pipeline_id}  {pipe.name}")
                for variable, pipeline_id in _pipeline_exports(args.kind, made):
                    print(f"export {variable}={pipeline_id}")
            else:
                found = client.list(args.project_id)
                if not found:
                    print(f"# no pipelines in {args.project_id} at {args.base_url}")
                for pipe in found:
                    collection = pipe.collection_name or next(
                        (f.collection_name for f in pipe.functions if f.collection_name), ""
                    )
                    print(f"{pipe.pipeline_id}  {pipe.type:<9}  {pipe.name:<30}  {collection}")
    except ZillizBailianError as exc:
        print(f"zilliz-bailian pipelines {args.action}: error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``zilliz-bailian`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "pipelines":
        return pipelines(args)
    if args.command == "apps":
        return apps(args)
    from langchain_zilliz_bailian.demo.options import options_from_args
    from langchain_zilliz_bailian.demo.runner import run

    options = options_from_args(args)
    if options.data_dir is not None and (problem := _unusable_dir(Path(options.data_dir))):
        return _usage_error(
            "zilliz-bailian demo", f"argument --data-dir: {str(options.data_dir)!r}: {problem}"
        )
    return run(options)
