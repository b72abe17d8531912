"""Package strings made safe for a terminal: the one escaping function every text output uses.

A CSV cell, a file name, a field name or a title inside a package can hold escape sequences
(clear the screen, set the window title), bidirectional controls that reorder what is shown
(U+202E), or a newline that forges a line of the report. :func:`visible` shows each of them as
a visible escape (``\\x1b``, ``\\u202e``, ``\\n``) and leaves every other character as it is.
:func:`markup_safe` additionally escapes rich markup (``[bold]``), for text that rich renders.
"""

from __future__ import annotations

import re

#: C0 controls, DEL and C1 controls; the bidirectional embeddings, overrides, isolates and marks;
#: the line and paragraph separators; the byte-order mark / zero-width no-break space.
_BEYOND_C0 = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
UNSAFE = re.compile(f"[\x00-\x1f{_BEYOND_C0}]")
#: What ``json.dumps`` leaves raw (it escapes C0 itself; structural newlines must stay).
UNSAFE_IN_JSON = re.compile(f"[{_BEYOND_C0}]")
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in NAMED:
        return NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` (any value, as ``str``) with every control and bidi character shown as an escape."""
    return UNSAFE.sub(_escape, text if isinstance(text, str) else str(text))


def json_safe(text: str) -> str:
    """Serialised JSON with the C1, DEL and bidi characters written as ``\\uXXXX`` escapes: the
    same data for a JSON reader, nothing that drives a terminal (``json.dumps`` escapes C0 itself)."""
    return UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def markup_safe(text: object) -> str:
    """:func:`visible`, then rich's markup escaped: ``[bold]`` prints literally."""
    from rich.markup import escape

    return escape(visible(text))
