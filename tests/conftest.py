"""Shared fixtures: each (environment, overrides) is synthesized once per test session."""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


from infra.node import pin_node

pin_node()  # before aws_cdk is imported: jsii starts Node.js then, in every xdist worker too

from aws_cdk.assertions import Template  # noqa: E402 - after pin_node()

import app as app_module  # noqa: E402
from infra import nag  # noqa: E402
from infra.tools import ROOT, cdk_context  # noqa: E402


def _share_botocore_loaders() -> None:
    """One botocore data loader per data path for the whole test process. Every new boto3 session
    otherwise builds its own loader and parses the service models' JSON again (botocore
    ``Session`` registers ``create_loader(data_path)`` per session; the loader caches per instance),
    which the Lambda tests, creating sessions per test, paid for thousands of times. The loader
    only reads files, so sharing it changes no behaviour under test."""
    import functools

    import botocore.loaders
    import botocore.session

    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)


_share_botocore_loaders()

# The Bedrock custom-resource handlers import the module their assets carry beside them.
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "lambda" / "_shared"))

CONTEXT = cdk_context()
SHIPPED_ENVS = tuple(sorted(CONTEXT["environments"]))


@dataclass
class Synthesized:
    """One synthesized app: its stacks, the cloud assembly on disk and parsed templates."""

    env: str
    outdir: Path
    stacks: Any
    context: dict[str, Any]
    _templates: dict[str, dict[str, Any]] = field(default_factory=dict)

    def template_json(self, part: str) -> dict[str, Any]:
        name = f"inference-{self.env}-{part}"
        if name not in self._templates:
            self._templates[name] = json.loads((self.outdir / f"{name}.template.json").read_text())
        return self._templates[name]

    def template(self, part: str) -> Template:
        return Template.from_json(self.template_json(part))

    def template_paths(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))

    def resources(self, part: str, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.template_json(part)["Resources"].items() if r["Type"] == type_}


def context_for(env: str, edit: Callable[[dict[str, Any]], None] | None = None, **overrides: str) -> dict[str, Any]:
    """cdk.json's context for ``env`` with ``-c`` style overrides and an optional edit of the environments."""
    context = copy.deepcopy(CONTEXT)
    if edit is not None:
        edit(context["environments"])
    return {**context, "env": env, **overrides}


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synthesized]:
    """``synth(env, key=None, edit=None, **overrides)``: synthesize (once per key) and return the result.

    ``key`` names a variant made by ``edit`` (a function mutating the environments mapping); plain
    environments and ``-c`` overrides are keyed by themselves. The shipped environments (no edit, no
    override) are synthesized with the NIST 800-53 rev 5 pack on as well, as ``make nag`` does.
    """
    cache: dict[tuple[Any, ...], Synthesized] = {}

    def _synth(env: str, key: str | None = None, edit: Callable[[dict[str, Any]], None] | None = None, **overrides: str) -> Synthesized:
        cache_key = (env, key, tuple(sorted(overrides.items())))
        if cache_key not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-{env}-{key or 'base'}")
            context = context_for(env, edit, **overrides)
            if edit is None and not overrides:
                context[nag.NIST_KEY] = True
            app, stacks = app_module.create_app(context, outdir=str(outdir))
            app.synth()
            cache[cache_key] = Synthesized(env=env, outdir=outdir, stacks=stacks, context=context)
        return cache[cache_key]

    return _synth


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="module")
def dev(synth: Callable[..., Synthesized]) -> Synthesized:
    return synth("dev")


@pytest.fixture(scope="module")
def prod(synth: Callable[..., Synthesized]) -> Synthesized:
    return synth("prod")


_FAKES = {
    "role": "inference-prod-karpenter-node",
    "subnetSelectorTerms": "subnet-0123456789abcdef0",
    "securityGroupSelectorTerms": "sg-0123456789abcdef0",
    "placementGroupSelector": "inference-prod-efa",
    "image": "123456789012.dkr.ecr.us-east-2.amazonaws.com/cdk-hnb659fds-container-assets:0123abcd",
}


def concrete(value: Any, field: str = "") -> Any:
    """A manifest with deploy-time tokens replaced by values of the shape CloudFormation puts there."""
    if isinstance(value, dict):
        return {k: concrete(v, k if k in _FAKES else field) for k, v in value.items()}
    if isinstance(value, list):
        return [concrete(v, field) for v in value]
    if isinstance(value, str) and "${Token[" in value:
        if value.startswith("s3://"):
            return "s3://weights-bucket/" + value.split("/", 3)[3]
        if field in _FAKES:
            return _FAKES[field]
        if field == "" and value.startswith("sh"):
            return value
        return re.sub(r"\$\{Token\[[^]]*\]\}", "token", value)
    return value
