"""Two builds of the book side by side: does every page show the same numbers? (prints; not a test)

    python benchmarks/compare_builds.py BEFORE AFTER [--show 20] [--json out.json]

BEFORE and AFTER are repository roots (or ``book/executed`` folders) of two checkouts whose books
were built (``make book``). For every executed page found in both, the text a reader sees (cell
outputs: plain text, Markdown, HTML tables, and the values glued into the prose) is split into lines
and compared; so is the reproducibility report. Figures are compared by the SHA-256 of their PNG.

A page is "same" when its lines are equal after masking what may differ between two honest builds
of the same code: commit hashes and code versions, dates and clock times, and durations (a number
followed by ``s``, ``ms``, ``min``), and the cells of table columns that measure the machine (time,
throughput, memory). Everything else, every AUROC and
every count, must match exactly; a page whose remaining lines differ is listed with those lines.
"""
from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

MASKS = [
    (re.compile(r"\b[0-9a-f]{7,64}\b"), "<hash>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?(\.\d+)?\b"), "<time>"),
    (re.compile(r"\b\d{8}-\d{6}(-\d+)?\b"), "<time>"),
    (re.compile(r"\b\d+(\.\d+)?(e[-+]?\d+)?\s?(s|ms|min|h|seconds?|minutes?)\b"), "<duration>"),
    (re.compile(r"0x[0-9a-f]+"), "<address>"),
]
#: table columns (HTML or Markdown) whose cells measure the machine, not the method: durations,
#: throughputs and memory; their values are masked
TIME_COLUMN = re.compile(r"(time|\(s\)|\(ms\)|\bs/|_s$|_s\b|per_s|seconds|wall|cpu s|fps|per image|throughput|"
                         r"images/s|floor share|rss|_mb\b|\bMB\b|\bGB\b|memory)", re.I)


#: the prefix of the output keys of glued values
GLUE = "application/papermill.record/"


def executed(nb_path: Path) -> bool:
    """Whether papermill ran the page to its end (a page still running, or one a stopped build left
    unexecuted, has no end time)."""
    nb = nbformat.read(nb_path, as_version=4)
    return bool(nb.metadata.get("papermill", {}).get("end_time")) and not nb.metadata["papermill"].get("exception")


def executed_root(path: Path) -> Path:
    return path / "book" / "executed" if (path / "book" / "executed").is_dir() else path


def _html_lines(html: str) -> list[str]:
    """An HTML table as one line per row, cells joined by `` | ``; duration columns masked."""
    rows = re.findall(r"<tr.*?>(.*?)</tr>", html, flags=re.S)
    if not rows:
        return [re.sub(r"<[^>]+>", " ", html)]
    header: list[str] = []
    out = []
    for row in rows:
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd].*?>(.*?)</t[hd]>", row, flags=re.S)]
        if "<th" in row and not header:
            header = cells
        masked = ["<measured>" if i < len(header) and TIME_COLUMN.search(header[i]) and row is not rows[0] else c
                  for i, c in enumerate(cells)]
        out.append(" | ".join(masked))
    return out


def _markdown_lines(text: str) -> list[str]:
    """Markdown text line by line; in a table, the cells of measurement columns masked."""
    out, header = [], []
    for line in text.splitlines():
        if not line.lstrip().startswith("|"):
            header = []
            out.append(line)
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not header:
            header = cells
            out.append(line)
            continue
        out.append(" | ".join("<measured>" if i < len(header) and TIME_COLUMN.search(header[i]) else c
                              for i, c in enumerate(cells)))
    return out


