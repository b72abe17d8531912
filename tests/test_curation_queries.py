"""CURATION.md's analyst questions: each is one plain SQL query, run here on the package, with the right answer."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tests.test_query_analysts import own_cache, run  # noqa: F401  (own_cache is an autouse fixture)

ROOT = Path(__file__).resolve().parent.parent


def questions() -> list[str]:
    text = (ROOT / "CURATION.md").read_text(encoding="utf-8")
    section = text.split("\n## Analyst questions", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def rows_of(name: str) -> list[dict[str, str]]:
    with (ROOT / "resources" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def answers() -> list[list[dict]]:
    return [run(ROOT, sql) for sql in questions()]


def test_seven_questions() -> None:
    assert len(questions()) == 7


def test_first_meeting_was_in_vladivostok_on_25_april_2019(answers: list[list[dict]]) -> None:
    assert [(r["place_en"], r["met_on"]) for r in answers[0]] == [("Vladivostok", "2019-04-25")]


def test_they_met_three_times(answers: list[list[dict]]) -> None:
    assert answers[1] == [{"meetings": 3}]


def test_every_correction_is_listed(answers: list[list[dict]]) -> None:
    assert [r["correction_id"] for r in answers[2]] == [r["correction_id"] for r in rows_of("corrections")]
    fields = {(r["record_id"], r["field"]) for r in answers[2]}
    assert ("fig-vladivostok-border-distance", "value") in fields  # the one v1 kept in a note without the prefix
    assert ("mtg-2019-04-25-vladivostok-summit", "place_en") in fields
    assert ("fig-months-between-meetings", "qualifier") in fields


def test_no_sanctions_were_imposed_in_2023(answers: list[list[dict]]) -> None:
    assert answers[3] == []
    # the same query finds a programme where one began: not empty by construction
    sql = questions()[3].replace("2023-12-31", "2022-12-31").replace("2023-01-01", "2022-01-01")
    assert [r["programme_id"] for r in run(ROOT, sql)] == ["prg-west-ru-ukraine"]


def test_russia_violated_the_un_regime_according_to_these(answers: list[list[dict]]) -> None:
    got = {(r["according_to"], r["certainty"]) for r in answers[4]}
    assert {r["opensanctions_program"] for r in answers[4]} == {"UN-SC1718"}
    assert got == {("Kim Hong-kyun", "alleged"), ("Government of the United States", "alleged"),
                   ("UN Panel of Experts on North Korea sanctions (1718 Committee)", "stated"), ("the article", "believed")}


def test_flows_between_the_two_countries(answers: list[list[dict]]) -> None:
    kinds = {(r["kind"], r["from_country"], r["to_country"]) for r in answers[5]}
    assert {("arms-munitions", "KP", "RU"), ("ballistic-missiles", "KP", "RU"), ("fuel-oil", "RU", "KP"),
            ("food", "RU", "KP"), ("space-technology", "RU", "KP"), ("military-technology", "RU", "KP"),
            ("workers", "KP", "RU"), ("internet-routing", "RU", "KP")} <= kinds
    arms = next(r for r in answers[5] if r["transfer_id"] == "trf-2023-kp-ru-arms")
    assert (arms["value"], arms["unit"], arms["qualifier"], arms["certainty"]) == (10000, "container", "more-than", "alleged")
    assert all(r["from_country"] != "SU" for r in answers[5])


def test_events_of_2019_at_any_precision(answers: list[list[dict]]) -> None:
    assert [r["meeting_id"] for r in answers[6]] == [
        "mtg-2019-02-hanoi-summit", "mtg-2019-03-im-morgulov-moscow", "mtg-2019-04-kim-visit-russia",
        "mtg-2019-04-25-vladivostok-summit"]
