"""Compare ``dpkg validate`` with ``frictionless validate --json`` on the same descriptors.

Usage: python scripts/compare_with_frictionless.py DESCRIPTOR [DESCRIPTOR ...]

For each descriptor it prints the number of errors each tool found and whether the two lists
agree on (check, file, row, field). Checks that only dpkg makes (stray files, BOMs, hashes of
article files, curation and GX rules) are left out of the comparison; frictionless' header
errors carry no row, which dpkg reports as the header row (1).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

BIN = Path(sys.executable).parent
DPKG_ONLY = {"stray-file", "byte-order-mark", "hash-mismatch", "file-missing", "unsafe-path", "frictionless-warning"}


def frictionless_keys(path: str) -> tuple[Counter, str]:
    """(check, file, row, field) of every error ``frictionless validate --json`` reports."""
    out = subprocess.run([str(BIN / "frictionless"), "validate", "--json", path], capture_output=True, text=True)
    try:
        report = json.loads(out.stdout)
    except json.JSONDecodeError:
        return Counter(), f"frictionless gave no JSON: {(out.stderr or out.stdout).strip()[:120]}"
    root = Path(path).parent
    keys: Counter = Counter()
    for error in report.get("errors", []):
        keys[(error["type"], None, None, None)] += 1
    for task in report.get("tasks", []):
        place = task.get("place", "")
        place = place[len(str(root)) + 1:] if place.startswith(str(root) + "/") else place
        for error in task["errors"]:
            row = error.get("rowNumber")
            if row is None and "#header" in error.get("tags", []):
                row = (error.get("rowNumbers") or [1])[0]
            field = error.get("fieldName") or ",".join(error.get("fieldNames") or []) or None
            keys[(error["type"], place, row, field)] += 1
    return keys, ""


def dpkg_keys(path: str) -> tuple[Counter, str]:
    """The same keys from dpkg's validation: what ``dpkg validate --format json`` lists (the report
    of :func:`datapkg.validate.validate_package`), computed in this process."""
    from datapkg.errors import DpkgError
    from datapkg.validate import validate_package

    try:
        report = validate_package(path).to_dict()
    except DpkgError as exc:
        return Counter(), f"dpkg refused: {exc}"
    keys: Counter = Counter()
    for f in report["errors"]:
        if f["check"] in DPKG_ONLY:
            continue
        field = None if f["check"] == "primary-key" else f["field"]  # frictionless names no field for a key
        keys[(f["check"], None if f["resource"] is None else f["file"], f["row"], field)] += 1
    return keys, ""


def main(paths: list[str]) -> int:
    disagreements = 0
    for path in paths:
        theirs, t_note = frictionless_keys(path)
        ours, o_note = dpkg_keys(path)
        same = theirs == ours
        disagreements += not same
        print(f"{'SAME' if same else 'DIFF'}  frictionless={sum(theirs.values()):4d}  dpkg={sum(ours.values()):4d}  {path}"
              + (f"  [{t_note or o_note}]" if (t_note or o_note) else ""))
        if not same:
            for key in sorted((theirs - ours).keys(), key=str):
                print("    only frictionless:", key)
            for key in sorted((ours - theirs).keys(), key=str):
                print("    only dpkg:        ", key)
    return 1 if disagreements else 0


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # as dpkg does once GX is loaded: no teardown, where DuckDB's bindings print leak reports
