"""Zilliz Cloud Pipelines: the framework-free client and its response models."""

from langchain_zilliz_bailian.zilliz.client import PipelineSet, ZillizPipelinesClient
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
    "Pipeline",
    "PipelineFunction",
    "PipelineSet",
    "SearchHit",
    "SearchResult",
    "TextIngestionResult",
    "Usage",
    "ZillizPipelinesClient",
]
