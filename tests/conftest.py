"""Shared fixtures: the golden data folder and hermetic plugin loading."""
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))   # tests import golden.py / gradcheck.py helpers
os.environ.setdefault("DARKNET_PY_NO_PLUGINS", "1")

REPO = Path(__file__).resolve().parents[1]
CFG_DIR = REPO / "cfg"


@pytest.fixture(scope="session")
def golden_dir():
    from golden import golden_root
    return golden_root()
