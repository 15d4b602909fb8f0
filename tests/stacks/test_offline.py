"""Synth is offline and deterministic, with or without an account."""

from __future__ import annotations

import json

from conftest import Synthesized


def _all_text(result: Synthesized) -> str:
    return "".join(p.read_text() for p in result.template_paths())


def test_with_an_account_nothing_falls_back_to_dummy_azs(synth) -> None:
    result = synth("prod", account="123456789012")
    text = _all_text(result)
    assert "dummy" not in text
    assert "Fn::GetAZs" in text
    manifest = json.loads((result.outdir / "manifest.json").read_text())
    envs = {a["environment"] for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    assert envs == {"aws://123456789012/us-east-2"}


def test_without_an_account_stacks_are_account_agnostic(synth) -> None:
    manifest = json.loads((synth("dev").outdir / "manifest.json").read_text())
    envs = {a["environment"] for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"}
    assert envs == {"aws://unknown-account/us-west-2"}


def test_region_override_moves_everything(synth) -> None:
    # prod's trn2 unit pool is offered in us-east-2 only (of the US regions); the rest moves.
    result = synth("prod", key="no-units", edit=lambda envs: envs["prod"].pop("unit_pools"), region="us-west-2")
    # The Bedrock stack legitimately names us-east-2: it is a destination of the us profile.
    for part in ("network", "eks"):
        assert "us-east-2" not in json.dumps(result.template_json(part)), part


def test_no_context_lookups_were_needed(synth) -> None:
    for key in [("dev", {}), ("prod", {"account": "123456789012"})]:
        manifest = json.loads((synth(key[0], **key[1]).outdir / "manifest.json").read_text())
        assert "missing" not in manifest, manifest.get("missing")


def test_same_templates_on_every_run(synth) -> None:
    first = synth("capetown")
    second = synth("capetown", key="again", edit=lambda envs: None)
    for path in first.template_paths():
        assert path.read_text() == (second.outdir / path.name).read_text(), path.name
