"""One executed notebook as one self-contained HTML file (no Sphinx, no network): the page ``defectbook compare``
writes beside its notebook.

Markdown cells and Markdown outputs are rendered with markdown-it (tables on); the ``{glue:md}`` directives
of the book's pages take the Markdown glued under their name (:func:`defectbook.book.report.glue_text`), other
MyST directives become a note box; figures are embedded as PNG; code is hidden except the parameters cell,
folded; cells tagged ``remove-cell`` are left out, as in the book.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

from markdown_it import MarkdownIt

GLUE_PREFIX = "application/papermill.record/"
_DIRECTIVE = re.compile(r"```\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>[^\n]*)\n(?P<body>.*?)```", re.S)
_INLINE_GLUE = re.compile(r"\{glue:text\}`(?P<name>[\w.-]+)(?::[^`]*)?`")

STYLE = """body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.5}table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f3f3f3}img{max-width:100%}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}
.note{border-left:4px solid #4a90d9;background:#f4f8fd;padding:.4em .9em;margin:.8em 0}
.error{border-left:4px solid #c33;background:#fdf3f3}details{margin:.6em 0}summary{cursor:pointer;color:#555}"""


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def glued(notebook) -> dict:
    """``{name: Markdown or text}`` of the values glued in ``notebook``'s outputs (myst-nb's ``glue``)."""
    out = {}
    for cell in notebook.cells:
        for o in cell.get("outputs", []):
            name = o.get("metadata", {}).get("scrapbook", {}).get("name")
            data = o.get("data", {})
            for mime in ("text/markdown", "text/plain"):
                value = data.get(GLUE_PREFIX + mime, data.get(mime))
                if name and value is not None:
                    out.setdefault(name, "".join(value) if isinstance(value, list) else str(value))
    return out


def _resolve(text: str, glue: dict) -> str:
    """Markdown with the glue directives replaced by their values and other directives by a note's text."""
    def block(m):
        if m["name"] == "glue:md":
            return glue.get(m["arg"].strip(), "")
        body = "\n".join(line for line in m["body"].splitlines() if not line.startswith(":"))
        return f"\n<<note>>{m['arg'].strip()}\n\n{body}<</note>>\n"
    text = _DIRECTIVE.sub(block, text)
    return _INLINE_GLUE.sub(lambda m: glue.get(m["name"], "").strip("'\""), text)


def _render_markdown(md: MarkdownIt, text: str, glue: dict) -> str:
    parts = re.split(r"<<note>>(.*?)<</note>>", _resolve(text, glue), flags=re.S)
    out = []
    for i, part in enumerate(parts):
        rendered = md.render(part)
        out.append(f'<div class="note">{rendered}</div>' if i % 2 else rendered)
    return "".join(out)


def _output(md: MarkdownIt, o: dict, glue: dict) -> str:
    if o.get("output_type") == "stream":
        return "" if o.get("name") == "stderr" else f"<pre>{html.escape(''.join(o.get('text', '')))}</pre>"
    if o.get("output_type") == "error":
        return f'<pre class="note error">{html.escape(o.get("ename", ""))}: {html.escape(o.get("evalue", ""))}</pre>'
    data = o.get("data", {})
    if "image/png" in data:
        png = "".join(data["image/png"]).replace("\n", "")
        return f'<p><img alt="figure" src="data:image/png;base64,{png}"></p>'
    if "text/markdown" in data:
        return _render_markdown(md, "".join(data["text/markdown"]), glue)
    if "text/plain" in data and not any(k.startswith(GLUE_PREFIX) for k in data):
        return f"<pre>{html.escape(''.join(data['text/plain']))}</pre>"
    return ""


def notebook_html(notebook, title: str | None = None) -> str:
    """The HTML page of an executed ``notebook`` (an ``nbformat`` notebook)."""
    md = _markdown()
    glue = glued(notebook)
    body = []
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "remove-cell" in tags:
            continue
        if cell.cell_type == "markdown":
            body.append(_render_markdown(md, cell.source, glue))
            continue
        if cell.cell_type != "code":
            continue
        if "parameters" in tags:
            body.append(f"<details><summary>Parameters of this run</summary><pre>{html.escape(cell.source)}</pre>"
                        "</details>")
        if "remove-output" not in tags:
            body += [_output(md, o, glue) for o in cell.get("outputs", [])]
    heading = next((c.source.splitlines()[0].lstrip("# ").strip() for c in notebook.cells
                    if c.cell_type == "markdown" and c.source.startswith("# ")), "defectbook")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title or heading)}'
            f'</title><style>{STYLE}</style></head><body>\n' + "\n".join(b for b in body if b) + "\n</body></html>\n")


def write_html(ipynb, out) -> Path:
    """Write the HTML page of the executed notebook file ``ipynb`` to ``out``; returns ``out``."""
    import nbformat

    out = Path(out)
    out.write_text(notebook_html(nbformat.read(ipynb, as_version=4)), encoding="utf-8")
    return out
