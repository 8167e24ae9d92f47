"""``create_pipelines``: the pipeline set a managed index runs on, made in one call.

Built on :meth:`ZillizPipelinesClient.create_pipeline_set`; a text set also preserves the
ref-doc field (``doc_id``), so ``delete_ref_doc`` can remove exactly one Document's chunks. The
arguments are those of ``llama-index-indices-managed-zilliz`` 0.3.0's ``create_pipelines``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import httpx
from typing_extensions import TypedDict, Unpack

from langchain_zilliz_bailian._http.checks import insecure_url_reported
from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.client import ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.connection import checked_connection
from llama_index_ext.managed_layout import (
    DEFAULT_REF_DOC_FIELD,
    check_ref_doc_field,
    pipeline_ids_of,
)

__all__ = ["PipelineSetOptions", "Transport", "create_pipelines"]

DEFAULT_COLLECTION = "zcp_llamalection"
#: 0.3.0 options the REST pipeline set made here cannot honour (chunking is the service's).
_UNSUPPORTED = ("chunkSize", "splitBy")


class Transport(TypedDict, total=False):
    """The connection options besides ``api_key`` and ``cloud_region`` (see ZillizConnection)."""

    base_url: str | None
    timeout: float | httpx.Timeout | None
    max_retries: int
    http_client: httpx.Client | None
    http_async_client: httpx.AsyncClient | None


class PipelineSetOptions(Transport, total=False):
    """What ``create_pipelines`` takes besides the 0.3.0 positional arguments."""

    #: ``ENGLISH`` (default) or ``CHINESE``.
    language: Literal["ENGLISH", "CHINESE"]
    #: The embedding model of ingestion and search (default: the language's bge model).
    embedding: str | None
    #: A reranker for the search function.
    reranker: str | None
    #: The pipelines' name prefix (default: the collection name).
    name: str | None
    #: A description for the three pipelines.
    description: str
    #: The preserved VarChar field keeping each Document's id in a text set (default ``doc_id``).
    ref_doc_field: str
    #: 0.3.0 chunking options: refused (the pipeline set uses the service's chunking).
    chunkSize: int
    splitBy: Any


def _prepare(
    where: tuple[str, str, str],
    data_type: str,
    metadata_schema: Mapping[str, str] | None,
    options: Mapping[str, Any],
    credentials: tuple[str | None, str | None],
) -> tuple[ZillizPipelinesClient, dict[str, Any]]:
    """The client and the ``create_pipeline_set`` arguments, all checked before any request.

    ``where``: project, cluster and collection; ``credentials``: cloud region and API key.
    """
    given = [key for key in _UNSUPPORTED if key in options]
    if given:
        raise InvalidInputError(
            f"{given} are not supported: the pipeline set uses the service's chunking; create "
            "the pipelines with ZillizPipelinesClient.create(spec) to set them."
        )
    if data_type not in ("text", "doc"):
        raise InvalidInputError(f"data_type must be 'text' or 'doc', got {data_type!r}.")
    if metadata_schema is not None and not isinstance(metadata_schema, Mapping):
        raise InvalidInputError("metadata_schema maps field names to field types.")
    own = {"language", "embedding", "reranker", "name", "description", "ref_doc_field"}
    settings = {key: value for key, value in options.items() if key in own}
    connection = {key: value for key, value in options.items() if key not in own}
    connection.update(cloud_region=credentials[0], api_key=credentials[1])
    checked = checked_connection(connection, stacklevel=4)
    field = check_ref_doc_field(settings.pop("ref_doc_field", DEFAULT_REF_DOC_FIELD))
    preserve = dict(metadata_schema or {})
    if data_type == "text":
        if preserve.get(field, "VarChar") != "VarChar":
            raise InvalidInputError(f"{field!r} keeps Document ids and must be a VarChar field.")
        preserve[field] = "VarChar"
    with insecure_url_reported():  # warned just now
        client = ZillizPipelinesClient(**checked)
    project_id, cluster_id, collection_name = where
    name = settings.pop("name", None) or collection_name
    return client, {
        "name": name,
        "project_id": project_id,
        "cluster_id": cluster_id,
        "collection_name": collection_name,
        "kind": data_type,
        "preserve": preserve,
        **settings,
    }


def create_pipelines(
    project_id: str,
    cluster_id: str,
    cloud_region: str | None = None,
    api_key: str | None = None,
    collection_name: str = DEFAULT_COLLECTION,
    data_type: Literal["text", "doc"] = "text",
    metadata_schema: Mapping[str, str] | None = None,
    **options: Unpack[PipelineSetOptions],
) -> dict[str, str]:
    """Create the INGESTION, SEARCH and DELETION pipelines of ``collection_name``; their ids.

    ``data_type`` ``"text"`` stores Documents' texts (``from_documents``, ``insert``), ``"doc"``
    documents from URLs or files (``from_document_url``, ``insert_doc_url``).
    ``metadata_schema`` maps preserved field names to their types (``VarChar``, ``Int16``, ...).
    """
    where = (project_id, cluster_id, collection_name)
    client, arguments = _prepare(
        where, data_type, metadata_schema, options, (cloud_region, api_key)
    )
    with client:
        return pipeline_ids_of(client.create_pipeline_set(**arguments)).as_dict()
