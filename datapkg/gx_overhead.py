"""Great Expectations' per-expectation overhead, cut where GX 1.24 does the same work twice.

GX evaluates every rule; this module only stops it from recomputing what it has just computed.
On this package (304 expectations) each ``batch.validate`` spends most of its time in GX's own
bookkeeping, not in DuckDB. Three things are registered once by :func:`register` (1-3), and one is used by
:func:`datapkg.checks.gx_checks.gx_context` (4):

1. **One query per ``unexpected_rows_expectation`` when only the verdict is asked for.** GX asks
   for two metrics of each such expectation, the failing rows (``unexpected_rows_query.table``)
   and their count (``unexpected_rows_query.row_count``), and so runs its SQL twice, even with
   ``result_format="BOOLEAN_ONLY"``, whose answer is the count alone. With ``BOOLEAN_ONLY`` the
   rows are no longer asked for: the verdict is GX's own (``count == 0``), from GX's own count.
   Every other result format is GX's unchanged.
2. **Each expectation's configuration built once per validation** (:func:`reuse_configurations`).
   ``Expectation.configuration`` rebuilds a pydantic model on every read, and GX reads it once per
   key it looks up (about 58 times per expectation); ``ExpectationConfiguration.to_domain_obj``
   builds a new expectation each time (8 per expectation). While GX validates
   (``Validator.graph_validate``, which every path goes through: ``batch.validate``, a Checkpoint,
   one expectation), both answer again with what they answered first for the same object. Outside
   it, nothing changes: an expectation edited between validations (an id set, a rendering) is read
   afresh.
3. **A metric's id is computed without GX's general converter when its arguments are plain JSON.**
   GX names every metric it plans by an md5 of its arguments (``IDDict.to_id``), after passing
   them through ``convert_to_json_serializable``, which tries pydantic, numpy and a dozen other
   types for each value (a ``None`` falls through to three numpy type tests): 10-14 % of the GX
   threads' time on this package. When every value is a ``str``, ``int``, ``bool``, ``None``, a
   finite ``float``, or a list, tuple or str-keyed dict of those, the converter would return them
   unchanged, so the same ``json.dumps`` gives the same id directly; anything else goes to GX.
4. **GX is imported without the cyclic garbage collector** (:func:`imported_without_collections`).
   Importing GX makes about 250,000 long-lived objects (classes, pydantic models, functions) and
   next to no garbage; Python's collector, counting allocations, still ran ~700 collections during
   the import, five of them over every object, and every full collection afterwards walked GX's
   objects again: 0.45-0.75 CPU-s of a cold ``dpkg validate`` of this package. The collector is
   off during the import and GX's context set-up, and what exists then is moved to the permanent
   generation (:func:`gc.freeze`, made for this: objects that live as long as the process), so
   later collections skip it. The collector is on again as before.

Known to work with GX 1.24 (:data:`datapkg.gx_duckdb.KNOWN_GX`); ``tests/test_gx_overhead.py``
fails loudly if an upgrade moves what this module relies on, and checks that findings are the same
with and without it.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import importlib
import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

URE_MODULE = "great_expectations.expectations.core.unexpected_rows_expectation"
EXPECTATION_MODULE = "great_expectations.expectations.expectation"
CONFIGURATION_MODULE = "great_expectations.expectations.expectation_configuration"
VALIDATOR_MODULE = "great_expectations.validator.validator"
ID_DICT_MODULE = "great_expectations.core.id_dict"
ROWS_METRIC = "unexpected_rows_query.table"
COUNT_METRIC = "unexpected_rows_query.row_count"
BOOLEAN_ONLY = "BOOLEAN_ONLY"

_registered = False
_scope = threading.Lock()
_active = 0
#: id(object) -> (object, what it answered): the object is kept so that its id is not reused.
_memo: dict[int, tuple[Any, Any]] = {}


def _changed(what: str) -> RuntimeError:
    from datapkg.gx_duckdb import KNOWN_GX

    return RuntimeError(f"GX changed: {what} ({KNOWN_GX} known)")


def _asks_boolean_only(expectation: Any, runtime_configuration: dict | None) -> bool:
    result_format = expectation._get_result_format(runtime_configuration=runtime_configuration)
    if isinstance(result_format, dict):
        result_format = result_format.get("result_format")
    return str(getattr(result_format, "value", result_format)) == BOOLEAN_ONLY


def _count_only_when_boolean(ure: type) -> None:
    """Patch ``UnexpectedRowsExpectation`` so that ``BOOLEAN_ONLY`` asks only for the row count."""
    if tuple(getattr(ure, "metric_dependencies", ())) != (ROWS_METRIC, COUNT_METRIC):
        raise _changed(f"{URE_MODULE}.UnexpectedRowsExpectation.metric_dependencies is not ({ROWS_METRIC}, {COUNT_METRIC})")
    dependencies, validate = ure.get_validation_dependencies, ure._validate

    def get_validation_dependencies(self: Any, execution_engine: Any = None, runtime_configuration: dict | None = None) -> Any:
        found = dependencies(self, execution_engine=execution_engine, runtime_configuration=runtime_configuration)
        if _asks_boolean_only(self, runtime_configuration) and found.get_metric_configuration(ROWS_METRIC) is not None:
            found.remove_metric_configuration(ROWS_METRIC)
        return found

    def _validate(self: Any, metrics: dict, runtime_configuration: dict | None = None, execution_engine: Any = None) -> Any:
        if ROWS_METRIC not in metrics and _asks_boolean_only(self, runtime_configuration):
            return {"success": metrics[COUNT_METRIC] == 0}
        return validate(self, metrics, runtime_configuration=runtime_configuration, execution_engine=execution_engine)

    get_validation_dependencies.dpkg_original = dependencies  # type: ignore[attr-defined]
    _validate.dpkg_original = validate  # type: ignore[attr-defined]
    ure.get_validation_dependencies, ure._validate = get_validation_dependencies, _validate


def _memoised(compute: Any) -> Any:
    """``compute(obj)``, answered again from :data:`_memo` for the same object while a
    :func:`reuse_configurations` block runs (in any thread)."""

    def answer(obj: Any) -> Any:
        if not _active:
            return compute(obj)
        hit = _memo.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = compute(obj)
        _memo[id(obj)] = (obj, value)
        return value

    answer.dpkg_original = compute  # type: ignore[attr-defined]
    return answer


def _memoise_configurations(expectation: type, configuration: type) -> None:
    prop = expectation.__dict__.get("configuration")
    if not isinstance(prop, property) or prop.fget is None:
        raise _changed(f"{EXPECTATION_MODULE}.Expectation.configuration is no longer a property")
    if not callable(configuration.__dict__.get("to_domain_obj")):
        raise _changed(f"{CONFIGURATION_MODULE}.ExpectationConfiguration.to_domain_obj is gone")
    expectation.configuration = property(_memoised(prop.fget), doc=prop.__doc__)
    configuration.to_domain_obj = _memoised(configuration.to_domain_obj)


def _reuse_while_validating(validator: type) -> None:
    """Patch GX's ``Validator.graph_validate`` to run inside :func:`reuse_configurations`."""
    graph_validate = validator.__dict__.get("graph_validate")
    if not callable(graph_validate):
        raise _changed(f"{VALIDATOR_MODULE}.Validator.graph_validate is gone")

    @functools.wraps(graph_validate)
    def within(self: Any, *args: Any, **kwargs: Any) -> Any:
        with reuse_configurations():
            return graph_validate(self, *args, **kwargs)

    within.dpkg_original = graph_validate  # type: ignore[attr-defined]
    validator.graph_validate = within


