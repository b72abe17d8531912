"""dpkg library: validate, load, build, query and download Frictionless data packages.

The command line in ``cli/`` (installed as ``datapkg.cli``) is a thin typer layer over the modules of
this package.
"""

__version__ = "0.1.0"
