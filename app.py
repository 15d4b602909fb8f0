#!/usr/bin/env python3
"""The CDK app: reads context, loads one environment's config, instantiates its stacks.

    cdk synth                                    # env=dev
    cdk synth -c env=prod -c region=af-south-1 -c account=123456789012

A configuration problem exits 1 with one line on stderr, ``error: <key path>: <problem>; <fix>``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from infra.node import pin_node, require_cdk

CONTEXT_KEYS = ("environments", "env", "region", "account")
# CDK's built-in CloudFormation validation runs a WebAssembly engine on every synth (about 1.6 s of
# a 5 s synth here). cfn-lint checks every template in `make test`, and `make nag` turns this on,
# so everyday synths skip it. Set the context key to true to run it anyway.
CFN_VALIDATION_KEY = "inference-blueprint:cfnValidation"


require_cdk(os.path.dirname(os.path.abspath(__file__)))
pin_node()

import aws_cdk as cdk  # noqa: E402  (after pin_node: jsii starts Node on import)

from infra import checks, nag  # noqa: E402
from infra.config import ConfigError, load  # noqa: E402
from infra.k8s import schema  # noqa: E402
from stacks.environment import EnvironmentStacks, build  # noqa: E402


def create_app(context: Mapping[str, Any] | None = None, outdir: str | None = None) -> tuple[cdk.App, EnvironmentStacks]:
    """The app with the selected environment's stacks and the synth-time checks attached.

    ``context`` is for tests (cdk.json's context plus overrides); the CLI passes context itself.
    Raises ConfigError for bad configuration.
    """
    if context is not None:
        cfn_validation = context.get(CFN_VALIDATION_KEY, False)
    else:
        cfn_validation = json.loads(os.environ.get("CDK_CONTEXT_JSON", "{}")).get(CFN_VALIDATION_KEY, False)
    app = cdk.App(
        context=dict(context) if context is not None else None,
        outdir=outdir,
        builtin_cloud_formation_validation=str(cfn_validation).lower() == "true",
    )
    config = load({key: app.node.try_get_context(key) for key in CONTEXT_KEYS})
    stacks = build(app, config)
    check_manifests(stacks.eks.stack_name, stacks.eks.checked_objects)
    nag.add_checks(app)
    checks.add_checks(app)
    return app, stacks


def check_manifests(stack: str, manifests: list[dict[str, Any]]) -> None:
    """Every CRD object the stack applies against its vendored CRD's schema; ConfigError lines if any fails."""
    found = []
    for manifest in manifests:
        for problem in schema.structural_problems(manifest) or []:
            metadata = manifest.get("metadata", {})
            where = "/".join(p for p in (stack, manifest.get("kind", "?"), metadata.get("namespace", ""), metadata.get("name", "?")) if p)
            found.append(ConfigError(where, f"the API server would reject it: {problem}", "fix the configuration value it comes from"))
    if found:
        raise ConfigError(found[0].path, found[0].problem, found[0].fix, tuple(found[1:]))


def main() -> int:
    try:
        app, _ = create_app()
    except ConfigError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    try:
        app.synth()
    except RuntimeError as exc:
        if "ValidationFailed" not in str(exc):
            raise
        print(
            f"error: cdk.out/policy-validation-report.json: synth-time checks failed ({exc}); "
            "fix the resources or acknowledge each finding with infra.nag.acknowledge and a reason",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
