"""What the health function keeps between runs about each unit of a pool.

One SSM String parameter per pool holds a JSON object ``{"<unit id>": {...}}``, each entry with
any of ``since`` (first seen not healthy), ``target`` (the instance the function registered as the
unit's leader target), ``formed`` (when it did) and ``draining`` (when it deregistered that target
to replace the unit), ISO 8601 times with UTC offset, and ``reimage`` (``true`` when the unit is
being replaced to move it onto the pool's machine image: its instances go with its tasks); ``{}`` when no unit has anything on record. An
entry that is a bare time string (the record's earlier form) is read as ``since``. The reserved key
``~resume`` (never a unit id) holds ``{"unit": "<unit id>"}``, the first unit a run ran out of time
for, where the next run starts so that no unit is left unchecked run after run. The reserved key
``~taken`` holds ``{"<instance id>": {"arn": "<container instance ARN>", "since": "<time>"}}``:
instances the function began to take out (ECS draining, then unhealthy in their Auto Scaling
group) and has not yet seen both calls succeed for, so that a later run finishes what a failed
call left half done. The function
runs one invocation at a time (reserved concurrency 1), so a read followed by a write never races
another run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TIMES = {"since": "not_healthy_since", "formed": "formed_at", "draining": "draining_since"}
RESUME = "~resume"
TAKEN = "~taken"
RESERVED = (RESUME, TAKEN)


class CorruptRecord(Exception):
    """The parameter holds something other than the record described above."""


@dataclass(frozen=True)
class Entry:
    """One unit's record; every field None when there is nothing to keep."""

    not_healthy_since: datetime | None = None
    target: str | None = None
    formed_at: datetime | None = None
    draining_since: datetime | None = None
    reimage: bool = False

    @property
    def empty(self) -> bool:
        return self == Entry()


def _time(raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise ValueError(f"{raw!r} is not an ISO 8601 time")
    value = datetime.fromisoformat(raw)
    if value.tzinfo is None:
        raise ValueError(f"{raw!r}: a time without UTC offset")
    return value


def _entry(raw: Any) -> Entry:
    if isinstance(raw, str):
        return Entry(not_healthy_since=_time(raw))
    if not isinstance(raw, dict) or set(raw) - {*TIMES, "target", "reimage"}:
        raise ValueError(f"{raw!r} is not a unit entry")
    target = raw.get("target")
    if target is not None and not isinstance(target, str):
        raise ValueError(f"target {target!r} is not an instance id")
    reimage = raw.get("reimage", False)
    if not isinstance(reimage, bool):
        raise ValueError(f"reimage {reimage!r} is not true or false")
    times = {field: _time(raw[key]) for key, field in TIMES.items() if raw.get(key) is not None}
    return Entry(target=target, reimage=reimage, **times)


def _data(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return data
    except (ValueError, TypeError) as error:
        raise CorruptRecord(f"failure record {raw[:200]!r}: {error}") from error


def parse(raw: str) -> dict[str, Entry]:
    """The units' entries in ``raw``; raises CorruptRecord when it is not a record."""
    data = _data(raw)
    try:
        return {str(unit): _entry(value) for unit, value in data.items() if unit not in RESERVED}
    except (ValueError, TypeError) as error:
        raise CorruptRecord(f"failure record {raw[:200]!r}: {error}") from error


def parse_resume(raw: str) -> str | None:
    """The unit the next run starts at, or None; raises CorruptRecord when it is malformed."""
    value = _data(raw).get(RESUME)
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"unit"} or not isinstance(value["unit"], str):
        raise CorruptRecord(f'failure record: {RESUME} {value!r} is not {{"unit": <unit id>}}')
    return str(value["unit"])


def _render(entry: Entry) -> dict[str, Any]:
    out: dict[str, Any] = {key: getattr(entry, field).isoformat() for key, field in TIMES.items() if getattr(entry, field) is not None}
    if entry.target is not None:
        out["target"] = entry.target
    if entry.reimage:
        out["reimage"] = True
    return out


@dataclass(frozen=True)
class Taken:
    """An instance being taken out: its container instance ARN and since when."""

    arn: str
    since: datetime


def parse_taken(raw: str) -> dict[str, Taken]:
    """The instances on record as being taken out; raises CorruptRecord when malformed."""
    value = _data(raw).get(TAKEN, {})
    try:
        if not isinstance(value, dict):
            raise ValueError("not an object")
        taken = {}
        for instance_id, item in value.items():
            if not isinstance(item, dict) or set(item) != {"arn", "since"} or not isinstance(item["arn"], str):
                raise ValueError(f"{instance_id}: {item!r}")
            taken[str(instance_id)] = Taken(item["arn"], _time(item["since"]))
        return taken
    except (ValueError, TypeError) as error:
        raise CorruptRecord(f"failure record: {TAKEN} {value!r} is not {{<instance id>: {{arn, since}}}}: {error}") from error


def render(entries: Mapping[str, Entry], resume: str | None = None, taken: Mapping[str, Taken] | None = None) -> str:
    data: dict[str, Any] = {unit: _render(entries[unit]) for unit in sorted(entries) if not entries[unit].empty}
    if resume is not None:
        data[RESUME] = {"unit": resume}
    if taken:
        data[TAKEN] = {i: {"arn": t.arn, "since": t.since.isoformat()} for i, t in sorted(taken.items())}
    return json.dumps(data, separators=(",", ":"))


class FailureRecord:
    """The pool's record in SSM parameter ``name``: read once a run, written when a unit's entry changes."""

    def __init__(self, ssm: Any, name: str) -> None:
        self.ssm = ssm
        self.name = name
        self.resume: str | None = None
        self.taken: dict[str, Taken] = {}

    def load(self) -> dict[str, Entry]:
        raw = self.ssm.get_parameter(Name=self.name)["Parameter"]["Value"]
        entries = parse(raw)
        self.resume = parse_resume(raw)
        self.taken = parse_taken(raw)
        return entries

    def save(self, entries: Mapping[str, Entry]) -> None:
        self.ssm.put_parameter(Name=self.name, Value=render(entries, self.resume, self.taken), Overwrite=True)

    def save_taken(self, taken: Mapping[str, Taken], entries: Mapping[str, Entry]) -> None:
        """Record ``taken`` as the instances being taken out, with ``entries`` as they are."""
        self._save_as(entries, self.resume, dict(taken))

    def save_resume(self, resume: str | None, entries: Mapping[str, Entry]) -> None:
        """Record where the next run starts (None: at the first unit), with ``entries`` as they are."""
        self._save_as(entries, resume, self.taken)

    def _save_as(self, entries: Mapping[str, Entry], resume: str | None, taken: dict[str, Taken]) -> None:
        """Write the record with ``resume`` and ``taken`` if either changed; they are this record's once written."""
        if resume == self.resume and taken == self.taken:
            return
        self.ssm.put_parameter(Name=self.name, Value=render(entries, resume, taken), Overwrite=True)
        self.resume, self.taken = resume, taken
