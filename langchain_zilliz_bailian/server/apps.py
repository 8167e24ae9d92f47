"""Which Bailian apps the local server answers, and what each one is.

An :class:`AppSpec` describes one app the way Bailian's console does: its id, its type (a plain
``model`` app, a ``rag`` app over knowledge bases, or a ``workflow``), system prompt, knowledge
bases (search pipeline ids), retrieval settings, an optional OpenAI-compatible model endpoint and
a workflow's start-node parameters. :class:`AppRegistry` keeps specs in ``apps.json`` in the data
dir (written atomically under a file lock, so the CLI and running servers on this machine share
it; servers on other machines sharing one Milvus do not see it: the file is per machine).
:class:`AppCatalog` resolves a request's app id: apps given in Python, then the registry, then
the server's default app.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from langchain_zilliz_bailian.server.ids import check_id, is_valid, new_app_id

AppType = Literal["model", "rag", "workflow"]
REGISTRY_FILE = "apps.json"
#: The default app's id when ``--default-app-id`` is not given.
DEFAULT_APP_ID = "default"
#: Seconds a running server trusts its cached ``apps.json`` before it stats the file again.
REGISTRY_RECHECK_S = 1.0
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_PARAM_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class UnknownAppError(LookupError):
    """No app has this id (answered 404 ``NotFound``)."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        super().__init__(f"App not found: {app_id!r}.")


class AppSpecError(ValueError):
    """An app definition is invalid; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrievalSettings(_Frozen):
    """How many passages a RAG turn retrieves and the score below which a passage is dropped."""

    top_k: Annotated[int, Field(ge=1, le=50)] = 5
    min_score: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.05


class ModelEndpoint(_Frozen):
    """An OpenAI-compatible chat-completions endpoint; the key is read from ``api_key_env`` when
    the app answers (never stored in the registry). ``deadline_s`` bounds one whole answer
    (a slow local model may need more than the server's default)."""

    base_url: str
    model: Annotated[str, Field(min_length=1, max_length=200)]
    api_key_env: str | None = None
    deadline_s: Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)] | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise ValueError("base_url must be an http(s) URL without query or fragment")
        return value.rstrip("/")

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME_RE.fullmatch(value):
            raise ValueError("api_key_env must be an environment variable name")
        return value


class WorkflowParameter(_Frozen):
    """One start-node parameter of a workflow app, filled from ``input.biz_params``."""

    name: str
    required: bool = False
    description: str = ""

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _PARAM_NAME_RE.fullmatch(value):
            raise ValueError("a parameter name is a letter or '_' then letters, digits, '_'")
        return value


