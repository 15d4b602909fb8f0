"""Verify, or re-fetch on a pin bump, the upstream CRDs vendored in ``infra/k8s/crds/``.

    python -m infra.tools.schemas             # offline: every vendored file matches its recorded sha256
    python -m infra.tools.schemas --fetch     # download each file at its pinned commit and compare
    python -m infra.tools.schemas --update    # after editing tag/commit in sources.json: download, write, re-hash
    python -m infra.tools.schemas --cache     # rewrite infra/k8s/crds/structural-schemas.json from the vendored files

``infra/k8s/crds/sources.json`` records, for each file, the upstream repository, tag, commit, path,
license and the sha256 of the file as vendored (unmodified). ``make schemas`` runs ``--fetch``;
the test suite runs the offline check, so a hand edit of a vendored CRD fails ``make test``.
"""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.request
from typing import Any

from infra.k8s import schema
from infra.tools import ROOT, ToolError, ToolParser

CRD_DIR = ROOT / "infra" / "k8s" / "crds"
SOURCES = CRD_DIR / "sources.json"


def sources() -> list[dict[str, Any]]:
    """The provenance records of the vendored CRDs."""
    return list(json.loads(SOURCES.read_text(encoding="utf-8"))["crds"])


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
    for source in sources():
        path = CRD_DIR / source["file"]
        if not path.exists():
            problems.append(f"{path.relative_to(ROOT)}: missing; run `make schemas` with network access")
        elif sha256(path.read_bytes()) != source["sha256"]:
            problems.append(
                f"{path.relative_to(ROOT)}: differs from {source['repo']}@{source['tag']}; restore it, vendored CRDs stay unmodified"
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


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m infra.tools.schemas", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fetch", action="store_true", help="download each pinned file and compare with the vendored copy")
    mode.add_argument("--update", action="store_true", help="download each pinned file, write it and record its sha256")
    mode.add_argument("--cache", action="store_true", help="rewrite the structural schema cache synth validates against")
    try:
        args = parser.parse_args(argv)
        records = sources()
        problems = []
        for source in records:
            if not (args.fetch or args.update):
                continue
            data = _download(upstream_url(source))
            if args.update:
                (CRD_DIR / source["file"]).write_bytes(data)
                source["sha256"] = sha256(data)
            elif sha256(data) != source["sha256"]:
                problems.append(f"{source['file']}: upstream {source['repo']}@{source['commit'][:12]} has sha256 {sha256(data)}")
        if args.update:
            SOURCES.write_text(json.dumps({"crds": records}, indent=2) + "\n", encoding="utf-8")
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
        print(f"{len(records)} CRDs in {CRD_DIR.relative_to(ROOT)} match sources.json" + (" and upstream" if args.fetch else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
