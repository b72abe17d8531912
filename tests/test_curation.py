"""Curation rules: each rule fed one broken row of a copy of the real package, asserting the exact finding."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from datapkg.checks.curation import normalise_whitespace, run_curation_checks
from datapkg.checks.gx_checks import run_gx_checks
from datapkg.report import Finding, Report
from datapkg.validate import validate_package
from tests.packages import table, write_package

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_PARTS = ("datapackage.json", "resources", "schemas", "seeds")


@pytest.fixture
def pkg(tmp_path: Path) -> Path:
    """A copy of this repository's data package."""
    return copy_package(tmp_path)


def copy_package(folder: Path) -> Path:
    """Copy this repository's data package into ``folder``; return ``folder``."""
    for part in PACKAGE_PARTS:
        source, target = ROOT / part, folder / part
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy2(source, target)
    return folder


class SharedEdits:
    """The cases of one parametrized test, each an edit of a row of its own, found together.

    Case ``i`` (a dict of cells) edits the row of ``resource`` whose ``key`` is ``rows[i % len(rows)]``
    in copy ``i // len(rows)`` of the package, and each copy gets one :func:`findings` for all of its
    cases. The ``rows`` are rows that no rule relates to one another (none is a part or a correction
    of another), so what one case's edit finds is found at its own row: :meth:`of` gives a test its
    case's findings and those of its copy at no case's row (which must be none; over all the cases
    that is the whole of every copy's findings, as when each case had its own copy).
    """

    def __init__(self, factory: pytest.TempPathFactory, resource: str, key: str, rows: list[str],
                 cases: list[dict[str, str]]) -> None:
        self.factory, self.resource, self.key, self.rows, self.cases = factory, resource, key, rows, cases
        self._copies: dict[int, tuple[dict[int, int], list[tuple]]] = {}

    def of(self, cells: dict[str, str]) -> tuple[int, list[tuple], list[tuple]]:
        """(row number of the case ``cells``, the findings at that row, the findings of its copy at no case's row)."""
        index = self.cases.index(cells)
        copy = index // len(self.rows)
        if copy not in self._copies:
            root = copy_package(self.factory.mktemp(f"{self.resource}-edits"))
            at = {i: edit(root, self.resource, self.key, self.rows[i % len(self.rows)], **self.cases[i])
                  for i in range(copy * len(self.rows), min(len(self.cases), (copy + 1) * len(self.rows)))}
            self._copies[copy] = at, findings(root)
        at, found = self._copies[copy]
        file = f"resources/{self.resource}.csv"
        return (at[index], [f for f in found if f[1:3] == (file, at[index])],
                [f for f in found if (f[1], f[2]) not in {(file, row) for row in at.values()}])


