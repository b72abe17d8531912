"""The evidence reader's pages: one self-contained HTML page per article, and an index of the facts.

Each page carries its own CSS and a few lines of JavaScript (no network, no CDN). The article's
full text is split into segments at every quote start and end, so overlapping quotes render
correctly: each segment is one ``<mark>`` that knows all the citations covering it
(``data-cites``), is focusable, and shows the cards of those citations when clicked or when Enter
or Space is pressed (and when the page is opened at ``#cite-…``). Each card gives the table, the
record id with a link to the record's entry in the index, the English rendering, and the
corrections of that quote; a corrected quote is also followed by its correction in the text.
Without JavaScript every card is listed under the text. Everything from the package is
HTML-escaped.
"""

from __future__ import annotations

import html
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from datapkg.atomic import write_text
from datapkg.evidence import Article, Cite, Evidence, Record, collect

FOLDER = "evidence"

CSS = """
*{box-sizing:border-box}body{margin:0;font:16px/1.6 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1a202c;background:#f7f8fa}
header{background:#1f3a5f;color:#fff;padding:.8rem 1.2rem}header h1{font-size:1.3rem;margin:.2rem 0;line-height:1.3}
header p{margin:.2rem 0;font-size:.9rem;opacity:.9}header a{color:#fff}
main{display:grid;grid-template-columns:minmax(0,1fr) 22rem;gap:1.2rem;max-width:76rem;margin:0 auto;padding:1rem}
.text{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:1rem 1.3rem;white-space:pre-wrap;overflow-wrap:anywhere;
font-family:Georgia,"Times New Roman",serif;font-size:1.05rem}
mark.hl,.legend mark{background:#fde68a;color:inherit;border-bottom:2px solid #d69e2e;cursor:pointer;border-radius:2px}
mark.d2,.legend .d2{background:#fbd38d}mark.d3,.legend .d3{background:#f6ad55}
mark.hl:hover{background:#fbd38d}mark.hl:focus{outline:3px solid #2b6cb0;outline-offset:1px}
mark.hl.lit{background:#bee3f8;border-bottom-color:#2b6cb0}mark.hl.active{background:#90cdf4;border-bottom-color:#2b6cb0}
.correction{display:inline-block;font:.85rem/1.4 system-ui,sans-serif;white-space:normal;background:#fff5f5;border:1px solid #feb2b2;
border-left:4px solid #e53e3e;border-radius:4px;padding:.2rem .5rem;margin:.2rem .3rem;max-width:100%}
aside#facts{position:sticky;top:1rem;align-self:start;max-height:calc(100vh - 2rem);overflow:auto;background:#fff;
border:1px solid #d8dde6;border-radius:6px;padding:.6rem 1rem}
aside#facts h2{font-size:1rem;margin:.2rem 0 .5rem}#close{display:none}
.card{border-top:1px solid #e2e8f0;padding:.5rem 0;font-size:.92rem;overflow-wrap:anywhere}.card p{margin:.2rem 0}
.tbl{font-size:.75rem;text-transform:uppercase;letter-spacing:.04em;color:#4a5568;background:#edf2f7;border-radius:3px;padding:0 .3rem}
.qen{color:#2d3748;font-style:italic}.muted{color:#718096;font-size:.85rem}
body.js .card[hidden]{display:none}
.index{display:block;max-width:60rem}.index section{background:#fff;border:1px solid #d8dde6;border-radius:6px;padding:.4rem 1.2rem 1rem;margin:0 0 1rem}
.index h2{font-size:1.15rem}.index li{margin:.3rem 0;overflow-wrap:anywhere}.index ul ul{font-size:.92rem}
.index li:target{background:#fefcbf}.flag{color:#c53030;font-weight:600}
@media (max-width:800px){main{grid-template-columns:minmax(0,1fr);padding:.5rem}
body.js aside#facts{position:fixed;left:0;right:0;bottom:0;top:auto;max-height:45vh;border-radius:10px 10px 0 0;
box-shadow:0 -4px 16px rgba(0,0,0,.2);display:none;z-index:10}
body.js aside#facts.open{display:block}#close{display:inline-block;float:right}
.text{padding:.8rem;font-size:1rem}body.js main{padding-bottom:46vh}
header h1{font-size:1.1rem}header p{font-size:.8rem}}
.legend mark{cursor:default;border-bottom:none;padding:0 .2rem;color:#1a202c}
"""

