"""Synth time of each environment against an empty CDK app with the same settings, on this machine.

    python -m infra.tools.bench [--runs 3] [--max-ratio dev=2.0 --max-ratio prod=2.5]

Each run is a fresh ``python3 app.py`` process started exactly as ``cdk synth`` starts it
(CDK_CONTEXT_JSON from cdk.json plus ``env``, CDK_OUTDIR), so it includes interpreter and jsii
start-up, construction, synthesis and the nag/checks validation. The floor is a process started the
same way that synthesizes an empty ``App`` with the app's settings: cdk.json's context (feature
flags) and CDK's built-in CloudFormation validation off, as ``app.py`` runs by default. The CDK
defaults floor (that validation on) is printed too, for reference only: dividing by it would flatter
the app. A third reference imports everything ``app.py`` imports (the aws_cdk submodules, cdk-nag,
cdk-monitoring-constructs, the project's modules) and then synthesizes an empty app the same way:
no environment can synthesize faster than that, so its ratio is the bound any tuning of
construction and synthesis runs into. The CDK CLI's own start-up is left out of every case. Prints
the median of ``--runs`` per case and the ratio to the same-settings floor; exits 1 when an
environment exceeds its maximum.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from infra.node import pin_node
from infra.tools import ROOT, cdk_context

# Both floors pin Node.js as app.py does; the first has the app's settings, the second CDK's defaults.
EMPTY_APP = "from infra.node import pin_node; pin_node(); import aws_cdk as cdk; cdk.App(builtin_cloud_formation_validation=False).synth()"
EMPTY_APP_CDK_DEFAULTS = "from infra.node import pin_node; pin_node(); import aws_cdk as cdk; cdk.App().synth()"
# app.py pins Node.js itself on import; its main() only runs as a script.
APP_IMPORTS_ONLY = "import app; import aws_cdk as cdk; cdk.App(builtin_cloud_formation_validation=False).synth()"
DEFAULT_MAX_RATIOS = {"dev": 2.0, "prod": 2.5}


def _node_env() -> dict[str, str]:
    pin_node()
    return dict(os.environ)


def _time(cmd: list[str], context: dict | None, runs: int) -> float:
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as outdir:
            env = _node_env()
            env["CDK_OUTDIR"] = outdir
            if context is not None:
                env["CDK_CONTEXT_JSON"] = json.dumps(context)
            started = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"error: bench: {' '.join(cmd)} failed ({done.stderr.strip().splitlines()[-1:]}); run make synth to see why")
        samples.append(elapsed)
    return statistics.median(samples)


def _check_ms(context: dict, runs: int) -> float:
    """Median of loading and checking one environment (infra.config.load runs the deployability check)."""
    from infra.config import load

    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        load(context)
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _max_ratio(text: str) -> tuple[str, float]:
    env, _, ratio = text.partition("=")
    return env, float(ratio)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-ratio", type=_max_ratio, action="append", help="ENV=RATIO (default: dev=2.0, prod=2.5)")
    args = parser.parse_args(argv)
    limits = dict(args.max_ratio) if args.max_ratio else dict(DEFAULT_MAX_RATIOS)

    context = cdk_context()
    floor = _time([sys.executable, "-c", EMPTY_APP], context, args.runs)
    defaults = _time([sys.executable, "-c", EMPTY_APP_CDK_DEFAULTS], None, args.runs)
    imports_only = _time([sys.executable, "-c", APP_IMPORTS_ONLY], context, args.runs)
    print(f"{'case':<32}{'median s':>10}{'x floor':>10}   ({args.runs} runs each, {os.cpu_count()} cores)")
    print(f"{'empty app, same settings (floor)':<32}{floor:>10.2f}{1.0:>10.2f}")
    print(f"{'empty app, CDK defaults':<32}{defaults:>10.2f}{defaults / floor:>10.2f}   (reference only)")
    print(f"{'app imported, nothing built':<32}{imports_only:>10.2f}{imports_only / floor:>10.2f}   (reference: the lower bound)")
    over = []
    for env in sorted(context["environments"]):
        median = _time([sys.executable, "app.py"], {**context, "env": env}, args.runs)
        ratio = median / floor
        limit = limits.get(env)
        print(f"{env:<32}{median:>10.2f}{ratio:>10.2f}" + (f"   (max {limit})" if limit else ""))
        if limit is not None and ratio > limit:
            over.append(f"{env} {ratio:.2f}x > {limit}x")
    print("configuration + deployability check, in process (part of every synth above):")
    for env in sorted(context["environments"]):
        print(f"  {env:<30}{_check_ms({**context, 'env': env}, args.runs * 10):>10.1f} ms")
    if over:
        print(f"error: bench: synth over its bound against the same-settings floor ({', '.join(over)}); profile app.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
