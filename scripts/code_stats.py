"""Static measures of ``course_lib``: size, share of input checks, raises, long functions, import cycles.

Run from the repository root::

    python scripts/code_stats.py            # the table and the targets of issue 14
    python scripts/code_stats.py --files    # one row per file too
    python scripts/code_stats.py --where    # where the check lines stand; validators by their statements

Definitions (by Python's ``ast``, no execution):

* **lines**: every line of every ``.py`` file under ``course_lib/``.
* **code lines**: lines that are not blank, not only a comment, not inside a docstring.
* **check lines**: code lines of (a) a validator function (its name matches ``VALIDATOR``:
  ``check*``, ``_check``, ``require*``, ``validate``, ``ensure*``, ``is_*``, ...), whole; (b) an
  ``if`` whose body ends in ``raise`` (test and body); (c) a ``raise`` or ``assert`` anywhere;
  (d) a statement that only calls a validator, or assigns its result; (e) an exception class;
  (f) an ``except`` handler of at most two statements that ends in ``raise``. These are the
  rules of the measurement quoted in issue 14.
* **raises**: ``raise`` statements, per 1,000 lines.
* **long functions**: in the spine (attention, models, decoding, training), the lines of a
  ``def`` from its first line to its last, docstring excluded (comments and blanks count).
* **import cycles**: between ``course_lib`` modules, counting module-level imports only
  (imports inside functions are lazy and cannot form a cycle at import time).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "course_lib"
SPINE = ("course_lib/attention", "course_lib/models", "course_lib/decoding", "course_lib/training")
NEWCOMER_PATH = [
    "course_lib/attention.py", "course_lib/models/base.py", "course_lib/models/encoders.py",
    "course_lib/models/bahdanau.py", "course_lib/decoding/greedy.py", "course_lib/decoding/beam.py",
    "course_lib/training/trainer.py",
]


VALIDATOR = re.compile(r"^_?(check|require|validate|ensure|is_|as_bool|as_float|as_int|as_id|as_hyp|as_ref|"
                       r"positive_int|number$|checked)|_check|^validate$")


def _docstring_lines(tree: ast.AST) -> set[int]:
    out = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.body:
            b = n.body[0]
            if isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str):
                out.update(range(b.lineno, b.end_lineno + 1))
    return out


def _code_lines(src: str, tree: ast.AST) -> set[int]:
    lines = src.splitlines()
    skip = {i for i, line in enumerate(lines, 1) if not line.strip() or line.strip().startswith("#")}
    return set(range(1, len(lines) + 1)) - skip - _docstring_lines(tree)


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
    return ""


def _ends_in_raise(body: list[ast.stmt]) -> bool:
    return bool(body) and isinstance(body[-1], ast.Raise)


def _is_exception_class(node: ast.ClassDef) -> bool:
    names = [b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases]
    return any(n.endswith(("Error", "Exception")) or n == "Warning" for n in names)


def _check_spans(tree: ast.AST, whole_validators: bool = True) -> list[tuple[int, int]]:
    """The (first, last) line spans the rules count; ``whole_validators=False`` drops rule (a), so a
    validator counts by its check statements alone (``--where`` reports both)."""
    spans = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and VALIDATOR.search(n.name):
            if whole_validators:
                spans.append((min([d.lineno for d in n.decorator_list] + [n.lineno]), n.end_lineno))
        elif isinstance(n, ast.ClassDef) and _is_exception_class(n):
            spans.append((n.lineno, n.end_lineno))
        elif isinstance(n, ast.If) and _ends_in_raise(n.body):
            spans.append((n.lineno, n.body[-1].end_lineno))
        elif isinstance(n, (ast.Raise, ast.Assert)):
            spans.append((n.lineno, n.end_lineno))
        elif isinstance(n, (ast.Expr, ast.Assign, ast.AnnAssign)) and VALIDATOR.search(_call_name(n.value) or "\0"):
            spans.append((n.lineno, n.end_lineno))
        elif isinstance(n, ast.Try):
            spans += [(h.lineno, h.end_lineno) for h in n.handlers if _ends_in_raise(h.body) and len(h.body) <= 2]
    return spans


def _where(tree: ast.AST, checks: set[int], statements: set[int]) -> dict[str, int]:
    """Where the check lines stand (``--where``), by the innermost ``def`` around each line."""
    owner: dict[int, ast.AST] = {}
    exception_lines, validator_lines = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            lines = range(n.lineno, n.end_lineno + 1)
            if isinstance(n, ast.ClassDef) and _is_exception_class(n):
                exception_lines.update(lines)
            elif not isinstance(n, ast.ClassDef):
                validator_lines.update(lines if VALIDATOR.search(n.name) else ())
                for i in lines:
                    if i not in owner or owner[i].end_lineno - owner[i].lineno > n.end_lineno - n.lineno:
                        owner[i] = n
    out: dict[str, int] = {}
    for i in checks:
        name = getattr(owner.get(i), "name", None)
        where = ("exception classes" if i in exception_lines
                 else "validators: check statements" if i in validator_lines and i in statements
                 else "validators: other lines (counted by the name)" if i in validator_lines
                 else "module level" if name is None
                 else "constructors (__init__, __post_init__)" if name in ("__init__", "__post_init__")
                 else "private helpers" if name.startswith("_")
                 else "public functions and methods")
        out[where] = out.get(where, 0) + 1
    return out


def _functions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n = node.end_lineno - node.lineno + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                n -= first.end_lineno - first.lineno + 1
            yield node.name, node.lineno, n


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, tree: ast.Module, modules: set[str]) -> set[str]:
    me = _module_name(path)
    pkg = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in tree.body:  # module level only
        stmts = [node]
        if isinstance(node, ast.If):  # `if TYPE_CHECKING:` blocks do not run
            continue
        if isinstance(node, ast.Try):
            stmts = node.body
        for s in stmts:
            if isinstance(s, ast.Import):
                names = [a.name for a in s.names]
            elif isinstance(s, ast.ImportFrom):
                base = s.module or ""
                if s.level:
                    up = pkg.split(".")
                    up = up[: len(up) - (s.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in s.names]
            else:
                continue
            for n in names:
                while n and n not in modules:
                    n = n.rpartition(".")[0]
                if n and n != me:
                    found.add(n)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    cycles, seen = [], set()
    for start in sorted(graph):
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start and len(path) > 1:
                    key = frozenset(path)
                    if key not in seen:
                        seen.add(key)
                        cycles.append(path + [start])
                elif nxt not in path and nxt > start:
                    stack.append((nxt, path + [nxt]))
    return cycles


def main(argv=None) -> int:
    global ROOT, PKG
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", action="store_true", help="one row per file")
    ap.add_argument("--root", type=Path, default=ROOT, help="repository root to measure (default: this one)")
    ap.add_argument("--where", action="store_true", help="where the check lines stand, and the share if validators "
                    "counted by their check statements alone")
    args = ap.parse_args(argv)
    ROOT, PKG = args.root.resolve(), args.root.resolve() / "course_lib"

    files = sorted(PKG.rglob("*.py"))
    modules = {_module_name(p) for p in files}
    total = code_total = check_total = raise_total = statement_total = 0
    rows, long_funcs, graph, where = [], [], {}, {}
    for path in files:
        src = path.read_text(encoding="utf-8")
        tree = ast.parse(src)
        code = _code_lines(src, tree)
        checks = {i for a, b in _check_spans(tree) for i in range(a, b + 1)} & code
        statements = {i for a, b in _check_spans(tree, whole_validators=False) for i in range(a, b + 1)} & code
        statement_total += len(statements)
        for key, n in _where(tree, checks, statements).items():
            where[key] = where.get(key, 0) + n
        raises = sum(isinstance(n, ast.Raise) for n in ast.walk(tree))
        n_lines = len(src.splitlines())
        rel = str(path.relative_to(ROOT))
        rows.append((rel, n_lines, len(code), len(checks), raises))
        total += n_lines
        code_total += len(code)
        check_total += len(checks)
        raise_total += raises
        if rel.startswith(SPINE):
            long_funcs += [(n, f"{rel}:{line} {name}") for name, line, n in _functions(tree) if n > 80]
        graph[_module_name(path)] = _imports(path, tree, modules)

    if args.files:
        print(f"{'file':48} {'lines':>6} {'code':>6} {'checks':>7} {'raise':>6}")
        for rel, n, c, k, r in rows:
            print(f"{rel:48} {n:6d} {c:6d} {k:6d}{'':1} {r:6d}")
        print()
    if args.where:
        print("check lines by where they stand (the innermost def around each line):")
        for key, n in sorted(where.items(), key=lambda kv: -kv[1]):
            print(f"  {n:6d}  {key}")
        print(f"  validators counted by their check statements alone: {statement_total} "
              f"({100 * statement_total / max(code_total, 1):.1f}% of code lines)")
        print()
    cycles = _cycles(graph)
    path_lines = sum(len((ROOT / p).read_text(encoding="utf-8").splitlines()) for p in NEWCOMER_PATH
                     if (ROOT / p).exists())
    share = check_total / max(code_total, 1)
    per_k = 1000 * raise_total / max(total, 1)
    print(f"course_lib: {total} lines in {len(files)} files; {code_total} code lines")
    print(f"check lines: {check_total} ({100 * share:.1f}% of code lines)")
    print(f"raise statements: {raise_total} ({per_k:.1f} per 1,000 lines)")
    print(f"spine functions over 80 lines: {len(long_funcs)}")
    for n, where in sorted(long_funcs, reverse=True):
        print(f"    {n:4d}  {where}")
    print(f"import cycles (module level): {len(cycles)}")
    for c in cycles:
        print("    " + " -> ".join(c))
    print(f"newcomer's path ({len(NEWCOMER_PATH)} files): {path_lines} lines")
    print()
    targets = [("lines <= 9,500", total <= 9500), ("checks <= 15% of code lines", share <= 0.15),
               ("raise <= 20 per 1,000 lines", per_k <= 20), ("no spine function over 80 lines", not long_funcs),
               ("no import cycle", not cycles)]
    for name, ok in targets:
        print(f"  [{'x' if ok else ' '}] {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
