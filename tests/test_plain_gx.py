"""A validations/*.json suite run by plain GX on the built .duckdb gives what dpkg validate gives."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

SUITE = "figures-sanity"


def _plain_gx(database: Path, suite_file: Path) -> list[tuple[bool, int]]:
    """The snippet of validations/README.md: (success, unexpected count) of every expectation."""
    import duckdb
    import great_expectations as gx

    from datapkg.gx_duckdb import CONNECTION_STRING, engine_kwargs, register

    register()
    con = duckdb.connect(str(database), read_only=True)
    try:
        context = gx.get_context(mode="ephemeral")
        source = context.data_sources.add_sql("built", connection_string=CONNECTION_STRING, kwargs=engine_kwargs(con))
        batch = source.add_table_asset("figures", table_name="figures").add_batch_definition_whole_table("all").get_batch()
        data = json.loads(suite_file.read_text(encoding="utf-8"))
        suite = gx.ExpectationSuite(name=data["name"], expectations=data["expectations"])
        results = batch.validate(suite, result_format="COMPLETE").results
        context.data_sources.delete("built")

        def outcome(exp: dict) -> tuple[bool, int]:  # GX adds defaults to the kwargs and orders results its own way
            what = ("column", "unexpected_rows_query")
            result = next(r for r in results if r.expectation_config.type == exp["type"]
                          and all(r.expectation_config.kwargs.get(k) == exp["kwargs"].get(k) for k in what))
            res = result.result or {}
            return result.success, res.get("unexpected_count", res.get("observed_value"))

        return [outcome(e) for e in data["expectations"]]
    finally:
        con.close()


def _break_figures(pkg: Path) -> None:
    path = pkg / "resources" / "figures.csv"
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    rows[1][rows[0].index("value")] = "-5"      # row 2: a negative figure
    currency = next(i for i, r in enumerate(rows) if i and r[rows[0].index("unit_kind")] == "currency")
    rows[currency][rows[0].index("unit")] = "dollars"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_a_suite_run_by_plain_gx_on_the_built_database_agrees_with_dpkg_validate(tmp_path: Path, repo_root: Path):
    pkg = tmp_path / "pkg"
    shutil.copytree(repo_root, pkg, ignore=shutil.ignore_patterns(".venv", ".git", "dist", "*.egg-info", "__pycache__",
                                                                   ".pytest_cache", "node_modules"))
    _break_figures(pkg)
    runner = CliRunner()
    validated = runner.invoke(app, ["validate", str(pkg), "--format", "json"])
    assert validated.exit_code == 1, validated.output
    suite = json.loads((pkg / "validations" / f"{SUITE}.json").read_text())
    checks = [e["meta"]["dpkg"]["check"] for e in suite["expectations"]]
    found = [e for e in json.loads(validated.stdout)["errors"] if e["check"] in checks]
    by_dpkg = [(not [f for f in found if f["check"] == c], len([f for f in found if f["check"] == c])) for c in checks]
    assert by_dpkg == [(False, 1), (False, 1), (True, 0)]
    assert [(f["check"], f["row"], f["field"]) for f in found if f["check"] == "negative-figure"] == [("negative-figure", 2, "value")]
    built = runner.invoke(app, ["build", str(pkg), "--out", str(tmp_path / "dist"), "--force", "--quiet"])
    assert built.exit_code == 0, built.output
    database = next((tmp_path / "dist").glob("*.duckdb"))
    assert _plain_gx(database, pkg / "validations" / f"{SUITE}.json") == by_dpkg
