"""Code cards: the functions a learner writes in an exercise, practised again from memory.

Pure (ast and text only; no torch). The bundled learner file is the skeleton: every
top-level function or class in it whose body still says `YOUR CODE HERE` (or raises
NotImplementedError) is one code card. Its fast checks are the `check_*` functions of the
exercise's checks file that call it (`code.<name>`).

Reviewing a card: the learner gets a fresh copy of just that function (its signature and
docstring, `skeleton`) to write again; `splice` puts what they wrote into the reference
solution in place of that function, so the checks exercise exactly their version, and
`checks_module` is a checks file with only that function's checks. `suggested_rating` turns
the attempts into a grade: all checks passed on the first try Good (Easy when fast),
passed after a retry Hard, gave up or failed Again; the learner may override it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKERS = ("YOUR CODE HERE", "NotImplementedError")
FAST_S = 120.0
"""Passed on the first try within this many seconds of opening the card: Easy."""


class CodeCardError(ValueError):
    """What the learner wrote cannot be used as that function; the message says why."""


@dataclass(frozen=True)
class CodeFunction:
    exercise: str
    name: str
    skeleton: str                 # signature + docstring + `# YOUR CODE HERE`, as bundled
    solution: str | None          # the reference solution's version of it
    checks: tuple[str, ...]       # the check_* functions that call it

    @property
    def key(self) -> str:
        return f"{self.exercise}.{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "name": self.name, "checks": list(self.checks)}


def _top_level(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.ClassDef]:
    return {n.name: n for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}  # type: ignore[misc]


def _segment(source: str, node: ast.AST) -> str:
    lines = source.splitlines()
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[first - 1:node.end_lineno]) + "\n"  # type: ignore[attr-defined]


def _reads(fn: ast.FunctionDef) -> set[str]:
    """Names a function reads off its first parameter (`code.last_token_logits`)."""
    if not fn.args.args:
        return set()
    param = fn.args.args[0].arg
    return {n.attr for n in ast.walk(fn) if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name) and n.value.id == param}


def _calls(fn: ast.FunctionDef, helpers: dict[str, ast.FunctionDef],
           seen: frozenset[str] = frozenset()) -> set[str]:
    """What a check reads off the learner's module, itself or through the helpers of the
    checks file it calls (`_example(code)` -> `code.build_example`)."""
    out = _reads(fn)
    for n in ast.walk(fn):
        if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                and n.func.id in helpers and n.func.id not in seen):
            out |= _calls(helpers[n.func.id], helpers, seen | {fn.name})
    return out


def learner_functions(exercise: str, learner_source: str, checks_source: str,
                      solution_source: str | None = None) -> list[CodeFunction]:
    """The code cards of an exercise, in the learner file's order; a function no check
    calls has no card (nothing could grade it)."""
    learner = _top_level(ast.parse(learner_source))
    solution = _top_level(ast.parse(solution_source)) if solution_source else {}
    funcs = {n.name: n for n in ast.parse(checks_source).body if isinstance(n, ast.FunctionDef)}
    checks = [n for n in funcs.values() if n.name.startswith("check_")]
    out = []
    for name, node in learner.items():
        text = _segment(learner_source, node)
        if not any(marker in text for marker in MARKERS):
            continue
        used_by = tuple(c.name for c in checks if name in _calls(c, funcs))
        if not used_by:
            continue
        ref = solution.get(name)
        out.append(CodeFunction(exercise, name, text,
                                _segment(solution_source, ref) if ref and solution_source
                                else None, used_by))
    return out


def splice(module_source: str, name: str, written: str) -> str:
    """`module_source` with its top-level `name` replaced by the learner's `written` text.

    `written` must parse and define `name` at its top level (other helpers it defines
    come along)."""
    try:
        new = ast.parse(written)
        compile(new, "<your function>", "exec")  # also 'return' outside a function, ...
    except SyntaxError as exc:
        raise CodeCardError(f"line {exc.lineno}: {exc.msg}") from None
    if name not in _top_level(new):
        raise CodeCardError(f"write the function {name!r} (its def line is missing)")
    tree = ast.parse(module_source)
    node = _top_level(tree).get(name)
    lines = module_source.splitlines()
    if node is None:
        return module_source.rstrip("\n") + "\n\n\n" + written.strip("\n") + "\n"
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[:first - 1] + written.rstrip("\n").splitlines()
                     + lines[node.end_lineno:]) + "\n"  # type: ignore[attr-defined]


def checks_module(checks_path: Path, names: tuple[str, ...]) -> str:
    """Python source of a checks file that runs only `names` of the exercise's checks
    (loaded from `checks_path`, so their helpers come along)."""
    lines = [
        '"""The checks of one code card (generated; see studyapp.training.codecards)."""',
        "import importlib.util as _util",
        f"_spec = _util.spec_from_file_location('_exercise_checks', {str(checks_path)!r})",
        "_checks = _util.module_from_spec(_spec)",
        "_spec.loader.exec_module(_checks)",
    ]
    lines += [f"{n} = _checks.{n}" for n in names]
    return "\n".join(lines) + "\n"


def suggested_rating(attempts: int, passed: bool, seconds: float, fast_s: float = FAST_S
                     ) -> int:
    """The grade the checks suggest: 1 Again (gave up or failed), 2 Hard (passed after a
    retry), 3 Good (first try), 4 Easy (first try within `fast_s` seconds)."""
    if not passed or attempts < 1:
        return 1
    if attempts > 1:
        return 2
    return 4 if seconds <= fast_s else 3
