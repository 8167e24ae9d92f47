"""``ZillizPipelineIndexRetriever``: the managed index's retriever, nodes linked to their Document.

A :class:`ZillizPipelineRetriever` whose nodes carry their Document as ``ref_doc_id`` (the
preserved ref-doc field of a text set, the ``doc_name`` of a doc set); bookkeeping fields stay
out of LLM prompts and re-embedding.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo

from llama_index_ext.retrievers import ZillizPipelineRetriever

__all__ = ["ZillizPipelineIndexRetriever"]


class ZillizPipelineIndexRetriever(ZillizPipelineRetriever):
    """The index's retriever: each node's ``ref_doc_id`` is the Document (or doc_name) it came
    from, read from the ref-doc field the hit returns; that field and ``chunk_id`` are kept out
    of LLM prompts."""

    def __init__(self, pipeline_id: str, *, ref_doc_field: str, **settings: Any) -> None:
        """``settings``: those of :class:`ZillizPipelineRetriever`."""
        self.ref_doc_field = ref_doc_field
        super().__init__(pipeline_id, **settings)

    def _with_sources(self, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        for scored in nodes:
            metadata = scored.node.metadata
            kept = [key for key in (self.ref_doc_field, "chunk_id") if key in metadata]
            scored.node.excluded_llm_metadata_keys.extend(kept)
            scored.node.excluded_embed_metadata_keys.extend(kept)
            source = metadata.get(self.ref_doc_field) or metadata.get("doc_name")
            if isinstance(source, str) and source:
                scored.node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=source)
        return nodes

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._with_sources(super()._retrieve(query_bundle))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self._with_sources(await super()._aretrieve(query_bundle))
