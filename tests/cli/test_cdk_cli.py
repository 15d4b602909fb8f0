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
            ("-c", "inference-blueprint:nist80053r5=yes"),
            "error: context[\"inference-blueprint:nist80053r5\"]: 'yes' is not true or false; pass -c inference-blueprint:nist80053r5=true",
        ),
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


def _readme_examples() -> list[list[str]]:
    """The ``cdk synth -c ...`` lines of the README's headline example, as written."""
    text = (ROOT / "README.md").read_text()
    block = text.split("pick and move an environment:", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].split()[2:] for line in block.strip().splitlines()]


def test_the_readme_headline_examples_are_the_ones_tested() -> None:
    assert _readme_examples() == [["-c", "env=capetown", "-c", "account=123456789012"], ["-c", "env=dev", "-c", "region=eu-west-2"]]


@pytest.mark.parametrize(
    ("args", "env", "parts"),
    [
        (_readme_examples()[0], "capetown", ["bedrock", "eks", "network", "observability"]),
        (_readme_examples()[1], "dev", ["bedrock", "eks", "network", "observability"]),
    ],
)
def test_readme_headline_example_synthesizes_offline(tmp_path: Path, args: list[str], env: str, parts: list[str]) -> None:
    done = _cdk(*args, outdir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("*.template.json")) == [f"inference-{env}-{part}.template.json" for part in parts]
    assert "end-of-life" not in done.stderr, "jsii must run on the pinned Node.js"


def _app_without_site_packages(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python app.py`` the way ``npx cdk synth`` runs it with the venv inactive: an interpreter without aws_cdk (-S)."""
    run_env = {
        **os.environ,
        "CDK_CONTEXT_JSON": '{"env": "nope", "environments": {"dev": {"region": "us-west-2"}}}',
        "CDK_OUTDIR": str(tmp_path),
    }
    run_env.pop("INFERENCE_BLUEPRINT_REEXEC", None)
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-S", "app.py"],
        cwd=ROOT,
        env={**run_env, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_app_outside_the_venv_reruns_itself_with_the_venv_python(tmp_path: Path) -> None:
    done = _app_without_site_packages(tmp_path)
    # The config error can only come from the app running with pydantic and aws_cdk importable.
    assert (done.returncode, done.stderr) == (
        1,
        "error: context.env: no environment named 'nope'; use one of dev (cdk.json context.environments)\n",
    )


def test_app_without_any_cdk_python_says_how_to_get_one(tmp_path: Path) -> None:
    done = _app_without_site_packages(tmp_path, INFERENCE_BLUEPRINT_REEXEC="1")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.endswith(
        ": the AWS CDK libraries (aws_cdk) are not installed for this Python; "
        "run `make bootstrap` (or `make synth`), then use .venv/bin/cdk or `source .venv/bin/activate`\n"
    )
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
