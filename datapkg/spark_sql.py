"""DuckDB SQL as Spark SQL: one definition of a rule, run by either engine.

The loader's parsing rules (:func:`datapkg.loader.typed_expression`) and the package's SQL rules
(curation rules, ``UnexpectedRowsExpectation`` queries) are written in DuckDB's dialect. sqlglot
(``pip install dpkg-datapackage[spark]``) transpiles them; :func:`to_spark` adds what sqlglot
leaves as DuckDB functions that Spark lacks. SQL that still names a function Spark does not have
raises :class:`NotOnSpark`, so that the caller names the rule instead of skipping it.
"""

from __future__ import annotations

from typing import Any

#: DuckDB functions with no Spark equivalent that this module or sqlglot knows of.
DUCKDB_ONLY = {"LIST_BOOL_AND", "JSON_VALID", "JSON_TYPE", "REGEXP_FULL_MATCH", "TRY_STRPTIME", "STRPTIME",
               "LIST_TRANSFORM", "STRING_SPLIT"}


class NotOnSpark(ValueError):
    """The SQL uses something Spark SQL has no counterpart for; the message names it."""


def view_name(schema: str, name: str) -> str:
    """The Spark temp view of DuckDB table ``schema.name`` (Spark's temp views have no schema):
    ``name`` itself in ``main``, ``<schema>__<name>`` elsewhere (``raw."people"`` -> ``raw__people``)."""
    return name if schema in ("", "main") else f"{schema}__{name}"


def _rewrite(node: Any) -> Any:
    """DuckDB-only functions sqlglot leaves as they are, in Spark's terms; tables outside ``main``
    under their :func:`view_name`."""
    from sqlglot import exp

    if isinstance(node, exp.Table) and node.db and not node.catalog:
        renamed = exp.Table(this=exp.to_identifier(view_name(node.db, node.name), quoted=True))
        if node.args.get("alias"):
            renamed.set("alias", node.args["alias"])
        return renamed
    if isinstance(node, exp.RegexpFullMatch):  # Java's regex matches anywhere: anchor it
        pattern = node.expression
        if isinstance(pattern, exp.Literal) and pattern.is_string:
            anchored = exp.Literal.string(f"^(?:{pattern.this})$")
        else:
            anchored = exp.Concat(expressions=[exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$")])
        return exp.RegexpLike(this=node.this, expression=anchored)
    if not isinstance(node, exp.Anonymous):
        return node
    name = node.name.upper()
    args = node.expressions
    if name in ("TRY_STRPTIME", "STRPTIME") and len(args) == 2 and isinstance(args[1], exp.Literal):
        from sqlglot.dialects.spark import Spark
        from sqlglot.time import format_time

        java = format_time(args[1].this, Spark.INVERSE_TIME_MAPPING, Spark.INVERSE_TIME_TRIE)
        return exp.Anonymous(this="TRY_TO_TIMESTAMP", expressions=[args[0], exp.Literal.string(java)])
    if name == "LIST_BOOL_AND" and len(args) == 1:
        lam = exp.Lambda(this=exp.column("b"), expressions=[exp.to_identifier("b")])
        return exp.Anonymous(this="FORALL", expressions=[args[0], lam])
    return node


def _generator_on_top(tree: Any) -> Any:
    """Spark accepts a generator (``EXPLODE``, DuckDB's ``unnest``) only as a whole projection:
    ``f(EXPLODE(a))`` becomes ``EXPLODE(TRANSFORM(a, x -> f(x)))``, the same rows. A projection with
    more than one generator is left as it is (Spark's analyser then names it)."""
    from sqlglot import exp

    for select in tree.find_all(exp.Select):
        for item in select.expressions:
            inner = item.this if isinstance(item, exp.Alias) else item
            generators = list(inner.find_all(exp.Explode))
            if len(generators) != 1 or generators[0] is inner:
                continue
            var = exp.to_identifier("__dpkg_x")
            body = inner.copy()
            body.find(exp.Explode).replace(exp.column(var))
            lam = exp.Lambda(this=body, expressions=[var])
            inner.replace(exp.Explode(this=exp.Transform(this=generators[0].this.copy(), expression=lam)))
    return tree


def to_spark(sql: str) -> str:
    """``sql`` (DuckDB dialect) as Spark SQL; raises :class:`NotOnSpark` when that cannot be done."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except SqlglotError as exc:
        raise NotOnSpark(f"not parsed as DuckDB SQL: {str(exc).splitlines()[0]}") from None
    tree = _generator_on_top(tree.transform(_rewrite))
    left = sorted({n.name.upper() for n in tree.find_all(exp.Anonymous)} & DUCKDB_ONLY
                  | ({"REGEXP_FULL_MATCH"} if tree.find(exp.RegexpFullMatch) else set()))
    if left:
        raise NotOnSpark(f"Spark SQL has no {', '.join(left)}")
    try:
        return tree.sql(dialect="spark", unsupported_level=sqlglot.ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise NotOnSpark(str(exc).splitlines()[0]) from None


def to_spark_expression(sql: str) -> str:
    """A DuckDB SQL expression (not a statement) as a Spark SQL expression."""
    statement = to_spark(f"SELECT {sql}")
    return statement[len("SELECT "):]
