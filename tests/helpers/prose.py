"""The typed-number rule of the book's prose (stated in tests/unit/test_prose.py and book/rerun.md):
which numbers of a text's prose look like results."""
from __future__ import annotations

import re

# "4s + 1" is not seconds
UNITS = r"(?:%|‰|\s(?:s|h)|ms|sec|secs|seconds?|min|minutes?|hours?|GiB|MiB|KiB|GB|MB|KB|kB|TB)"
NUMBER = re.compile(
    r"(?<![\w.\-/#])"                        # not inside a word, path, version or anchor
    r"(?:\d+\.\d+|\.\d+"                     # a decimal number
    r"|\d+(?:\s*[-–]\s*\d+)?\s*" + UNITS + r"(?![\w])"   # an integer (or range) with a unit
    r")")
STRIP = [
    re.compile(r"^(`{3,}|~{3,})\s*(?!\{(?:note|warning|admonition|important|tip|caution|attention|seealso|hint|danger|error)\b).*?^\1\s*$",
               re.S | re.M),                 # fenced code and non-prose directives (glue, toc, code-cell)
    re.compile(r"^:::+\s*\{glue[^\n]*\n.*?^:::+\s*$", re.S | re.M),
    re.compile(r"^\s*:[\w-]+:.*$", re.M),     # directive options
    re.compile(r"\{[\w:-]+\}`[^`]*`"),        # roles: {glue:md}`key`, {doc}`page`
    re.compile(r"`[^`\n]*`"),                 # code spans
    re.compile(r"\$\$.*?\$\$", re.S),          # display math
    re.compile(r"\$[^$\n]+\$"),               # inline math
    re.compile(r"\]\([^)]*\)"),               # link targets
    re.compile(r"<!--.*?-->", re.S),          # comments
]


def prose_only(text: str) -> str:
    """``text`` without code, math, roles, directive bodies other than admonitions, and link targets."""
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    return text


REFERENCE = re.compile(r"(?:Sec\.|Secs\.|Section|Sections|§|Eq\.|Eqs\.|Equation|Table|Tables|Fig\.|Figs\.|Figure|"
                       r"Figures|App\.|Appendix|Alg\.|Algorithm|version|Python)\s*(?:\d+(?:\.\d+)*\s*(?:,|and|-|–)\s*)*$")


def typed_numbers(text: str) -> list[str]:
    """The result-looking numbers of ``text``'s prose (see the module's rule); a number right after
    Sec. / Eq. / Table / Fig. / App. (``Sec. 3.7``) is a reference, not a result."""
    text = prose_only(text)
    return [m.group(0).strip() for m in NUMBER.finditer(text)
            if not REFERENCE.search(text[max(0, m.start() - 40):m.start()])]
