#!/usr/bin/env python3
"""lint_c: the source checks of scripts/lint.sh that need a C lexer.

  scripts/lint_c.py headers   library headers only where they belong, and
                              no include against the layering of daemon/
  scripts/lint_c.py logs      every log format is key=value fields, and
                              no format quotes a text value itself
                              (key="%s"): log_quote/LOG_Q escapes it

Each prints one `FILE:LINE: message` a violation, then a summary line, and
exits 1 if there was any. Run from the repository root.
"""

import fnmatch
import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in scripts/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clex  # noqa: E402

# --- headers ---------------------------------------------------------------

# Library header (by prefix of the <...> name) -> the files that may include
# it, and the folders the rule covers. A header (.h) matching the patterns may
# include the library only if every file that includes that header may, too:
# a public header must not carry the library to the rest of the tree.
LIBRARIES = [
    ("zmq.h", ["daemon/ctl/*.[ch]", "daemon/hutongd/*.[ch]",
               "tests/e2e/*.[ch]"], ["daemon", "tests"]),
    ("sqlite3.h", ["daemon/core/ledger*.[ch]"], ["daemon"]),
    ("openssl/", ["daemon/core/ident*.[ch]", "daemon/core/pki*.[ch]",
                  "daemon/core/ca*.[ch]"], ["daemon"]),
    ("pthread.h", ["daemon/core/pool*.[ch]"], ["daemon"]),
]

# Folder -> the daemon folders whose headers it may include (STYLE.md: a
# module uses only those before it; the shells use core, never the reverse).
LAYERS = {
    "daemon/core": ["daemon/core"],
    "daemon/ctl": ["daemon/core", "daemon/ctl"],
    "daemon/hutongd": ["daemon/core", "daemon/ctl", "daemon/hutongd"],
    "daemon/hutong": ["daemon/core", "daemon/ctl", "daemon/hutong"],
}
SEARCH = ["daemon/core", "daemon/ctl", "daemon/hutongd", "daemon/hutong"]

_INCLUDE = re.compile(r'^#\s*include\s*([<"])([^>"]+)[>"]')


def sources(dirs):
    out = []
    for d in dirs:
        for root, subdirs, files in os.walk(d):
            subdirs.sort()
            for fn in sorted(files):
                if fn.endswith((".c", ".h")) and ".pb-c." not in fn:
                    out.append(os.path.normpath(os.path.join(root, fn)))
    return out


def includes(path):
    """[(line, '<' or '"', name)] of a file's #include lines."""
    with open(path, encoding="utf-8", errors="replace") as f:
        toks = clex.lex(f.read())
    out = []
    for t in toks:
        m = _INCLUDE.match(t.text) if t.kind == "pp" else None
        if m:
            out.append((t.line, m.group(1), m.group(2)))
    return out


def resolve(path, name):
    """The repository file a quoted include names, or None (system or
    generated headers)."""
    here = os.path.normpath(os.path.join(os.path.dirname(path), name))
    if os.path.isfile(here):
        return here
    for d in SEARCH:
        p = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(p):
            return p
    return None


def allowed(path, patterns):
    return any(fnmatch.fnmatchcase(path, p) for p in patterns)


def check_headers():
    files = sources(["daemon", "tests"])
    inc = {p: includes(p) for p in files}
    includers = {}
    for p in files:
        for line, kind, name in inc[p]:
            r = resolve(p, name) if kind == '"' else None
            if r is not None:
                includers.setdefault(r, []).append(p)
    bad = []
    for lib, patterns, scope in LIBRARIES:
        for p in files:
            if not any(p.startswith(d + "/") for d in scope):
                continue
            for line, kind, name in inc[p]:
                if kind == "<" and name.startswith(lib):
                    why = library_refusal(p, patterns, includers, set())
                    if why:
                        bad.append("%s:%d: <%s> %s" % (p, line, name, why))
    for p in files:
        bad += layer_violations(p, inc[p])
    for b in bad:
        print(b)
    print("headers: %d violation%s" % (len(bad), "" if len(bad) == 1 else "s"))
    return 1 if bad else 0


def library_refusal(path, patterns, includers, seen):
    """Why path may not include the library, or None if it may."""
    if not allowed(path, patterns):
        return "not allowed here (only %s)" % ", ".join(patterns)
    if not path.endswith(".h"):
        return None
    seen.add(path)
    for q in includers.get(path, []):
        if q not in seen and library_refusal(q, patterns, includers, seen):
            return "in a header that %s includes (only %s)" % (
                q, ", ".join(patterns))
    return None


def layer_violations(path, incs):
    layer = next((d for d in LAYERS if path.startswith(d + "/")), None)
    if layer is None:
        return []
    out = []
    for line, kind, name in incs:
        r = resolve(path, name) if kind == '"' else None
        if r is None or not r.startswith("daemon/"):
            continue
        home = os.path.dirname(r)
        if home in LAYERS and home not in LAYERS[layer]:
            out.append("%s:%d: \"%s\" is %s: %s/ may include only %s"
                       % (path, line, name, r, layer,
                          ", ".join(LAYERS[layer])))
    return out


