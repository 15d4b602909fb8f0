"""Command-line tools: ``python -m infra.tools.<name>``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parents[2]


def cdk_context() -> dict[str, Any]:
    """The ``context`` block of cdk.json, as the CDK CLI would pass it to the app."""
    with open(ROOT / "cdk.json", encoding="utf-8") as f:
        return dict(json.load(f)["context"])


class ToolError(Exception):
    """A tool's one-line failure: ``<where>: <problem>; <what to do>`` (printed after ``error: ``)."""

    def __init__(self, where: str, problem: str, fix: str) -> None:
        super().__init__(f"{where}: {problem}; {fix}")


class ToolParser(argparse.ArgumentParser):
    """argparse that raises ToolError instead of printing usage and exiting 2."""

    def error(self, message: str) -> NoReturn:
        raise ToolError("command line", message, f"see {self.prog} --help")
