"""JUnit XML: one test suite per file, one failing test case per finding, one passing case per clean resource."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import groupby

from datapkg.renderers import location, shown
from datapkg.report import Report


def render(report: Report, title: str = "dpkg validate", **_: object) -> str:
    """Render ``report`` as a JUnit XML document (test suites named after ``title``)."""
    failures = len(report.errors)
    root = ET.Element("testsuites", name=title, tests="0", failures=str(failures), errors="0")
    total = 0
    ordered = sorted(map(shown, report.findings), key=lambda f: f.file or "")  # XML 1.0 has no control characters  # stable: keeps the report's order in a file
    seen = set()
    for file, group in groupby(ordered, key=lambda f: f.file or ""):
        seen.add(file)
        items = list(group)
        suite = ET.SubElement(root, "testsuite", name=file or "package", tests=str(len(items)),
                              failures=str(sum(f.severity == "error" for f in items)), errors="0")
        for finding in items:
            where = location(finding)
            case = ET.SubElement(suite, "testcase", classname=file or "package",
                                 name=f"{finding.check}" + (f" at {where}" if where else ""))
            tag = "failure" if finding.severity == "error" else "skipped"
            node = ET.SubElement(case, tag, type=finding.check, message=finding.message)
            node.text = f"{file}:{finding.row or ''} {finding.field or ''} value={finding.value!r}"
            total += 1
    resources = report.stats.get("resources", {})
    clean = sorted(name for name in resources if name not in {f.resource for f in report.findings})
    if clean:
        suite = ET.SubElement(root, "testsuite", name="clean resources", tests=str(len(clean)), failures="0", errors="0")
        for name in clean:
            ET.SubElement(suite, "testcase", classname="resources", name=name)
            total += 1
    if report.truncated:  # the cut list still fails the run: one case says how much is not listed
        suite = ET.SubElement(root, "testsuite", name="not listed", tests="1",
                              failures=str(int(any(f.severity == "error" for f in report.omitted))), errors="0")
        case = ET.SubElement(suite, "testcase", classname="package", name="findings not listed")
        tag = "failure" if any(f.severity == "error" for f in report.omitted) else "skipped"
        ET.SubElement(case, tag, type="max-errors", message=report.omitted_note())
        total += 1
    root.set("tests", str(total))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode")
