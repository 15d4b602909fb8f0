"""Amazon Bedrock models the blueprint can grant, with their cross-Region inference profiles.

Sources, checked 2026-11 (AWS docs as mirrored in the search corpus; the live pages move often):

- "Supported Regions and models for inference profiles" (docs.aws.amazon.com/bedrock/latest/
  userguide/inference-profiles-support.html): one table per system-defined profile, giving the
  source Regions that may call it and the destination Regions each source routes to. That page's
  snapshot lists Claude Opus 4.5 but not Opus 4.6, so it dates from about 2025-12.
- "Regional availability" (Bedrock user guide, the per-model In-Region / Geo / Global table by
  source Region; a 2026 snapshot that marks Claude Opus 4.1 Legacy with EOL 2026-05-31).
  The ``global`` source Regions below come from it (it adds af-south-1 for Haiku 4.5, missing from
  the older profile page). The ``us``/``eu``/``jp``/``au`` source Regions and all destinations come
  from the profile page. The two disagree in places: the 2026 table also lists ap-southeast-6 as
  an AU source for Sonnet/Haiku 4.5 (no destination table published, so not pinned here), and it
  shows no Geo column for Tokyo/Osaka although the profile page and the model cards list
  ``jp.`` profiles for Sonnet 4.5 and Haiku 4.5. Check ``aws bedrock get-inference-profile``
  from the source Region before relying on a ``jp``/``au`` profile.
- "How tokens are counted in Amazon Bedrock" (quotas-token-burndown.html) and the quota section
  of "Global cross-Region inference": output tokens of Anthropic Claude models up to version 4.7
  burn 5 tokens of the TPM quota each ("For all other Anthropic models version 4.7 and below, the
  burndown is 5x for output tokens"); models not listed burn 1:1.

Destinations follow one rule for every profile pinned here: a source Region routes to the
geography's common destinations (``GEOGRAPHIES``) plus itself (us-west-1 and ca-central-1 add
themselves to the US trio, eu-central-2 and eu-west-2 to the EU six). A ``global`` profile routes
to every commercial Region, which IAM expresses with the Region-less foundation-model ARN.

``apac`` is the geography of Claude Sonnet 4 and older Claude 3.x profiles; no catalogued model
offers it (Claude 4.5 models in Asia Pacific use ``global``, ``jp`` or ``au``). Its destinations
are those every source of the APAC Claude Sonnet 4 profile routes to; some APAC sources
(ap-east-2, ap-southeast-5, ap-southeast-7, me-central-1) also route to ap-southeast-3.

Claude Sonnet 4 (anthropic.claude-sonnet-4-20250514-v1:0) is verified (global profile from only
five source Regions, us/eu/apac profiles, 5x burndown) but left out: AWS lists parts of it as
Legacy with end of life 2026-10-14.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BedrockModel:
    key: str
    model_id: str
    scopes: frozenset[str]
    output_burndown: int
    streaming: bool = True
    # (scope, source Regions that may call that scope's profile), one pair per scope.
    sources: tuple[tuple[str, frozenset[str]], ...] = ()

    def source_regions(self, scope: str) -> frozenset[str]:
        """The Regions from which this model's ``scope`` profile may be called (empty if none)."""
        return dict(self.sources).get(scope, frozenset())


GEOGRAPHIES: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-3"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "apac": (
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-4",
    ),
}

# The scope of a profile that routes to every commercial Region (Region-less foundation-model ARN).
GLOBAL = "global"

_US = frozenset(("us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1"))
_EU = frozenset(("eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3"))
_JP = frozenset(("ap-northeast-1", "ap-northeast-3"))
_AU = frozenset(("ap-southeast-2", "ap-southeast-4"))
_APAC = frozenset(
    (
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "me-central-1",
    )
)
# Source Regions of the global profiles of Claude Sonnet 4.5, Haiku 4.5 and Opus 4.5 (the same set).
_GLOBAL_4_5 = frozenset(
    (
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "ca-west-1",
        "mx-central-1",
        "sa-east-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "af-south-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
    )
)

# Source Regions from which some Claude profile of each geography may be called: the catalogued
# models' tables, and for apac the APAC Claude Sonnet 4 profile. Used only by geography_of().
GEOGRAPHY_SOURCES: dict[str, frozenset[str]] = {"us": _US, "eu": _EU, "jp": _JP, "au": _AU, "apac": _APAC}


