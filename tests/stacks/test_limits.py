"""Each stack stays under 80% of CloudFormation's resource and template-size limits."""

from __future__ import annotations

import pytest
from conftest import SHIPPED_ENVS

MAX_RESOURCES = 400  # 80% of 500
MAX_BYTES = 800_000  # 80% of 1 MB


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_stack_limits(synth, env: str) -> None:
    for path in synth(env).template_paths():
        size = path.stat().st_size
        import json

        count = len(json.loads(path.read_text())["Resources"])
        assert count <= MAX_RESOURCES, f"{path.name}: {count} resources"
        assert size <= MAX_BYTES, f"{path.name}: {size} bytes"