class AppSpec(_Frozen):
    """One app: what it retrieves from, what it is told, and what generates its answers."""

    app_id: str
    type: AppType = "rag"
    description: str = ""
    system_prompt: str = ""
    pipeline_ids: list[str] = Field(default_factory=list)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    model: ModelEndpoint | None = None
    parameters: list[WorkflowParameter] = Field(default_factory=list)
    #: Long-term memory (``input.memory_id``) is on, as an app setting on Bailian.
    memory: bool = True

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: str) -> str:
        if not is_valid("app", value):
            raise ValueError("app_id must be 1-64 letters, digits, '_' or '-'")
        return value

    @field_validator("pipeline_ids")
    @classmethod
    def _pipelines(cls, value: list[str]) -> list[str]:
        for pid in value:
            if not is_valid("pipeline", pid):
                raise ValueError(f"{pid!r} is not a pipeline id ('pipe-' + 22 hex characters)")
        return value

    @classmethod
    def build(cls, **fields: Any) -> AppSpec:
        """Validate ``fields`` (an ``app_id`` is minted if absent); :class:`AppSpecError` if bad."""
        fields.setdefault("app_id", new_app_id())
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'app'}: {err['msg']}"
                for err in exc.errors()
            )
            raise AppSpecError(f"invalid app: {problems}") from None


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive lock held on ``lock_path`` (fcntl on POSIX, msvcrt on Windows)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as handle:
        if os.name == "nt":  # pragma: no cover - exercised on Windows only
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined,unused-ignore]
            try:
                yield
            finally:
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class AppRegistry:
    """The apps of one data dir, in ``apps.json``; reads are cached until the file changes.

    Whether it changed is known from a ``stat`` of the file (inode, ``mtime_ns`` and size: a file
    replaced atomically gets a new inode even when its size and mtime match). A completion looks
    its app up on the event loop, so the file is stat'ed at most once per ``recheck_s`` seconds:
    simpler than a watcher thread, and a ``stat`` a second costs nothing. An app created or
    replaced by another process is therefore seen within ``recheck_s``, except that a lookup of an
    id the cache lacks re-checks at once (a new app answers immediately; such lookups are 404s or
    made-up ids under ``--any-app-id``, off the hot path; the default app's id never re-checks).
    This process's own writes reset the cache, and a write reads the file afresh under the lock,
    so no other process's change is ever written over.
    """

    def __init__(
        self,
        data_dir: str | Path,
        *,
        recheck_s: float = REGISTRY_RECHECK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(data_dir).expanduser() / REGISTRY_FILE
        self._lock_path = self.path.with_name(REGISTRY_FILE + ".lock")
        self._recheck_s = recheck_s
        self._clock = clock
        #: (when the file was last stat'ed, its stamp, the apps read); one tuple, swapped whole.
        self._cache: tuple[float, tuple[int, int, int] | None, dict[str, AppSpec]] | None = None

    def __repr__(self) -> str:
        return f"AppRegistry(path={str(self.path)!r})"

    def _read(self, *, fresh: bool = False) -> dict[str, AppSpec]:
        """The registered apps: the cache while it is recent, else as of a ``stat`` (and a read
        when the stamp changed); ``fresh`` always stats."""
        now = self._clock()
        cache = self._cache
        if cache is not None and not fresh and now - cache[0] < self._recheck_s:
            return dict(cache[2])
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._cache = (now, None, {})
            return {}
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if cache is not None and cache[1] == stamp:
            self._cache = (now, stamp, cache[2])
            return dict(cache[2])
        raw = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        apps = {item["app_id"]: AppSpec.build(**item) for item in raw.get("apps", [])}
        self._cache = (now, stamp, apps)
        return dict(apps)

    def _write(self, apps: dict[str, AppSpec]) -> None:
        body = {"version": 1, "apps": [spec.model_dump(mode="json") for spec in apps.values()]}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".apps-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(body, handle, ensure_ascii=False, indent=2)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self._cache = None

    def list(self) -> list[AppSpec]:
        """Every registered app, in creation order."""
        return list(self._read().values())

    def get(self, app_id: str, *, recheck_missing: bool = True) -> AppSpec | None:
        """The app with this id, or None; an id the cache lacks is looked up in the file again
        unless ``recheck_missing`` is false (the caller has an answer for it anyway)."""
        found = self._read().get(app_id)
        if found is None and recheck_missing:
            found = self._read(fresh=True).get(app_id)
        return found

    def create(self, spec: AppSpec, *, replace: bool = False) -> AppSpec:
        """Register ``spec``; :class:`AppSpecError` if its id exists and ``replace`` is false."""
        with _locked(self._lock_path):
            apps = self._read(fresh=True)
            if spec.app_id in apps and not replace:
                raise AppSpecError(f"an app with id {spec.app_id!r} already exists")
            apps[spec.app_id] = spec
            self._write(apps)
        return spec

    def delete(self, app_id: str) -> bool:
        """Remove the app; whether it existed."""
        check_id("app", app_id)
        with _locked(self._lock_path):
            apps = self._read(fresh=True)
            if apps.pop(app_id, None) is None:
                return False
            self._write(apps)
        return True


def default_app(
    app_id: str | None, pipeline_ids: Sequence[str], system_prompt: str = ""
) -> AppSpec:
    """The app defined by the server's startup flags (a ``rag`` app when it has pipelines)."""
    return AppSpec.build(
        app_id=app_id or DEFAULT_APP_ID,
        type="rag" if pipeline_ids else "model",
        description="The server's default app (startup flags).",
        system_prompt=system_prompt,
        pipeline_ids=list(pipeline_ids),
    )


class AppCatalog:
    """Resolves app ids: ``given`` apps, then the registry, then the default app.

    An undefined id is :class:`UnknownAppError`, as an unknown app is on Bailian; with
    ``catch_all`` (``--any-app-id``, for code that sends made-up ids) the default app answers it.
    """

    def __init__(
        self,
        registry: AppRegistry | None,
        default: AppSpec,
        given: Sequence[AppSpec] = (),
        *,
        catch_all: bool = False,
    ) -> None:
        self.registry = registry
        self.default = default
        self.given = {spec.app_id: spec for spec in given}
        self.catch_all = catch_all

    def resolve(self, app_id: str) -> AppSpec:
        """The spec answering ``app_id``."""
        if app_id in self.given:
            return self.given[app_id]
        if self.registry is not None:
            # A miss of the default app's id is answered by it: only other ids (made-up ones
            # too, under catch_all) re-check the file at once, so a new app answers at once.
            try:
                found = self.registry.get(app_id, recheck_missing=app_id != self.default.app_id)
            except (OSError, ValueError, AppSpecError) as exc:
                raise AppSpecError(f"the app registry cannot be read: {exc}") from None
            if found is not None:
                return found
        if app_id == self.default.app_id or self.catch_all:
            return self.default
        raise UnknownAppError(app_id)
