"""Render a :class:`datapkg.diff.PackageDiff` as text (terminal), JSON or Markdown (pull requests).

Every string that comes from a package is escaped for its destination: control and bidi
characters for the terminal (:func:`datapkg.safe_text.visible`), Markdown and HTML syntax and
``@`` mentions for Markdown. The Markdown stays under GitHub's comment size (it is cut at a
section boundary with a pointer to the JSON output).
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from typing import Any

import typer

from datapkg.diff import PackageDiff, ResourceDiff
from datapkg.diff_rows import Row
from datapkg.safe_text import json_safe, visible

FORMATS = ("text", "json", "markdown")
VALUE_WIDTH = 200
MARKDOWN_LIMIT = 60_000  # GitHub refuses comments over 65,536 characters
MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
MARKS = {"added": "+", "removed": "-", "changed": "~", "kept": "=", "unchanged": "="}
COLOURS = {"added": "green", "removed": "red", "changed": "yellow"}
HEADINGS = {"added": "Added", "changed": "Changed", "removed": "Removed"}


def summary(diff: PackageDiff) -> dict[str, Any]:
    """Counts of what differs: resources by status, rows, facts."""
    counts: dict[str, Any] = {"metadata": len(diff.metadata)}
    for status in ("added", "removed", "changed"):
        counts[f"resources_{status}"] = sum(1 for r in diff.resources if r.differs and r.status == status)
    for kind in ("added", "removed", "changed"):
        counts[f"rows_{kind}"] = sum(getattr(r.rows, f"{kind}_count") for r in diff.resources if r.rows)
    if diff.facts is not None:
        counts.update({f"facts_{k}": v for k, v in diff.facts.counts.items()}, facts_flagged=diff.facts.flagged)
    return counts


def to_json(diff: PackageDiff) -> str:
    """The whole diff as JSON (``differs``, ``summary`` and every listed change)."""
    body = dataclasses.asdict(diff)
    for res, data in zip(diff.resources, body["resources"]):
        data["differs"] = res.differs
        if res.rows is not None:
            data["rows"]["truncated"] = res.rows.truncated
    return json_safe(json.dumps({"differs": diff.differs, "summary": summary(diff), **body}, ensure_ascii=False,
                                indent=2, default=str))


# ------------------------------------------------------------------------------------------ text

def _value(value: Any, width: int | None = VALUE_WIDTH) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if width and len(text) > width:
        text = text[: width - 1] + "…"
    return '"' + visible(text) + '"'


def _context(text: str, keep: str, words: int = 6) -> str:
    """``text`` shortened to ``words`` words at its end (``keep="end"``), start, or both ends."""
    parts = re.findall(r"\s*\S+\s*", text)
    if len(parts) <= 2 * words:
        return text
    if keep == "end":
        return "…" + "".join(parts[-words:])
    if keep == "start":
        return "".join(parts[:words]) + "…"
    return "".join(parts[:words]) + "…" + "".join(parts[-words:])


def _change(old: Any, new: Any) -> str:
    """``"old" → "new"``; two long texts as one word diff (``[-removed-]{+added+}``) with some context."""
    if not (isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > 80):
        return f"{_value(old)} → {_value(new)}"
    runs = word_diff(old, new)
    out = []
    for i, (op, text) in enumerate(runs):
        if op == "=":
            out.append(_context(text, "end" if i == 0 else "start" if i == len(runs) - 1 else "both"))
        else:
            out.append(f"[-{text}-]" if op == "-" else f"{{+{text}+}}")
    return _value("".join(out), None)


def _mark(status: str) -> str:
    mark = MARKS.get(status, "?")
    return typer.style(mark, fg=COLOURS[status]) if status in COLOURS else mark


def _key_text(row: Row, key: list[str]) -> str:
    if key:
        return ", ".join(visible(str(row.get(k))) for k in key)
    return _value(", ".join(f"{k}={v}" for k, v in row.items()))


def _resource_headline(res: ResourceDiff) -> str:
    rows = res.rows
    parts = []
    if rows is not None:
        parts += [f"{n} {kind}" for kind, n in (("added", rows.added_count), ("removed", rows.removed_count),
                                                  ("changed", rows.changed_count)) if n]
    key = f"key {', '.join(rows.key)}" if rows and rows.key else None
    info = ", ".join(p for p in (f"{res.rows_old} → {res.rows_new} rows" if res.status == "changed" else None, key) if p)
    label = {"added": "new resource", "removed": "resource removed"}.get(res.status, "resource")
    return (f"{label} {visible(res.name)}: {', '.join(parts) or 'no row differs'}"
            + (f" ({info})" if info else ""))


def _text_resource(res: ResourceDiff) -> list[str]:
    lines = [typer.style(_resource_headline(res), bold=True)]
    for note in (res.note, res.rows.key_note if res.rows else None):
        if note:
            lines.append(f"  note: {visible(note)}")
    for name in res.fields_added:
        lines.append(f"  {_mark('added')} field {visible(name)}")
    for name in res.fields_removed:
        lines.append(f"  {_mark('removed')} field {visible(name)}")
    for change in res.fields_retyped:
        lines.append(f"  {_mark('changed')} field {visible(change.field)}: type {visible(change.old)} → {visible(change.new)}")
    for change in res.schema_changes + res.properties:
        lines.append(f"  {_mark('changed')} {visible(change.field)}: {_change(change.old, change.new)}")
    rows = res.rows
    if rows is None:
        return lines
    for row in rows.added:
        lines.append(f"  {_mark('added')} {_key_text(row, rows.key)}")
    for row in rows.removed:
        lines.append(f"  {_mark('removed')} {_key_text(row, rows.key)}")
    for change in rows.changed:
        lines.append(f"  {_mark('changed')} {_key_text(change.key, rows.key)}")
        for fc in change.changes:
            lines.append(f"      {visible(fc.field)}: {_change(fc.old, fc.new)}")
    if rows.truncated:
        lines.append("  … list cut (--max-rows); the counts above are complete")
    return lines


def _text_facts(diff: PackageDiff) -> list[str]:
    facts = diff.facts
    counts = facts.counts
    lines = [typer.style(f"facts (cited in {visible(facts.citations)}): {counts.get('added', 0)} added, "
                         f"{counts.get('changed', 0)} changed, {counts.get('removed', 0)} removed"
                         + (f", {facts.flagged} flagged" if facts.flagged else ""), bold=True)]
    for fact in facts.facts:
        english = f" — {visible(fact.english)}" if fact.english else ""
        lines.append(f"  {_mark(fact.status)} {visible(fact.resource)} {visible(fact.record_id)}{english}")
        if fact.flag:
            lines.append("      " + typer.style(f"! {fact.flag}", fg="red", bold=True))
        for fc in fact.changes:
            lines.append(f"      {visible(fc.field)}: {_change(fc.old, fc.new)}")
        for cite in fact.citations:
            where = f"{visible(cite.citation_id)} {visible(cite.article_id)}"
            if cite.status == "changed" and cite.old_quote is not None:
                marked = "".join(t if op == "=" else f"[-{t}-]" if op == "-" else f"{{+{t}+}}"
                                 for op, t in word_diff(cite.old_quote, cite.quote or ""))
                lines.append(f"      {_mark('changed')} {where} quote: {_value(marked, None)}")
                lines.append(f"          old: {_value(cite.old_quote, None)}")
                lines.append(f"          new: {_value(cite.quote, None)}")
            else:
                lines.append(f"      {_mark(cite.status)} {where} {_value(cite.quote, None)}")
            if cite.old_quote_en is not None:
                lines.append(f"          English: {_value(cite.old_quote_en, None)} → {_value(cite.quote_en, None)}")
            if cite.old_article_id is not None:
                lines.append(f"          article: {visible(cite.old_article_id)} → {visible(cite.article_id)}")
    if facts.truncated:
        lines.append("  … list cut (--max-rows); the counts above are complete")
    return lines


def to_text(diff: PackageDiff) -> str:
    """The diff for a terminal: metadata, each differing resource, the facts, a summary line."""
    lines = [f"dpkg diff {visible(diff.old)} → {visible(diff.new)}"]
    if diff.metadata:
        lines.append(typer.style("package metadata", bold=True))
        for change in diff.metadata:
            lines.append(f"  {_mark('changed')} {visible(change.field)}: {_change(change.old, change.new)}")
    for res in diff.resources:
        if res.differs:
            lines.extend(_text_resource(res))
        elif res.note:
            lines.append(f"resource {visible(res.name)}: {visible(res.note)}")
    if diff.facts is not None and diff.facts.facts:
        lines.extend(_text_facts(diff))
    counts = summary(diff)
    if not diff.differs:
        lines.append("no difference")
    else:
        changed = sum(counts[f"resources_{s}"] for s in ("added", "removed", "changed"))
        facts = (f"; facts: {counts['facts_added']} added, {counts['facts_changed']} changed, "
                 f"{counts['facts_removed']} removed" if diff.facts is not None else "")
        lines.append(f"differs: {changed} resource(s), rows: {counts['rows_added']} added, {counts['rows_removed']} "
                     f"removed, {counts['rows_changed']} changed{facts}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------- markdown

def md(value: Any) -> str:
    """A package string safe inside Markdown: HTML, Markdown syntax, mentions and line breaks escaped."""
    if value is None:
        return "*(none)*"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = MD_SPECIAL.sub(r"\\\1", visible(re.sub(r"[\r\n\t]+", " ", text)))
    return html.escape(text, quote=False).replace("@", "&#64;")


def word_diff(old: str, new: str) -> list[tuple[str, str]]:
    """``old`` -> ``new`` as (op, text) runs by words: op is ``=`` (both), ``-`` (only old), ``+`` (only new).

    A text rewritten more than it was kept (under half its words in common) is one removal and one
    addition: interleaved word changes would be harder to read than the two versions."""
    import difflib

    a, b = re.findall(r"\S+|\s+", old), re.findall(r"\S+|\s+", new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < 0.5:
        return [("-", old), ("+", new)]
    runs: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            runs.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            runs.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            runs.append(("+", "".join(b[j1:j2])))
    return runs


def _md_word_diff(old: str, new: str) -> str:
    parts = []
    for op, text in word_diff(old, new):
        parts.append(md(text) if op == "=" else f"<del>{md(text)}</del>" if op == "-" else f"<ins>{md(text)}</ins>")
    return "".join(parts)


def _md_fact(fact: Any) -> list[str]:
    english = f" — {md(fact.english)}" if fact.english else ""
    lines = [f"- **{md(fact.resource)}** {md(fact.record_id)}{english}"]
    if fact.flag:
        lines.append(f"  - ⚠️ **{fact.flag}**")
    for fc in fact.changes:
        if isinstance(fc.old, str) and isinstance(fc.new, str) and max(len(fc.old), len(fc.new)) > 80:
            lines.append(f"  - {md(fc.field)}: {_md_word_diff(fc.old, fc.new)}")
        else:
            lines.append(f"  - {md(fc.field)}: {md(fc.old)} → {md(fc.new)}")
    for cite in fact.citations:
        where = f"{md(cite.article_id)} ({md(cite.citation_id)})"
        if cite.status == "changed" and cite.old_quote is not None:
            lines.append(f"  - ✏️ quote in {where} changed: {_md_word_diff(cite.old_quote, cite.quote or '')}")
            lines.append(f"    - old: “{md(cite.old_quote)}”")
            lines.append(f"    - new: “{md(cite.quote)}”")
        else:
            label = {"added": "➕ new citation", "removed": "➖ citation removed",
                     "changed": "✏️ citation changed"}.get(cite.status, "cited")
            lines.append(f"  - {label}, {where}: “{md(cite.quote)}”")
        if cite.old_quote_en is not None:
            lines.append(f"    - English: {md(cite.old_quote_en)} → {md(cite.quote_en)}")
        if cite.old_article_id is not None:
            lines.append(f"    - article: {md(cite.old_article_id)} → {md(cite.article_id)}")
    return lines


def _md_facts(diff: PackageDiff) -> list[str]:
    facts = diff.facts
    lines = ["### Facts", ""]
    for status in ("added", "changed", "removed"):
        listed = [f for f in facts.facts if f.status == status]
        if listed:
            lines += [f"#### {HEADINGS[status]} ({facts.counts.get(status, len(listed))})", ""]
            for fact in listed:
                lines += _md_fact(fact)
            lines.append("")
    if facts.truncated:
        lines += ["*List cut by --max-rows; the counts are complete.*", ""]
    return lines


def _md_resource(res: ResourceDiff) -> list[str]:
    rows = res.rows
    lines = [f"<details><summary><b>{html.escape(visible(res.name))}</b>: "
             f"{html.escape(_resource_headline(res).split(': ', 1)[1])}"
             "</summary>", ""]
    for note in (res.note, rows.key_note if rows else None):
        if note:
            lines.append(f"*{md(note)}*")
    schema = ([f"- field added: {md(n)}" for n in res.fields_added]
              + [f"- field removed: {md(n)}" for n in res.fields_removed]
              + [f"- field {md(c.field)} retyped: {md(c.old)} → {md(c.new)}" for c in res.fields_retyped]
              + [f"- {md(c.field)}: {md(c.old)} → {md(c.new)}" for c in res.schema_changes + res.properties])
    lines += schema + ([""] if schema else [])
    if rows is not None and (rows.added or rows.removed or rows.changed):
        lines += ["| | row | field | old | new |", "|---|---|---|---|---|"]
        for mark, listed in (("➕", rows.added), ("➖", rows.removed)):
            for row in listed:
                lines.append(f"| {mark} | {md(_plain_key(row, rows.key))} | | | |")
        for change in rows.changed:
            for fc in change.changes:
                lines.append(f"| ✏️ | {md(_plain_key(change.key, rows.key))} | {md(fc.field)} | {md(fc.old)} | {md(fc.new)} |")
        if rows.truncated:
            lines += ["", "*List cut by --max-rows; the counts are complete.*"]
    lines += ["", "</details>", ""]
    return lines


def _plain_key(row: Row, key: list[str]) -> str:
    if key:
        return ", ".join(str(row.get(k)) for k in key)
    text = ", ".join(f"{k}={v}" for k, v in row.items())
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def to_markdown(diff: PackageDiff, limit: int = MARKDOWN_LIMIT) -> str:
    """The diff as GitHub-flavoured Markdown, for a pull-request comment or a step summary."""
    counts = summary(diff)
    head = [f"## Data package diff: {md(diff.old)} → {md(diff.new)}", ""]
    if not diff.differs:
        return "\n".join(head + ["No difference.", ""])
    facts = (f"**Facts:** {counts['facts_added']} added, {counts['facts_changed']} changed, "
             f"{counts['facts_removed']} removed" + (f", ⚠️ {counts['facts_flagged']} flagged" if counts['facts_flagged'] else "")
             + " · " if diff.facts is not None else "")
    head += [f"{facts}**Rows:** {counts['rows_added']} added, {counts['rows_removed']} removed, "
             f"{counts['rows_changed']} changed", ""]
    sections: list[list[str]] = []
    if diff.metadata:
        sections.append(["### Package metadata", "", "| property | old | new |", "|---|---|---|"]
                        + [f"| {md(c.field)} | {md(c.old)} | {md(c.new)} |" for c in diff.metadata] + [""])
    if diff.facts is not None and diff.facts.facts:
        sections.append(_md_facts(diff))
    tables = [res for res in diff.resources if res.differs]
    if tables:
        sections.append(["### Tables", ""] + [line for res in tables for line in _md_resource(res)])
    out = "\n".join(head) + "\n"
    lines = [line for section in sections for line in section]
    cut = "\n*…cut to fit a comment; run `dpkg diff --format json` for the whole diff.*\n"
    open_blocks = 0
    for line in lines:
        if len(out) + len(line) + 1 + len(cut) + 20 > limit:
            return out + "\n</details>\n" * open_blocks + cut  # close the table block the cut falls in
        open_blocks += line.startswith("<details>") - (line == "</details>")
        out += line + "\n"
    return out


def render(diff: PackageDiff, fmt: str) -> str:
    """The diff in format ``fmt`` (text, json or markdown)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return {"text": to_text, "json": to_json, "markdown": to_markdown}[fmt](diff)