# --- logs ------------------------------------------------------------------

# The logging entry points (daemon/core/log.h) and the index of the format
# among their arguments.
LOG_FUNCS = {"log_warn": 1, "log_info": 1, "log_debug": 1, "log_msg": 2}
_CONV = re.compile(r"%[-+ #0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?"
                   r"(?:hh|h|ll|l|j|z|t|L)?[diouxXeEfFgGaAcspn%]")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*=")


def call_args(toks, open_paren):
    """The argument token lists of the call whose '(' is toks[open_paren]."""
    args, cur, depth = [], [], 0
    for t in toks[open_paren:]:
        if t.kind == "punct" and t.text in "([{":
            depth += 1
            if depth == 1:
                continue
        elif t.kind == "punct" and t.text in ")]}":
            depth -= 1
            if depth == 0:
                args.append(cur)
                return args
        elif depth == 1 and t.kind == "punct" and t.text == ",":
            args.append(cur)
            cur = []
            continue
        cur.append(t)
    return args


def literal(arg):
    """The format an argument spells out of adjacent string literals (and
    <inttypes.h> PRI macros), or None if it is anything else."""
    parts = []
    for t in arg:
        if t.kind == "str":
            parts.append(clex.unescape(t.text))
        elif t.kind == "ident" and t.text.startswith("PRI"):
            parts.append("llu")
        else:
            return None
    return "".join(parts) if parts else None


def fields(fmt):
    """The format's whitespace-separated words, a `key="..."` value (which
    may hold blanks and conversions) kept whole inside its word."""
    words, cur, i, n = [], [], 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c == '"' and cur and cur[-1] == "=":
            j = fmt.find('"', i + 1)
            j = n if j < 0 else j + 1
            cur.append('"' + "q" * (j - i - 2) + '"')  # a quoted value
            i = j
            continue
        if c.isspace():
            if cur:
                words.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        words.append("".join(cur))
    return words


# A text conversion inside a value the format quotes itself: key="%s". Such
# a value is not escaped, so a quote in it ends the field; LOG_Q quotes it.
_SELF_QUOTED = re.compile(r'=\"[^"]*%[-.0-9]*[sc][^"]*\"')


def format_problem(fmt):
    """Why a log format is not key=value fields, or None."""
    m = _SELF_QUOTED.search(fmt)
    if m:
        return "%s quotes a text value itself: pass it as %%s, LOG_Q(value)" \
            % m.group()
    for n, w in enumerate(fields(fmt)):
        if n == 0 and w == "%s":
            continue  # the event's name, as in "%s origin=%s"
        for m in _CONV.finditer(w):
            if m.group() == "%%":
                continue
            key_before = "=" in w[:m.start()]
            is_key = w[m.end():m.end() + 1] == "="
            if not key_before and not is_key:
                return "%s in \"%s\" is not the value of a key= field" % (
                    m.group(), w)
    if not _KEY.search(fmt):
        return "no key= field"
    return None


def check_logs_in(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        toks = [t for t in clex.lex(f.read()) if t.kind != "pp"]
    out, depth = [], 0
    for i, t in enumerate(toks):
        if t.kind == "punct" and t.text in "{}":
            depth += 1 if t.text == "{" else -1
        if (depth == 0 or t.kind != "ident" or t.text not in LOG_FUNCS
                or i + 1 >= len(toks) or toks[i + 1].text != "("):
            continue
        args = call_args(toks, i + 1)
        k = LOG_FUNCS[t.text]
        if len(args) <= k or not args[k]:
            continue
        fmt = literal(args[k])
        line = args[k][0].line
        if fmt is None:
            out.append("%s:%d: %s: format is not a string literal"
                       % (path, line, t.text))
            continue
        why = format_problem(fmt)
        if why:
            short = fmt if len(fmt) <= 60 else fmt[:57] + "..."
            out.append("%s:%d: %s: %s: \"%s\""
                       % (path, line, t.text, why, short.replace("\n", "\\n")))
    return out


def check_logs():
    bad = []
    for p in sources(["daemon", "tests"]):
        if p not in ("daemon/core/log.c", "daemon/core/log.h"):
            bad += check_logs_in(p)
    for b in bad:
        print(b)
    print("logs: %d format%s not key=value" % (len(bad),
                                              "" if len(bad) == 1 else "s"))
    return 1 if bad else 0


def main(argv):
    checks = {"headers": check_headers, "logs": check_logs}
    if len(argv) != 1 or argv[0] not in checks:
        print("usage: lint_c.py headers|logs", file=sys.stderr)
        return 2
    return checks[argv[0]]()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
