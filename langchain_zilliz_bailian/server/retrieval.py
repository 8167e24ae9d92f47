"""Knowledge-base retrieval for an app turn: search its pipelines' collections, keep the best.

Search pipelines (or ingestion pipelines, which name the same collection) are searched with the
turn's query; ``rag_options`` filters become ``field == value`` terms on existing fields. The
passages are numbered from 1 in score order: ``n`` is what ``<ref>[n]</ref>`` cites.
"""

from __future__ import annotations

from typing import Any

from langchain_zilliz_bailian.server.answer import Passage
from langchain_zilliz_bailian.server.apps import RetrievalSettings
from langchain_zilliz_bailian.server.errors import BailianError, ZillizError, invalid_parameter
from langchain_zilliz_bailian.server.expr import ExpressionError, all_of, field_equals
from langchain_zilliz_bailian.server.pipeline_runs import PipelineService

#: Preserved fields that fill a reference's ``doc_url`` and ``page_number`` when present.
_URL_FIELDS = ("doc_url", "url", "source")
_PAGE_FIELDS = ("page_number", "page", "page_numbers")
_KINDS = {
    "SEARCH_TEXT": "text",
    "INDEX_TEXT": "text",
    "SEARCH_DOC_CHUNK": "doc",
    "INDEX_DOC": "doc",
}


class KnowledgeSearch:
    """Searches the collections behind pipeline ids for one query."""

    def __init__(self, pipelines: PipelineService) -> None:
        self.pipelines = pipelines

    def _filter_expression(self, collection: str, filters: dict[str, Any]) -> str:
        """``rag_options`` filters become ``field == value`` terms (only for existing fields)."""
        fields = self.pipelines.collection_fields(collection)
        clauses = []
        for key, value in filters.items():
            if key not in fields or isinstance(value, dict | list) or value is None:
                continue
            try:
                clauses.append(field_equals(key, value))
            except ExpressionError as exc:
                raise invalid_parameter(f"rag_options filter {key!r}: {exc}.") from None
        return all_of(*clauses)

    def _targets(self, pipeline_ids: list[str]) -> list[tuple[str, str, str]]:
        """(pipeline_id, collection, kind) for each SEARCH or INGESTION text/doc pipeline."""
        targets = []
        for pid in pipeline_ids:
            try:
                pipeline = self.pipelines.pipeline(pid)  # not describe: no usage tally read
            except ZillizError:
                raise invalid_parameter(f"Unknown knowledge base pipeline id {pid!r}.") from None
            fn = next(f for f in pipeline["functions"] if f["action"] != "PRESERVE")
            if fn["action"] not in _KINDS:
                raise invalid_parameter(
                    f"Pipeline {pid} ({fn['action']}) cannot be used for retrieval; pass a "
                    "SEARCH_TEXT or SEARCH_DOC_CHUNK pipeline."
                )
            collection = fn.get("collectionName") or pipeline["collectionName"]
            targets.append((pid, collection, _KINDS[fn["action"]]))
        return targets

    def search(
        self,
        query: str,
        pipeline_ids: list[str],
        filters: dict[str, Any],
        settings: RetrievalSettings,
    ) -> list[Passage]:
        """The ``settings.top_k`` best passages scoring at least ``settings.min_score``."""
        found: list[tuple[float, dict[str, Any], str, str]] = []
        for pid, collection, kind in self._targets(pipeline_ids):
            expr = self._filter_expression(collection, filters)
            fields = self.pipelines.collection_fields(collection)
            extra = [f for f in (*_URL_FIELDS, *_PAGE_FIELDS) if f in fields]
            try:
                results, _ = self.pipelines.search_collection(
                    collection, kind, query, settings.top_k, 0, extra, expr
                )
            except ZillizError as exc:
                raise BailianError("InvalidParameter", f"Retrieval failed: {exc.message}") from None
            found.extend((float(item["distance"]), item, pid, kind) for item in results)
        found.sort(key=lambda f: -f[0])
        passages: list[Passage] = []
        for score, item, pid, kind in found[: settings.top_k]:
            if score < settings.min_score:
                continue
            passages.append(_passage(str(len(passages) + 1), score, item, pid, kind))
        return passages


def _passage(index_id: str, score: float, item: dict[str, Any], pid: str, kind: str) -> Passage:
    """A search hit as a passage with its ``doc_references`` metadata."""
    if kind == "doc":
        text = item.get("chunk_text") or ""
        doc_name = item.get("doc_name") or ""
        headers = [ln.lstrip("# ") for ln in text.splitlines() if ln.startswith("#")]
        return Passage(
            index_id,
            text,
            doc_name,
            headers[-1] if headers else doc_name,
            f"{pid}/{doc_name}",
            score,
            doc_url=_doc_url(item),
            page_number=_pages(item),
        )
    text = item.get("text") or ""
    title = text.split("\n", 1)[0][:64]
    return Passage(
        index_id,
        text,
        title,
        title,
        f"{pid}/{item['id']}",
        score,
        doc_url=_doc_url(item),
        page_number=_pages(item),
    )


def _doc_url(item: dict[str, Any]) -> str:
    """The document's URL when it was ingested from one (``doc_url``/``url`` preserved)."""
    for key in _URL_FIELDS:
        value = item.get(key)
        if isinstance(value, str) and value.startswith(("http://", "https://", "file://")):
            return value
    return ""


def _pages(item: dict[str, Any]) -> list[int]:
    """Page numbers of the chunk when the ingestion recorded them."""
    for key in _PAGE_FIELDS:
        value = item.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return [value]
        if isinstance(value, list) and all(isinstance(v, int) for v in value):
            return list(value)
    return []
