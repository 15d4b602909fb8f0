"""The ``bedrock`` block: cross-region inference access, the model-access form and invocation logging (``infra.constructs.bedrock_*``)."""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.catalog import bedrock as catalog
from infra.config.base import _K8S_NAME, _PRINCIPAL_ARN, Problem, _retention, _Strict, refuse_system_namespace


class BedrockModelAccess(_Strict):
    """One model a workload may invoke, through one inference-profile scope."""

    model: str
    scope: str = "global"
    streaming: bool = True


class ServiceAccountRef(_Strict):
    """A Kubernetes service account (Pod Identity target)."""

    namespace: str
    service_account: str

    @field_validator("namespace", "service_account")
    @classmethod
    def _k8s_name(cls, value: str) -> str:
        if not (_K8S_NAME.match(value) and len(value) <= 63):
            raise Problem(f"'{value}' is not a Kubernetes name", "use 1-63 of a-z, 0-9 and -, starting and ending alphanumeric")
        return value

    @field_validator("namespace")
    @classmethod
    def _not_system(cls, value: str) -> str:
        return refuse_system_namespace(
            value,
            ": every pod of that service account would hold Bedrock access",
            "give the workload that calls Bedrock a service account in its own namespace",
        )


# A team's name goes into its profiles' names (inference-profile names are 1-64 of letters, digits and single
# space, _ or - separators: CloudFormation AWS::Bedrock::ApplicationInferenceProfile InferenceProfileName) next to
# the environment's (up to 20) and a model key, so it is kept to 24.
_TEAM_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_MAX_TEAM_NAME = 24
# The tag key/value pattern of AWS::Bedrock::ApplicationInferenceProfile Tag (CloudFormation resource schema): ASCII
# letters and digits, white space and _ . : / = + @ -; keys 1-128 characters, values 0-256.
PROFILE_TAG = re.compile(r"^[a-zA-Z0-9\s._:/=+@-]*$")
TEAM_TAG = "team"
# The prefix of the tags the blueprint itself puts on every resource (inference-blueprint:environment).
RESERVED_TAG_PREFIX = "inference-blueprint:"


def check_profile_tag(key: str, value: str) -> None:
    """Raise a Problem unless ``key``/``value`` is a tag CloudFormation takes on an application inference profile."""
    if not 1 <= len(key) <= 128 or len(value) > 256:
        raise Problem(f"tag {key[:40]!r} is outside AWS's limits (keys 1-128, values 0-256 characters)", "shorten it")
    if key.lower().startswith("aws:"):
        raise Problem(f"tag key {key!r} starts with aws:, which AWS reserves", "use another prefix")
    if not (PROFILE_TAG.match(key) and PROFILE_TAG.match(value)):
        raise Problem(
            f"tag {key!r} has characters an application inference profile's tags do not take",
            "use ASCII letters, digits, spaces and _ . : / = + @ -",
        )


class BedrockTeam(_Strict):
    """A team or application with its own application inference profiles, tagged for cost allocation.

    One profile per model: a copy of the model's configured system profile (global or geographic),
    tagged ``team`` = ``name`` plus ``tags``. The team's invoke policy allows only its own profiles.
    ``pod_identities`` get a Pod Identity role with that policy; ``assume_role_principals`` (IAM role
    or user ARNs) may assume a role of the team that has it. The policy's ARN is a stack output either way.
    """

    name: str
    models: tuple[str, ...] = Field(min_length=1)
    tags: dict[str, str] = Field(default_factory=dict)
    pod_identities: tuple[ServiceAccountRef, ...] = ()
    assume_role_principals: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not (_TEAM_NAME.match(value) and len(value) <= _MAX_TEAM_NAME):
            raise Problem(
                f"'{value}' is not a team name",
                f"use 1-{_MAX_TEAM_NAME} of a-z, 0-9 and single hyphens, starting with a letter and ending alphanumeric",
            )
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if key == TEAM_TAG or key.startswith(RESERVED_TAG_PREFIX):
                raise Problem(f"tag key {key!r} is set by the blueprint on every team profile", "use another key")
            check_profile_tag(key, text)
        return value

    @field_validator("assume_role_principals")
    @classmethod
    def _principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _PRINCIPAL_ARN.match(arn):
                raise Problem(f"'{arn}' is not an IAM role or user ARN", "write arn:aws:iam::<account>:role/<name> (or user/<name>)")
        return value

    @model_validator(mode="after")
    def _unique_models(self) -> BedrockTeam:
        for index, key in enumerate(self.models):
            if key in self.models[:index]:
                raise Problem(f"{key} is listed twice", "list each model once", field=f"models[{index}]")
        return self

    def profile_tags(self) -> dict[str, str]:
        """The tags the team's profiles carry besides the environment's: ``team`` and the team's own."""
        return {**self.tags, TEAM_TAG: self.name}


