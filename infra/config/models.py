"""The ``models`` block: vLLM on EKS (``infra.constructs.serving``, ``infra.k8s.vllm``)."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from infra.config.base import (
    _K8S_NAME,
    _SECRET_NAME,
    _SECRET_VALUES,
    MODEL_IMAGES,
    Problem,
    _check_vllm_dtype,
    _Strict,
    refuse_system_namespace,
)


class WeightsConfig(_Strict):
    """Where a model's weights come from: a prefix in the environment's model bucket, or a hub id."""

    s3_prefix: str | None = Field(default=None, description="key prefix in the environment's model bucket")
    hub_id: str | None = Field(default=None, description="e.g. meta-llama/Llama-3.1-8B-Instruct")
    hub_token_secret: str | None = Field(default=None, description="Secrets Manager secret name holding the hub token")

    @field_validator("s3_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,511}$", value):
            raise Problem(
                f"'{value}' is not an S3 key prefix", "use a relative prefix such as models/llama-3.1-8b-instruct/ (no s3://, no bucket)"
            )
        return value

    @field_validator("hub_id")
    @classmethod
    def _hub(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[\w.-]+/[\w.-]+$", value):
            raise Problem(f"'{value}' is not a hub model id", "use owner/name, e.g. meta-llama/Llama-3.1-8B-Instruct")
        return value

    @field_validator("hub_token_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9/_+=.@-]{1,512}$", value):
            raise Problem(f"'{value}' is not a Secrets Manager secret name", "use the secret's name (letters, digits and /_+=.@-)")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> WeightsConfig:
        if (self.s3_prefix is None) == (self.hub_id is None):
            raise Problem(
                "needs exactly one of s3_prefix or hub_id", "stream from the model bucket (s3_prefix) or pull from a hub (hub_id)"
            )
        if self.hub_token_secret and self.hub_id is None:
            raise Problem("hub_token_secret without hub_id", "remove it, or set hub_id", field="hub_token_secret")
        return self


class AutoscalingConfig(_Strict):
    """Queue-driven replica count for one model: a KEDA ScaledObject over vLLM's waiting requests
    (``infra.k8s.autoscaling``), and the drain that lets a scale-down finish in-flight streams."""

    min_replicas: int = Field(default=1, ge=1, le=64, description="replicas (LWS groups) never scaled below; the workload starts here")
    max_replicas: int = Field(ge=1, le=64, description="replicas never scaled above; the pool's limits.accelerators must hold them")
    target_waiting_per_replica: float = Field(
        default=4, gt=0, le=1000, description="vllm:num_requests_waiting per replica the HPA steers to"
    )
    polling_seconds: int = Field(default=30, ge=10, le=600, description="KEDA pollingInterval: how often the metric is read")
    scale_up_stabilization_seconds: int = Field(default=0, ge=0, le=3600, description="HPA behavior.scaleUp.stabilizationWindowSeconds")
    scale_down_stabilization_seconds: int = Field(
        default=600, ge=0, le=3600, description="HPA behavior.scaleDown.stabilizationWindowSeconds"
    )
    max_request_seconds: int = Field(
        default=600, ge=10, le=3600, description="the longest request a scale-down waits for (vLLM --shutdown-timeout)"
    )
    scale_down: bool = Field(
        default=True,
        description="false: scale out on the queue, never in (HPA scaleDown selectPolicy Disabled), for engines that cannot drain",
    )

    @model_validator(mode="after")
    def _range(self) -> AutoscalingConfig:
        if self.min_replicas > self.max_replicas:
            raise Problem(
                f"min_replicas {self.min_replicas} is above max_replicas {self.max_replicas}",
                "lower min_replicas or raise max_replicas",
                field="min_replicas",
            )
        return self


class ServedModelConfig(_Strict):
    """One vLLM service: single-node Deployment, or a LeaderWorkerSet when it spans nodes."""

    name: str
    architecture: str = Field(description="model architecture key in infra/catalog/models.py, for the planner")
    weights: WeightsConfig
    pool: str
    instance_type: str | None = Field(default=None, description="default: the smallest type of the pool that fits")
    image: str | None = Field(default=None, description="default: the pinned vLLM image for the pool's accelerator")
    nodes: int | None = Field(default=None, ge=1, le=16)
    tensor_parallel: int | None = Field(default=None, ge=1)
    pipeline_parallel: int | None = Field(default=None, ge=1)
    max_model_len: int | None = Field(default=None, ge=256)
    dtype: str | None = Field(default=None, description="vLLM --dtype; default auto (the checkpoint's)")
    quantization: str | None = Field(default=None, description="vLLM --quantization; fp8 and AWQ/GPTQ size the weights smaller")
    gpu_memory_utilization: float = Field(default=0.90, gt=0.1, le=0.98)
    replicas: int = Field(default=1, ge=1, le=64)
    namespace: str = "inference"
    clients: tuple[str, ...] = Field(
        default=(), description="namespaces whose pods may call the model's API (a NetworkPolicy admits them; all else is denied)"
    )
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    ttft_p90_slo_seconds: float | None = Field(
        default=None, gt=0, le=600, description="time-to-first-token p90 SLO; default observability.thresholds.ttft_p90_seconds"
    )
    autoscaling: AutoscalingConfig | None = Field(default=None, description="scale replicas on vLLM's queue depth with KEDA")

    @property
    def starting_replicas(self) -> int:
        """Replicas the workload is applied with: autoscaling's minimum, or the fixed count."""
        return self.autoscaling.min_replicas if self.autoscaling else self.replicas

    @property
    def peak_replicas(self) -> int:
        """The most replicas the model may run: autoscaling's maximum, or the fixed count."""
        return self.autoscaling.max_replicas if self.autoscaling else self.replicas

    @model_validator(mode="after")
    def _replicas_or_autoscaling(self) -> ServedModelConfig:
        if self.autoscaling is not None and "replicas" in self.model_fields_set:
            raise Problem(
                "replicas is fixed while autoscaling sets the count",
                "remove replicas; autoscaling.min_replicas and max_replicas bound it",
                field="replicas",
            )
        return self

    @field_validator("name", "namespace")
    @classmethod
    def _name(cls, value: str) -> str:
        if not (_K8S_NAME.match(value) and len(value) <= 40):
            raise Problem(f"'{value}' is not a valid name", "use 1-40 of a-z, 0-9 and -, starting and ending alphanumeric")
        return value

    @field_validator("namespace")
    @classmethod
    def _not_system(cls, value: str) -> str:
        return refuse_system_namespace(value, "", "serve models in a namespace of their own, e.g. inference")

    @field_validator("clients")
    @classmethod
    def _clients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not (_K8S_NAME.match(name) and len(name) <= 63):
                raise Problem(f"'{name}' is not a namespace name", "use 1-63 of a-z, 0-9 and -, starting and ending alphanumeric")
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise Problem(f"{', '.join(duplicates)} listed twice", "list each client namespace once")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if value.startswith("build:"):
            folder = MODEL_IMAGES / value.removeprefix("build:")
            if not (folder / "Dockerfile").is_file():
                known = ", ".join(sorted(f"build:{d.name}" for d in MODEL_IMAGES.iterdir() if (d / "Dockerfile").is_file()))
                raise Problem(f"'{value}' names no model-images folder with a Dockerfile", f"use one of {known}, or a pinned image")
            return value
        last = value.rsplit("/", 1)[-1]
        if ("@sha256:" not in value and ":" not in last) or value.endswith(":latest"):
            raise Problem(f"image '{value}' is not pinned", "give an exact tag (repo:v1.2.3) or a digest, never latest")
        return value

    @field_validator("dtype")
    @classmethod
    def _dtype(cls, value: str | None) -> str | None:
        return _check_vllm_dtype(value)

    @field_validator("quantization")
    @classmethod
    def _quantization(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z0-9_-]{1,40}$", value):
            raise Problem(f"'{value}' is not a quantization method", "use a vLLM --quantization value such as fp8, awq or gptq")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise Problem(f"'{key}' is not an environment variable name", "use letters, digits and _")
            if key.startswith("AWS_") and key not in ("AWS_REGION", "AWS_DEFAULT_REGION"):
                raise Problem(
                    f"'{key}' would put AWS settings or credentials in a manifest", "remove it: pods get credentials through Pod Identity"
                )
            if _SECRET_NAME.search(key) or any(p.search(value[key]) for p in _SECRET_VALUES):
                raise Problem(
                    f"'{key}' looks like a secret, and env values land in clear text in the templates and manifests",
                    "remove it; for a model hub token use weights.hub_token_secret (a Secrets Manager secret name)",
                )
        return value
