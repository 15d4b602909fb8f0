"""The real CDK CLI in a subprocess: bad input is one `error:` line and a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from infra.tools import ROOT

CDK = ROOT / ".venv" / "bin" / "cdk"


def _cdk(*args: str, outdir: Path) -> subprocess.CompletedProcess[str]:
    if not CDK.exists():
        pytest.fail("the CDK CLI is not installed: run `make bootstrap` (make test does it)")
    env = {**os.environ, "AWS_EC2_METADATA_DISABLED": "true", "CDK_DISABLE_CLI_TELEMETRY": "true"}
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
    for key in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key, None)
    return subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "--output", str(outdir), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("-c", "env=no-such-env"), "error: context.env: no environment named 'no-such-env'; use one of capetown, dev, prod"),
        (("-c", "region=mars-north-1"), "error: context.region: 'mars-north-1' is not a known AWS region; pass -c region="),
        (("-c", "account=12345"), "error: context.account: '12345' is not a 12-digit AWS account id; pass -c account=<12 digits>"),
        (
            ("-c", "env=prod", "-c", "region=af-south-1"),
            "error: environments.prod.node_pools[0].instance_families: g5 is not offered in af-south-1",
        ),
    ],
)
def test_bad_context_is_one_error_line(tmp_path: Path, args: tuple[str, ...], line: str) -> None:
    done = _cdk(*args, outdir=tmp_path)
    assert done.returncode != 0
    errors = [entry for entry in done.stderr.splitlines() if entry.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(line), done.stderr
    assert "Traceback" not in done.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_synth_with_env_region_and_account_offline(tmp_path: Path) -> None:
    done = _cdk("-c", "env=capetown", "-c", "region=eu-west-1", "-c", "account=123456789012", outdir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("*.template.json")) == [
        "inference-capetown-bedrock.template.json",
        "inference-capetown-eks.template.json",
        "inference-capetown-network.template.json",
        "inference-capetown-observability.template.json",
    ]
    assert "end-of-life" not in done.stderr, "jsii must run on the pinned Node.js"
