"""Since when each unit of a pool has been not healthy, kept between runs of the health function.

One SSM String parameter per pool holds a JSON object ``{"<unit id>": "<ISO 8601 time>"}``; ``{}``
when no unit has a failure on record. The function runs one invocation at a time (reserved
concurrency 1), so a read followed by a write never races another run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any


class CorruptRecord(Exception):
    """The parameter holds something other than ``{"<unit id>": "<ISO 8601 time with UTC offset>"}``."""


def parse(raw: str) -> dict[str, datetime]:
    """The record in ``raw``; raises CorruptRecord when it is not one."""
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        since = {str(unit): datetime.fromisoformat(value) for unit, value in data.items()}
    except (ValueError, TypeError) as error:
        raise CorruptRecord(f"failure record {raw[:200]!r}: {error}") from error
    if any(t.tzinfo is None for t in since.values()):
        raise CorruptRecord(f"failure record {raw[:200]!r}: a time without UTC offset")
    return since


def render(since: Mapping[str, datetime]) -> str:
    return json.dumps({unit: since[unit].isoformat() for unit in sorted(since)}, separators=(",", ":"))


class FailureRecord:
    """The pool's record in SSM parameter ``name``: read once a run, written when a unit's entry changes."""

    def __init__(self, ssm: Any, name: str) -> None:
        self.ssm = ssm
        self.name = name

    def load(self) -> dict[str, datetime]:
        return parse(self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"])

    def save(self, since: Mapping[str, datetime]) -> None:
        self.ssm.put_parameter(Name=self.name, Value=render(since), Overwrite=True)
