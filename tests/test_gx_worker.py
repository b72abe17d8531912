"""GX in a forked worker process: the same findings as in-process, errors raised, no stray processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from datapkg.checks import gx_worker
from datapkg.checks.gx_checks import run_gx_checks
from tests.test_gx_checks import CHILD_HEADER, _package, _rows

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the worker needs os.fork")

KL = {"type": "expect_column_kl_divergence_to_be_less_than",  # needs scipy.stats, which the worker loads lazily
      "kwargs": {"column": "amount", "partition_object": {"bins": [0, 50, 100], "weights": [0.9, 0.1]}, "threshold": 0.01},
      "meta": {}}


def _seeded(tmp_path):
    rows = _rows(8)
    for (row, column), value in {(3, "id"): "bad", (4, "day"): "2024-13-01", (5, "country"): "XX",
                                 (6, "amount"): "1000", (7, "n"): "seven", (8, "parent_id"): "P404"}.items():
        rows[row - 2][CHILD_HEADER.index(column)] = value
    root, descriptor = _package(tmp_path, rows)
    (root / "validations").mkdir()
    (root / "validations" / "extra.json").write_text(json.dumps({"name": "extra", "meta": {"resource": "child"}, "expectations": [
        KL, {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10}, "meta": {}}]}))
    return root, descriptor


def test_worker_finds_exactly_what_gx_finds_in_process(tmp_path, monkeypatch):
    root, descriptor = _seeded(tmp_path)
    in_worker = run_gx_checks(root, descriptor)
    monkeypatch.setattr(gx_worker, "start", lambda: None)  # no worker: GX runs in this process
    in_process = run_gx_checks(root, descriptor)
    assert in_worker == in_process
    checks = {f.check for f in in_worker}
    assert {"expect_column_values_to_match_regex", "foreign-key", "expect_table_row_count_to_be_between",
            "expect_column_kl_divergence_to_be_less_than"} <= checks
    assert "gx-expectation-error" not in checks


def test_the_calling_process_never_imports_gx(tmp_path):
    root, _ = _seeded(tmp_path)
    code = ("import json, sys; from pathlib import Path; from datapkg.checks.gx_checks import run_gx_checks; "
            f"root = Path({str(root)!r}); d = json.loads((root / 'datapackage.json').read_text()); "
            "print(len(run_gx_checks(root, d)), 'great_expectations' in sys.modules, 'scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    count, gx_imported, scipy_imported = out.stdout.split()
    assert int(count) >= 8 and gx_imported == "False" and scipy_imported == "False"


def test_an_error_in_the_worker_is_raised_in_the_caller():
    worker = gx_worker.GxWorker()
    with pytest.raises(AttributeError):
        worker.run([object()], None)
    assert worker.pid == 0


def test_cancel_kills_and_reaps_the_worker():
    worker = gx_worker.start()
    assert gx_worker.start() is worker  # one pending worker at a time
    pid = worker.pid
    gx_worker.cancel()
    assert gx_worker.take() is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_run_gx_checks_leaves_no_worker_behind(tmp_path):
    root, descriptor = _package(tmp_path, _rows())
    assert run_gx_checks(root, descriptor, curation=False, schema_resources=set()) == []  # nothing to check
    assert gx_worker.take() is None
