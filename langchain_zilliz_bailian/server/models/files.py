"""Model files on disk: where they are looked up, how they are fetched and how they are checked.

A model is a set of files (an ONNX graph, a tokenizer) in one directory named for the model. The
:class:`ModelStore` looks for that directory in the operator's ``--model-dir`` first (air-gapped
machines copy the files there), then in the cache under the data dir (``<data_dir>/models``), and
only when downloads are allowed fetches the missing files into the cache from their documented
URLs. Every file is checked against its sha256: the pinned one when the catalogue knows it, else
the one recorded in the directory's ``SHA256SUMS`` on first download (trust on first use).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx

#: Name of the per-directory manifest of ``<sha256>  <file name>`` lines.
MANIFEST = "SHA256SUMS"
#: A download larger than this is refused (the bge-base ONNX graphs are about 440 MB).
MAX_DOWNLOAD_BYTES = 2 * 1024**3
_CHUNK = 1024 * 1024


class ModelUnavailableError(Exception):
    """A model's files cannot be found or fetched; the message says how to make them available."""


class ModelIntegrityError(ModelUnavailableError):
    """A model file's sha256 differs from the expected one (a corrupt or substituted file)."""


@dataclass(frozen=True)
class ModelFile:
    """One file of a model: its name in the model directory, where to fetch it, its sha256."""

    name: str
    url: str
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files live: ``directory`` (under ``--model-dir`` or the cache) and files."""

    model: str
    directory: str
    files: tuple[ModelFile, ...]

    def describe_files(self) -> str:
        """``model.onnx (<url>), tokenizer.json (<url>)`` for error messages."""
        return ", ".join(f"{f.name} ({f.url})" for f in self.files)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """:class:`ModelIntegrityError` unless ``path`` hashes to ``expected``."""
    actual = sha256_of(path)
    if actual != expected.lower():
        raise ModelIntegrityError(
            f"{path} has sha256 {actual}, expected {expected.lower()}: the file is corrupt or "
            "not the expected model; delete it and fetch or copy it again."
        )


def read_manifest(directory: Path) -> dict[str, str]:
    """``{file name: sha256}`` recorded in ``directory/SHA256SUMS`` (empty when absent)."""
    try:
        lines = (directory / MANIFEST).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    recorded: dict[str, str] = {}
    for line in lines:
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            recorded[name] = digest.lower()
    return recorded


def _write_manifest(directory: Path, recorded: dict[str, str]) -> None:
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(recorded.items()))
    (directory / MANIFEST).write_text(text, encoding="utf-8")


class ModelStore:
    """Finds a model's directory in ``model_dir``, then ``cache_dir``; fetches into the cache
    only if allowed.

    ``transport`` replaces the network (tests serve files from a local stub). Thread-safe: two
    requests for the same missing model download it once; other models are not held up.
    """

    def __init__(
        self,
        cache_dir: Path,
        model_dir: Path | None = None,
        *,
        allow_download: bool = False,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.cache_dir = cache_dir
        self.model_dir = model_dir
        self.allow_download = allow_download
        self._transport = transport
        self._timeout_s = timeout_s
        self._lock = threading.Lock()  # guards _gates only
        self._gates: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return (
            f"ModelStore(cache_dir={str(self.cache_dir)!r}, model_dir="
            f"{str(self.model_dir) if self.model_dir else None!r}, "
            f"allow_download={self.allow_download})"
        )

    def how_to_provide(self, source: ModelSource) -> str:
        """The sentence an operator needs: where to copy the files, or which flag fetches them."""
        where = f"{self.model_dir}/{source.directory}" if self.model_dir else None
        copy = (
            f"copy its files into {where}"
            if where
            else f"copy its files into <--model-dir>/{source.directory}"
        )
        return (
            f"{copy} ({source.describe_files()}), or start the server with --model-download to "
            f"fetch them into {self.cache_dir / source.directory}"
        )

    def _complete(self, directory: Path, source: ModelSource) -> bool:
        return all((directory / f.name).is_file() for f in source.files)

    def locate(self, source: ModelSource) -> Path:
        """The directory holding all of ``source``'s files, each checked against its sha256.

        Raises :class:`ModelUnavailableError` (missing, download off or failed) or
        :class:`ModelIntegrityError` (a file with the wrong hash).
        """
        with self._lock:
            gate = self._gates.setdefault(source.directory, threading.Lock())
        with gate:
            candidates = [self.model_dir / source.directory] if self.model_dir else []
            candidates.append(self.cache_dir / source.directory)
            for directory in candidates:
                if self._complete(directory, source):
                    self._verify(directory, source)
                    return directory
            if not self.allow_download:
                raise ModelUnavailableError(
                    f"Model {source.model} is not available offline: {self.how_to_provide(source)}."
                )
            directory = self.cache_dir / source.directory
            self._download(directory, source)
            return directory

    def _verify(self, directory: Path, source: ModelSource) -> None:
        recorded = read_manifest(directory)
        for file in source.files:
            expected = file.sha256 or recorded.get(file.name)
            if expected:
                verify_sha256(directory / file.name, expected)

    def _download(self, directory: Path, source: ModelSource) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        recorded = read_manifest(directory)
        with httpx.Client(
            transport=self._transport, timeout=self._timeout_s, follow_redirects=True
        ) as client:
            for file in source.files:
                target = directory / file.name
                if target.is_file():
                    expected = file.sha256 or recorded.get(file.name)
                    if expected:
                        verify_sha256(target, expected)
                    continue
                recorded[file.name] = self._fetch(client, file, target)
                _write_manifest(directory, recorded)  # after each file: a retry checks it too

    def _fetch(self, client: httpx.Client, file: ModelFile, target: Path) -> str:
        """Stream ``file.url`` into ``target`` (atomically, hash checked); its sha256."""
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(prefix=f".{file.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out, client.stream("GET", file.url) as response:
                if response.status_code != 200:
                    raise ModelUnavailableError(
                        f"Fetching {file.url} answered HTTP {response.status_code}."
                    )
                for block in response.iter_bytes(_CHUNK):
                    size += len(block)
                    if size > MAX_DOWNLOAD_BYTES:
                        raise ModelUnavailableError(
                            f"{file.url} exceeds {MAX_DOWNLOAD_BYTES} bytes; refused."
                        )
                    digest.update(block)
                    out.write(block)
            actual = digest.hexdigest()
            if file.sha256 and actual != file.sha256.lower():
                raise ModelIntegrityError(
                    f"{file.url} has sha256 {actual}, expected {file.sha256.lower()}; "
                    "the download was discarded."
                )
            os.replace(tmp_name, target)
            return actual
        except httpx.HTTPError as exc:
            raise ModelUnavailableError(
                f"Fetching {file.url} failed: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
