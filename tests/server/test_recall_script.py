"""``scripts/recall.py`` (``make recall``): its corpora and labels are consistent, its metrics right.

The measurement itself starts servers and takes a minute; these checks need neither.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from langchain_zilliz_bailian.demo.corpus import corpus_names

ROOT = Path(__file__).resolve().parents[2]


def _recall() -> ModuleType:
    spec = importlib.util.spec_from_file_location("recall", ROOT / "scripts" / "recall.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("recall", module)
    spec.loader.exec_module(module)
    return module


def test_every_question_names_a_document_of_its_corpus() -> None:
    recall = _recall()
    documents = dict(recall.stdlib_documents())
    assert len(documents) == 30 and all(len(text.split()) >= 4 for text in documents.values())
    assert {q.doc_name for q in recall.STDLIB_QUESTIONS} <= set(documents)
    assert len(recall.STDLIB_QUESTIONS) == 20
    assert {q.doc_name for q in recall.DEMO_QUESTIONS} <= set(corpus_names())


def test_recall_and_mrr_from_ranks() -> None:
    recall = _recall()
    measured = recall.Measured("x", "demo", [1, 2, None, 4], 8, 2.0, [3.0, 5.0, 4.0, 9.0])
    assert (measured.recall_at(1), measured.recall_at(4)) == (0.25, 0.75)
    assert measured.mrr == (1 + 1 / 2 + 1 / 4) / 4
    assert "| x | demo | 4 | 0.250 | 0.750 | 0.438 | 4 | 4.5 |" in recall.table([measured], 4)
