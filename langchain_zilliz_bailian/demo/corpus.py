"""The bundled corpus: Markdown documents about this package, shipped as package data."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

CORPUS_PACKAGE = "langchain_zilliz_bailian.demo"
CORPUS_DIR = "corpus"


@dataclass(frozen=True)
class CorpusFile:
    """One document of the corpus: a readable local path and its ``topic`` (the file stem)."""

    path: Path
    topic: str

    @property
    def name(self) -> str:
        """The file name, which becomes the document's ``doc_name`` on the server."""
        return self.path.name


def corpus_names() -> list[str]:
    """File names of the corpus, sorted."""
    root = resources.files(CORPUS_PACKAGE).joinpath(CORPUS_DIR)
    return sorted(entry.name for entry in root.iterdir() if entry.name.endswith(".md"))


@contextlib.contextmanager
def corpus_files() -> Iterator[list[CorpusFile]]:
    """The corpus as real files (extracted to a temporary place if the package is zipped)."""
    root = resources.files(CORPUS_PACKAGE).joinpath(CORPUS_DIR)
    with contextlib.ExitStack() as stack:
        files = []
        for name in corpus_names():
            path = stack.enter_context(resources.as_file(root.joinpath(name)))
            files.append(CorpusFile(path=Path(path), topic=Path(name).stem))
        yield files
