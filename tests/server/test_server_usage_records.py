"""Usage totals count every usage record, however many there are (not one query's worth)."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from langchain_zilliz_bailian.server import LocalServer
from langchain_zilliz_bailian.server.storage import Storage, all_meta
from langchain_zilliz_bailian.server.usage import UsageCounters


class ShuffledMeta:
    """Stands in for :class:`Storage` in :func:`all_meta`: answers a metadata query with any
    ``limit`` of the matching records, in no particular order (as Milvus may)."""

    def __init__(self, keys: list[str], seed: int) -> None:
        self.rows = [{"key": f"usage:{k}", "body": f'{{"key": "{k}"}}'} for k in keys]
        self.rng = random.Random(seed)
        self.queries = 0

    def _query_meta_rows(
        self, filter_expr: str, limit: int, level: str, fields: list[str]
    ) -> list[dict[str, Any]]:
        assert 'kind == "usage"' in filter_expr and fields == ["key", "body"]
        self.queries += 1
        low = re.search(r'key >= "([^"]*)"', filter_expr)
        high = re.search(r'key < "([^"]*)"', filter_expr)
        found = [
            row
            for row in self.rows
            if (low is None or row["key"] >= low.group(1))
            and (high is None or row["key"] < high.group(1))
        ]
        self.rng.shuffle(found)
        return found[:limit]


@pytest.mark.parametrize(("count", "page"), [(0, 5), (4, 5), (5, 5), (1000, 7), (300, 2)])
def test_every_record_is_read_once_whatever_order_milvus_answers_in(count: int, page: int) -> None:
    keys = [f"pipe-{n:022x}--n{n % 5}" for n in range(count)]
    fake = ShuffledMeta(keys, seed=count)
    got = all_meta(fake, "usage", page)  # type: ignore[arg-type]
    assert sorted(record["key"] for record in got) == sorted(keys)
    assert fake.queries <= 1 + 6 * count / (page - 1)


def test_a_page_of_one_cannot_split() -> None:
    with pytest.raises(ValueError, match="page"):
        all_meta(ShuffledMeta([], 0), "usage", 1)  # type: ignore[arg-type]


@pytest.fixture
def storage(server: LocalServer) -> Storage:
    found: Storage = server.app.state.context.storage
    return found


def test_usage_beyond_one_page_is_summed_and_forgotten(storage: Storage) -> None:
    pipeline_id = "pipe-" + f"{random.getrandbits(88):022x}"
    for node in range(23):
        record = {"key": f"{pipeline_id}--n{node}", "pipelineId": pipeline_id}
        storage.put_meta("usage", record["key"], {**record, "embedding": node, "rerank": 1})
    counters = UsageCounters(storage, page=4)
    totals = counters.stored()[pipeline_id]
    assert (totals["embedding"], totals["rerank"]) == (sum(range(23)), 23)
    counters.forget(pipeline_id)
    assert pipeline_id not in UsageCounters(storage, page=4).stored()
    assert all(r["pipelineId"] != pipeline_id for r in all_meta(storage, "usage", 3))
