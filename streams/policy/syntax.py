"""Rego v0 rule heads, refused at load with their line and the v1 form to write instead.

regopy 1.5.2 accepts ``deny[msg] { ... }`` and reads it as a v1 partial *object*
(``deny[msg] := true``): the policy loads, then every evaluation fails ("deny must
hold strings, got True"). OPA 1.0 rejects it. So the heads are checked here, before
regopy sees the file: a rule body needs ``if``, and ``deny``/``actions`` are sets
(``contains``). Only text outside strings and comments, at the top level of the
module (not inside a rule body or a value), is looked at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SETS = ("deny", "actions")  # the rules the engine reads: always multi-value (contains)
_IF = re.compile(r"\bif\b")
_VALUE_BEFORE = re.compile(r"(:=|=|,|\(|\[|\||\bcontains|\bin)\s*$")  # what precedes a '{' that opens a value
_SET_HEAD = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*\[(?P<key>[^\]]*)\]\s*(?P<rest>.*)$", re.DOTALL)


@dataclass(frozen=True)
class Problem:
    line: int
    head: str
    hint: str

    def __str__(self) -> str:
        return f"line {self.line}: Rego v0 syntax `{self.head}`; Rego v1: write `{self.hint}`"


def v0_problems(source: str) -> list[Problem]:
    """Every top-level rule head written in Rego v0 style, in source order."""
    problems: list[Problem] = []
    for line, head, opens_body in _top_level_heads(_blank_strings_and_comments(source)):
        problem = _problem(line, head, opens_body)
        if problem is not None:
            problems.append(problem)
    return problems


def _problem(line: int, head: str, opens_body: bool) -> Problem | None:
    head = " ".join(head.split())
    if not head or head.startswith(("package ", "import ", "default ")):
        return None
    as_set = _SET_HEAD.match(head)
    if as_set and as_set["name"] in SETS and not as_set["rest"].startswith(("=", ":=")):
        shown = head + (" {" if opens_body else "")
        return Problem(line, shown, f"{as_set['name']} contains {as_set['key'].strip()} if {{")
    if opens_body and not _IF.search(head) and not _VALUE_BEFORE.search(head):
        fixed = f"{as_set['name']} contains {as_set['key'].strip()}" if as_set and not as_set["rest"] else head
        return Problem(line, head + " {", f"{fixed} if {{")
    return None


def _top_level_heads(code: str) -> list[tuple[int, str, bool]]:
    """(line, head text, whether a rule body follows it) for each top-level statement.

    A head is the text of a statement outside rule bodies: ``deny[msg]``, ``f(x) :=``,
    a value such as ``x := {"a": 1}``. It ends at a top-level newline or where a body
    opens; after a body closes, what follows on that line (``else ...``) is a new head.
    """
    heads: list[tuple[int, str, bool]] = []
    depth, line, start_line, head, in_body = 0, 1, 1, [], False
    for char in code:
        if char == "\n":
            line += 1
        if in_body:
            depth += char in "([{"
            depth -= char in ")]}"
            if depth == 0:  # the body closed
                in_body, head, start_line = False, [], line
            continue
        if depth == 0 and char == "{" and not _VALUE_BEFORE.search("".join(head)):
            heads.append((start_line, "".join(head), True))
            in_body, depth = True, 1
            continue
        if depth == 0 and char == "\n":
            heads.append((start_line, "".join(head), False))
            head, start_line = [], line
            continue
        depth += char in "([{"
        depth -= char in ")]}" and depth > 0
        head.append(char)
    heads.append((start_line, "".join(head), False))
    return [(n, text, body) for n, text, body in heads if text.strip()]


def _blank_strings_and_comments(source: str) -> str:
    """The source with string contents and comments replaced by spaces (newlines kept)."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "#":
            end = source.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
        elif char in "\"`":
            end = _string_end(source, i)
            body = source[i + 1:end - 1]
            out.append(char + "".join(c if c == "\n" else " " for c in body) + char)
            i = end
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _string_end(source: str, start: int) -> int:
    """The index just past the string that opens at ``start`` ("..." with escapes, or `raw`)."""
    quote, i = source[start], start + 1
    while i < len(source):
        if quote == '"' and source[i] == "\\":
            i += 2
            continue
        if source[i] == quote:
            return i + 1
        i += 1
    return len(source)
