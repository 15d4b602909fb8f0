"""Synthesize every environment in cdk.json with cdk-nag and the blueprint's own checks.

    python -m infra.tools.nag_all [--outdir cdk.out/nag]

Runs the same ``create_app`` as ``cdk synth`` for each environment, in one process (jsii starts
once), writing each cloud assembly to ``<outdir>/<env>/``, with cdk-nag's NIST 800-53 rev 5 pack
(next to AwsSolutions) and CDK's built-in CloudFormation validation on as well. Exits 1 on a
configuration error or any unacknowledged finding; the report is
``<outdir>/<env>/policy-validation-report.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from infra.tools import ROOT, cdk_context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", default=str(ROOT / "cdk.out" / "nag"))
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from app import CFN_VALIDATION_KEY, create_app
    from infra.config import ConfigError
    from infra.nag import NIST_KEY

    context = cdk_context()
    failed = 0
    for env in sorted(context["environments"]):
        outdir = f"{args.outdir}/{env}"
        started = time.perf_counter()
        try:
            app, _ = create_app({**context, "env": env, CFN_VALIDATION_KEY: True, NIST_KEY: True}, outdir=outdir)
            app.synth()
        except ConfigError as exc:
            for line in exc.lines():
                print(f"error: {line}", file=sys.stderr)
            failed += 1
            continue
        except RuntimeError as exc:
            if "ValidationFailed" not in str(exc):
                raise
            print(f"{env}: FAILED, see {outdir}/policy-validation-report.json", file=sys.stderr)
            failed += 1
            continue
        acknowledged = 0
        for path in Path(outdir).glob("*.template.json"):
            for resource in json.loads(path.read_text(encoding="utf-8")).get("Resources", {}).values():
                acknowledged += len(resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []))
        elapsed = time.perf_counter() - started
        print(f"{env}: no unacknowledged findings ({acknowledged} acknowledged with reasons) in {elapsed:.1f}s -> {outdir}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
