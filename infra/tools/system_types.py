"""Write the pinned catalog of instance types the system node group may use, and where EC2 offers them.

    python -m infra.tools.system_types            # rewrite infra/catalog/data/system-instance-types.json
    python -m infra.tools.system_types --check    # exit 1 if the committed file differs from a fresh build

Source: EC2 DescribeInstanceTypes and DescribeInstanceTypeOfferings (location type ``region``) as
mirrored by the pinned moto release (``moto/ec2/resources/instance_types.json.gz`` and
``instance_type_offerings/region/<region>.json.gz``). Kept: general-purpose, compute- and
memory-optimized and burstable families (``m``, ``c``, ``r``, ``t``), no bare metal, no GPUs.
The file is generated once per moto bump and committed: synth reads it, never moto or AWS.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from infra.tools import ROOT

OUTPUT = ROOT / "infra" / "catalog" / "data" / "system-instance-types.json"
_FAMILY = re.compile(r"^[mcrt]\d")


def _moto_resources() -> Path:
    import moto

    return Path(moto.__file__).resolve().parent / "ec2" / "resources"


def build() -> dict[str, Any]:
    resources = _moto_resources()
    with gzip.open(resources / "instance_types.json.gz", "rt", encoding="utf-8") as f:
        described = json.load(f)
    kept = {
        name: spec
        for name, spec in described.items()
        if _FAMILY.match(name) and not spec.get("BareMetal") and "GpuInfo" not in spec and "InferenceAcceleratorInfo" not in spec
    }
    regions = sorted(p.name.removesuffix(".json.gz") for p in (resources / "instance_type_offerings" / "region").glob("*.json.gz"))
    offered: dict[str, list[int]] = {name: [] for name in kept}
    for index, region in enumerate(regions):
        with gzip.open(resources / "instance_type_offerings" / "region" / f"{region}.json.gz", "rt", encoding="utf-8") as f:
            for offering in json.load(f):
                if offering["InstanceType"] in offered:
                    offered[offering["InstanceType"]].append(index)
    types = {}
    for name in sorted(kept):
        spec = kept[name]
        arches = spec["ProcessorInfo"]["SupportedArchitectures"]
        types[name] = {
            "arch": "arm64" if "arm64" in arches else "x86_64",
            "vcpus": spec["VCpuInfo"]["DefaultVCpus"],
            "memory_mib": spec["MemoryInfo"]["SizeInMiB"],
            "regions": sorted(set(offered[name])),
        }
    return {
        "source": f"moto {metadata.version('moto')} ec2/resources (DescribeInstanceTypes, DescribeInstanceTypeOfferings by region)",
        "generator": "python -m infra.tools.system_types",
        "regions": regions,
        "types": types,
    }


def render(doc: dict[str, Any]) -> str:
    lines = ["{"]
    lines.append(f'  "source": {json.dumps(doc["source"])},')
    lines.append(f'  "generator": {json.dumps(doc["generator"])},')
    lines.append(f'  "regions": {json.dumps(doc["regions"])},')
    lines.append('  "types": {')
    entries = [f"    {json.dumps(name)}: {json.dumps(spec, separators=(',', ':'))}" for name, spec in doc["types"].items()]
    lines.append(",\n".join(entries))
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed file instead of writing it")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            print(
                f"error: {OUTPUT.relative_to(ROOT)}: differs from the pinned moto's data; run python -m infra.tools.system_types",
                file=sys.stderr,
            )
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"{OUTPUT.relative_to(ROOT)}: {len(json.loads(text)['types'])} types")
    return 0


if __name__ == "__main__":
    sys.exit(main())