def read(root: Path, name: str) -> list[dict[str, str]]:
    with (root / "resources" / f"{name}.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(root: Path, name: str, rows: list[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (root / "resources" / f"{name}.csv").write_text(buffer.getvalue(), encoding="utf-8")


def row_of(root: Path, name: str, key: str, value: str) -> int:
    """Frictionless row number (header = 1) of the row whose ``key`` is ``value``."""
    return next(i for i, row in enumerate(read(root, name), start=2) if row[key] == value)


def edit(root: Path, name: str, key: str, value: str, **cells: str) -> int:
    """Set ``cells`` in the row of ``name`` whose ``key`` is ``value``; return its row number."""
    rows = read(root, name)
    index = next(i for i, row in enumerate(rows) if row[key] == value)
    rows[index].update(cells)
    write(root, name, rows)
    return index + 2


def findings(root: Path) -> list[tuple]:
    """(check, file, row, field) of every curation finding in the package at ``root``.

    On a copy of this repository's package that differs only in some cells of its CSV files (or in
    its article texts), GX runs only the rules that read a changed column (what ``--watch`` takes
    each rule to read, :func:`datapkg.checks.gx_incremental.expectation_inputs`): every other rule
    reads exactly what it reads in this repository's package, where no rule finds anything
    (``test_real_package_has_no_curation_findings``). The findings are therefore those of a run of
    every rule, at a fraction of the cost. Any other difference runs every rule.
    """
    return sorted((f.check, f.file, f.row, f.field) for f in curation_findings(root))


def curation_findings(root: Path) -> list[Finding]:
    """The curation findings of the package at ``root``, as :func:`findings` finds them."""
    descriptor = json.loads((root / "datapackage.json").read_text(encoding="utf-8"))
    changed = changed_columns(root)
    if changed is None:
        return run_curation_checks(root, descriptor)
    return run_gx_checks(root, descriptor, schema=False, only=lambda suite, exp: reads_any(suite, exp, changed))


def validate(root: Path) -> Report:
    """``validate_package(root)``, GX running only the rules that read a changed column, as in
    :func:`findings` (every structure check runs): the other rules, schema suites included, find
    nothing in this repository's package (``test_real_package_passes_frictionless_checks``,
    ``test_real_package_has_no_curation_findings``)."""
    changed = changed_columns(root)
    if changed is None:
        return validate_package(root)
    return validate_package(root, only=lambda suite, exp: reads_any(suite, exp, changed))


def _package_files(root: Path) -> dict[str, Path]:
    files = {}
    for part in PACKAGE_PARTS:
        top = root / part
        for path in [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file()):
            files[path.relative_to(root).as_posix()] = path
    return files


def _cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def changed_columns(root: Path) -> set[tuple[str, str | None]] | None:
    """(resource, column) of every column whose cells in ``root`` differ from this repository's,
    (resource, None) for a resource whose header or row count differs, and (ARTICLE_TEXTS, None)
    when an article text (a file under ``seeds/``) was changed, added or removed; None when anything
    else differs (the descriptor, a schema, a resource file added, removed or not UTF-8)."""
    from datapkg.checks.gx_incremental import ARTICLE_TEXTS

    ours, theirs = _package_files(ROOT), _package_files(root)
    descriptor = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))
    by_path = {r["path"]: r["name"] for r in descriptor["resources"] if isinstance(r.get("path"), str)}
    changed: set[tuple[str, str | None]] = set()
    for rel in ours.keys() ^ theirs.keys():
        if not rel.startswith("seeds/") or rel in by_path:
            return None
        changed.add((ARTICLE_TEXTS, None))
    for rel, path in ours.items():
        if rel not in theirs or path.read_bytes() == theirs[rel].read_bytes():
            continue
        if rel.startswith("seeds/") and rel not in by_path:
            changed.add((ARTICLE_TEXTS, None))
            continue
        if rel not in by_path:
            return None
        try:
            before, after = _cells(path), _cells(theirs[rel])
        except UnicodeDecodeError:
            return None
        if before[:1] != after[:1] or len(before) != len(after) or any(len(row) != len(before[0]) for row in before + after):
            changed.add((by_path[rel], None))
            continue
        changed |= {(by_path[rel], name) for i, name in enumerate(before[0]) if any(a[i] != b[i] for a, b in zip(before, after))}
    return changed


def reads_any(suite: dict[str, Any], exp: dict[str, Any], changed: set[tuple[str, str | None]]) -> bool:
    """Whether ``exp`` of ``suite`` reads one of the ``changed`` columns (:func:`changed_columns`)."""
    from datapkg.checks.gx_incremental import ARTICLE_TEXTS, expectation_inputs

    inputs = expectation_inputs(suite, exp, package_columns())
    if inputs is None:
        return True
    whole = {name for name, _ in changed}
    for read in inputs:
        if isinstance(read, tuple):
            name, _schema, column = read
            if (name, column) in changed or (name, None) in changed:
                return True
        elif read in whole or (read == ARTICLE_TEXTS and "articles" in whole):  # the texts: the files articles rows name
            return True
    return False


@functools.cache
def package_columns() -> dict[tuple[str, str], list[str]]:
    """``{(resource, schema): its columns}`` of this repository's resources as the loader puts them
    into DuckDB (typed table and cells), as :func:`expectation_inputs` takes them."""
    import duckdb

    from datapkg.loader import load_package

    descriptor = json.loads((ROOT / "datapackage.json").read_text(encoding="utf-8"))
    con = duckdb.connect()
    try:
        tables = load_package(con, ROOT, descriptor, keep_raw=True)
        columns: dict[tuple[str, str], list[str]] = {}
        for schema, table, column in con.execute("SELECT schema_name, table_name, column_name FROM duckdb_columns() "
                                                 "ORDER BY schema_name, table_name, column_index").fetchall():
            if table in tables:
                columns.setdefault((table, schema), []).append(column)
        return columns
    finally:
        con.close()


