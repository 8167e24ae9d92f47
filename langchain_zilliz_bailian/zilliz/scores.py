"""Which way a search pipeline's ``distance`` points, and the ``score_threshold`` cut-off.

Describe reports no metric and a pipeline is created without one, so the direction is read from
what is known. The documented search results come best first with falling values (0.727, then
0.457): a similarity (COSINE or IP), where higher is closer. A reranker's relevance scores are
higher-better too, and the local server searches with COSINE. So a hit passes the threshold when
``distance >= score_threshold``; only when the described search function names a metric where
smaller is closer (``metricType`` or ``metric_type``: L2, JACCARD, HAMMING; a compatible server may
report one) and has no reranker does it pass when ``distance <= score_threshold``.
"""

from __future__ import annotations

import math

from langchain_zilliz_bailian.errors import InvalidInputError
from langchain_zilliz_bailian.zilliz.models import Pipeline, PipelineFunction

__all__ = ["LOWER_IS_CLOSER", "check_threshold", "higher_is_closer", "passes"]

#: Milvus metrics whose smaller values mean closer vectors.
LOWER_IS_CLOSER = frozenset({"L2", "JACCARD", "HAMMING", "MHJACCARD"})
_METRIC_KEYS = ("metricType", "metric_type")


def _search_function(pipeline: Pipeline) -> PipelineFunction | None:
    return next((f for f in pipeline.functions if f.action.startswith("SEARCH_")), None)


def higher_is_closer(pipeline: Pipeline | None) -> bool:
    """Whether a larger ``distance`` means a better hit for this pipeline (module docstring)."""
    function = _search_function(pipeline) if pipeline is not None else None
    if function is None or function.reranker:
        return True
    extra = function.model_extra or {}
    metric = next((extra[key] for key in _METRIC_KEYS if key in extra), None)
    return str(metric).strip().upper() not in LOWER_IS_CLOSER


def check_threshold(value: object) -> float | None:
    """``value`` as a float if it is a finite number (``None``: no threshold); else bad input."""
    if value is None:
        return None
    try:
        number = float(value) if isinstance(value, int | float) else math.nan
    except OverflowError:  # an int beyond float range
        number = math.inf
    if isinstance(value, bool) or not math.isfinite(number):
        raise InvalidInputError(f"score_threshold must be a finite number, got {value!r}.")
    return number


def passes(distance: float, threshold: float | None, *, higher: bool) -> bool:
    """Whether a hit at ``distance`` is at least as close as ``threshold``."""
    if threshold is None:
        return True
    return distance >= threshold if higher else distance <= threshold
