"""The app's citations in LlamaIndex terms: which of a response's ``source_nodes`` each
``<ref>[n]</ref>`` marker points to, and the answer rendered with those nodes as its sources.

A query engine's ``Response`` keeps the LLM's text (markers included) and the nodes it was given,
but not the LLM's ``additional_kwargs``, where :class:`~llama_index_ext.BailianAppLLM` puts the
app's ``doc_references``. :class:`AppReferences` (an instrumentation handler) keeps them;
:func:`cite_source_nodes` matches each reference to a source node: same text, else same id,
else same document name and a title found in the node's text. A reference that matches no node
(the app answered from its own knowledge base, or from memory) keeps ``node=None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.response.schema import (
    AsyncStreamingResponse,
    Response,
    StreamingResponse,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMCompletionEndEvent
from llama_index.core.schema import NodeWithScore

from langchain_zilliz_bailian.bailian import DocReference
from langchain_zilliz_bailian.bailian.cited_answers import (
    Citation,
    ReferenceLike,
    number_markers,
    parse_citations,
    source_line,
)

__all__ = ["AppReferences", "NodeCitation", "cite_source_nodes", "render_response_with_sources"]

AnyResponse = Response | StreamingResponse | AsyncStreamingResponse


@dataclass(frozen=True)
class NodeCitation:
    """One cited id: its span in the clean text, the app's reference and the matching node
    (``node_index`` is its position in ``source_nodes``)."""

    citation: Citation
    node_index: int | None = None
    node: NodeWithScore | None = None


class AppReferences(BaseEventHandler):
    """Keeps the ``doc_references`` of the last answer a Bailian app LLM finished.

    Add it to the dispatcher (``get_dispatcher().add_event_handler(refs)``) before querying;
    ``refs.references`` then holds the references the response's markers point to.
    """

    references: list[dict[str, Any]] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "BailianAppReferences"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, LLMChatEndEvent | LLMCompletionEndEvent) and event.response:
            found = event.response.additional_kwargs.get("doc_references")
            if isinstance(found, list):
                self.references = list(found)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _node_for(reference: DocReference, nodes: Sequence[NodeWithScore]) -> int | None:
    """The position of the node ``reference`` was taken from, if one matches."""
    texts = [_squash(n.node.get_content()) for n in nodes]
    if reference.text and _squash(reference.text) in texts:
        return texts.index(_squash(reference.text))
    for i, scored in enumerate(nodes):
        ids = {scored.node.node_id, str(scored.node.metadata.get("doc_id", ""))}
        if reference.doc_id and reference.doc_id in ids:
            return i
    for i, scored in enumerate(nodes):
        meta = scored.node.metadata
        same_doc = bool(reference.doc_name) and meta.get("doc_name") == reference.doc_name
        if same_doc and (not reference.title or reference.title in scored.node.get_content()):
            return i
    return None


def _text_of(response: AnyResponse) -> str:
    if isinstance(response, Response):
        return response.response or ""
    if isinstance(response, StreamingResponse) and response.response_txt is not None:
        return response.response_txt
    if isinstance(response, AsyncStreamingResponse) and response.response_txt is not None:
        return response.response_txt
    raise ValueError("Read the streaming response to the end before citing its sources.")


def cite_source_nodes(
    response: AnyResponse | str,
    references: Iterable[ReferenceLike],
    source_nodes: Sequence[NodeWithScore] | None = None,
) -> tuple[str, list[NodeCitation]]:
    """The answer without markers and, per cited id, its span, reference and source node.

    ``response`` is a query engine's response (its ``source_nodes`` are used) or raw text (pass
    ``source_nodes``); a streaming response must have been read to the end.
    """
    if isinstance(response, str):
        text, nodes = response, list(source_nodes or [])
    else:
        text = _text_of(response)
        nodes = list(source_nodes if source_nodes is not None else response.source_nodes)
    answer = parse_citations(text, references)
    cited = []
    for citation in answer.citations:
        index = None if citation.reference is None else _node_for(citation.reference, nodes)
        cited.append(NodeCitation(citation, index, None if index is None else nodes[index]))
    return answer.text, cited


def _node_line(number: int, scored: NodeWithScore) -> str:
    meta = scored.node.metadata
    name = meta.get("doc_name") or meta.get("file_name") or scored.node.node_id
    first = next((ln.lstrip("# ") for ln in scored.node.get_content().splitlines() if ln), "")
    return f"[{number}] {name} - {first[:80]}" if first else f"[{number}] {name}"


def render_response_with_sources(
    response: AnyResponse | str,
    references: Iterable[ReferenceLike],
    source_nodes: Sequence[NodeWithScore] | None = None,
    *,
    heading: str = "Sources:",
) -> str:
    """The answer with ``[n]`` numbers that are positions in ``source_nodes`` (1-based), then
    the cited nodes; a citation no node matches is numbered after the nodes and listed with
    its reference."""
    text, cited = cite_source_nodes(response, references, source_nodes)
    nodes = list(source_nodes or ([] if isinstance(response, str) else response.source_nodes))
    numbers: dict[str, int] = {}
    lines: dict[int, str] = {}
    extra = len(nodes)
    for item in cited:
        index_id = item.citation.index_id
        if index_id in numbers:
            continue
        if item.node is not None and item.node_index is not None:
            numbers[index_id] = item.node_index + 1
            lines[numbers[index_id]] = _node_line(numbers[index_id], item.node)
        else:
            extra += 1
            numbers[index_id] = extra
            lines[extra] = source_line(extra, index_id, item.citation.reference)
    body = number_markers(text, [item.citation for item in cited], numbers)
    if not lines:
        return body
    return "\n".join([body.rstrip(), "", heading, *(lines[n] for n in sorted(lines))])
