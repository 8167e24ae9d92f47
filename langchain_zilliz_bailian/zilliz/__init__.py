"""Zilliz Cloud Pipelines: the framework-free client and its response models."""

from langchain_zilliz_bailian.zilliz.client import PipelineSet, ZillizPipelinesClient
from langchain_zilliz_bailian.zilliz.keyed import (
    KeyedRecords,
    acreate_keyed_pipelines,
    create_keyed_pipelines,
)
from langchain_zilliz_bailian.zilliz.models import (
    DeletionResult,
    DocIngestionResult,
    ImageIngestionResult,
    Pipeline,
    PipelineFunction,
    SearchHit,
    SearchResult,
    TextIngestionResult,
    Usage,
)

__all__ = [
    "DeletionResult",
    "DocIngestionResult",
    "ImageIngestionResult",
    "KeyedRecords",
    "Pipeline",
    "PipelineFunction",
    "PipelineSet",
    "SearchHit",
    "SearchResult",
    "TextIngestionResult",
    "Usage",
    "ZillizPipelinesClient",
    "acreate_keyed_pipelines",
    "create_keyed_pipelines",
]
