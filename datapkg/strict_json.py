"""JSON as RFC 8259 defines it (and YAML held to the same rules) for what a package declares.

Python's ``json`` accepts ``NaN``, ``Infinity`` and repeated keys (the last one wins, silently);
PyYAML keeps the last of repeated keys too. A descriptor, Table Schema, dialect or suite with
either is refused here with the line and column of the first offence.
"""

from __future__ import annotations

import json
import math
from json.decoder import scanstring
from typing import Any

from datapkg.errors import UsageError


def _where(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _offence(text: str) -> tuple[int, str] | None:
    """(position, what) of the first repeated key or non-finite number in ``text`` (parsed JSON)."""
    stack: list[tuple[set[str] | None, list[bool]]] = []  # per container: keys seen (None: array), expecting a key
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if char == '"':
            value, end = scanstring(text, i + 1)
            if stack and stack[-1][0] is not None and stack[-1][1][0]:
                if value in stack[-1][0]:
                    return i, f"the key {value!r} is repeated in one object"
                stack[-1][0].add(value)
                stack[-1][1][0] = False
            i = end
            continue
        if char == "{":
            stack.append((set(), [True]))
        elif char == "[":
            stack.append((None, [False]))
        elif char in "]}":
            stack.pop()
        elif char == "," and stack and stack[-1][0] is not None:
            stack[-1][1][0] = True
        elif char in "NI" or (char == "-" and text.startswith("-I", i)):
            word = "NaN" if char == "N" else "Infinity"
            return i, f"{word} is not a JSON number"
        i += 1
    return None


class _Offended(Exception):
    """Raised by the parser's hooks at a repeated key or a non-finite number (where: see :func:`_offence`)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise _Offended
    return data


def _no_constant(_word: str) -> Any:
    raise _Offended


def loads(text: str, name: str) -> Any:
    """``json.loads(text)``, refusing repeated keys, NaN and Infinity; one-line UsageError naming
    ``name`` and the line and column.

    The parser's own hooks notice an offence (so a clean document is read once, at C speed); only
    then is the text scanned for the first offence's line and column. A syntax error is reported
    before an offence, wherever each is.
    """
    try:
        try:
            return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except _Offended:
            json.loads(text)  # a syntax error anywhere comes first
    except json.JSONDecodeError as exc:
        raise UsageError(f"{name} is not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    offence = _offence(text)
    if offence is None:  # the hooks and the scan disagree: never expected; refuse rather than guess
        raise UsageError(f"{name} is not valid JSON: a repeated key or a non-finite number (RFC 8259)")
    line, column = _where(text, offence[0])
    raise UsageError(f"{name} is not valid JSON at line {line}, column {column}: {offence[1]} (RFC 8259)")


def load_yaml(text: str, name: str) -> Any:
    """``yaml.safe_load(text)``, refusing repeated keys and non-finite numbers the same way."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise _Refused(key_node.start_mark, f"the key {key!r} is repeated in one mapping")
                seen.add(key)
            return super().construct_mapping(node, deep)

        def construct_yaml_float(self, node: Any) -> Any:
            value = super().construct_yaml_float(node)
            if not math.isfinite(value):
                raise _Refused(node.start_mark, f"{node.value} is not a finite number")
            return value

    StrictLoader.add_constructor("tag:yaml.org,2002:float", StrictLoader.construct_yaml_float)
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as exc:
        raise UsageError(f"{name} is not valid YAML at line {exc.mark.line + 1}, column {exc.mark.column + 1}: "
                         f"{exc.what}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UsageError(f"{name} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None


class _Refused(Exception):
    def __init__(self, mark: Any, what: str) -> None:
        super().__init__(what)
        self.mark, self.what = mark, what
