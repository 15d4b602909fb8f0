"""The ``unit_pools`` block: ECS multi-node inference units (``infra.constructs.ecs_unit``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra import planner
from infra.catalog import instances
from infra.catalog.versions import ECS_NEURON_AMI_PARAMETERS, ECS_NEURON_AMI_RELEASE, NEURON_ENGINES
from infra.config.base import _K8S_NAME, Problem, _Strict
from infra.config.models import ServedModelConfig, WeightsConfig

# ECS-optimized AL2023 Neuron AMI names, e.g. al2023-ami-ecs-neuron-hvm-2023.0.20260805-kernel-6.1-x86_64.
_NEURON_AMI_NAME = re.compile(r"^al2023-ami-ecs-neuron-hvm-2023\.\d+\.\d{8}-kernel-\d+\.\d+-x86_64$")

# How a unit's members serve (model-images/neuron-unit/README.md, "Runtimes"):
# - data-parallel: every member runs the whole model on its own instance (tensor parallel over its
#   NeuronCores), one vLLM data-parallel rank each; the leader's API server balances across them.
# - ray-pipeline: one engine across the unit, Ray's executor, pipeline stages on separate instances.
#   No Neuron document for the pinned SDK describes it: opt-in, unverified.
UnitRuntime = Literal["data-parallel", "ray-pipeline"]
UNVERIFIED_RUNTIMES: tuple[str, ...] = ("ray-pipeline",)


class UnitWeightsConfig(_Strict):
    """Where an ECS unit's weights come from: a prefix in the environment's model bucket, or a hub id."""

    s3_prefix: str | None = Field(default=None, description="key prefix in the ECS stack's weights bucket; every member syncs it")
    hub_id: str | None = Field(default=None, description="e.g. meta-llama/Llama-3.1-70B-Instruct")
    hub_token_secret: str | None = Field(default=None, description="Secrets Manager secret name holding the hub token")

    _prefix = field_validator("s3_prefix")(WeightsConfig._prefix.__func__)  # type: ignore[attr-defined]
    _hub = field_validator("hub_id")(WeightsConfig._hub.__func__)  # type: ignore[attr-defined]

    _secret = field_validator("hub_token_secret")(WeightsConfig._secret.__func__)  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _one_source(self) -> UnitWeightsConfig:
        if (self.s3_prefix is None) == (self.hub_id is None):
            raise Problem("needs exactly one of s3_prefix or hub_id", "sync from the model bucket (s3_prefix) or pull from a hub (hub_id)")
        if self.hub_token_secret and self.hub_id is None:
            raise Problem("hub_token_secret without hub_id", "remove it, or set hub_id", field="hub_token_secret")
        return self


class UnitPoolConfig(_Strict):
    """ECS multi-node inference units: ``units`` slots of ``unit_size`` topology-adjacent instances each.

    Every unit is a leader (``vllm serve``, the OpenAI endpoint behind the pool's internal NLB) plus
    ``unit_size - 1`` followers, one task per instance, replaced as a whole.
    """

    name: str
    instance_type: str
    unit_size: int = Field(description="instances per unit, leader included (>= 2)")
    units: int = Field(default=1, ge=1, le=16)
    max_instances: int | None = Field(default=None, ge=2, description="Auto Scaling group maximum; default units x unit_size")
    architecture: str = Field(description="model architecture key in infra/catalog/models.py, for the planner")
    weights: UnitWeightsConfig
    image: str = Field(default="build:neuron-unit", description="pinned image, or build:<model-images folder>")
    max_model_len: int | None = Field(default=None, ge=256)
    dtype: str | None = None
    tensor_parallel: int | None = Field(default=None, ge=1)
    pipeline_parallel: int | None = Field(default=None, ge=1)
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    serving_port: int = Field(default=8000, ge=1024, le=65535)
    startup_grace_minutes: int = Field(default=45, ge=5, le=240, description="model load budget before a unit counts as unhealthy")
    az_index: int = Field(default=0, ge=0, le=5, description="which of the VPC's AZs the pool's placement group is in")
    volume_gib: int = Field(default=1000, ge=100, le=16384)
    capacity_reservation_id: str | None = Field(default=None, description="an On-Demand Capacity Reservation or Capacity Block id")
    ami_release: str = Field(default=ECS_NEURON_AMI_RELEASE, description="ECS-optimized AL2023 Neuron AMI name every instance runs")
    runtime: UnitRuntime = Field(default="data-parallel", description="data-parallel (one model copy per member) or ray-pipeline")
    surge: bool = Field(default=False, description="one more unit of instances standing by, where a rollout starts the new revision first")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not (_K8S_NAME.match(value) and len(value) <= 20):
            raise Problem(f"'{value}' is not a valid unit pool name", "use 1-20 of a-z, 0-9 and -, starting and ending alphanumeric")
        return value

    @field_validator("instance_type")
    @classmethod
    def _type(cls, value: str) -> str:
        spec = instances.instance_type(value)
        if spec is None:
            raise Problem(f"unknown instance type '{value}'", "use a Neuron type from infra/catalog/instances.py, e.g. trn2.48xlarge")
        if spec.accelerator != "neuron":
            raise Problem(f"{value} is not a Neuron (Trainium/Inferentia) type", "ECS units run the Neuron image; use e.g. trn2.48xlarge")
        if not spec.efa:
            efa = ", ".join(t.name for t in instances.INSTANCE_TYPES.values() if t.accelerator == "neuron" and t.efa)
            raise Problem(f"{value} has no EFA", f"units span instances over EFA; use one of {efa}")
        return value

    @field_validator("unit_size")
    @classmethod
    def _size(cls, value: int) -> int:
        if value < 2:
            raise Problem(
                f"unit_size {value} is below 2: a unit is a leader plus at least one follower",
                "use 2 or more, or serve a one-instance model on EKS (models)",
            )
        if value > planner.MAX_NODES:
            raise Problem(f"unit_size {value} is above {planner.MAX_NODES}", f"use at most {planner.MAX_NODES} instances per unit")
        return value

    @field_validator("capacity_reservation_id")
    @classmethod
    def _reservation(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^cr-[0-9a-f]{8,17}$", value):
            raise Problem(f"'{value}' is not a capacity reservation id", "use the cr-... id EC2 shows")
        return value

    @field_validator("ami_release")
    @classmethod
    def _ami_release(cls, value: str) -> str:
        if _NEURON_AMI_NAME.match(value):
            return value
        names = f"aws ssm get-parameters-by-path --path {ECS_NEURON_AMI_PARAMETERS}/ lists them"
        if value == "recommended":
            raise Problem(
                "'recommended' follows AWS's newest release at every deploy, so members of one unit could run different Neuron drivers",
                f"name one release, e.g. {ECS_NEURON_AMI_RELEASE} ({names})",
            )
        raise Problem(
            f"'{value}' is not an ECS-optimized Amazon Linux 2023 Neuron AMI name",
            f"use a name like {ECS_NEURON_AMI_RELEASE} ({names})",
        )

    _image = field_validator("image")(ServedModelConfig._image.__func__)  # type: ignore[attr-defined]
    _env = field_validator("env")(ServedModelConfig._env.__func__)  # type: ignore[attr-defined]
    _dtype = field_validator("dtype")(ServedModelConfig._dtype.__func__)  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _runtime(self) -> UnitPoolConfig:
        """data-parallel rests on the vLLM Neuron plugin's documentation (Neuron 2.33 docs, vllm-neuron
        Llama 3 recipe: data parallelism supported, pipeline parallelism not); the NxD Inference line
        of trn1 documents neither (its overview: multi-node inference "will be supported in future
        Neuron releases")."""
        if self.runtime != "data-parallel":
            return self
        engine = NEURON_ENGINES[self.spec.family]
        if int(engine.plugin.split(".")[0]) == 0:
            raise Problem(
                f"runtime data-parallel needs the vLLM Neuron plugin (trn2), whose documentation covers data parallelism; "
                f"{self.instance_type} runs the NxD Inference line (vLLM {engine.vllm}), whose documentation has neither "
                "vLLM data parallelism nor multi-node inference",
                "use trn2.48xlarge, or set runtime ray-pipeline (not verified on any documented path)",
                field="runtime",
            )
        if self.pipeline_parallel not in (None, 1):
            raise Problem(
                f"pipeline_parallel {self.pipeline_parallel} with runtime data-parallel: every member serves the whole model on "
                "its own instance, and the vLLM Neuron plugin does not support pipeline parallelism",
                "remove pipeline_parallel, or set runtime ray-pipeline (not verified on any documented path)",
                field="pipeline_parallel",
            )
        return self

    @model_validator(mode="after")
    def _capacity(self) -> UnitPoolConfig:
        needed = self.instances
        if self.max_instances is not None and needed > self.max_instances:
            surge = " and a surge unit" if self.surge else ""
            raise Problem(
                f"{self.units} units of {self.unit_size}{surge} need {needed} instances but max_instances is {self.max_instances}",
                f"raise max_instances to at least {needed} or run fewer units",
                field="units",
            )
        return self

    @property
    def spec(self) -> instances.InstanceType:
        return instances.INSTANCE_TYPES[self.instance_type]

    @property
    def instances(self) -> int:
        """Instances the pool keeps running: every unit's members, and the surge unit's when it has one."""
        return (self.units + int(self.surge)) * self.unit_size

    @property
    def maximum(self) -> int:
        return self.max_instances if self.max_instances is not None else self.instances

    @property
    def engine_instances(self) -> int:
        """Instances one vLLM engine spans: one with data-parallel, the whole unit with ray-pipeline."""
        return 1 if self.runtime == "data-parallel" else self.unit_size

    @property
    def slots(self) -> tuple[str, ...]:
        """The serving unit ids (``<pool>-<n>``) the topology Lambda writes and the services select on."""
        return tuple(f"{self.name}-{n}" for n in range(self.units))

    @property
    def surge_slot(self) -> str | None:
        """The surge unit's id, ``<pool>-surge``, when the pool has one."""
        return f"{self.name}-surge" if self.surge else None

    @property
    def all_slots(self) -> tuple[str, ...]:
        """Every unit id the topology Lambda fills, in its order: the serving slots, then the surge."""
        return (*self.slots, *([self.surge_slot] if self.surge_slot else []))
