"""The ``dpkg`` command line: a thin typer layer over the :mod:`datapkg` library."""
