#!/usr/bin/env python3
"""funcsize: how long is each function in daemon/**/*.c.

A function's size is counted from the line holding its name to the line of
its closing brace, both included (what `ctags --fields=+ne` reports as line
and end). Functions are found by a brace-matching scan: a `{` at file level
whose previous token closes a parameter list starts a definition.

  scripts/funcsize.py [DIR...]          every function, longest first, then
                                        the median and the count over 60
  scripts/funcsize.py --check [DIR...]  only FILE:LINE: lines for functions
                                        over the limit, then one summary
                                        line; exit 1 if a limit is broken

STYLE.md: most functions under 20 lines, none over 60; a flat `switch`
dispatcher may be longer. The limits below say that; EXCEPTIONS names the
dispatchers allowed to be longer.
"""

import os
import statistics
import sys

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clex  # noqa: E402

MAX_LINES = 60
MAX_MEDIAN = 20

# Functions allowed over MAX_LINES: only a flat `switch` that dispatches, one
# short case per value, where splitting would only scatter the table. Write
# "name" or "path:name" (path from the repository root), and say why.
EXCEPTIONS = {
    # one case per protobuf field type, each a read and a store
    "daemon/core/json.c:read_value",
}

# Identifiers that may stand between a parameter list and the body, as in
# `f(void) __attribute__((cold)) {`: skipped when looking for the name.
_ATTRS = {"__attribute__", "__declspec", "HT_PRINTF", "HT_NODISCARD"}


def functions(path):
    """[(name, first line, last line)] of the definitions in one C file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        toks = [t for t in clex.lex(f.read()) if t.kind != "pp"]
    out, i = [], 0
    while i < len(toks):
        t = toks[i]
        if t.kind == "punct" and t.text == "{":
            end = clex.match_forward(toks, i, "{", "}")
            name = _definition_name(toks, i)
            if name is not None and end < len(toks):
                out.append((name.text, name.line, toks[end].line))
            i = end + 1
        else:
            i += 1
    return out


def _definition_name(toks, brace):
    """The name token of the function whose body opens at toks[brace], or
    None when the brace opens something else (an initializer, a struct)."""
    j = brace - 1
    while j >= 0 and toks[j].kind == "punct" and toks[j].text == ")":
        k = clex.match_backward(toks, j, "(", ")")
        if k < 1 or toks[k - 1].kind != "ident":
            return None
        if toks[k - 1].text not in _ATTRS:
            return toks[k - 1]
        j = k - 2
    return None


def scan(dirs):
    """[(lines, path, line, name)] for every function under dirs."""
    rows = []
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            subdirs.sort()
            for fn in sorted(files):
                if not fn.endswith(".c") or fn.endswith(".pb-c.c"):
                    continue
                p = os.path.normpath(os.path.join(root, fn))
                for name, first, last in functions(p):
                    rows.append((last - first + 1, p, first, name))
    return rows


def excepted(path, name):
    return name in EXCEPTIONS or "%s:%s" % (path, name) in EXCEPTIONS


def main(argv):
    check = "--check" in argv
    dirs = [a for a in argv if a != "--check"] or ["daemon"]
    rows = scan(dirs)
    if not rows:
        print("funcsize: no functions found under %s" % " ".join(dirs))
        return 1
    median = statistics.median(r[0] for r in rows)
    over = [r for r in rows if r[0] > MAX_LINES]
    bad = [r for r in over if not excepted(r[1], r[3])]
    if not check:
        for n, p, line, name in sorted(rows, key=lambda r: (-r[0], r[1])):
            print("%5d %s:%d %s" % (n, p, line, name))
    for n, p, line, name in sorted(over, key=lambda r: (r[1], r[2])):
        if check and not excepted(p, name):
            print("%s:%d: function %s is %d lines (limit %d)"
                  % (p, line, name, n, MAX_LINES))
        elif not check:
            note = " (excepted)" if excepted(p, name) else ""
            print("over %d: %s:%d %s %d lines%s"
                  % (MAX_LINES, p, line, name, n, note))
    if median > MAX_MEDIAN:
        print("%s: median function is %g lines (limit %d)"
              % (" ".join(dirs), median, MAX_MEDIAN))
    print("funcsize: %d functions, median %g lines (limit %d), %d over %d "
          "(%d excepted)" % (len(rows), median, MAX_MEDIAN, len(over),
                             MAX_LINES, len(over) - len(bad)))
    return 1 if bad or median > MAX_MEDIAN else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
