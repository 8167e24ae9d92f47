"""Acknowledged writes survive a SIGKILL of the server (issue 10, item 1), at a small size.

The harness is ``scripts/crash_test.py`` (run it directly for the larger figures): ten rounds of
start ``zilliz-bailian serve`` on one data dir, concurrent async ingestion through
``ZillizPipelinesClient`` (4 requests in flight), SIGKILL mid-run; then every acknowledged id is
queried by id in the engine (exact text, preserved score, finite vector equal to the embedding of
the text), and every restart must answer a search with finite distances.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import ModuleType

from tests.server.scripts import load_script


def _harness() -> ModuleType:
    return load_script("crash_test")


def test_acknowledged_ingestion_survives_ten_sigkills(tmp_path: Path) -> None:
    crash = _harness()
    # Where bytecode is not written (PYTHONDONTWRITEBYTECODE) a server start costs ~5 s; with a
    # bytecode cache kept between runs, ~1 s. It holds only compiled modules, no state.
    pycache = Path(tempfile.gettempdir()) / f"zb-crash-pycache-{os.getuid()}"
    cfg = crash.CrashConfig(
        kills=10,
        concurrency=4,
        batch=4,
        min_acks_per_round=2,
        jitter_s=0.15,
        seed=10,
        data_dir=tmp_path / "data",
        pycache_dir=pycache,
        verify_every_kill=False,  # rows are never deleted here: one exact check sees every loss
        final_restart=False,  # restarts 2-10 already had to answer a search
    )
    report = crash.run_crash_test(cfg)
    assert report.kills == 10
    assert report.rows_acknowledged >= 10 * 2 * 4, report.summary()
    assert report.ok, report.summary()
