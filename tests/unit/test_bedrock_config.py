"""Bedrock configuration: shipped access, and each bad request as one error line."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from conftest import CONTEXT

from infra.catalog import bedrock as catalog
from infra.config import ConfigError, load


def _load(bedrock: dict[str, Any], region: str = "af-south-1"):
    return load({"environments": {"cape": {"region": region, "eks": {"allow_no_admins": True}, "bedrock": bedrock}}, "env": "cape"})


def _error(bedrock: dict[str, Any], region: str = "af-south-1") -> str:
    with pytest.raises(ConfigError) as err:
        _load(bedrock, region)
    return str(err.value)


def test_valid_access() -> None:
    config = _load(
        {
            "models": [{"model": "sonnet-4.5"}, {"model": "haiku-4.5", "streaming": False}],
            "pod_identities": [{"namespace": "a", "service_account": "b"}],
            "invocation_logging": {"text": False},
            "cross_region_routing": "global",
        }
    )
    assert config.bedrock is not None
    assert [(m.model, m.scope, m.streaming) for m in config.bedrock.models] == [
        ("sonnet-4.5", "global", True),
        ("haiku-4.5", "global", False),
    ]
    assert config.bedrock.invocation_logging.enabled and config.bedrock.invocation_logging.retention_days == 90


def test_model_without_a_global_profile_asked_for_global(monkeypatch: pytest.MonkeyPatch) -> None:
    regional_only = dataclasses.replace(catalog.MODELS["haiku-4.5"], key="regional-only", scopes=frozenset({"us"}))
    monkeypatch.setitem(catalog.MODELS, "regional-only", regional_only)
    text = _error({"models": [{"model": "regional-only", "scope": "global"}]}, region="us-east-1")
    assert text.startswith("environments.cape.bedrock.models[0].scope: regional-only has no global inference profile; use one of us"), text


@pytest.mark.parametrize(
    ("bedrock", "region", "message"),
    [
        (
            {"models": [{"model": "claude-9"}]},
            "af-south-1",
            "bedrock.models[0].model: 'claude-9' is not a catalogued Bedrock model; use one of",
        ),
        (
            {"models": [{"model": "sonnet-4.5", "scope": "atlantis"}]},
            "af-south-1",
            "bedrock.models[0].scope: 'atlantis' is not an inference-profile scope",
        ),
        (
            {"models": [{"model": "sonnet-4.5", "scope": "eu"}]},
            "us-east-1",
            "bedrock.models[0].scope: us-east-1 is outside the eu geography of sonnet-4.5",
        ),
        (
            {"models": [{"model": "opus-4.5", "scope": "jp"}]},
            "ap-northeast-1",
            "bedrock.models[0].scope: opus-4.5 has no jp inference profile",
        ),
        ({"models": []}, "af-south-1", "bedrock.models: must have at least 1 item(s)"),
        (
            {"models": [{"model": "sonnet-4.5"}, {"model": "sonnet-4.5"}]},
            "af-south-1",
            "bedrock.models[1]: sonnet-4.5 via global is listed twice",
        ),
        (
            {"models": [{"model": "sonnet-4.5"}], "pod_identities": [{"namespace": "A_B", "service_account": "x"}]},
            "af-south-1",
            "bedrock.pod_identities[0].namespace: 'A_B' is not a Kubernetes name",
        ),
        (
            {"models": [{"model": "sonnet-4.5"}], "invocation_logging": {"retention_days": 2}},
            "af-south-1",
            "bedrock.invocation_logging.retention_days: 2 is not a CloudWatch",
        ),
        ({"models": [{"model": "sonnet-4.5", "region": "x"}]}, "af-south-1", "bedrock.models[0].region: unknown key"),
    ],
)
def test_bedrock_errors(bedrock: dict[str, Any], region: str, message: str) -> None:
    text = _error(bedrock, region)
    assert text.startswith(f"environments.cape.{message}"), text


def test_global_routing_needs_an_explicit_opt_in_naming_the_trade_off() -> None:
    # A global profile may process a request in any commercial Region (Bedrock User Guide,
    # "Global cross-Region inference"): the environment has to say it accepts that.
    assert _error({"models": [{"model": "sonnet-4.5"}], "invocation_logging": {"text": False}}) == (
        "environments.cape.bedrock.models[0].scope: sonnet-4.5 via the global profile sends prompts and responses to any "
        "commercial AWS Region for processing, outside af-south-1's geography; set bedrock.cross_region_routing to global to "
        "accept that, or use a geographic scope"
    )
    assert _error(
        {"models": [{"model": "sonnet-4.5"}], "invocation_logging": {"text": False}, "cross_region_routing": "geography"}
    ).startswith("environments.cape.bedrock.models[0].scope: sonnet-4.5 via the global profile sends prompts")


def test_a_geographic_profile_names_the_regions_it_routes_to() -> None:
    # The us profile called from us-east-2 routes to the geography's destinations (infra/catalog/bedrock.py).
    assert _error({"models": [{"model": "haiku-4.5", "scope": "us"}], "invocation_logging": {"text": False}}, region="us-east-2") == (
        "environments.cape.bedrock.models[0].scope: haiku-4.5 via the us profile sends prompts and responses to us-east-1, "
        "us-east-2, us-west-2 for processing; set bedrock.cross_region_routing to geography (or global) to accept that"
    )
    config = _load(
        {"models": [{"model": "haiku-4.5", "scope": "us"}], "invocation_logging": {"text": False}, "cross_region_routing": "geography"},
        region="us-east-2",
    )
    assert config.bedrock is not None and config.bedrock.cross_region_routing == "geography"


def test_the_readme_scp_guidance_names_every_destination_of_prods_geographic_profile() -> None:
    from infra.tools import ROOT

    (access,) = [m for m in load({**CONTEXT, "env": "prod"}).bedrock.models if m.scope != "global"]  # type: ignore[union-attr]
    regions = catalog.destinations(access.scope, "us-east-2")
    text = (ROOT / "README.md").read_text()
    assert f"routes to {', '.join(regions[:-1])} and {regions[-1]}" in text
