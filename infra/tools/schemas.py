"""Verify, or re-fetch on a pin bump, the upstream files vendored unmodified: CRDs and IAM policies.

    python -m infra.tools.schemas             # offline: every vendored file matches its recorded sha256
    python -m infra.tools.schemas --fetch     # download each file at its pinned commit and compare
    python -m infra.tools.schemas --update    # after editing tag/commit in sources.json: download, write, re-hash
    python -m infra.tools.schemas --cache     # rewrite infra/k8s/crds/structural-schemas.json from the vendored files

``infra/k8s/crds/sources.json`` (the CRDs manifests are validated against) and
``infra/catalog/data/iam-policies/sources.json`` (policies upstream publishes for its controllers)
record, for each file, the upstream repository, tag, commit, path, license and the sha256 of the
file as vendored (unmodified). ``make schemas`` runs ``--fetch``; the test suite runs the offline
check, so a hand edit of a vendored file fails ``make test``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.catalog import iam_policies
from infra.k8s import schema
from infra.tools import ROOT, ToolError, ToolParser

CRD_DIR = ROOT / "infra" / "k8s" / "crds"
SOURCES = CRD_DIR / "sources.json"


@dataclass(frozen=True)
class Vendored:
    """A folder of upstream files kept unmodified, and the provenance file listing them under ``key``."""

    directory: Path
    sources: Path
    key: str
    noun: str


def vendored() -> tuple[Vendored, ...]:
    """Every vendored folder: the CRDs, then the IAM policies."""
    return (
        Vendored(CRD_DIR, SOURCES, "crds", "CRDs"),
        Vendored(iam_policies.POLICY_DIR, iam_policies.SOURCES, "policies", "IAM policies"),
    )


def records(folder: Vendored) -> list[dict[str, Any]]:
    """The provenance records of one vendored folder."""
    return list(json.loads(folder.sources.read_text(encoding="utf-8"))[folder.key])


def sources() -> list[dict[str, Any]]:
    """The provenance records of the vendored CRDs."""
    return records(vendored()[0])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upstream_url(source: dict[str, Any]) -> str:
    """The raw file at the pinned commit (a commit, not a tag: tags can move)."""
    return f"https://raw.githubusercontent.com/{source['repo']}/{source['commit']}/{source['path']}"


def _download(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return bytes(response.read())
    except OSError as exc:
        raise ToolError(url, f"download failed ({exc})", "check the network, or the repo/commit/path in sources.json") from exc


def check_vendored() -> list[str]:
    """Problems with the vendored files: missing, or not the bytes sources.json records."""
    problems = []
    for folder in vendored():
        for source in records(folder):
            path = folder.directory / source["file"]
            if not path.exists():
                problems.append(f"{path.relative_to(ROOT)}: missing; run `make schemas` with network access")
            elif sha256(path.read_bytes()) != source["sha256"]:
                problems.append(
                    f"{path.relative_to(ROOT)}: differs from {source['repo']}@{source['tag']}; "
                    f"restore it, vendored {folder.noun} stay unmodified"
                )
    return problems


def cache_text() -> str:
    """The structural schema cache as it should be, from the vendored CRDs."""
    return json.dumps(schema.structural_cache(), sort_keys=True, separators=(",", ":")) + "\n"


def check_cache() -> list[str]:
    """A problem when the cache synth reads is not what the vendored CRDs give."""
    path = schema.STRUCTURAL_CACHE
    if not path.exists() or path.read_text(encoding="utf-8") != cache_text():
        return [f"{path.relative_to(ROOT)}: stale; run python -m infra.tools.schemas --cache"]
    return []


def _fetch(folder: Vendored, *, update: bool) -> list[str]:
    """Download each file of ``folder`` at its pinned commit; compare it, or with ``update`` write it and record its sha256."""
    sources_now = records(folder)
    problems = []
    for source in sources_now:
        data = _download(upstream_url(source))
        if update:
            (folder.directory / source["file"]).write_bytes(data)
            source["sha256"] = sha256(data)
        elif sha256(data) != source["sha256"]:
            problems.append(f"{source['file']}: upstream {source['repo']}@{source['commit'][:12]} has sha256 {sha256(data)}")
    if update:
        folder.sources.write_text(json.dumps({folder.key: sources_now}, indent=2) + "\n", encoding="utf-8")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m infra.tools.schemas", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fetch", action="store_true", help="download each pinned file and compare with the vendored copy")
    mode.add_argument("--update", action="store_true", help="download each pinned file, write it and record its sha256")
    mode.add_argument("--cache", action="store_true", help="rewrite the structural schema cache synth validates against")
    try:
        args = parser.parse_args(argv)
        counts = {folder: len(records(folder)) for folder in vendored()}
        problems = []
        if args.fetch or args.update:
            for folder in counts:
                problems += _fetch(folder, update=args.update)
        problems.extend(check_vendored())
        if args.update or args.cache:
            schema.STRUCTURAL_CACHE.write_text(cache_text(), encoding="utf-8")
        problems.extend(check_cache())
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        also = " and upstream" if args.fetch else ""
        for folder, count in counts.items():
            print(f"{count} {folder.noun} in {folder.directory.relative_to(ROOT)} match sources.json{also}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