def _m(key: str, model_id: str, output_burndown: int, sources: dict[str, frozenset[str]]) -> BedrockModel:
    return BedrockModel(
        key=key,
        model_id=model_id,
        scopes=frozenset(sources),
        output_burndown=output_burndown,
        sources=tuple(sorted(sources.items())),
    )


_MODELS = (
    _m("sonnet-4.5", "anthropic.claude-sonnet-4-5-20250929-v1:0", 5, {GLOBAL: _GLOBAL_4_5, "us": _US, "eu": _EU, "jp": _JP, "au": _AU}),
    _m("haiku-4.5", "anthropic.claude-haiku-4-5-20251001-v1:0", 5, {GLOBAL: _GLOBAL_4_5, "us": _US, "eu": _EU, "jp": _JP, "au": _AU}),
    _m("opus-4.5", "anthropic.claude-opus-4-5-20251101-v1:0", 5, {GLOBAL: _GLOBAL_4_5, "us": _US, "eu": _EU}),
)

MODELS: dict[str, BedrockModel] = {m.key: m for m in _MODELS}

# geography_of() prefers the narrower geography when a Region is a source of two (Tokyo: jp, apac).
_GEOGRAPHY_ORDER = ("us", "eu", "jp", "au", "apac")


def model(key: str) -> BedrockModel | None:
    """The catalog entry for ``key`` (``sonnet-4.5``), or None when the model is not catalogued."""
    return MODELS.get(key)


def profile_id(scope: str, model_id: str) -> str:
    """The system-defined inference profile ID: ``global.anthropic.claude-...``, ``us.anthropic...``."""
    return f"{scope}.{model_id}"


def geography_of(region: str) -> str | None:
    """The geography whose profiles a source Region calls (``us-east-1`` -> ``us``), or None.

    None means no Claude geographic profile lists the Region as a source (af-south-1, sa-east-1:
    only ``global`` profiles serve them). Tokyo and Osaka give ``jp``, Sydney and Melbourne ``au``.
    """
    return next((g for g in _GEOGRAPHY_ORDER if region in GEOGRAPHY_SOURCES[g]), None)


def destinations(scope: str, source_region: str) -> tuple[str, ...]:
    """The Regions a ``scope`` profile called from ``source_region`` routes to, sorted.

    The geography's common destinations plus the source Region itself (see the module docstring).
    Empty for ``global`` (every commercial Region) and for unknown scopes.
    """
    common = GEOGRAPHIES.get(scope)
    if common is None:
        return ()
    return tuple(sorted({*common, source_region}))


# --- Guardrails ---

# The PII entity types a guardrail's sensitive-information filter accepts: the allowed values of
# ``Type`` in CloudFormation's AWS::Bedrock::Guardrail PiiEntityConfig (CloudFormation Template
# Reference, aws-properties-bedrock-guardrail-piientityconfig.html), the same list as the Bedrock API's
# GuardrailPiiEntityConfig (APIReference/API_GuardrailPiiEntityConfig.html), checked 2026-11.
# tests/unit/test_bedrock_catalog.py holds it equal to the installed cfn-lint's resource schema.
GUARDRAIL_PII_TYPES = (
    "ADDRESS",
    "AGE",
    "AWS_ACCESS_KEY",
    "AWS_SECRET_KEY",
    "CA_HEALTH_NUMBER",
    "CA_SOCIAL_INSURANCE_NUMBER",
    "CREDIT_DEBIT_CARD_CVV",
    "CREDIT_DEBIT_CARD_EXPIRY",
    "CREDIT_DEBIT_CARD_NUMBER",
    "DRIVER_ID",
    "EMAIL",
    "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
    "IP_ADDRESS",
    "LICENSE_PLATE",
    "MAC_ADDRESS",
    "NAME",
    "PASSWORD",
    "PHONE",
    "PIN",
    "SWIFT_CODE",
    "UK_NATIONAL_HEALTH_SERVICE_NUMBER",
    "UK_NATIONAL_INSURANCE_NUMBER",
    "UK_UNIQUE_TAXPAYER_REFERENCE_NUMBER",
    "URL",
    "USERNAME",
    "US_BANK_ACCOUNT_NUMBER",
    "US_BANK_ROUTING_NUMBER",
    "US_INDIVIDUAL_TAX_IDENTIFICATION_NUMBER",
    "US_PASSPORT_NUMBER",
    "US_SOCIAL_SECURITY_NUMBER",
    "VEHICLE_IDENTIFICATION_NUMBER",
)

