"""``dpkg query``'s ``table`` format: a rich table that fits the terminal.

Long text folds inside its column and is cut with an ellipsis after :data:`MAX_CELL`
characters, NULL is shown as a dim ``NULL`` (an empty string stays empty), numbers are right
aligned, and a last line gives the row count. At most :data:`MAX_SHOWN` rows are drawn (as
DuckDB's own CLI does); the rest are counted, and ``--format csv`` gives them all.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any, TextIO

MAX_SHOWN = 100
MAX_CELL = 240
NUMERIC = ("BIGINT", "INTEGER", "DOUBLE", "FLOAT", "HUGEINT", "SMALLINT", "TINYINT", "UBIGINT", "UINTEGER",
           "USMALLINT", "UTINYINT", "UHUGEINT", "DECIMAL", "REAL")


def terminal_safe(text: str) -> str:
    """``text`` on one line, control and bidi characters shown as escapes: :func:`datapkg.safe_text.visible`."""
    from datapkg.safe_text import visible

    return visible(text)


def cell_text(text: str) -> str:
    """``text`` safe for a terminal cell: :func:`terminal_safe`, at most MAX_CELL characters."""
    text = terminal_safe(text)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def write_table(columns: list[str], types: list[str], batches: Any, out: TextIO, to_text: Callable[[Any], str],
                width: int | None = None) -> None:
    """Draw the rows of ``batches`` (an iterable of row lists) as a table on ``out``."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for name, type_ in zip(columns, types):
        numeric = type_.upper().startswith(NUMERIC)
        table.add_column(Text(cell_text(name)), justify="right" if numeric else "left", overflow="fold")
    null = Text("NULL", style="dim italic")
    total = 0
    for batch in batches:
        for row in batch:
            if total < MAX_SHOWN:
                table.add_row(*(null if v is None else Text(cell_text(to_text(v))) for v in row))
            total += 1
    shown = f"; first {MAX_SHOWN} shown" if total > MAX_SHOWN else ""
    console = Console(file=out, width=width or shutil.get_terminal_size().columns, highlight=False, markup=False,
                      emoji=False)
    console.print(table)
    console.print(Text(f"({total:,} row{'' if total == 1 else 's'}{shown})", style="dim"))