@pytest.mark.xdist_group("build-release")  # conftest's repository_validation comes with repo_release
def test_real_package_has_no_curation_findings(repository_validation: tuple[int, dict]) -> None:
    """No finding of any severity in this repository's package, so none of a curation rule: the
    validation runs every curation rule (those of ``run_curation_checks``) with the schema suites,
    and its report lists every finding. :func:`findings` relies on this."""
    _code, report = repository_validation
    assert report["errors"] == [] and report["stats"]["errors"] == report["stats"]["warnings"] == 0, report["errors"][:5]
    assert {"citations", "officials", "meetings"} <= set(report["stats"]["checked_by_gx"])


@pytest.mark.xdist_group("build-release")  # conftest's repository_validation comes with repo_release
def test_real_package_passes_frictionless_checks(repository_validation: tuple[int, dict]) -> None:
    code, report = repository_validation  # `dpkg validate` of this repository (validate_package), shared
    assert code == 0 and [f for f in report["errors"] if f["severity"] == "error"] == [], report["errors"][:5]


def test_every_curated_row_has_a_quote_from_its_article() -> None:
    """The real package: counted without the rule engine, so the engine has something to agree with."""
    articles = {r["article_id"]: normalise_whitespace((ROOT / r["path"]).read_text(encoding="utf-8")) for r in read(ROOT, "articles")}
    cited = {(c["resource"], c["record_id"]) for c in read(ROOT, "citations")}
    for c in read(ROOT, "citations"):
        assert normalise_whitespace(c["quote"]) in articles[c["article_id"]], c["citation_id"]
    for name, key in [("meetings", "meeting_id"), ("meeting_participants", "participation_id"), ("officials", "official_id"),
                      ("positions", "position_id"), ("figures", "figure_id"), ("bodies", "body_id"),
                      ("sanction_programmes", "programme_id"), ("sanction_relations", "relation_id"), ("transfers", "transfer_id")]:
        rows = read(ROOT, name)
        assert rows, name
        assert all((name, r[key]) in cited for r in rows), name


# ------------------------------------------------------------------ quotes

def test_quote_not_found(pkg: Path) -> None:
    rows = read(pkg, "citations")
    rows[0]["quote"] = rows[0]["quote"].replace("Korut", "Korea Utara", 1)
    write(pkg, "citations", rows)
    assert findings(pkg) == [("quote-not-found", "resources/citations.csv", 2, "quote")]


def test_quote_not_found_shows_where_it_departs_from_the_article(pkg: Path) -> None:
    """A curly apostrophe typed into a quote: the finding names the seed file, the closest passage and the character."""
    rows = read(pkg, "citations")
    quote = rows[0]["quote"]
    at = quote.index("Putin") + len("Putin")
    rows[0]["quote"] = quote[:at] + "\u2019s" + quote[at + 1:]  # 'Putin pada' becomes 'Putin’spada'
    write(pkg, "citations", rows)
    article = next(r["path"] for r in read(pkg, "articles") if r["article_id"] == rows[0]["article_id"])
    report = validate(pkg)
    found = [f for f in report.errors if f.check == "quote-not-found"]
    assert [(f.file, f.row, f.record) for f in found] == [("resources/citations.csv", 2, rows[0]["citation_id"])]
    message = found[0].message
    assert f"; closest passage in {article}: \"" in message
    assert (f"the quote departs from it at character {at + 1}: the quote has U+2019 RIGHT SINGLE QUOTATION MARK (\u2019) "
            "where the article has U+0020 SPACE ( )") in message


def test_departure_of_a_quote_from_an_article() -> None:
    from datapkg.checks.quote_hints import departure, hint

    text = "Kim Jong-un met Vladimir Putin in Vostochny. They talked about rockets."
    assert departure("Kim Jong\u2011un met", text) == (8, 8)  # a non-breaking hyphen
    assert departure("They talked about ships", text) == (18, 63)
    assert departure("zzz", text) is None
    # no verbatim piece: difflib's quadratic search runs on a short article only (the bound on large ones)
    dashed, spaced = "Vladimir-Putin-in-Vostochny-They-talked", "Vladimir Putin in Vostochny They talked"
    assert departure(dashed, spaced) == (8, 8)
    assert departure(dashed, spaced + " ." * 60_000) is None
    assert hint("Putin in Vostochny!", text, "seeds/a.txt") == (
        '; closest passage in seeds/a.txt: "…et Vladimir Putin in Vostochny. They talked about rockets."; '
        "the quote departs from it at character 19: the quote has U+0021 EXCLAMATION MARK (!) "
        "where the article has U+002E FULL STOP (.)")


