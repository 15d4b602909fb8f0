"""The ``bedrock`` block: cross-region inference access and invocation logging (``infra.constructs.bedrock_*``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

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
