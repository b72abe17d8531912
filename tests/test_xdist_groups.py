"""``make test`` runs ``pytest -n auto --dist loadgroup``: the tests of one ``xdist_group`` run on one
worker, which builds the session fixtures they share (a validated build of this repository, one
validation of it) once. The scheduler sees a group only in the node id (``...::test@group``)."""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("xdist-check")
def test_an_xdist_group_reaches_the_scheduler(request: pytest.FixtureRequest) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs under pytest-xdist with --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("::test_an_xdist_group_reaches_the_scheduler@xdist-check")


def test_a_test_outside_every_group_keeps_its_id(request: pytest.FixtureRequest) -> None:
    assert request.node.nodeid == "tests/test_xdist_groups.py::test_a_test_outside_every_group_keeps_its_id"


@pytest.mark.xdist_group("build-release")
def test_a_test_that_uses_none_of_its_groups_fixtures_leaves_the_group(request: pytest.FixtureRequest) -> None:
    """``build-release`` keeps together the tests that read the releases conftest builds once; one
    that reads none of them (test_build.py marks its whole module) is scheduled on its own."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs under pytest-xdist with --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("::test_a_test_that_uses_none_of_its_groups_fixtures_leaves_the_group")


@pytest.mark.xdist_group("build-release")
def test_a_test_that_uses_its_groups_fixture_stays_in_it(request: pytest.FixtureRequest, cited_release) -> None:
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("runs under pytest-xdist with --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@build-release")