def test_quote_whitespace_runs_are_the_only_normalisation(pkg: Path) -> None:
    rows = read(pkg, "citations")
    rows[0]["quote"] = "  " + rows[0]["quote"].replace(" ", " \n\t\u00a0 ") + " "
    write(pkg, "citations", rows)
    assert findings(pkg) == []
    rows[0]["quote"] = rows[0]["quote"].lower()
    write(pkg, "citations", rows)
    assert findings(pkg) == [("quote-not-found", "resources/citations.csv", 2, "quote")]


def test_quote_from_another_article_is_not_found(pkg: Path) -> None:
    rows = read(pkg, "citations")
    other = next(r["article_id"] for r in read(pkg, "articles") if r["article_id"] != rows[3]["article_id"])
    rows[3]["article_id"] = other
    write(pkg, "citations", rows)
    assert findings(pkg) == [("quote-not-found", "resources/citations.csv", 5, "quote")]


def test_figure_as_written_must_be_in_a_quote(pkg: Path) -> None:
    row = edit(pkg, "figures", "figure_id", "fig-trade-2017q1", as_written="USD 31,4 juta")
    assert findings(pkg) == [("not-in-quote", "resources/figures.csv", row, "as_written")]


def test_each_name_spelling_must_be_in_a_quote(pkg: Path) -> None:
    row = edit(pkg, "officials", "official_id", "off-kim-jong-un", name_as_written="Kim Jong-un | Kim Jong Eun")
    assert findings(pkg) == [("not-in-quote", "resources/officials.csv", row, "name_as_written")]


# ------------------------------------------------------------------ citations and references

def test_citation_missing(pkg: Path) -> None:
    rows = read(pkg, "figures")
    rows.append({**rows[0], "figure_id": "fig-uncited"})
    write(pkg, "figures", rows)
    assert findings(pkg) == [("citation-missing", "resources/figures.csv", len(rows) + 1, "figure_id")]


def test_unresolved_record_id(pkg: Path) -> None:
    rows = read(pkg, "citations")
    assert sum(1 for r in rows if r["record_id"] == rows[0]["record_id"]) > 1  # its row stays cited
    rows[0]["record_id"] = "off-nobody"
    write(pkg, "citations", rows)
    assert findings(pkg) == [("unresolved-reference", "resources/citations.csv", 2, "record_id")]


def test_official_and_article_ids_resolve_through_foreign_keys(pkg: Path) -> None:
    """Declared as foreign keys in the Table Schemas: frictionless reports them (not re-implemented)."""
    participant = edit(pkg, "meeting_participants", "participation_id", "ptc-001", official_id="off-nobody")
    citation = edit(pkg, "citations", "citation_id", "cit-0002", article_id="art-999")
    keys = {(f.check, f.file, f.row, f.field) for f in validate(pkg).errors}
    assert ("foreign-key", "resources/meeting_participants.csv", participant, "official_id") in keys
    assert ("foreign-key", "resources/citations.csv", citation, "article_id") in keys


def test_qid_shape_is_a_schema_pattern(pkg: Path) -> None:
    row = edit(pkg, "officials", "official_id", "off-vladimir-putin", wikidata="Q07747")
    keys = {(f.check, f.file, f.row, f.field) for f in validate(pkg).errors}
    assert keys == {("constraint-error", "resources/officials.csv", row, "wikidata")}


# ------------------------------------------------------------------ codes

def test_unknown_country_code(pkg: Path) -> None:
    row = edit(pkg, "officials", "official_id", "off-kurt-campbell", country="XX")
    assert findings(pkg) == [("unknown-country-code", "resources/officials.csv", row, "country")]


def test_former_country_code_is_accepted(pkg: Path) -> None:
    assert read(pkg, "officials")[row_of(pkg, "officials", "official_id", "off-joseph-stalin") - 2]["country"] == "SU"
    assert findings(pkg) == []


def test_unknown_currency_code_only_for_money(pkg: Path) -> None:
    row = edit(pkg, "figures", "figure_id", "fig-trade-2017q1", unit="XYZ")
    assert findings(pkg) == [("unknown-currency-code", "resources/figures.csv", row, "unit")]


def test_unknown_language_code(pkg: Path) -> None:
    row = edit(pkg, "articles", "article_id", "art-002", language="xx")
    assert findings(pkg) == [("unknown-language-code", "resources/articles.csv", row, "language")]


