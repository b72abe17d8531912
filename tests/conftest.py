"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    """The repository root (holds this project's own datapackage.json)."""
    return ROOT


@pytest.fixture(autouse=True)
def _private_download_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test keeps unfinished downloads in a folder of its own, never in the user's cache."""
    monkeypatch.setenv("DPKG_CACHE_DIR", str(tmp_path_factory.mktemp("partial")))


@pytest.fixture(scope="session")
def repo_release(tmp_path_factory: pytest.TempPathFactory):
    """``build`` of this repository's package, validated first (no ``force``): its BuildResult,
    whose ``out`` is the release folder and ``report`` the validation. Built once per test process
    (once per xdist worker; the tests that read it share ``xdist_group("build-release")``);
    the tests only read it."""
    from datapkg.build import build

    return build(ROOT, tmp_path_factory.mktemp("repo-release") / "dist")


@pytest.fixture(scope="session")
def cited_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The release folder of ``tests.buildpkg.cited_package``, built (validated) once per test
    process for the tests that only read it (``xdist_group("build-release")`` keeps them together)."""
    from datapkg.build import build
    from tests.buildpkg import cited_package

    root = tmp_path_factory.mktemp("cited-release")
    return build(cited_package(root / "pkg"), root / "dist").out


@pytest.fixture(scope="session")
def curated_release(tmp_path_factory: pytest.TempPathFactory):
    """``tests.curatedpkg.curated_package`` with its default arguments and the BuildResult of its
    ``build(..., force=True)``: made once per test process (``xdist_group("build-release")``)
    for the tests that only read them. Returns ``(package root, BuildResult)``."""
    from datapkg.build import build
    from tests.curatedpkg import curated_package

    root = tmp_path_factory.mktemp("curated-release")
    package = curated_package(root / "pkg")
    return package, build(package, root / "dist", force=True)


@pytest.fixture(scope="session")
def repository_validation(repo_release) -> tuple[int, dict]:
    """What ``dpkg validate --format json`` says of this repository's package: (exit code, the JSON
    report, whose ``errors`` lists every finding of every severity).

    It is the validation ``repo_release``'s build ran first (``validate_package`` with the defaults
    ``dpkg validate`` passes), rendered by the renderer and with the exit code ``dpkg validate`` uses,
    so this repository is validated once per test run. For tests that only read it; mark them
    ``@pytest.mark.xdist_group("build-release")`` (``repo_release``'s group) so that
    ``--dist loadgroup`` runs them on the worker that builds it.
    """
    import json

    from datapkg.cli.validate_cmd import _prefix
    from datapkg.renderers import get_renderer

    report = repo_release.report
    assert report is not None  # built without force: validated first
    return (0 if report.valid else 1), json.loads(get_renderer("json")(report, prefix=_prefix(report.stats.get("root"))))


#: A group that exists so that its session fixtures are built once: a test of it (a module may mark
#: all of its tests) that uses none of them runs on whichever worker is free.
GROUP_FIXTURES = {"build-release": {"repo_release", "cited_release", "curated_release", "repository_validation"}}


def _needs(group: str, item: pytest.Item) -> bool:
    """Whether ``item`` needs to run in ``group``: it uses one of the group's session fixtures, or the
    group has none listed."""
    shared = GROUP_FIXTURES.get(group)
    return shared is None or bool(shared & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--dist loadgroup`` on pytest 9: pytest-xdist (3.8) puts a test's ``xdist_group`` into its
    node id (``...::test@group``, which the scheduler groups by) by setting ``item._nodeid``, which
    pytest 9 no longer reads (the id is ``item._id``), so every group was spread over the workers
    and each worker built the groups' session fixtures again. This sets the id the way pytest 9
    keeps it; it does nothing where xdist's own suffix took (pytest 8) or without ``loadgroup``
    (set on xdist's workers only). ``tests/test_xdist_groups.py``
    fails if the suffix goes missing."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted(group for group in {str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                                           for m in item.iter_markers("xdist_group")} if _needs(group, item))
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix) and hasattr(getattr(item, "_id", None), "parse"):
            item._id = type(item._id).parse(item.nodeid + suffix)