class InvocationLoggingConfig(_Strict):
    """Bedrock model invocation logging in the source region.

    ``text`` has no default: true stores full prompts and responses, and with ``image`` and
    ``embedding`` false too only metadata is logged. ``adopt_existing`` lets the stack take over a
    configuration already in the region (put back when the stack is deleted) instead of refusing.
    """

    enabled: bool = True
    retention_days: int = 90
    text: bool | None = Field(default=None, description="required when enabled")
    image: bool = False
    embedding: bool = False
    adopt_existing: bool = False

    _check_retention = field_validator("retention_days")(_retention)

    def check_text_chosen(self) -> None:
        """Raise a Problem (its field relative to the environment) when logging is on and ``text`` was not set."""
        if self.enabled and self.text is None:
            raise Problem(
                "text delivery is not chosen (true stores full prompts and responses in the log group and bucket)",
                "set text to true, or to false to log metadata only",
                field="bedrock.invocation_logging.text",
            )

    @property
    def text_delivery(self) -> bool:
        """Whether full prompts and responses are delivered (``load`` refuses enabled logging without a choice)."""
        return self.text is True


# CloudFormation's AWS::Bedrock::Guardrail: BlockedInputMessaging and BlockedOutputsMessaging are 1-500 characters.
_MAX_BLOCKED_MESSAGE = 500


class GuardrailConfig(_Strict):
    """A Bedrock guardrail with PII filters, and whether every invoke grant requires it.

    ``pii`` maps a PII entity type (``infra.catalog.bedrock.GUARDRAIL_PII_TYPES``) to BLOCK or
    ANONYMIZE. With ``enforced`` the invoke policy allows a call only when it names this guardrail's
    deployed version (``bedrock:GuardrailIdentifier``); without it the guardrail is only offered.
    With ``enforced_account_wide`` the stack also makes the version the account's enforced guardrail
    configuration in its Region, which Bedrock applies to every inference call of the account there,
    whoever makes it and whatever it names.
    """

    pii: dict[str, str] = Field(min_length=1)
    blocked_input_message: str = "This request was blocked: it contains information this service may not process."
    blocked_output_message: str = "The response was blocked: it contained information this service may not return."
    enforced: bool = True
    enforced_account_wide: bool = False

    @field_validator("pii")
    @classmethod
    def _pii(cls, value: dict[str, str]) -> dict[str, str]:
        for entity, action in value.items():
            if entity not in catalog.GUARDRAIL_PII_TYPES:
                raise Problem(
                    f"'{entity}' is not a Bedrock guardrail PII entity type",
                    f"use one of {', '.join(catalog.GUARDRAIL_PII_TYPES)}",
                    field=entity,
                )
            if action not in catalog.GUARDRAIL_PII_ACTIONS:
                raise Problem(
                    f"'{action}' is not a guardrail PII action",
                    "use BLOCK (the whole prompt or response is replaced by the blocked message) "
                    "or ANONYMIZE (the entity is masked with its type)",
                    field=entity,
                )
        return value

    @field_validator("blocked_input_message", "blocked_output_message")
    @classmethod
    def _message(cls, value: str) -> str:
        if not value.strip() or len(value) > _MAX_BLOCKED_MESSAGE:
            raise Problem(
                f"a blocked message must be 1-{_MAX_BLOCKED_MESSAGE} characters and not blank, got {len(value)}",
                "write a short sentence the caller sees instead of the blocked text",
            )
        return value


# The form's intendedUsers is a numeric code as a string: 0 internal users, 1 external users, 2 both (the form data
# example of the Terraform AWS provider's aws_bedrock_use_case_for_model_access; AWS's API reference shows only the type).
INTENDED_USERS = {"internal": "0", "external": "1", "both": "2"}
# Bedrock API Reference, PutUseCaseForModelAccess: formData is 10-16384 bytes.
_MAX_FORM_BYTES = 16384
_WEBSITE = re.compile(r"^https?://[^\s/]+\.[^\s]+$")


