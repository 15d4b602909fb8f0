"""Loading a Lambda folder's ``handler.py`` as Lambda does (the folder is the asset's root), for its tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

LAMBDA = Path(__file__).resolve().parents[1] / "lambda"


def load_handler(folder: str) -> ModuleType:
    """``lambda/<folder>/handler.py`` as the module ``<folder>`` (registered, so dataclasses find it)."""
    spec = importlib.util.spec_from_file_location(folder, LAMBDA / folder / "handler.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
