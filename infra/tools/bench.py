"""Synth time of each environment against an empty CDK app, on this machine.

    python -m infra.tools.bench [--runs 3] [--max-ratio 2.5]

Each run is a fresh ``python3 app.py`` process started exactly as ``cdk synth`` starts it
(CDK_CONTEXT_JSON from cdk.json plus ``env``, CDK_OUTDIR), so it includes interpreter and jsii
start-up, construction, synthesis and the nag/checks validation. The baseline is a process that
imports aws_cdk and synthesizes an empty ``App``. The CDK CLI's own start-up is left out of both,
which makes the ratio stricter, not kinder. Prints the median of ``--runs`` per case and the ratio
to the baseline; exits 1 when the default environment exceeds ``--max-ratio``.
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

from infra.config import DEFAULT_ENV
from infra.node import pin_node
from infra.tools import ROOT, cdk_context

EMPTY_APP = "import aws_cdk as cdk; cdk.App().synth()"


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-ratio", type=float, default=2.5)
    args = parser.parse_args(argv)

    context = cdk_context()
    baseline = _time([sys.executable, "-c", EMPTY_APP], None, args.runs)
    print(f"{'case':<16}{'median s':>10}{'x empty':>10}   ({args.runs} runs each, {os.cpu_count()} cores)")
    print(f"{'empty CDK app':<16}{baseline:>10.2f}{1.0:>10.2f}")
    ratios = {}
    for env in sorted(context["environments"]):
        median = _time([sys.executable, "app.py"], {**context, "env": env}, args.runs)
        ratios[env] = median / baseline
        print(f"{env:<16}{median:>10.2f}{ratios[env]:>10.2f}")
    if ratios.get(DEFAULT_ENV, 0) > args.max_ratio:
        print(
            f"error: bench: {DEFAULT_ENV} synth is {ratios[DEFAULT_ENV]:.2f}x the empty app, over {args.max_ratio}x; profile app.py",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
