"""The ``bedrock`` block: cross-region inference access, the model-access form and invocation logging (``infra.constructs.bedrock_*``)."""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.catalog import bedrock as catalog
from infra.config.base import _K8S_NAME, Problem, _retention, _Strict, refuse_system_namespace


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
    """Least-privilege access to Bedrock cross-region inference profiles, and invocation logging."""

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
        return self
