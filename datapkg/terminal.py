"""Package strings made safe for a terminal: control and bidirectional-override characters escaped.

A cell, a field name or a descriptor title can hold ESC sequences (colours, cursor moves, a
terminal title), a carriage return that overwrites the line, or a right-to-left override that
makes the text read differently from what it is. :func:`printable` shows each such character as
a visible escape (``\\x1b``, ``\\r``, ``\\u202e``) and leaves every other character alone.
"""

from __future__ import annotations

import re

#: C0 and C1 controls, DEL, and the bidirectional embedding/override/isolate marks.
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in NAMED:
        return NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """``text`` as a string with every control and bidi-override character escaped."""
    return UNSAFE.sub(_escape, text if isinstance(text, str) else str(text))
