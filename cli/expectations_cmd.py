"""``dpkg expectations generate``: Great Expectations suites derived from the Table Schemas."""

from __future__ import annotations

from pathlib import Path

import typer

expectations_app = typer.Typer(help="Great Expectations suites of a package (validations/).", no_args_is_help=True)


@expectations_app.command("generate")
def generate(
    path: str = typer.Argument(".", help="Folder with datapackage.json/.yaml, or a descriptor file."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the suites into DIR instead of <package>/validations."),
) -> None:
    """Derive one GX suite per tabular resource from its Table Schema and write it atomically.

    Types, required, unique, enum, pattern, minimum/maximum, length, primary, unique and foreign
    keys, Data Package v2 categories, and the curation rules that apply. Hand-written suites in
    validations/ are never overwritten.
    """
    from datapkg.errors import UsageError
    from datapkg.expectations import generate as generate_suites
    from datapkg.package_source import open_package

    with open_package(path) as source:
        if source._tmpdir is not None and out is None:
            raise UsageError("a zipped package cannot be written to; give --out DIR")
        written = generate_suites(source.root, source.descriptor, out_dir=out)
    for target in written:
        typer.echo(f"wrote {target}")
    if not written:
        typer.echo("no tabular resources with a Table Schema: nothing to write")


def register(app: typer.Typer) -> None:
    """Add the ``expectations`` command group to the ``dpkg`` app."""
    app.add_typer(expectations_app, name="expectations")
