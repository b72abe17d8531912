"""The v2 model's rules (EDTF dates and their bounds, parts of events, attributions, corrections):
each fed one broken row of a copy of the real package, asserting the exact finding."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_curation import SharedEdits, edit, findings, pkg, read, row_of  # noqa: F401  (pkg is a fixture)

MEETINGS = "resources/meetings.csv"
CORRECTIONS = "resources/corrections.csv"
HANOI = "mtg-2019-02-hanoi-summit"


@pytest.mark.xdist_group("build-release")  # conftest's repository_validation comes with repo_release
def test_the_real_package_has_none_of_these_findings(repository_validation: tuple[int, dict]) -> None:
    """Every rule, run on this repository's package (shared validation): no finding of any kind."""
    _code, report = repository_validation
    assert report["errors"] == [] and report["stats"]["warnings"] == 0, report["errors"][:5]


# ------------------------------------------------------------------ EDTF dates and their bounds

#: Meetings that are neither a part of an event nor have parts, and no correction records their dates:
#: a case of the tests below on each (:class:`tests.test_curation.SharedEdits`), the first on Hanoi.
SEPARATE_MEETINGS = [HANOI, "mtg-2000-putin-north-korea", "mtg-2017-09-vladivostok-forum", "mtg-2019-03-im-morgulov-moscow",
                     "mtg-2024-06-campbell-kim-hong-kyun"]
INVALID_DATES = ["2019-02-30", "2019-13", "2019-2", "19-02", "2019-02-28/2019-02-27", "/",
                 "2019-02-27/2019-02-28/2019-03", "2019-02-27T10:00", "2019?~", "feb 2019"]
VALID_FORMS = [("2019-02~", "2019-02-01", "2019-02-28"), ("2020-02?", "2020-02-01", "2020-02-29"), ("2019%", "2019-01-01", "2019-12-31"),
               ("../2019-02-28", "", "2019-02-28"), ("2019-02-27/..", "2019-02-27", ""), ("/2019-02", "", "2019-02-28"),
               ("2019-02-27/2019-03", "2019-02-27", "2019-03-31"), ("", "", "")]
BOUNDS = [("date_earliest", "2019-02-26"), ("date_latest", "2019-03-01"), ("date_earliest", ""), ("date_latest", "")]


@pytest.fixture(scope="module")
def invalid_dates(tmp_path_factory: pytest.TempPathFactory) -> SharedEdits:
    return SharedEdits(tmp_path_factory, "meetings", "meeting_id", SEPARATE_MEETINGS, [{"date": d} for d in INVALID_DATES])


@pytest.fixture(scope="module")
def valid_forms(tmp_path_factory: pytest.TempPathFactory) -> SharedEdits:
    return SharedEdits(tmp_path_factory, "meetings", "meeting_id", SEPARATE_MEETINGS,
                       [{"date": d, "date_earliest": e, "date_latest": la} for d, e, la in VALID_FORMS])


@pytest.fixture(scope="module")
def bound_edits(tmp_path_factory: pytest.TempPathFactory) -> SharedEdits:
    return SharedEdits(tmp_path_factory, "meetings", "meeting_id", SEPARATE_MEETINGS, [{b: v} for b, v in BOUNDS])


@pytest.mark.xdist_group("shared-edits")  # one worker finds each copy's findings once for all its cases
@pytest.mark.parametrize("date", INVALID_DATES)
def test_invalid_edtf_date(invalid_dates: SharedEdits, date: str) -> None:
    row, found, elsewhere = invalid_dates.of({"date": date})
    assert found == [("invalid-edtf-date", MEETINGS, row, "date")] and elsewhere == []


@pytest.mark.xdist_group("shared-edits")
@pytest.mark.parametrize("date, earliest, latest", VALID_FORMS)
def test_valid_edtf_forms_and_their_bounds(valid_forms: SharedEdits, date: str, earliest: str, latest: str) -> None:
    _row, found, elsewhere = valid_forms.of({"date": date, "date_earliest": earliest, "date_latest": latest})
    assert found == [] and elsewhere == []


@pytest.mark.xdist_group("shared-edits")
@pytest.mark.parametrize("bound, value", BOUNDS)
def test_date_bounds_mismatch(bound_edits: SharedEdits, bound: str, value: str) -> None:
    row, found, elsewhere = bound_edits.of({bound: value})
    assert found == [("date-bounds-mismatch", MEETINGS, row, bound)] and elsewhere == []


def test_bounds_without_a_date_are_found(pkg: Path) -> None:
    row = edit(pkg, "meetings", "meeting_id", HANOI, date="", date_latest="")
    assert findings(pkg) == [("date-bounds-mismatch", MEETINGS, row, "date_earliest")]


def test_other_tables_declare_the_same_rule(pkg: Path) -> None:
    row = edit(pkg, "transfers", "transfer_id", "trf-2023-kp-ru-missiles", date_latest="2024-01-03")
    assert findings(pkg) == [("date-bounds-mismatch", "resources/transfers.csv", row, "date_latest")]


# ------------------------------------------------------------------ parts of an event

