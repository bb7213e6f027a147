"""clex: a small C lexer shared by the lint scripts (lint_c.py, funcsize.py).

It is not a compiler: it knows comments, string and character literals,
preprocessor lines, identifiers, numbers and one-character punctuation, and
the line each token starts on. That is enough to match braces and parentheses
and to read string literals without being fooled by a brace in a comment or a
quote in a character constant.
"""

import re

_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_NUMBER = re.compile(r"\.?[0-9](?:[eEpP][+-]|[A-Za-z_0-9.])*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a",
            "b": "\b", "f": "\f", "v": "\v"}


class Token:
    __slots__ = ("kind", "text", "line")

    def __init__(self, kind, text, line):
        self.kind = kind  # 'ident' 'num' 'str' 'char' 'punct' 'pp'
        self.text = text  # for 'str': the literal's body, still escaped
        self.line = line

    def __repr__(self):
        return "%s(%r)@%d" % (self.kind, self.text, self.line)


def _skip_quoted(text, i, quote):
    """Index just past the literal whose opening quote is at i."""
    n = len(text)
    i += 1
    while i < n and text[i] != quote and text[i] != "\n":
        i += 2 if text[i] == "\\" else 1
    return min(i + 1, n)


def _pp_line(text, i):
    """(end index, body) of the preprocessor line starting at i, with
    continuations joined and comments dropped."""
    n = len(text)
    out = []
    while i < n:
        c = text[i]
        if c == "\\" and text.startswith("\n", i + 1):
            out.append(" ")
            i += 2
        elif c == "\n":
            break
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = _skip_quoted(text, i, c)
            out.append(text[i:j])
            i = j
        else:
            out.append(c)
            i += 1
    return i, "".join(out)


def lex(text):
    """List of Tokens for C source text; comments are dropped."""
    toks = []
    i, n, line, bol = 0, len(text), 1, True
    while i < n:
        c = text[i]
        if c == "\n":
            line, bol, i = line + 1, True, i + 1
        elif c in " \t\r\f\v":
            i += 1
        elif c == "\\" and text.startswith("\n", i + 1):
            line, i = line + 1, i + 2
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            line += text.count("\n", i, j)
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c == "#" and bol:
            j, body = _pp_line(text, i)
            toks.append(Token("pp", body, line))
            line += text.count("\n", i, j)
            i = j
        else:
            bol = False
            i = _token(text, i, line, toks)
    return toks


def _token(text, i, line, toks):
    c = text[i]
    m = _IDENT.match(text, i)
    if m:
        j = m.end()
        if m.group() in ("L", "u", "U", "u8") and j < len(text) \
                and text[j] in "\"'":
            return _token(text, j, line, toks)  # a prefixed literal
        toks.append(Token("ident", m.group(), line))
        return j
    if c in "\"'":
        j = _skip_quoted(text, i, c)
        kind = "str" if c == '"' else "char"
        toks.append(Token(kind, text[i + 1:j - 1], line))
        return j
    m = _NUMBER.match(text, i)
    if m:
        toks.append(Token("num", m.group(), line))
        return m.end()
    toks.append(Token("punct", c, line))
    return i + 1


def unescape(body):
    """The characters a C string literal's body stands for (roughly: octal
    and hex escapes become one placeholder character)."""
    out, i, n = [], 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        out.append(_ESCAPES.get(e, e if e in "\"'\\?" else "?"))
        i += 2
        if e == "x":
            while i < n and body[i] in "0123456789abcdefABCDEF":
                i += 1
        elif e in "01234567":
            while i < n and body[i] in "01234567":
                i += 1
    return "".join(out)


def match_forward(toks, i, open_c, close_c):
    """Index of the token closing the bracket at toks[i], or len(toks)."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t.kind != "punct":
            continue
        if t.text == open_c:
            depth += 1
        elif t.text == close_c:
            depth -= 1
            if depth == 0:
                return j
    return len(toks)


def match_backward(toks, i, open_c, close_c):
    """Index of the token opening the bracket closed at toks[i], or -1."""
    depth = 0
    for j in range(i, -1, -1):
        t = toks[j]
        if t.kind != "punct":
            continue
        if t.text == close_c:
            depth += 1
        elif t.text == open_c:
            depth -= 1
            if depth == 0:
                return j
    return -1