class ModelAccessForm(_Strict):
    """The Anthropic use-case form Bedrock asks for once per account before the first Anthropic call.

    ``form_data`` is the JSON document ``PutUseCaseForModelAccess`` takes as ``formData``.
    """

    company_name: str = Field(min_length=1)
    company_website: str
    industry: str = Field(min_length=1)
    other_industry: str = ""
    intended_users: Literal["internal", "external", "both"]
    use_cases: str = Field(min_length=1)

    @field_validator("company_name", "industry", "use_cases")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise Problem("is blank", "write what the form asks for: Bedrock passes it to Anthropic")
        return value

    @field_validator("company_website")
    @classmethod
    def _website(cls, value: str) -> str:
        if not _WEBSITE.match(value):
            raise Problem(f"'{value}' is not a website address", "write it as https://<domain>")
        return value

    @model_validator(mode="after")
    def _fits(self) -> ModelAccessForm:
        size = len(self.form_data())
        if size > _MAX_FORM_BYTES:
            raise Problem(f"the form is {size} bytes and Bedrock takes at most {_MAX_FORM_BYTES}", "shorten use_cases", field="use_cases")
        return self

    def form_data(self) -> bytes:
        """The ``formData`` bytes: the form's JSON, keys as Bedrock names them, UTF-8."""
        document = {
            "companyName": self.company_name,
            "companyWebsite": self.company_website,
            "intendedUsers": INTENDED_USERS[self.intended_users],
            "industryOption": self.industry,
            "otherIndustryOption": self.other_industry,
            "useCases": self.use_cases,
        }
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class BedrockConfig(_Strict):
    """Least-privilege access to Bedrock cross-region inference profiles, per-team application profiles, and invocation logging."""

    models: tuple[BedrockModelAccess, ...] = Field(min_length=1)
    pod_identities: tuple[ServiceAccountRef, ...] = ()
    invocation_logging: InvocationLoggingConfig = InvocationLoggingConfig()
    cross_region_routing: Literal["global", "geography"] | None = Field(
        default=None,
        description="where prompts may be processed: 'global' (any commercial Region) or 'geography' (the source's geography); "
        "required, since every inference profile routes across Regions",
    )
    guardrail: GuardrailConfig | None = None
    model_access_form: ModelAccessForm | None = None
    model_access_form_submitted: bool = False
    teams: tuple[BedrockTeam, ...] = ()

    def check_model_access_form(self, anthropic: bool) -> None:
        """Raise a Problem (its field relative to the environment) unless the Anthropic form is settled for ``anthropic`` models."""
        if self.model_access_form is not None and self.model_access_form_submitted:
            raise Problem(
                "both a form and model_access_form_submitted are set",
                "keep model_access_form to have the stack submit it, or model_access_form_submitted when the account already did",
                field="bedrock.model_access_form_submitted",
            )
        if anthropic and self.model_access_form is None and not self.model_access_form_submitted:
            raise Problem(
                "Anthropic models are configured and Bedrock serves them only after the account submits the Anthropic use-case form",
                "add bedrock.model_access_form (company_name, company_website, industry, intended_users, use_cases) for the stack "
                "to submit, or set bedrock.model_access_form_submitted to true when the account or its organization already did",
                field="bedrock.model_access_form",
            )

    @model_validator(mode="after")
    def _unique(self) -> BedrockConfig:
        seen: set[tuple[str, str]] = set()
        for index, access in enumerate(self.models):
            if (access.model, access.scope) in seen:
                raise Problem(
                    f"{access.model} via {access.scope} is listed twice", "list each model and scope once", field=f"models[{index}]"
                )
            seen.add((access.model, access.scope))
        self._check_teams()
        return self

    def _check_teams(self) -> None:
        names: dict[str, int] = {}
        accounts: dict[tuple[str, str], str] = {(t.namespace, t.service_account): "pod_identities" for t in self.pod_identities}
        configured = [a.model for a in self.models]
        for index, team in enumerate(self.teams):
            where = f"teams[{index}]"
            if team.name in names:
                raise Problem(
                    f"team name '{team.name}' is also used by teams[{names[team.name]}]",
                    "give each team its own name",
                    field=f"{where}.name",
                )
            names[team.name] = index
            for position, key in enumerate(team.models):
                if key not in configured:
                    raise Problem(
                        f"'{key}' is not in this environment's bedrock.models ({', '.join(configured)})",
                        "add it to bedrock.models, or remove it from the team",
                        field=f"{where}.models[{position}]",
                    )
                if configured.count(key) > 1:
                    scopes = ", ".join(a.scope for a in self.models if a.model == key)
                    raise Problem(
                        f"{key} is configured with more than one scope ({scopes}) and a team's profile copies exactly one",
                        f"keep one scope of {key} in bedrock.models",
                        field=f"{where}.models[{position}]",
                    )
            for position, target in enumerate(team.pod_identities):
                ref = (target.namespace, target.service_account)
                if ref in accounts:
                    raise Problem(
                        f"{target.namespace}/{target.service_account} already gets a Bedrock role from {accounts[ref]}, and EKS "
                        "associates one role with a service account",
                        "give each team its own service account",
                        field=f"{where}.pod_identities[{position}]",
                    )
                accounts[ref] = f"{where}.pod_identities"