# ------------------------------------------------------------------ dates

PRECISION_CASES = [("2019-02-30", "day"), ("2019-02-27", "month"), ("2019-13", "month"), ("2019", "day"), ("2019-02-27", "")]


@pytest.fixture(scope="module")
def precision_edits(tmp_path_factory: pytest.TempPathFactory) -> SharedEdits:
    """Every case of :func:`test_date_precision_mismatch` in one copy, each on a position of its own."""
    return SharedEdits(tmp_path_factory, "positions", "position_id",
                       ["pos-putin-president", "pos-kim-jong-un-leader", "pos-trump-president", "pos-peskov-spokesman",
                        "pos-lavrov-foreign"],
                       [{"start_date": date, "end_date": "", "date_precision": precision} for date, precision in PRECISION_CASES])


@pytest.mark.xdist_group("shared-edits")  # one worker finds the copy's findings once for every case
@pytest.mark.parametrize("date, precision", PRECISION_CASES)
def test_date_precision_mismatch(precision_edits: SharedEdits, date: str, precision: str) -> None:
    row, found, elsewhere = precision_edits.of({"start_date": date, "end_date": "", "date_precision": precision})
    assert found == [("date-precision-mismatch", "resources/positions.csv", row, "start_date")] and elsewhere == []


def test_start_after_end(pkg: Path) -> None:
    row = edit(pkg, "positions", "position_id", "pos-putin-president", start_date="2000-05-07", end_date="2000-05-06",
               date_precision="day")
    assert findings(pkg) == [("start-after-end", "resources/positions.csv", row, "start_date")]


# ------------------------------------------------------------------ inferences

def test_inferred_without_reason(pkg: Path) -> None:
    row = edit(pkg, "meetings", "meeting_id", "mtg-2019-02-hanoi-summit", inferred_reason="")
    assert findings(pkg) == [("inferred-without-reason", "resources/meetings.csv", row, "inferred_reason")]


def test_inferred_date_status_without_reason(pkg: Path) -> None:
    row = edit(pkg, "articles", "article_id", "art-004", inferred_fields="", inferred_reason="")
    assert ("inferred-without-reason", "resources/articles.csv", row, "inferred_reason") in findings(pkg)


def test_inferred_status_must_be_flagged(pkg: Path) -> None:
    row = edit(pkg, "articles", "article_id", "art-004", inferred_fields="")
    assert findings(pkg) == [("inferred-not-flagged", "resources/articles.csv", row, "published_status")]


def test_unknown_inferred_field(pkg: Path) -> None:
    row = edit(pkg, "figures", "figure_id", "fig-fuel-ships-2017", inferred_fields="period_start,period")
    assert findings(pkg) == [("unknown-inferred-field", "resources/figures.csv", row, "inferred_fields")]


# ------------------------------------------------------------------ any package, any number of articles

def test_adding_an_article_is_a_file_and_rows(pkg: Path) -> None:
    text = "Contoh artikel keenam.\nPresiden Vladimir Putin bertemu   Kim Jong Un lagi.\n"
    (pkg / "seeds" / "005_example.txt").write_text(text, encoding="utf-8")
    articles = read(pkg, "articles")
    articles.append({**articles[-1], "article_id": "art-005", "path": "seeds/005_example.txt",
                     "sha256": hashlib.sha256(text.encode()).hexdigest(), "published": "2026-11-23",
                     "published_precision": "day", "published_status": "printed", "inferred_fields": "", "inferred_reason": ""})
    write(pkg, "articles", articles)
    citations = read(pkg, "citations")
    citations.append({"citation_id": "cit-9999", "resource": "officials", "record_id": "off-vladimir-putin",
                      "article_id": "art-005", "quote": "Vladimir Putin bertemu Kim Jong Un",
                      "quote_start": str(text.index("Vladimir")), "quote_end": str(text.index(" lagi")),
                      "quote_en": "Vladimir Putin meets Kim Jong Un", "attributed_to": "article", "certainty": "stated"})
    write(pkg, "citations", citations)
    assert findings(pkg) == []
    assert validate(pkg).errors == []
    citations[-1]["quote"] = "Vladimir Putin bertemu Kim Jong-un"
    write(pkg, "citations", citations)
    assert findings(pkg) == [("quote-not-found", "resources/citations.csv", len(citations) + 1, "quote")]


