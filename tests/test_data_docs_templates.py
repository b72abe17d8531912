"""GX's Data Docs views share compiled templates (datapkg.data_docs.share_compiled_templates)."""

from __future__ import annotations

import jinja2


def test_gx_views_compile_each_template_once_per_process(monkeypatch) -> None:
    from great_expectations.render.view.view import DefaultJinjaIndexPageView, DefaultJinjaPageView

    from datapkg.data_docs import _shared_environment, share_compiled_templates

    _shared_environment.cache_clear()  # a cache of its own, whatever this process rendered before
    share_compiled_templates()
    share_compiled_templates()  # idempotent
    first, second = DefaultJinjaPageView(), DefaultJinjaIndexPageView()
    assert isinstance(first.env, jinja2.Environment) and first.env is not second.env
    assert first.env.bytecode_cache is not None and first.env.bytecode_cache is second.env.bytecode_cache
    compiled = []
    monkeypatch.setattr(jinja2.Environment, "_compile", lambda self, source, filename: compiled.append(filename)
                        or compile(source, filename, "exec"))
    name = "page.j2"
    first.env.get_template(name)
    assert compiled  # compiled once...
    compiled.clear()
    DefaultJinjaPageView().env.get_template(name)
    assert compiled == []  # ...and a new view's environment takes the compiled code