def test_part_outside_its_event(pkg: Path) -> None:
    row = edit(pkg, "meetings", "meeting_id", "mtg-2023-09-13-vostochny-summit",
               date="2023-09-20", date_earliest="2023-09-20", date_latest="2023-09-20")
    assert findings(pkg) == [("part-outside-event", MEETINGS, row, "part_of")]


def test_part_of_a_part(pkg: Path) -> None:
    visit = edit(pkg, "meetings", "meeting_id", "mtg-2024-06-putin-state-visit", part_of="mtg-2024-06-19-putin-kim-talks")
    talks = row_of(pkg, "meetings", "meeting_id", "mtg-2024-06-19-putin-kim-talks")
    assert findings(pkg) == sorted([("part-of-a-part", MEETINGS, visit, "part_of"), ("part-of-a-part", MEETINGS, talks, "part_of")])


# ------------------------------------------------------------------ attribution

def test_unresolved_attribution_of_a_citation(pkg: Path) -> None:
    row = edit(pkg, "citations", "citation_id", "cit-0122", attributed_to="bd-nobody")
    assert findings(pkg) == [("unresolved-attribution", "resources/citations.csv", row, "attributed_to")]


def test_unresolved_claimant_of_a_transfer(pkg: Path) -> None:
    row = edit(pkg, "transfers", "transfer_id", "trf-2024-ru-kp-food", claimed_by="off-nobody")
    assert findings(pkg) == [("unresolved-attribution", "resources/transfers.csv", row, "claimed_by")]


def test_an_official_or_body_or_the_article_resolves(pkg: Path) -> None:
    edit(pkg, "sanction_relations", "relation_id", "rel-ru-complied-un", claimed_by="off-igor-morgulov")
    edit(pkg, "citations", "citation_id", "cit-0124", attributed_to="bd-un-security-council")
    assert findings(pkg) == []


# ------------------------------------------------------------------ corrections

def test_correction_not_in_quote(pkg: Path) -> None:
    row = edit(pkg, "corrections", "correction_id", "cor-001", as_reported="Moscow")
    assert findings(pkg) == [("correction-not-in-quote", CORRECTIONS, row, "as_reported")]


def test_correction_citing_another_record_and_article(pkg: Path) -> None:
    row = edit(pkg, "corrections", "correction_id", "cor-001", citation_id="cit-0058")
    assert findings(pkg) == [("correction-citation-mismatch", CORRECTIONS, row, "citation_id")]


def test_correction_naming_another_article(pkg: Path) -> None:
    row = edit(pkg, "corrections", "correction_id", "cor-001", article_id="art-002")
    assert findings(pkg) == [("correction-citation-mismatch", CORRECTIONS, row, "citation_id")]


RECORDED_CASES = [{"recorded": "Moscow"}, {"field": "place"}, {"field": "summary_en"}]


@pytest.fixture(scope="module")
def recorded_edits(tmp_path_factory: pytest.TempPathFactory) -> SharedEdits:
    """Every case below in one copy, each in a correction of its own (of three meetings' places)."""
    return SharedEdits(tmp_path_factory, "corrections", "correction_id", ["cor-001", "cor-002", "cor-003"], RECORDED_CASES)


@pytest.mark.xdist_group("shared-edits")
@pytest.mark.parametrize("cells", RECORDED_CASES)
def test_correction_recorded_mismatch(recorded_edits: SharedEdits, cells: dict[str, str]) -> None:
    row, found, elsewhere = recorded_edits.of(cells)
    assert found == [("correction-recorded-mismatch", CORRECTIONS, row, "recorded")] and elsewhere == []


def test_a_record_changed_without_its_correction_is_found(pkg: Path) -> None:
    edit(pkg, "meetings", "meeting_id", "mtg-2017-09-vladivostok-forum", place_en="Vladivostok, Russky Island")
    row = row_of(pkg, "corrections", "correction_id", "cor-003")
    assert findings(pkg) == [("correction-recorded-mismatch", CORRECTIONS, row, "recorded")]


def test_numbers_are_compared_as_numbers(pkg: Path) -> None:
    edit(pkg, "corrections", "correction_id", "cor-005", recorded="130000.0")
    assert findings(pkg) == []
    row = edit(pkg, "corrections", "correction_id", "cor-005", recorded="100000")
    assert findings(pkg) == [("correction-recorded-mismatch", CORRECTIONS, row, "recorded")]


def test_every_correction_quotes_its_article_and_holds_its_record() -> None:
    """Counted without the rule engine on the real package."""
    from tests.test_curation import ROOT

    quotes = {c["citation_id"]: c for c in read(ROOT, "citations")}
    keys = {"meetings": "meeting_id", "figures": "figure_id", "officials": "official_id"}
    for c in read(ROOT, "corrections"):
        cited = quotes[c["citation_id"]]
        assert c["as_reported"] in cited["quote"] and cited["article_id"] == c["article_id"], c["correction_id"]
        record = next(r for r in read(ROOT, c["resource"]) if r[keys[c["resource"]]] == c["record_id"])
        assert record[c["field"]] == c["recorded"], c["correction_id"]
