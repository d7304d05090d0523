"""A Sphinx extension for the book's build: each page lists each script once.

sphinx-thebe (as pinned by Jupyter Book 1.x) registers its inline configuration script on every
``env-before-read-docs``, so pages carry ``const THEBE_JS_URL = ...`` twice and the browser reports
"Identifier 'THEBE_JS_URL' has already been declared". Named in ``_config.yml``
(``sphinx.extra_extensions``); the browser test (tests/integration/test_browser.py) checks the console is clean.
"""
from __future__ import annotations


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for s in scripts:
        # one script registered with filename None and once with "" (an inline body) is the same script
        key = (str(getattr(s, "filename", s) or ""),
               tuple(sorted((k, str(v)) for k, v in getattr(s, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(s)
    scripts[:] = kept


def setup(app):
    # before handlers that return a template (emit_firstresult stops there)
    app.connect("html-page-context", _dedupe_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
