"""House rules that keep compiled code predictable (ARCHITECTURE.md, PERFORMANCE.md)."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "darknet_py"
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def imported_modules(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_numba_is_imported_only_by_the_jit_module(path):
    """Numba reads its environment once, at import: _jit.py sets it first and holds every flag, so a
    kernel module that imported numba itself could get other flags, or run before the environment."""
    if path.name == "_jit.py":
        return
    offending = [m for m in imported_modules(path) if m == "numba" or m.startswith("numba.")]
    assert not offending, f"{path.name} imports {offending}; use the decorators of darknet_py/kernels/_jit.py"


def test_every_kernel_module_uses_the_jit_decorators():
    kernels = [p for p in (PACKAGE / "kernels").glob("*.py") if p.name not in ("__init__.py", "_jit.py")]
    assert kernels
    for path in kernels:
        assert "from ._jit import" in path.read_text(), f"{path.name} defines kernels without _jit's decorators"
