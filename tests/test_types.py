"""Every public function and method of the product's packages is annotated: its parameters and its return.

mypy (pyproject.toml) checks the types; this keeps them written where mypy would let them go (it asks
for annotations only where `disallow_untyped_defs` is on). Public: a module-level function, or a method
of a module-level class, whose name does not start with "_". No import: the files are read with `ast`.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("mlp", "cli", "data", "drawn", "webapp", "harness", "deploy", "benchmarks", "app_pages", "app.py")


def _public_functions(tree: ast.Module):
    """(qualified name, node, is a method) for each public function and method of a module."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, node, False
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    yield f"{node.name}.{item.name}", item, True


def _unannotated(node: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    """The parameters without an annotation (self and cls need none), and "return" if it has none."""
    a = node.args
    params = [*a.posonlyargs, *a.args]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
    if method and not static and params:
        params = params[1:]  # self, or cls
    params += [*a.kwonlyargs, *(p for p in (a.vararg, a.kwarg) if p is not None)]
    return [p.arg for p in params if p.annotation is None] + (["return"] if node.returns is None else [])


def _files():
    for name in PRODUCT:
        path = ROOT / name
        yield from [path] if path.is_file() else sorted(path.rglob("*.py"))


def unannotated():
    """'path:line name (what lacks a type)' for every public function not fully annotated."""
    found = []
    for path in _files():
        rel = path.relative_to(ROOT).as_posix()
        for name, node, method in _public_functions(ast.parse(path.read_text(), rel)):
            missing = _unannotated(node, method)
            if missing:
                found.append(f"{rel}:{node.lineno} {name} ({', '.join(missing)})")
    return found


def test_every_public_function_is_annotated():
    assert unannotated() == []


def test_the_check_sees_what_lacks_a_type():
    tree = ast.parse(
        "def f(x, y: int) -> int: ...\n"
        "def g(*args: int, **kw) -> None: ...\n"
        "def _private(x): ...\n"
        "class C:\n"
        "    def m(self, x: int): ...\n"
        "    @staticmethod\n"
        "    def s(x: int) -> None: ...\n"
        "    @classmethod\n"
        "    def k(cls) -> 'C': ...\n"
        "    def _hidden(self, x): ...\n"
        "class _Private:\n"
        "    def m(self, x): ...\n"
    )
    found = {name: _unannotated(node, method) for name, node, method in _public_functions(tree)}
    assert found == {"f": ["x"], "g": ["kw"], "C.m": ["return"], "C.s": [], "C.k": []}
