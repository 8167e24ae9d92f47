"""Fault injection (off by default) so client retry, timeout and stream handling can be tested.

Two mechanisms, both settable at construction and at run time (``POST /_admin/faults``):

* rates: ``latency_ms`` on every request, ``rate_429`` / ``rate_500`` random failures drawn from a
  seedable RNG, ``stream_error_after`` / ``drop_after`` applied to every SSE stream;
* a queue of exact faults: ``{"fail_next": {"kind": "429", "count": 2}}`` makes exactly the next two
  in-scope requests fail. Kinds: ``429``, ``500``, ``latency`` (uses ``ms``), ``stream_error`` and
  ``drop`` (use ``after`` = number of result events first; only consumed by streaming completions).
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Api = Literal["zilliz", "bailian"]
FAULT_KINDS = ("429", "500", "latency", "stream_error", "drop")
SCOPES = ("all", "zilliz", "bailian")
#: Upper bounds of fault parameters: a fault slows or breaks requests, it must not hang the server.
MAX_LATENCY_MS = 60_000
MAX_RETRY_AFTER_S = 3_600
MAX_COUNT = 10_000
MAX_PLANNED = 100  # pending fail_next entries


def _check_int(name: str, value: object, high: int, low: int = 0) -> None:
    """``value`` is an int (not a bool) within ``[low, high]``, else ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer within [{low}, {high}]")


@dataclass
class FaultConfig:
    """Standing fault settings; all zero/None means no fault."""

    latency_ms: int = 0
    rate_429: float = 0.0
    rate_500: float = 0.0
    retry_after_s: int = 1
    stream_error_after: int | None = None
    drop_after: int | None = None
    seed: int | None = None
    scope: str = "all"

    def validate(self) -> None:
        """Raise ValueError on a value of the wrong type or out of its bounds."""
        _check_int("latency_ms", self.latency_ms, MAX_LATENCY_MS)
        _check_int("retry_after_s", self.retry_after_s, MAX_RETRY_AFTER_S)
        for rate in (self.rate_429, self.rate_500):
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ValueError("rates must be numbers within [0, 1]")
        if self.rate_429 + self.rate_500 > 1.0:
            raise ValueError("rate_429 + rate_500 must be <= 1")
        for name in ("stream_error_after", "drop_after"):
            value = getattr(self, name)
            if value is not None:
                _check_int(name, value, MAX_COUNT)
        if self.seed is not None:
            _check_int("seed", self.seed, 2**63 - 1, -(2**63))
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}")


@dataclass
class PlannedFault:
    """One entry of the exact-fault queue."""

    kind: str
    count: int = 1
    after: int = 1
    ms: int = 0
    scope: str = "all"


@dataclass
class Decision:
    """What to do to one request."""

    latency_ms: int = 0
    status: int | None = None
    retry_after_s: int = 1
    stream_error_after: int | None = None
    drop_after: int | None = None
    planned: bool = False


@dataclass
class _Stats:
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 0))


class FaultInjector:
    """Thread-safe holder of the fault configuration; ``decide`` is called once per request."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.config = config or FaultConfig()
        self.config.validate()
        self._rng = random.Random(self.config.seed)
        self._queue: deque[PlannedFault] = deque()
        self._stats = _Stats()

    def reset(self) -> None:
        """Back to no faults at all."""
        with self._lock:
            self.config = FaultConfig()
            self._rng = random.Random()
            self._queue.clear()
            self._stats = _Stats()

    def update(self, patch: dict[str, Any]) -> dict[str, Any]:
        """Apply a partial update (config fields, ``fail_next``, ``reset``); return the state."""
        if patch.get("reset"):
            self.reset()
        known = {f.name for f in fields(FaultConfig)}
        unknown = set(patch) - known - {"fail_next", "reset"}
        if unknown:
            raise ValueError(f"unknown fault option(s): {sorted(unknown)}")
        planned = patch.get("fail_next")
        entries = planned if isinstance(planned, list) else [planned] if planned else []
        if len(entries) > MAX_PLANNED:
            raise ValueError(f"at most {MAX_PLANNED} fail_next entries can be pending")
        parsed: list[PlannedFault] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ValueError("fail_next entries must be objects")
            fault = PlannedFault(**{k: v for k, v in entry.items()})
            if fault.kind not in FAULT_KINDS:
                raise ValueError(f"fail_next.kind must be one of {FAULT_KINDS}")
            _check_int("fail_next.count", fault.count, MAX_COUNT, low=1)
            _check_int("fail_next.after", fault.after, MAX_COUNT)
            _check_int("fail_next.ms", fault.ms, MAX_LATENCY_MS)
            if fault.scope not in SCOPES:
                raise ValueError(f"fail_next.scope must be one of {SCOPES}")
            parsed.append(fault)
        with self._lock:
            data = asdict(self.config)
            data.update({k: v for k, v in patch.items() if k in known})
            new = FaultConfig(**data)
            new.validate()
            if len(self._queue) + len(parsed) > MAX_PLANNED:
                raise ValueError(f"at most {MAX_PLANNED} fail_next entries can be pending")
            if "seed" in patch:
                self._rng = random.Random(new.seed)
            self.config = new
            self._queue.extend(parsed)
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        """Current configuration, pending exact faults and counts of injected faults."""
        with self._lock:
            return {
                **asdict(self.config),
                "fail_next": [asdict(f) for f in self._queue],
                "injected": dict(self._stats.injected),
            }

    @staticmethod
    def _in_scope(scope: str, api: Api) -> bool:
        return scope == "all" or scope == api

    def decide(self, api: Api, streaming: bool = False) -> Decision:
        """Pick the faults for one request of ``api`` (``streaming`` for SSE completions)."""
        with self._lock:
            cfg = self.config
            decision = Decision(retry_after_s=cfg.retry_after_s)
            for fault in list(self._queue):
                if not self._in_scope(fault.scope, api):
                    continue
                if fault.kind in ("stream_error", "drop") and not streaming:
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._queue.remove(fault)
                self._stats.injected[fault.kind] += 1
                decision.planned = True
                if fault.kind == "latency":
                    decision.latency_ms = fault.ms
                elif fault.kind in ("429", "500"):
                    decision.status = int(fault.kind)
                elif fault.kind == "stream_error":
                    decision.stream_error_after = fault.after
                else:
                    decision.drop_after = fault.after
                return decision
            if not self._in_scope(cfg.scope, api):
                return decision
            decision.latency_ms = cfg.latency_ms
            if cfg.rate_429 or cfg.rate_500:
                draw = self._rng.random()
                if draw < cfg.rate_429:
                    decision.status = 429
                elif draw < cfg.rate_429 + cfg.rate_500:
                    decision.status = 500
                if decision.status:
                    self._stats.injected[str(decision.status)] += 1
            if streaming:
                decision.stream_error_after = cfg.stream_error_after
                decision.drop_after = cfg.drop_after
            if cfg.latency_ms:
                self._stats.injected["latency"] += 1
            return decision
