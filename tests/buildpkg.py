"""Small packages for the build and query tests: one with articles, texts and citations, one plain."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from tests.packages import table, write_package

TEXTS = {
    "texts/a1.txt": "Kim Jong-un met Vladimir Putin in Vostochny.\nThey talked about   rockets.\n",
    "texts/a2.txt": "Putin arrived in Pyongyang on 19 June 2024.\n",
}
PEOPLE_CSV = (
    "person_id,name,role,age,born,active,tags,score\n"
    "p1,Kim Jong-un,leader,40,1984-01-08,true,kp;leader,1.5\n"
    "p2,Vladimir Putin,president,71,1952-10-07,true,ru,2\n"
    "p3,Sergei Lavrov,minister,,1950-03-21,false,,\n"
)
# e2 comes before its parent e3 on purpose: the self-reference must still load with its FOREIGN KEY.
EVENTS_CSV = (
    "event_id,person_id,parent_id,summary_en,held\n"
    "e1,p1,,Summit at Vostochny,2023-09-13\n"
    "e2,p2,e3,Talks during the state visit,2024-06-19\n"
    "e3,p2,,State visit to Pyongyang,2024-06-19\n"
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def docs_csv() -> str:
    rows = ["doc_id,path,sha256,headline"]
    for i, (path, text) in enumerate(sorted(TEXTS.items()), start=1):
        rows.append(f"d{i},{path},{sha(text)},Headline {i}")
    return "\n".join(rows) + "\n"


CITES_CSV = (
    "cite_id,resource,record_id,doc_id,quote\n"
    "c1,people,p1,d1,Kim Jong-un met Vladimir Putin\n"
    "c2,events,e1,d1,They talked about rockets\n"
    "c3,people,p2,d2,Putin arrived in Pyongyang\n"
    "c4,events,e3,d2,Putin arrived in Pyongyang on 19 June 2024\n"
    "c5,people,p2,d1,met Vladimir Putin in Vostochny\n"
)


def fields(*specs: tuple) -> list[dict[str, Any]]:
    out = []
    for name, kind, description, *extra in specs:
        fld = {"name": name, "type": kind, "title": name.replace("_", " ").capitalize(), "description": description}
        for item in extra:
            fld.update(item)
        out.append(fld)
    return out


REQ = {"constraints": {"required": True}}


def cited_package(root: Path, *, people_csv: str = PEOPLE_CSV, events_csv: str = EVENTS_CSV, **descriptor: Any) -> Path:
    """A package with docs (path + sha256 → texts), people, events (FK, self-FK) and cites; return root."""
    resources = [
        table("docs", "resources/docs.csv", fields(
            ("doc_id", "string", "Document id.", REQ), ("path", "string", "Text file.", REQ),
            ("sha256", "string", "Hash of the text file.", REQ), ("headline", "string", "Headline.")),
            primaryKey=["doc_id"]),
        table("people", "resources/people.csv", fields(
            ("person_id", "string", "Person id.", REQ), ("name", "string", "Usual English name.", REQ),
            ("role", "string", "Role.", {"constraints": {"enum": ["leader", "president", "minister"]}}),
            ("age", "integer", "Age in years."), ("born", "date", "Date of birth."),
            ("active", "boolean", "In office."), ("tags", "list", "Tags.", {"itemType": "string", "delimiter": ";"}),
            ("score", "number", "A score.")), primaryKey=["person_id"]),
        table("events", "resources/events.csv", fields(
            ("event_id", "string", "Event id.", REQ), ("person_id", "string", "Who.", REQ),
            ("parent_id", "string", "Larger event this is part of."), ("summary_en", "string", "What happened.", REQ),
            ("held", "date", "When.")), primaryKey=["event_id"],
            foreignKeys=[{"fields": ["person_id"], "reference": {"resource": "people", "fields": ["person_id"]}},
                         {"fields": ["parent_id"], "reference": {"resource": "events", "fields": ["event_id"]}}]),
        table("cites", "resources/cites.csv", fields(
            ("cite_id", "string", "Citation id.", REQ),
            ("resource", "string", "Cited table.", {"constraints": {"required": True, "enum": ["people", "events"]}}),
            ("record_id", "string", "Cited row id.", REQ), ("doc_id", "string", "Cited document.", REQ),
            ("quote", "string", "Verbatim quote.", REQ)), primaryKey=["cite_id"],
            foreignKeys=[{"fields": ["doc_id"], "reference": {"resource": "docs", "fields": ["doc_id"]}}]),
    ]
    for resource in resources:
        resource.update(title=resource["name"].capitalize(), description=f"The {resource['name']} table.")
    files = {"resources/docs.csv": docs_csv(), "resources/people.csv": people_csv,
             "resources/events.csv": events_csv, "resources/cites.csv": CITES_CSV, **TEXTS}
    body = {"title": "Cited test package", "version": "1.2.0", "created": "2026-01-02T03:04:05Z", **descriptor}
    write_package(root, resources, files, **body)
    return root


def plain_package(root: Path) -> Path:
    """A one-resource package with no texts and no citations."""
    write_package(root, [table("numbers", "numbers.csv", fields(("n", "integer", "A number.", REQ),
                                                                 ("label", "string", "Its name.")), primaryKey=["n"])],
                  {"numbers.csv": "n,label\n1,one\n2,two\n"}, name="plain")
    return root
