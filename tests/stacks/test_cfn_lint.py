"""cfn-lint on every template of every shipped environment."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint_file
from conftest import CONTEXT, SHIPPED_ENVS

# W3005 "DependsOn already enforced by GetAtt": CDK's own provider functions (kubectl provider,
# default-SG restriction) declare a redundant DependsOn on their roles. Harmless; not our code.
IGNORED = ["W3005"]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_templates_are_cfn_lint_clean(synth, env: str) -> None:
    region = CONTEXT["environments"][env]["region"]
    problems = []
    for path in synth(env).template_paths():
        for match in lint_file(path, config=ManualArgs(regions=[region], ignore_checks=IGNORED)):
            problems.append(f"{path.name}: {match.rule.id} {match.message} at {'/'.join(map(str, match.path))}")
    assert problems == []
