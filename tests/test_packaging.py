"""The project as a package: pyproject.toml, the console script, imports without path tricks. No MNIST needed."""

import ast
import importlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_is_installed():
    found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
    assert sorted(found) == ["cli*", "data*", "drawn*", "harness*", "mlp*", "webapp*"]
    for name in (p.rstrip("*") for p in found):
        assert (ROOT / name / "__init__.py").is_file()
        importlib.import_module(name)
    importlib.import_module("webapp.store")  # a package inside one: found too


def test_the_store_migrations_ship_with_the_package():
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["webapp.store"]
    for pattern in data:
        assert list((ROOT / "webapp" / "store").glob(pattern)), pattern


def test_console_script_returns_an_exit_status(capsys):
    target = PYPROJECT["project"]["scripts"]["digit-lab"]
    module, _, function = target.partition(":")
    main = getattr(importlib.import_module(module), function)
    assert main(["evaluate", "--model", str(ROOT / "no-such-model.npz")]) == 1  # sys.exit(1) in the script
    assert "no such file" in capsys.readouterr().err


def test_the_core_imports_nothing_above_it():
    """`mlp` is the bottom layer: the command line (cli/), the drawings (drawn/) and the app (webapp/) import it,
    never the other way round, so `import mlp` loads none of them."""
    code = ("import mlp, sys; above = {m for m in sys.modules if m.partition('.')[0] in ('drawn', 'webapp', 'cli')}; "
            "assert not above, sorted(above)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr


def test_the_pure_views_import_no_streamlit():
    """The Train page's settings (and the URL fields they declare) are pure: their unit tests, the CLI or a
    worker can load them without Streamlit, which only `webapp.views.urlstate` syncs them with."""
    code = ("import sys, webapp.views.train_settings, webapp.views.fields; "
            "st = sorted(m for m in sys.modules if m.partition('.')[0] == 'streamlit'); assert not st, st[:5]")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr


# webapp's layers, top down (docs/architecture.md): each may import only the layers below it. The pure
# modules directly in webapp/ (settings, text, clients, images) are the ground floor.
LAYERS = {"views": 3, "session": 2, "training": 1, "store": 1, None: 0}


def _webapp_layer(module):
    """The layer of a dotted webapp module ("webapp.session.keys" -> "session"; "webapp.text" -> None)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else None


def test_webapp_layers_import_only_the_layers_below():
    found = []
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        here = _webapp_layer(".".join(rel.parts))  # a package's __init__ is in the package's layer
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("webapp"):
                targets = [f"{node.module}.{a.name}" if node.module in ("webapp", *(f"webapp.{k}" for k in LAYERS if k))
                           else node.module for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("webapp")]
            else:
                continue
            for target in targets:
                there = _webapp_layer(target)
                if there != here and LAYERS[there] >= LAYERS[here]:
                    found.append(f"{rel}:{node.lineno} imports {target}")
    assert found == []


def test_dependencies_are_the_pinned_requirements():
    assert PYPROJECT["project"]["dynamic"] == ["dependencies"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"


def test_no_sys_path_inserts():
    folders = ("tests", "benchmarks", "harness", "mlp", "data", "drawn", "cli")
    offenders = [str(p.relative_to(ROOT)) for folder in folders
                 for p in (ROOT / folder).rglob("*.py")
                 if p != Path(__file__) and re.search(r"sys\.path\.(insert|append)", p.read_text())]
    assert offenders == []