SCRIPT = """
(function(){
var panel=document.getElementById('facts'),title=document.getElementById('facts-title');
var cards=Array.prototype.slice.call(panel.querySelectorAll('.card'));
var marks=Array.prototype.slice.call(document.querySelectorAll('mark.hl'));
document.body.classList.add('js');
cards.forEach(function(c){c.hidden=true;});
function cites(m){return m.getAttribute('data-cites').split(' ');}
function show(mark,only){
  var ids=only?[only]:cites(mark);
  cards.forEach(function(c){c.hidden=ids.indexOf(c.getAttribute('data-cite'))<0;});
  marks.forEach(function(m){var on=m===mark;m.classList.toggle('active',on);m.setAttribute('aria-expanded',on?'true':'false');
    m.classList.toggle('lit',cites(m).some(function(id){return ids.indexOf(id)>=0;}));});
  title.textContent=ids.length===1?'This passage proves':ids.length+' citations cover this passage';
  panel.classList.add('open');
  var r=mark.getBoundingClientRect(),p=panel.getBoundingClientRect();
  if(p.top>r.top&&r.bottom>p.top-8){window.scrollBy(0,r.bottom-p.top+r.height+16);}
}
marks.forEach(function(m){
  m.addEventListener('click',function(){show(m);});
  m.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '||e.key==='Spacebar'){e.preventDefault();show(m);}});
});
document.getElementById('close').addEventListener('click',function(){panel.classList.remove('open');});
document.addEventListener('keydown',function(e){if(e.key==='Escape'){panel.classList.remove('open');}});
function fromHash(){
  var id=decodeURIComponent(location.hash.slice(1));
  if(!id){return;}
  var first=marks.filter(function(m){return cites(m).indexOf(id)>=0;})[0];
  if(first){show(first,id);first.focus({preventScroll:true});first.scrollIntoView({block:'center'});}
}
window.addEventListener('hashchange',fromHash);fromHash();
})();
"""


def h(value: Any) -> str:
    """HTML-escaped text (quotes too, so it is safe in attribute values)."""
    return html.escape("" if value is None else str(value), quote=True)


def segments(length: int, cites: list[Cite]) -> Iterator[tuple[int, int, list[Cite]]]:
    """``(start, end, citations covering it)`` for consecutive pieces of a text of ``length`` code points,
    cut at every quote start and end (so overlapping quotes become pieces covered by several)."""
    starts: dict[int, list[Cite]] = defaultdict(list)
    ends: dict[int, list[Cite]] = defaultdict(list)
    for cite in cites:
        starts[cite.start].append(cite)
        ends[cite.end].append(cite)
    points = sorted({0, length, *starts, *ends})
    active: dict[str, Cite] = {}
    for a, b in zip(points, points[1:]):
        for cite in ends.get(a, []):
            active.pop(cite.anchor, None)
        for cite in starts.get(a, []):
            active[cite.anchor] = cite
        yield a, b, sorted(active.values(), key=lambda c: (c.start, -c.end, c.cid))


def _correction(correction: dict[str, Any]) -> str:
    evidence = h(correction.get("evidence"))
    if correction.get("evidence_url"):
        evidence = f'<a href="{h(correction["evidence_url"])}" rel="noreferrer">{evidence or h(correction["evidence_url"])}</a>'
    field = ", ".join(h(correction[k]) for k in ("field", "kind") if correction.get(k))
    field = f" ({field})" if field else ""
    source = str(correction.get("evidence") or correction.get("evidence_url") or "")
    stop = "" if source.rstrip().endswith((".", "!", "?", ".)")) else "."
    note = f" {h(correction['note'])}" if correction.get("note") else ""
    return (f'<span class="correction" role="note"><b>Correction{field}:</b> the article says '
            f"“{h(correction.get('as_reported'))}”; the record holds “{h(correction.get('recorded'))}”"
            + (f". Evidence: {evidence}{stop}" if evidence else ".") + f"{note}</span>")


def _text_html(article: Article) -> str:
    text, parts = article.text, []
    starting: dict[int, list[Cite]] = defaultdict(list)
    ending: dict[int, list[Cite]] = defaultdict(list)
    for cite in article.cites:
        starting[cite.start].append(cite)
        ending[cite.end].append(cite)
    for a, b, active in segments(len(text), article.cites):
        parts.extend(f'<span class="anchor" id="{h(c.anchor)}"></span>' for c in starting.get(a, []))
        chunk = h(text[a:b])
        if active:
            ids = " ".join(c.anchor for c in active)
            label = "; ".join(f"{c.resource} {c.record_id}" for c in active)
            parts.append(f'<mark class="hl d{min(len(active), 3)}" tabindex="0" role="button" aria-expanded="false" '
                         f'aria-controls="facts" data-cites="{h(ids)}" title="{h(label)}">{chunk}</mark>')
        else:
            parts.append(chunk)
        for cite in ending.get(b, []):
            parts.extend(_correction(c) for c in cite.corrections)
    return "".join(parts)


def _card(cite: Cite, record: Record | None) -> str:
    link = (f'<a href="index.html#{h(record.anchor)}">{h(cite.record_id)}</a>' if record
            else f"{h(cite.record_id)} <span class=flag>(no such record)</span>")
    english = f'<p>{h(record.english)}</p>' if record and record.english else ""
    quote_en = f'<p class="qen">“{h(cite.quote_en)}”</p>' if cite.quote_en else ""
    corrections = "".join(f"<p>{_correction(c)}</p>" for c in cite.corrections)
    return (f'<div class="card" data-cite="{h(cite.anchor)}"><p><span class="tbl">{h(cite.resource)}</span> {link}</p>'
            f'{english}{quote_en}{corrections}<p class="muted">citation {h(cite.cid)}</p></div>')