def test_harmless_on_a_package_without_curation_declarations(tmp_path: Path) -> None:
    write_package(tmp_path, [table("t", "data/t.csv", [{"name": "id", "type": "integer"}, {"name": "country", "type": "string"}])],
                  {"data/t.csv": "id,country\n1,XX\n"})
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    assert run_curation_checks(tmp_path, descriptor) == []


def test_rules_follow_declarations_in_any_package(tmp_path: Path) -> None:
    fields = [{"name": "id", "type": "string"},
              {"name": "country", "type": "string", "codeList": "ISO 3166-1 alpha-2"},
              {"name": "when", "type": "string", "precisionField": "precision"},
              {"name": "precision", "type": "string"}]
    write_package(tmp_path, [table("t", "data/t.csv", fields)],
                  {"data/t.csv": "id,country,when,precision\na,RU,2024-06-19,day\nb,ZZ,2024-06,day\n"})
    descriptor = json.loads((tmp_path / "datapackage.json").read_text())
    assert findings_of(tmp_path, descriptor) == [("date-precision-mismatch", "data/t.csv", 3, "when"),
                                                 ("unknown-country-code", "data/t.csv", 3, "country")]


def test_a_code_in_the_wrong_case_gets_did_you_mean(tmp_path: Path) -> None:
    fields = [{"name": "id", "type": "string"},
              {"name": "country", "type": "string", "codeList": "ISO 3166-1 alpha-2"},
              {"name": "currency", "type": "string", "codeList": "ISO 4217"},
              {"name": "language", "type": "string", "codeList": "ISO 639-1"}]
    write_package(tmp_path, [table("t", "data/t.csv", fields, primaryKey=["id"])],
                  {"data/t.csv": "id,country,currency,language\na,ru,usd,EN\nb,XX,RUB,id\n"})
    report = validate_package(tmp_path)
    messages = {(f.row, f.field): f.message for f in report.findings}
    assert messages[(2, "country")] == ("country must be an ISO 3166-1 alpha-2 country code; ru is not one "
                                        "(pycountry list); did you mean RU?")
    assert messages[(2, "currency")].endswith("; usd is not one (pycountry list); did you mean USD?")
    assert messages[(2, "language")].endswith("; EN is not one (pycountry list); did you mean en?")
    assert messages[(3, "country")].endswith("; XX is not one (pycountry list)")
    assert len(report.errors) == 4


def findings_of(root: Path, descriptor: dict) -> list[tuple]:
    return sorted((f.check, f.file, f.row, f.field) for f in run_curation_checks(root, descriptor))


def test_finding_carries_value_message_and_resource(pkg: Path) -> None:
    edit(pkg, "officials", "official_id", "off-kurt-campbell", country="XX")
    (finding,) = curation_findings(pkg)
    assert (finding.resource, finding.value, finding.severity) == ("officials", "XX", "error")
    assert "ISO 3166-1 alpha-2" in finding.message and "XX" in finding.message


def test_curation_guide_worked_example(pkg: Path) -> None:
    """CURATION.md's worked example: the record holds Vladivostok, cor-001 keeps the article's 'Moskow' from cit-0059."""
    assert row_of(pkg, "corrections", "correction_id", "cor-001") == 2
    row = edit(pkg, "meetings", "meeting_id", "mtg-2019-04-25-vladivostok-summit", place_en="Moscow")
    assert row and findings(pkg) == [("correction-recorded-mismatch", "resources/corrections.csv", 2, "recorded")]
    edit(pkg, "meetings", "meeting_id", "mtg-2019-04-25-vladivostok-summit", place_en="Vladivostok")
    row = edit(pkg, "citations", "citation_id", "cit-0059",
               quote="Pertemuan Putin dan Kim merupakan yang kedua kalinya terjadi. Keduanya bertemu pada 2019 di Moscow.")
    assert row == 60
    assert findings(pkg) == [("correction-not-in-quote", "resources/corrections.csv", 2, "as_reported"),
                             ("quote-not-found", "resources/citations.csv", 60, "quote")]


def test_missing_article_file_is_left_to_the_file_checks(pkg: Path) -> None:
    (pkg / "seeds" / "000_90dc3cc939872ef1.txt").unlink()
    assert findings(pkg) == []
    keys = {(f.check, f.file, f.row, f.field) for f in validate(pkg).errors}
    assert ("file-missing", "resources/articles.csv", 2, "path") in keys


