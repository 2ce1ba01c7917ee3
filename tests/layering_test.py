"""Imports only go down the layers (WORKSPACE.md lists them)."""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Package -> layer. A module may import from its own layer or any lower one.
LAYERS = {
    "proto": 0,
    "types": 1,
    "compiler": 2,
    "core": 3,
    "framework": 3,
    "tensorflow": 3,
    "executors": 4,
    "backends": 5,
    "templates": 6,
    "aggregators": 7,
    "learning": 8,
    "simulation": 8,
    "program": 8,
    "testing": 9,
}


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _library_modules():
    return sorted(p for p in (ROOT / "tffl").rglob("*.py") if p.parent != ROOT / "tffl")


def _layer_of(module: str):
    parts = module.split(".")
    if parts[0] != "tffl" or len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


@pytest.mark.parametrize("path", _library_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down_when_module_is_in_a_layer(path):
    package = path.relative_to(ROOT / "tffl").parts[0]
    assert package in LAYERS, f"tffl/{package} is not in the layer table"
    own = LAYERS[package]
    upward = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if _layer_of(module) is not None and _layer_of(module) > own
    ]
    assert not upward, f"{path.relative_to(ROOT)} imports upward: {upward}"


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "tffl_ops").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_tffl_ops_imports_only_tensorflow_and_numpy(path):
    allowed = ("tensorflow", "numpy", "tffl_ops", "__future__", "typing", "collections")
    bad = [
        f"line {line}: {module}"
        for line, module in _imports(path)
        if module.split(".")[0] not in allowed
    ]
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_library_never_uses_pickle_or_python_callbacks():
    forbidden = ("import pickle", "cloudpickle", "import dill", "tf.py_function(")
    found = [
        f"{p.relative_to(ROOT)}: {word}"
        for p in list((ROOT / "tffl").rglob("*.py")) + list((ROOT / "tffl_ops").rglob("*.py"))
        for word in forbidden
        if word in p.read_text()
    ]
    assert not found