def _page(title: str, head: str, body: str, script: str = "") -> str:
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title><style>{CSS}</style></head><body>{head}{body}"
            + (f"<script>{script}</script>" if script else "") + "</body></html>\n")


def article_page(evidence: Evidence, article: Article, records: dict[tuple[str, str], Record]) -> str:
    """The HTML page of one article."""
    meta = " · ".join(f"{h(k)}: {h(v)}" for k, v in article.meta)
    facts = len({(c.resource, c.record_id) for c in article.cites})
    head = (f'<header><p><a href="index.html">Evidence</a> · {h(evidence.title)}</p>'
            f"<h1>{h(article.headline or article.key)}</h1><p>{h(article.key)} · {h(article.path)}"
            + (f" · {meta}" if meta else "") + f"</p><p>{len(article.cites)} cited passages proving {facts} facts. "
            "Select a highlighted passage (click, or Tab then Enter) to see what it proves.</p>"
            '<p class="legend"><mark class="d1">one citation</mark> <mark class="d2">two overlap</mark> '
            '<mark class="d3">three or more</mark></p></header>')
    lang = f' lang="{h(article.language)}"' if article.language else ""
    cards = "".join(_card(c, records.get((c.resource, c.record_id))) for c in article.cites)
    body = (f'<main><div class="text"{lang}>{_text_html(article)}</div>'
            '<aside id="facts" aria-live="polite"><button id="close" type="button" aria-label="Close">✕</button>'
            f'<h2 id="facts-title">What the passages prove</h2>{cards}</aside></main>')
    return _page(h(article.headline or article.key), head, body, SCRIPT)


def _record_item(record: Record, pages: dict[str, str]) -> str:
    english = f" — {h(record.english)}" if record.english else ""
    links = []
    for cite in record.cites:
        page = pages.get(cite.article_id)
        quote = h(cite.quote if len(cite.quote) <= 160 else cite.quote[:159] + "…")
        target = f'<a href="{h(page)}#{h(cite.anchor)}">{h(cite.article_id)}</a>' if page else h(cite.article_id)
        corrections = "".join(_correction(c) for c in cite.corrections)
        links.append(f"<li>{target}: “{quote}”{corrections}</li>")
    cited = f"<ul>{''.join(links)}</ul>" if links else '<p class="flag">No citation placed in an article.</p>'
    return f'<li id="{h(record.anchor)}"><b>{h(record.record_id)}</b>{english}{cited}</li>'


def index_page(evidence: Evidence) -> str:
    """The index: the articles, then every fact grouped by table with links to its passages."""
    pages = {a.key: a.page for a in evidence.articles}
    rows = "".join(f'<li><a href="{h(a.page)}">{h(a.headline or a.key)}</a> <span class="muted">{h(a.key)} · '
                   f"{len(a.cites)} cited passages</span></li>" for a in evidence.articles)
    toc = " · ".join(f'<a href="#table-{h(name)}">{h(name)} ({len(records)})</a>' for name, records in evidence.records.items())
    sections = [f'<section id="articles"><h2>Articles ({len(evidence.articles)})</h2><ul>{rows}</ul>'
                f"<p>Facts by table: {toc}</p></section>"]
    for resource, records in evidence.records.items():
        items = "".join(_record_item(r, pages) for r in records)
        sections.append(f'<section id="table-{h(resource)}"><h2>{h(resource)} ({len(records)} facts)</h2><ul>{items}</ul></section>')
    if evidence.unplaced:
        items = "".join(f"<li>{h(c.cid)} ({h(c.resource)} {h(c.record_id)}, {h(c.article_id)}): “{h(c.quote)}”</li>"
                        for c in evidence.unplaced)
        sections.append(f'<section id="unplaced"><h2 class="flag">Citations not found in their article '
                        f"({len(evidence.unplaced)})</h2><ul>{items}</ul></section>")
    version = f" · version {h(evidence.version)}" if evidence.version else ""
    head = (f"<header><h1>Evidence: {h(evidence.title)}</h1><p>Every fact of the package, by table, with the passages "
            f"of the articles that prove it{version}.</p></header>")
    return _page(f"Evidence: {h(evidence.title)}", head, f'<main class="index">{"".join(sections)}</main>')


def write_evidence(folder: Path, root: Path, descriptor: dict[str, Any]) -> Evidence | None:
    """Write ``folder/evidence/`` (index.html and one page per article); ``None`` (nothing written)
    when the package does not follow the citation model."""
    evidence = collect(root, descriptor)
    if evidence is None:
        return None
    target = folder / FOLDER
    target.mkdir(parents=True, exist_ok=True)
    records = {(r.resource, r.record_id): r for rs in evidence.records.values() for r in rs}
    for article in evidence.articles:
        write_text(target / article.page, article_page(evidence, article, records))
    write_text(target / "index.html", index_page(evidence))
    return evidence
