"""Package layout for setuptools (everything else is in pyproject.toml).

The typer layer lives in the repository's ``cli/`` folder but installs as ``datapkg.cli``,
so that the wheel puts no top-level module named ``cli`` into a user's environment.
Every package under ``datapkg/`` is found automatically.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["datapkg", "datapkg.*"])
    + ["datapkg.cli" + name.removeprefix("cli") for name in find_packages(include=["cli", "cli.*"])],
    package_dir={"datapkg.cli": "cli"},
)
