"""The layout: monitor/store/ is the only package that speaks SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import monitor

PACKAGE = Path(monitor.__file__).resolve().parent
STORE = PACKAGE / "store"
DB_CALLS = {"execute", "executemany", "executescript"}
# A statement keyword in capitals and a space (or the end) at the start of a literal: SQL, not prose.
SQL_START = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|PRAGMA|BEGIN|COMMIT)(\s|$)")


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (of the module, a class or a function)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def sql_in(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """(line, what) for each database call and each SQL-looking string literal in ``source``."""
    tree = ast.parse(source, filename)
    docs = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DB_CALLS:
            found.append((node.lineno, f".{node.func.attr}("))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
              and (m := SQL_START.match(node.value))):
            found.append((node.lineno, f"SQL {m.group(1)} in a string"))
    return sorted(found)


def test_no_sql_outside_the_store() -> None:
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if STORE in path.parents:
            continue
        for line, what in sql_in(path.read_text(encoding="utf-8"), str(path)):
            offences.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {what}")
    assert not offences, "SQL outside monitor/store/ (move it into a store method):\n" + "\n".join(offences)


def test_the_sql_check_finds_calls_and_statements_but_not_prose() -> None:
    source = '''
"""SELECT the newest posts: prose in a docstring."""
def f(conn, store):
    """UPDATE nothing; a docstring again."""
    conn.execute("select 1")
    store.conn.executemany(q, rows)
    db.executescript(script)
    a = "SELECT id FROM mentions"
    b = f"DELETE FROM {table} WHERE x = ?"
    c = ("  INSERT INTO t VALUES (?)")
    d = "COMMIT"
    e = "select the ..."
    g = "SELECTED"
    h = "Update the cascade"
    return store.execute_plan()
'''
    assert [what for _, what in sql_in(source)] == [
        ".execute(", ".executemany(", ".executescript(", "SQL SELECT in a string", "SQL DELETE in a string",
        "SQL INSERT in a string", "SQL COMMIT in a string"]
    assert [line for line, _ in sql_in(source)] == [5, 6, 7, 8, 9, 10, 11]