def page_lines(nb_path: Path) -> tuple[list[str], list[str]]:
    """(text lines a reader sees, SHA-256 of each PNG) of one executed notebook."""
    nb = nbformat.read(nb_path, as_version=4)
    lines: list[str] = []
    figures: list[str] = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = dict(out.get("data", {}))
            glued = {k.removeprefix(GLUE): v for k, v in data.items() if k.startswith(GLUE)}
            if glued:   # a value glued into the prose (myst-nb's glue): compared under its name
                name = out.get("metadata", {}).get("scrapbook", {}).get("name", "?")
                text = "".join(glued.get("text/markdown") or glued.get("text/plain") or "")
                lines += [f"[glue {name}] {line}" for line in text.splitlines()]
                continue
            if "text" in out:
                text = out["text"] if isinstance(out["text"], str) else "".join(out["text"])
                if out.get("name") == "stderr":
                    continue  # progress bars and log lines
                lines += text.splitlines()
            if "text/html" in data:
                lines += _html_lines("".join(data["text/html"]))
            elif "text/markdown" in data:
                lines += _markdown_lines("".join(data["text/markdown"]))
            elif "text/plain" in data:
                lines += "".join(data["text/plain"]).splitlines()
            if "image/png" in data:
                figures.append(hashlib.sha256("".join(data["image/png"]).encode()).hexdigest())
    return [mask(line) for line in lines if line.strip()], figures


def mask(line: str) -> str:
    line = " ".join(line.split())
    for pattern, token in MASKS:
        line = pattern.sub(token, line)
    return line


def compare(before: Path, after: Path, show: int = 20) -> dict:
    b_root, a_root = executed_root(before), executed_root(after)
    b_pages = {p.relative_to(b_root).as_posix(): p for p in b_root.rglob("*.ipynb")
               if not p.name.startswith(".") and executed(p)}
    a_pages = {p.relative_to(a_root).as_posix(): p for p in a_root.rglob("*.ipynb")
               if not p.name.startswith(".") and executed(p)}
    result = {"before": str(before), "after": str(after), "pages": {},
              "only_before": sorted(set(b_pages) - set(a_pages)), "only_after": sorted(set(a_pages) - set(b_pages))}
    for name in sorted(set(b_pages) & set(a_pages)):
        (bl, bf), (al, af) = page_lines(b_pages[name]), page_lines(a_pages[name])
        diff = [
            d for d in difflib.unified_diff(bl, al, lineterm="", n=0) if d[:1] in "+-" and d[:3] not in ("+++", "---")
        ]
        result["pages"][name] = {"lines": len(al), "numbers": sum(len(re.findall(r"\d+\.\d+", x)) for x in al),
                                 "same_text": not diff, "diff": diff[:show],
                                 "figures": len(af), "same_figures": sum(x == y for x, y in zip(bf, af))}
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--show", type=int, default=20, help="differing lines shown per page")
    ap.add_argument("--json", type=Path, help="write the whole comparison here")
    args = ap.parse_args(argv)
    r = compare(args.before, args.after, args.show)
    same = [n for n, p in r["pages"].items() if p["same_text"]]
    print(f"{len(r['pages'])} pages executed in both builds; {len(same)} show the same text and numbers "
          f"({sum(p['numbers'] for n, p in r['pages'].items() if p['same_text'])} decimal numbers)")
    print(f"figures: {sum(p['same_figures'] for p in r['pages'].values())} of "
          f"{sum(p['figures'] for p in r['pages'].values())} identical PNGs")
    odd = [f"{n} ({p['figures'] - p['same_figures']} of {p['figures']})" for n, p in r["pages"].items()
           if p["same_figures"] < p["figures"]]
    if odd:
        print(f"pages whose PNGs differ: {', '.join(odd)}")
    for key in ("only_before", "only_after"):
        if r[key]:
            print(f"executed {key.replace('_', ' ')}: {', '.join(r[key])}")
    for name, p in r["pages"].items():
        if not p["same_text"]:
            print(f"\n## {name}: differs ({len(p['diff'])} lines shown)")
            print("\n".join("  " + d[:200] for d in p["diff"]))
    if args.json:
        args.json.write_text(json.dumps(r, indent=1))
    return 0 if len(same) == len(r["pages"]) else 1


if __name__ == "__main__":
    sys.exit(main())