def test_unreadable_table_is_left_to_frictionless(pkg: Path) -> None:
    (pkg / "resources" / "figures.csv").write_bytes(b"figure_id,about_en\n\xff\xfe,x\n")
    assert findings(pkg) == []


def test_citation_of_a_table_the_package_lacks(pkg: Path) -> None:
    descriptor = json.loads((pkg / "datapackage.json").read_text(encoding="utf-8"))
    descriptor["resources"] = [r for r in descriptor["resources"] if r["name"] != "transfers"]
    (pkg / "resources" / "transfers.csv").unlink()
    rows = [i for i, r in enumerate(read(pkg, "citations"), start=2) if r["resource"] == "transfers"]
    got = sorted((f.check, f.file, f.row, f.field) for f in run_curation_checks(pkg, descriptor))
    assert got == [("unresolved-reference", "resources/citations.csv", row, "resource") for row in rows]


@pytest.mark.parametrize("descriptor", [{}, {"resources": 5}, {"resources": "x"}, {"resources": [5, {"name": ["a"]}]},
                                        {"resources": [{"name": "a", "path": "../a.csv", "schema": {"fields": []}},
                                                       {"name": "b", "path": "b.csv", "schema": "missing.json"},
                                                       {"name": "c", "path": "c.csv", "schema": {"fields": [{"name": "x", "codeList": "ISO 4217"}]}}]}])
def test_malformed_descriptors_are_left_to_frictionless(tmp_path: Path, descriptor: dict) -> None:
    assert run_curation_checks(tmp_path, descriptor) == []


QUOTES_WITHOUT_TEXT = ["   ", " \t\n ", "\u00a0\u200b", "...", "\u00ad"]


@pytest.fixture(scope="module")
def quotes_without_text(tmp_path_factory: pytest.TempPathFactory) -> SharedEdits:
    """Every case of :func:`test_a_quote_without_text_is_reported` in one copy, each in a citation of
    its own (the first five; no correction refers to them)."""
    first = [c["citation_id"] for c in read(ROOT, "citations")[:len(QUOTES_WITHOUT_TEXT)]]
    assert not {c["citation_id"] for c in read(ROOT, "corrections")} & set(first)
    return SharedEdits(tmp_path_factory, "citations", "citation_id", first, [{"quote": q} for q in QUOTES_WITHOUT_TEXT])


@pytest.mark.xdist_group("shared-edits")  # one worker finds the copy's findings once for every case
@pytest.mark.parametrize("quote", QUOTES_WITHOUT_TEXT)
def test_a_quote_without_text_is_reported(quotes_without_text: SharedEdits, quote: str) -> None:
    """Issue 16: a quote of only whitespace (or punctuation, or invisible characters) trims to
    nothing, and the empty string is in every article: it must not pass the verbatim check."""
    row, found, elsewhere = quotes_without_text.of({"quote": quote})
    assert ("quote-without-text", "resources/citations.csv", row, "quote") in found
    if not quote.strip():  # trimmed to nothing: found "in" the article, the bug this rule closes
        assert not [f for f in found + elsewhere if f[0] == "quote-not-found"]  # (a quote is not found at its own row)


def test_a_quote_without_text_is_reported_by_validate(pkg: Path) -> None:
    row = edit(pkg, "citations", "citation_id", read(pkg, "citations")[0]["citation_id"], quote="   ")
    report = validate(pkg)
    assert ("quote-without-text", "resources/citations.csv", row, "quote") in {
        (f.check, f.file, f.row, f.field) for f in report.errors}


def test_the_code_table_holds_pycountrys_codes_once_per_connection() -> None:
    import duckdb
    import pycountry

    from datapkg.checks.curation import _code_table

    expected = {("ISO 3166-1 alpha-2", c.alpha_2) for c in [*pycountry.countries, *pycountry.historic_countries]
                if hasattr(c, "alpha_2")}
    expected |= {("ISO 4217", c.alpha_3) for c in pycountry.currencies}
    expected |= {("ISO 639-1", lang.alpha_2) for lang in pycountry.languages if hasattr(lang, "alpha_2")}
    con = duckdb.connect()
    _code_table(con)
    _code_table(con)  # the second call keeps the table
    rows = con.execute("SELECT list, code FROM _codes").fetchall()
    assert len(rows) == len(set(rows)) and set(rows) == expected
    assert ("ISO 3166-1 alpha-2", "SU") in expected and ("ISO 4217", "RUB") in expected
