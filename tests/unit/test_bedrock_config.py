"""Bedrock configuration: shipped access, and each bad request as one error line."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
from conftest import CONTEXT

from infra.catalog import bedrock as catalog
from infra.config import ConfigError, load


def _load(bedrock: dict[str, Any], region: str = "af-south-1"):
    if "model_access_form" not in bedrock:
        bedrock = {"model_access_form_submitted": True, **bedrock}
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


# --- guardrail ---

_US_EAST_2 = {"models": [{"model": "haiku-4.5", "scope": "us"}], "invocation_logging": {"text": False}, "cross_region_routing": "geography"}


def test_guardrail_defaults_to_enforced() -> None:
    config = _load({**_US_EAST_2, "guardrail": {"pii": {"EMAIL": "ANONYMIZE", "US_SOCIAL_SECURITY_NUMBER": "BLOCK"}}}, "us-east-2")
    assert config.bedrock is not None and config.bedrock.guardrail is not None
    guardrail = config.bedrock.guardrail
    assert guardrail.enforced is True
    assert guardrail.pii == {"EMAIL": "ANONYMIZE", "US_SOCIAL_SECURITY_NUMBER": "BLOCK"}
    assert guardrail.blocked_input_message.startswith("This request was blocked")


@pytest.mark.parametrize(
    ("guardrail", "line"),
    [
        (
            {"pii": {"EMAL": "BLOCK"}},
            "environments.cape.bedrock.guardrail.pii.EMAL: 'EMAL' is not a Bedrock guardrail PII entity type; use one of ADDRESS, AGE, "
            "AWS_ACCESS_KEY, AWS_SECRET_KEY, CA_HEALTH_NUMBER, CA_SOCIAL_INSURANCE_NUMBER, CREDIT_DEBIT_CARD_CVV, "
            "CREDIT_DEBIT_CARD_EXPIRY, CREDIT_DEBIT_CARD_NUMBER, DRIVER_ID, EMAIL, INTERNATIONAL_BANK_ACCOUNT_NUMBER, IP_ADDRESS, "
            "LICENSE_PLATE, MAC_ADDRESS, NAME, PASSWORD, PHONE, PIN, SWIFT_CODE, UK_NATIONAL_HEALTH_SERVICE_NUMBER, "
            "UK_NATIONAL_INSURANCE_NUMBER, UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER, URL, USERNAME, US_BANK_ACCOUNT_NUMBER, "
            "US_BANK_ROUTING_NUMBER, US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER, US_PASSPORT_NUMBER, US_SOCIAL_SECURITY_NUMBER, "
            "VEHICLE_IDENTIFICATION_NUMBER",
        ),
        (
            {"pii": {"PHONE": "MASK"}},
            "environments.cape.bedrock.guardrail.pii.PHONE: 'MASK' is not a guardrail PII action; use BLOCK (the whole prompt or "
            "response is replaced by the blocked message) or ANONYMIZE (the entity is masked with its type)",
        ),
        (
            {"pii": {"PHONE": "NONE"}},
            "environments.cape.bedrock.guardrail.pii.PHONE: 'NONE' is not a guardrail PII action; use BLOCK (the whole prompt or "
            "response is replaced by the blocked message) or ANONYMIZE (the entity is masked with its type)",
        ),
        ({"pii": {}}, "environments.cape.bedrock.guardrail.pii: must have at least 1 item(s), got {}; change the value"),
        (
            {"pii": {"EMAIL": "BLOCK"}, "blocked_input_message": " "},
            "environments.cape.bedrock.guardrail.blocked_input_message: a blocked message must be 1-500 characters and not blank, "
            "got 1; write a short sentence the caller sees instead of the blocked text",
        ),
        (
            {"pii": {"EMAIL": "BLOCK"}, "blocked_output_message": "x" * 501},
            "environments.cape.bedrock.guardrail.blocked_output_message: a blocked message must be 1-500 characters and not blank, "
            "got 501; write a short sentence the caller sees instead of the blocked text",
        ),
        (
            {"pii": {"EMAIL": "BLOCK"}, "enforced": "yes"},
            'environments.cape.bedrock.guardrail.enforced: must be true or false, got "yes"; write true or false',
        ),
    ],
)
def test_guardrail_errors_are_one_exact_line(guardrail: dict[str, Any], line: str) -> None:
    assert _error({**_US_EAST_2, "guardrail": guardrail}, "us-east-2") == line


def test_a_guardrail_in_cape_town_is_refused() -> None:
    # cfn-lint's af-south-1 schema has no AWS::Bedrock::* type, and the Guardrails Region list
    # (guardrails-supported.html) leaves Cape Town out: nothing could create or serve the guardrail.
    bedrock = {
        "models": [{"model": "sonnet-4.5"}],
        "invocation_logging": {"text": False},
        "cross_region_routing": "global",
        "guardrail": {"pii": {"EMAIL": "BLOCK"}},
    }
    assert _error(bedrock) == (
        "environments.cape.bedrock.guardrail: CloudFormation has no AWS::Bedrock::Guardrail in af-south-1, and a guardrail must be "
        "in the Region of the calls it guards; remove bedrock.guardrail, or deploy the environment in a Region that has guardrails "
        "(infra/catalog/bedrock.py GUARDRAIL_CFN_REGIONS)"
    )


def test_account_wide_enforcement_in_cape_town_is_refused_naming_the_region() -> None:
    # cfn-lint's af-south-1 schema has neither AWS::Bedrock::Guardrail nor AWS::Bedrock::EnforcedGuardrailConfiguration.
    bedrock = {
        "models": [{"model": "sonnet-4.5"}],
        "invocation_logging": {"text": False},
        "cross_region_routing": "global",
        "guardrail": {"pii": {"EMAIL": "BLOCK"}, "enforced_account_wide": True},
    }
    assert _error(bedrock) == (
        "environments.cape.bedrock.guardrail.enforced_account_wide: Bedrock offers no account-level enforced guardrail configuration "
        "in af-south-1, nor guardrails; remove bedrock.guardrail, or deploy the environment in a Region of infra/catalog/bedrock.py "
        "ENFORCED_GUARDRAIL_REGIONS"
    )


def test_account_wide_enforcement_where_only_guardrails_are_offered_is_refused() -> None:
    # me-central-1's schema has AWS::Bedrock::Guardrail but not AWS::Bedrock::EnforcedGuardrailConfiguration.
    bedrock = {**_US_EAST_2, "models": [{"model": "sonnet-4.5"}], "cross_region_routing": "global"}
    assert _error({**bedrock, "guardrail": {"pii": {"EMAIL": "BLOCK"}, "enforced_account_wide": True}}, "me-central-1") == (
        "environments.cape.bedrock.guardrail.enforced_account_wide: Bedrock offers no account-level enforced guardrail configuration "
        "in me-central-1; set it to false; guardrail.enforced still holds the stack's own roles to the guardrail, or deploy the "
        "environment in a Region of infra/catalog/bedrock.py ENFORCED_GUARDRAIL_REGIONS"
    )


def test_account_wide_enforcement_needs_the_invoke_policy_to_grant_apply_guardrail() -> None:
    guardrail = {"pii": {"EMAIL": "BLOCK"}, "enforced": False, "enforced_account_wide": True}
    assert _error({**_US_EAST_2, "guardrail": guardrail}, "us-east-2") == (
        "environments.cape.bedrock.guardrail.enforced_account_wide: every caller in the account then needs bedrock:ApplyGuardrail on "
        "the guardrail or gets AccessDeniedException, and the invoke policy grants it only with guardrail.enforced; set "
        "bedrock.guardrail.enforced to true"
    )
    config = _load({**_US_EAST_2, "guardrail": {**guardrail, "enforced": True}}, "us-east-2")
    assert config.bedrock is not None and config.bedrock.guardrail is not None and config.bedrock.guardrail.enforced_account_wide


def test_prod_ships_an_enforced_pii_guardrail() -> None:
    guardrail = load({**CONTEXT, "env": "prod"}).bedrock.guardrail  # type: ignore[union-attr]
    assert guardrail is not None and guardrail.enforced
    assert {k: guardrail.pii[k] for k in ("EMAIL", "PHONE", "US_SOCIAL_SECURITY_NUMBER", "CREDIT_DEBIT_CARD_NUMBER")} == {
        "EMAIL": "ANONYMIZE",
        "PHONE": "ANONYMIZE",
        "US_SOCIAL_SECURITY_NUMBER": "BLOCK",
        "CREDIT_DEBIT_CARD_NUMBER": "BLOCK",
    }


# --- the Anthropic use-case form ---

_FORM = {
    "company_name": "Example Corp",
    "company_website": "https://www.example.com",
    "industry": "Technology",
    "intended_users": "both",
    "use_cases": "Summarizing support tickets.",
}
_SONNET = {"models": [{"model": "sonnet-4.5"}], "cross_region_routing": "global", "invocation_logging": {"text": False}}


def test_anthropic_models_without_the_form_are_one_line_saying_what_to_add() -> None:
    text = _error({**_SONNET, "model_access_form": None})
    assert text == (
        "environments.cape.bedrock.model_access_form: Anthropic models are configured and Bedrock serves them only after the "
        "account submits the Anthropic use-case form; add bedrock.model_access_form (company_name, company_website, industry, "
        "intended_users, use_cases) for the stack to submit, or set bedrock.model_access_form_submitted to true when the "
        "account or its organization already did"
    )


def test_a_form_becomes_the_form_data_bedrock_takes() -> None:
    config = _load({**_SONNET, "model_access_form": _FORM})
    assert config.bedrock is not None and config.bedrock.model_access_form is not None
    assert config.bedrock.model_access_form.form_data() == (
        b'{"companyName":"Example Corp","companyWebsite":"https://www.example.com","industryOption":"Technology",'
        b'"intendedUsers":"2","otherIndustryOption":"","useCases":"Summarizing support tickets."}'
    )


@pytest.mark.parametrize(
    ("bedrock", "line"),
    [
        (
            {"model_access_form": _FORM, "model_access_form_submitted": True},
            "environments.cape.bedrock.model_access_form_submitted: both a form and model_access_form_submitted are set; keep "
            "model_access_form to have the stack submit it, or model_access_form_submitted when the account already did",
        ),
        (
            {"model_access_form": {**_FORM, "company_website": "example.com"}},
            "environments.cape.bedrock.model_access_form.company_website: 'example.com' is not a website address; write it as "
            "https://<domain>",
        ),
        (
            {"model_access_form": {**_FORM, "intended_users": "everyone"}},
            "environments.cape.bedrock.model_access_form.intended_users: 'everyone' is not allowed; use 'internal', 'external' or 'both'",
        ),
        (
            {"model_access_form": {**_FORM, "use_cases": "  "}},
            "environments.cape.bedrock.model_access_form.use_cases: is blank; write what the form asks for: Bedrock passes it to Anthropic",
        ),
        (
            {"model_access_form": {**_FORM, "use_cases": "x" * 16384}},
            "environments.cape.bedrock.model_access_form.use_cases: the form is 16546 bytes and Bedrock takes at most 16384; "
            "shorten use_cases",
        ),
    ],
)
def test_model_access_form_errors_are_one_exact_line(bedrock: dict[str, Any], line: str) -> None:
    assert _error({**_SONNET, **bedrock}) == line


def test_every_environment_with_bedrock_models_ships_the_form() -> None:
    """Issue 18: the use-case resource is in every environment with Bedrock models (it submits nothing
    where the account already has a form)."""
    forms = {env: load({**CONTEXT, "env": env}).bedrock for env in ("dev", "prod", "capetown")}
    assert {env: (b.model_access_form is not None, b.model_access_form_submitted) for env, b in forms.items() if b} == {
        "dev": (True, False),
        "prod": (True, False),
        "capetown": (True, False),
    }


# --- teams: application inference profiles per team ---

_TEAM_BASE = {
    "models": [{"model": "sonnet-4.5"}, {"model": "haiku-4.5"}],
    "invocation_logging": {"text": False},
    "cross_region_routing": "global",
}


def _team_error(teams: list[dict[str, Any]], **bedrock: Any) -> str:
    return _error({**_TEAM_BASE, **bedrock, "teams": teams})


def test_a_team_names_its_models_tags_and_users() -> None:
    config = _load(
        {
            **_TEAM_BASE,
            "teams": [
                {
                    "name": "search",
                    "models": ["haiku-4.5"],
                    "tags": {"cost-center": "cc-42"},
                    "pod_identities": [{"namespace": "search", "service_account": "api"}],
                    "assume_role_principals": ["arn:aws:iam::123456789012:role/search-ci"],
                }
            ],
        }
    )
    assert config.bedrock is not None
    (team,) = config.bedrock.teams
    assert team.profile_tags() == {"cost-center": "cc-42", "team": "search"}
    assert team.assume_role_principals == ("arn:aws:iam::123456789012:role/search-ci",)


@pytest.mark.parametrize(
    ("teams", "bedrock", "line"),
    [
        (
            [{"name": "search", "models": ["opus-4.5"]}],
            {},
            "environments.cape.bedrock.teams[0].models[0]: 'opus-4.5' is not in this environment's bedrock.models (sonnet-4.5, "
            "haiku-4.5); add it to bedrock.models, or remove it from the team",
        ),
        (
            [{"name": "search", "models": ["sonnet-4.5"]}, {"name": "search", "models": ["haiku-4.5"]}],
            {},
            "environments.cape.bedrock.teams[1].name: team name 'search' is also used by teams[0]; give each team its own name",
        ),
        (
            [{"name": "Search", "models": ["sonnet-4.5"]}],
            {},
            "environments.cape.bedrock.teams[0].name: 'Search' is not a team name; use 1-24 of a-z, 0-9 and single hyphens, "
            "starting with a letter and ending alphanumeric",
        ),
        (
            [{"name": "search", "models": ["sonnet-4.5", "sonnet-4.5"]}],
            {},
            "environments.cape.bedrock.teams[0].models[1]: sonnet-4.5 is listed twice; list each model once",
        ),
        (
            [{"name": "search", "models": ["sonnet-4.5"], "tags": {"team": "x"}}],
            {},
            "environments.cape.bedrock.teams[0].tags: tag key 'team' is set by the blueprint on every team profile; use another key",
        ),
        (
            [{"name": "search", "models": ["sonnet-4.5"], "tags": {"cost-center": "équipe"}}],
            {},
            "environments.cape.bedrock.teams[0].tags: tag 'cost-center' has characters an application inference profile's tags "
            "do not take; use ASCII letters, digits, spaces and _ . : / = + @ -",
        ),
        (
            [{"name": "search", "models": ["sonnet-4.5"], "assume_role_principals": ["arn:aws:iam::12:role/x"]}],
            {},
            "environments.cape.bedrock.teams[0].assume_role_principals: 'arn:aws:iam::12:role/x' is not an IAM role or user ARN; "
            "write arn:aws:iam::<account>:role/<name> (or user/<name>)",
        ),
        (
            [{"name": "search", "models": ["sonnet-4.5"], "pod_identities": [{"namespace": "a", "service_account": "b"}]}],
            {"pod_identities": [{"namespace": "a", "service_account": "b"}]},
            "environments.cape.bedrock.teams[0].pod_identities[0]: a/b already gets a Bedrock role from pod_identities, and EKS "
            "associates one role with a service account; give each team its own service account",
        ),
        (
            [{"name": "search", "models": ["sonnet-4.5"], "tags": {f"k{i}": "v" for i in range(49)}}],
            {},
            "environments.cape.bedrock.teams[0].tags: its profiles would carry 51 tags (the environment's, "
            "inference-blueprint:environment, team and the team's); AWS allows 50; remove some of the team's tags",
        ),
        (
            [{"name": "search", "models": []}],
            {},
            "environments.cape.bedrock.teams[0].models: must have at least 1 item(s), got []; change the value",
        ),
    ],
)
def test_team_errors_are_one_exact_line(teams: list[dict[str, Any]], bedrock: dict[str, Any], line: str) -> None:
    assert _team_error(teams, **bedrock) == line


def test_a_team_model_configured_with_two_scopes_is_ambiguous() -> None:
    bedrock = {**_TEAM_BASE, "models": [{"model": "sonnet-4.5"}, {"model": "sonnet-4.5", "scope": "eu"}]}
    assert _error({**bedrock, "teams": [{"name": "search", "models": ["sonnet-4.5"]}]}, "eu-west-1") == (
        "environments.cape.bedrock.teams[0].models[0]: sonnet-4.5 is configured with more than one scope (global, eu) and a "
        "team's profile copies exactly one; keep one scope of sonnet-4.5 in bedrock.models"
    )


def test_environment_tags_that_team_profiles_cannot_carry_are_refused() -> None:
    context = {
        "environments": {
            "cape": {
                "region": "af-south-1",
                "tags": {"owner": "Zoë"},
                "eks": {"allow_no_admins": True},
                "bedrock": {**_TEAM_BASE, "model_access_form_submitted": True, "teams": [{"name": "search", "models": ["sonnet-4.5"]}]},
            }
        },
        "env": "cape",
    }
    with pytest.raises(ConfigError) as err:
        load(context)
    assert str(err.value) == (
        "environments.cape.tags: tag 'owner' has characters an application inference profile's tags do not take, and every "
        "team profile carries it; use ASCII letters, digits, spaces and _ . : / = + @ -"
    )


def test_teams_where_bedrock_creates_no_application_profiles_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every Region a catalogued model's profile can be called from is on the user guide's list of Regions with
    # application inference profiles, so the refusal is reached with a Region taken off that list.
    monkeypatch.setattr(catalog, "APPLICATION_PROFILE_API_REGIONS", catalog.APPLICATION_PROFILE_API_REGIONS - {"af-south-1"})
    assert _team_error([{"name": "search", "models": ["sonnet-4.5"]}]) == (
        "environments.cape.bedrock.teams: Bedrock does not create application inference profiles in af-south-1; remove "
        "bedrock.teams, or deploy in a Region of infra/catalog/bedrock.py APPLICATION_PROFILE_API_REGIONS"
    )


def test_every_region_a_catalogued_profile_serves_can_hold_team_profiles() -> None:
    sources = {region for m in catalog.MODELS.values() for scope in m.scopes for region in m.source_regions(scope)}
    assert sources <= catalog.APPLICATION_PROFILE_API_REGIONS
    assert "af-south-1" in catalog.APPLICATION_PROFILE_API_REGIONS - catalog.APPLICATION_PROFILE_CFN_REGIONS


def test_team_profile_names_fit_the_inference_profile_name_rules() -> None:
    # InferenceProfileName: ^([0-9a-zA-Z][ _-]?)+$, 1-64 (CloudFormation AWS::Bedrock::ApplicationInferenceProfile).
    longest = catalog.application_profile_name("e" * 20, "t" * 24, "sonnet-4.5", "global")
    assert len(longest) <= 64 and re.fullmatch(r"([0-9a-zA-Z][ _-]?)+", longest)
    assert catalog.application_profile_name("prod", "search", "haiku-4.5", "us") == "prod-search-haiku-4-5-us"


def test_prod_ships_two_teams_and_capetown_one() -> None:
    prod = load({**CONTEXT, "env": "prod"}).bedrock
    capetown = load({**CONTEXT, "env": "capetown"}).bedrock
    assert prod is not None and capetown is not None
    assert [(t.name, t.models) for t in prod.teams] == [("search", ("sonnet-4.5", "haiku-4.5")), ("support", ("sonnet-4.5",))]
    assert [(t.name, t.models) for t in capetown.teams] == [("research", ("sonnet-4.5", "opus-4.5"))]