# The PII actions the blueprint configures: BLOCK replaces the whole prompt or response with the
# blocked message, ANONYMIZE masks the entity with its type tag (same pages). The API's third value,
# NONE, only reports a detection and protects nothing, so it is not offered.
GUARDRAIL_PII_ACTIONS = ("BLOCK", "ANONYMIZE")

# Regions whose CloudFormation registry has both AWS::Bedrock::Guardrail and
# AWS::Bedrock::GuardrailVersion, from cfn-lint 1.58.0's region schemas (kept equal to them by
# tests/unit/test_bedrock_catalog.py). af-south-1 has no AWS::Bedrock::* type at all, and the Bedrock
# user guide's "Supported Regions and models for Amazon Bedrock Guardrails" (guardrails-supported.html)
# does not list it either; a guardrail must be in the Region of the calls it guards.
GUARDRAIL_CFN_REGIONS = frozenset(
    (
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-isoe-west-1",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eusc-de-east-1",
        "il-central-1",
        "me-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-iso-east-1",
        "us-iso-west-1",
        "us-isob-east-1",
        "us-isob-west-1",
        "us-isof-east-1",
        "us-isof-south-1",
        "us-west-1",
        "us-west-2",
    )
)

# Regions whose CloudFormation registry has AWS::Bedrock::EnforcedGuardrailConfiguration, from cfn-lint
# 1.58.0's region schemas (kept equal to them by tests/unit/test_bedrock_catalog.py): the Regions whose
# Bedrock offers the account-level enforced guardrail configuration (PutEnforcedGuardrailConfiguration)
# as far as the schemas tell. It is every guardrail Region but me-central-1; af-south-1 has neither.
ENFORCED_GUARDRAIL_REGIONS = GUARDRAIL_CFN_REGIONS - {"me-central-1"}
# --- Application inference profiles ---

# Regions whose CloudFormation registry has AWS::Bedrock::ApplicationInferenceProfile, from cfn-lint 1.58.0's
# region schemas (kept equal to them by tests/unit/test_bedrock_catalog.py). af-south-1 has no AWS::Bedrock::*
# type at all; us-west-1 lacks this one too.
APPLICATION_PROFILE_CFN_REGIONS = frozenset(
    (
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ca-central-1",
        "eu-central-1",
        "eu-central-2",
        "eu-isoe-west-1",
        "eu-south-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eusc-de-east-1",
        "me-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-iso-east-1",
        "us-iso-west-1",
        "us-isob-east-1",
        "us-isob-west-1",
        "us-isof-east-1",
        "us-isof-south-1",
        "us-west-2",
    )
)

# Regions where the Bedrock API creates application inference profiles (CreateInferenceProfile): the list in
# "Supported Regions and models for application inference profiles" (Bedrock User Guide,
# inference-profiles-support.html#inference-profiles-support-user, checked 2026-11). af-south-1 is on it, so Cape
# Town gets its profiles from a custom resource that calls the API.
APPLICATION_PROFILE_API_REGIONS = frozenset(
    (
        "af-south-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-west-1",
        "us-west-2",
    )
)


def application_profile_name(env_name: str, team: str, model_key: str, scope: str) -> str:
    """The name of a team's profile of ``model_key`` via ``scope``: ``<env>-<team>-<model>-<scope>``, dots as hyphens.

    Inference-profile names take letters, digits and single space, _ or - separators, 1-64 characters
    (CloudFormation AWS::Bedrock::ApplicationInferenceProfile InferenceProfileName; API CreateInferenceProfile).
    The name is create-only and unique in the account and Region, so it holds everything a replacement
    changes (the copied profile): a new scope makes a new name, and the new profile can exist beside the old.
    """
    return f"{env_name}-{team}-{model_key.replace('.', '-')}-{scope}"