@contextmanager
def reuse_configurations() -> Iterator[None]:
    """While this block runs, each expectation's configuration (and each configuration's
    expectation) is built once; when the last such block in the process ends, all are dropped.
    Every GX validation runs inside one (:func:`register`): nothing edits its expectations meanwhile."""
    global _active
    with _scope:
        _active += 1
    try:
        yield
    finally:
        with _scope:
            _active -= 1
            if not _active:
                _memo.clear()


def plain_json(value: Any) -> bool:
    """True when ``value`` is JSON that GX's ``convert_to_json_serializable`` returns unchanged."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        return all(type(k) is str and plain_json(v) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(plain_json(v) for v in value)
    return False


def _plain_ids(id_dict: type) -> None:
    """Patch ``IDDict.to_id``: plain-JSON arguments are hashed as GX hashes them, without its converter."""
    to_id = id_dict.__dict__.get("to_id")
    if not callable(to_id) or not isinstance(id_dict.__dict__.get("_id_ignore_keys"), set):
        raise _changed(f"{ID_DICT_MODULE}.IDDict.to_id or _id_ignore_keys is gone")

    @functools.wraps(to_id)
    def fast_to_id(self: Any, id_keys: Any = None, id_ignore_keys: Any = None) -> Any:
        if id_keys is None and id_ignore_keys is None:
            keys = set(self) - set(self._id_ignore_keys)
            if len(keys) > 1:
                data = {k: self[k] for k in keys}
                if plain_json(data):
                    return hashlib.md5(json.dumps(data, sort_keys=True).encode("utf-8"), usedforsecurity=False).hexdigest()
        return to_id(self, id_keys, id_ignore_keys)

    fast_to_id.dpkg_original = to_id  # type: ignore[attr-defined]
    id_dict.to_id = fast_to_id


@contextmanager
def imported_without_collections() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off, then freeze what exists
    (:func:`gc.freeze`) and put the collector back as it was. For a block that only makes objects
    that live as long as the process (a library's import)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def register() -> None:
    """Apply 1-3 to the GX imported in this process (idempotent); ``RuntimeError`` if GX changed."""
    global _registered
    if _registered:
        return
    ure = getattr(importlib.import_module(URE_MODULE), "UnexpectedRowsExpectation", None)
    expectation = getattr(importlib.import_module(EXPECTATION_MODULE), "Expectation", None)
    configuration = getattr(importlib.import_module(CONFIGURATION_MODULE), "ExpectationConfiguration", None)
    validator = getattr(importlib.import_module(VALIDATOR_MODULE), "Validator", None)
    id_dict = getattr(importlib.import_module(ID_DICT_MODULE), "IDDict", None)
    if ure is None or expectation is None or configuration is None or validator is None or id_dict is None:
        raise _changed("UnexpectedRowsExpectation, Expectation, ExpectationConfiguration, Validator or IDDict moved")
    _count_only_when_boolean(ure)
    _memoise_configurations(expectation, configuration)
    _reuse_while_validating(validator)
    _plain_ids(id_dict)
    _registered = True
