"""The folders show the flow of a search, and no module imports from a later stage."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "tfopt"
STAGES = ["data", "models", "training", "tuning", "results", "scale"]
# Modules every stage may use; they import no stage themselves.
SHARED = {"errors", "choices", "durable", "log", "_compat", "backend", "options"}
ENTRY = {"config", "runner", "cli", "__init__", "__main__"}  # they put the stages together


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _imported(path):
    """Every `tfopt...` module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("tfopt")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tfopt"):
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _stage(dotted):
    """The stage index of `tfopt.<folder>...`, -1 for shared modules, None otherwise."""
    parts = dotted.split(".")
    if len(parts) > 1 and parts[1] in STAGES:
        return STAGES.index(parts[1])
    if len(parts) > 1 and parts[1] in SHARED:
        return -1
    return None


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_imports_from_a_later_stage(path):
    relative = path.relative_to(PACKAGE)
    own = STAGES.index(relative.parts[0]) if relative.parts[0] in STAGES else None
    if own is None and path.stem in ENTRY:
        return
    own = -1 if own is None else own
    later = [name for name in _imported(path)
             if (_stage(name) is None and name.split(".")[1] in ENTRY and name != "tfopt")
             or (_stage(name) is not None and _stage(name) > own)]
    assert not later, f"{relative} imports from a later stage: {later}"


def test_every_module_sits_in_a_stage_or_is_shared():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= SHARED | ENTRY and len(top) <= 12
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} \
        == set(STAGES)


def test_no_function_is_longer_than_80_lines():
    long = [f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"
            for path in _modules() for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > 80]
    assert not long


def test_private_apis_only_in_the_compat_module():
    for path in _modules():
        if path.name == "_compat.py":
            continue
        text = path.read_text()
        for private in ("keras.src", "keras_tuner.src", "_retry_queue", "_gradient_registry",
                        "_get_num_brackets"):
            assert private not in text, f"{path.relative_to(PACKAGE)} uses {private}"


def test_the_library_does_not_print():
    for path in _modules():
        if path.stem == "cli":  # the command line prints
            continue
        calls = [node for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"]
        assert not calls, f"{path.relative_to(PACKAGE)} calls print()"
