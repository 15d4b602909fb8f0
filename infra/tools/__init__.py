"""Command-line tools: ``python -m infra.tools.<name>``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def cdk_context() -> dict[str, Any]:
    """The ``context`` block of cdk.json, as the CDK CLI would pass it to the app."""
    with open(ROOT / "cdk.json", encoding="utf-8") as f:
        return dict(json.load(f)["context"])
