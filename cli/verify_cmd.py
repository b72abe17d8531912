"""``dpkg verify``: check a release on disk (SHA256SUMS, resource bytes and hashes)."""

from __future__ import annotations

from enum import Enum

import typer

from datapkg.cli.terminal import echo


class Format(str, Enum):
    text = "text"
    json = "json"
    github = "github"
    junit = "junit"


def verify(
    path: str = typer.Argument(..., help="A release folder (with SHA256SUMS), its SHA256SUMS, a release zip, "
                                         "or a package folder (such as one written by 'dpkg download')."),
    format: Format = typer.Option(Format.text, "--format", "-f", help="Output format.", case_sensitive=False),
) -> None:
    """Verify a release: every SHA256SUMS line, and every resource's bytes and hash.

    Exit 0 when everything matches, 1 when something does not, 2 when PATH holds nothing to verify or a hostile archive.
    """  # noqa: E501 - one line per paragraph: the help screen wraps them
    from datapkg.renderers import get_renderer
    from datapkg.verify import verify_release

    report = verify_release(path)
    echo(get_renderer(format.value)(report, prefix="", title="dpkg verify"))
    raise typer.Exit(0 if report.valid else 1)


def register(app: typer.Typer) -> None:
    """Add ``verify`` to the ``dpkg`` app."""
    app.command("verify")(verify)
