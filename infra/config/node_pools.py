"""The ``node_pools`` block: Karpenter NodePools and EC2NodeClasses (``infra.constructs.karpenter``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.catalog import instances
from infra.catalog.versions import AL2023_AMI_RELEASE
from infra.config.base import _AMI_VERSION, _DURATION, _K8S_NAME, MAX_POOL_LABELS, MIN_EXPIRE_AFTER_S, Problem, _seconds, _Strict
from infra.k8s import syntax


class AmiConfig(_Strict):
    """The EKS-optimized AMI, by Karpenter alias. AL2023 defaults to the pinned release."""

    family: Literal["al2023", "bottlerocket"] = "al2023"
    version: str | None = Field(default=None, description="default: the pinned AL2023 release; required for bottlerocket")

    @field_validator("version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value is not None and not _AMI_VERSION.match(value):
            raise Problem(
                f"'{value}' is not an AMI release",
                "use latest, an AL2023 release such as v20260724, or a Bottlerocket version such as 1.66.0",
            )
        return value

    @model_validator(mode="after")
    def _pinned(self) -> AmiConfig:
        if self.family == "bottlerocket" and self.version is None:
            raise Problem("bottlerocket has no pinned default release", "set ami.version (e.g. 1.66.0) or latest", field="version")
        return self

    @property
    def alias(self) -> str:
        return f"{self.family}@{self.version or AL2023_AMI_RELEASE}"


class CapacityReservationConfig(_Strict):
    """Selects On-Demand Capacity Reservations or Capacity Blocks for a ``reserved`` pool."""

    id: str | None = Field(default=None, pattern=r"^cr-[0-9a-z]+$")
    tags: dict[str, str] | None = None
    owner_id: str | None = Field(default=None, pattern=r"^[0-9]{12}$")

    @model_validator(mode="after")
    def _one_selector(self) -> CapacityReservationConfig:
        if (self.id is None) == (self.tags is None):
            raise Problem("needs exactly one of id or tags", "select a reservation by id (cr-...) or by tags")
        return self

    @field_validator("tags")
    @classmethod
    def _selector_tags(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        # EC2NodeClass v1.14.1 capacityReservationSelectorTerms[].tags: at most 20, no empty keys or values.
        if value is not None and (len(value) > 20 or any(k == "" or v == "" for k, v in value.items())):
            raise Problem(
                "selects by more than 20 tags or an empty key or value", "use 1-20 tags, each with a key and a value ('*' matches any)"
            )
        return value


class DisruptionBudgetConfig(_Strict):
    """A Karpenter disruption budget: how many nodes may be disrupted at once, when, and why."""

    nodes: str = Field(pattern=r"^((100|[0-9]{1,2})%|[0-9]+)$")
    reasons: tuple[Literal["Underutilized", "Empty", "Drifted"], ...] = ()
    schedule: str | None = None
    duration: str | None = Field(default=None, pattern=r"^((([0-9]+(h|m))|([0-9]+h[0-9]+m))(0s)?)$")

    @model_validator(mode="after")
    def _window(self) -> DisruptionBudgetConfig:
        if (self.schedule is None) != (self.duration is None):
            raise Problem("schedule and duration go together", "set both (e.g. schedule '0 22 * * *', duration 8h) or neither")
        return self

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        problem = syntax.cron_problem(value) if value is not None else None
        if problem:
            raise Problem(problem, "use five cron fields in UTC, e.g. '0 22 * * 1-5', or @daily")
        return value


class NodePoolLimits(_Strict):
    """The pool's cost guardrail: Karpenter launches nothing beyond these totals."""

    accelerators: int = Field(gt=0, description="GPUs (nvidia.com/gpu) or Neuron devices (aws.amazon.com/neuron)")
    cpu: int | None = Field(default=None, gt=0)
    memory_gib: int | None = Field(default=None, gt=0)


class NodePoolConfig(_Strict):
    """One Karpenter NodePool + EC2NodeClass for one accelerator kind."""

    name: str
    accelerator: Literal["nvidia", "neuron"]
    instance_families: tuple[str, ...] = ()
    instance_types: tuple[str, ...] = ()
    capacity_types: tuple[Literal["on-demand", "spot", "reserved"], ...] = ("on-demand",)
    capacity_reservations: tuple[CapacityReservationConfig, ...] = ()
    limits: NodePoolLimits | None = None
    ami: AmiConfig = AmiConfig()
    volume_gib: int = Field(default=300, ge=50, le=16384)
    volume_iops: int = Field(default=6000, ge=3000, le=16000)
    volume_throughput_mibps: int = Field(default=500, ge=125, le=1000)
    labels: dict[str, str] = Field(default_factory=dict)
    weight: int | None = Field(default=None, ge=1, le=100)
    expire_after: str = "720h"
    termination_grace_period: str = "24h"
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmpty"
    consolidate_after: str = "10m"
    disruption_budgets: tuple[DisruptionBudgetConfig, ...] = Field(default=(DisruptionBudgetConfig(nodes="1"),), max_length=50)
    efa: bool = False
    efa_az_index: int = Field(default=0, ge=0, le=5, description="which of the VPC's AZs an EFA pool is pinned to")
    imds_hop_limit: int = Field(default=1, ge=1, le=2)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not (_K8S_NAME.match(value) and len(value) <= 40):
            raise Problem(f"'{value}' is not a valid pool name", "use 1-40 of a-z, 0-9 and -, starting and ending alphanumeric")
        return value

    @field_validator("instance_families")
    @classmethod
    def _families(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for family in value:
            if family not in instances.FAMILIES:
                raise Problem(
                    f"unknown instance family '{family}'", f"use one of {', '.join(instances.FAMILIES)} (infra/catalog/instances.py)"
                )
        return value

    @field_validator("instance_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if instances.instance_type(name) is None:
                raise Problem(f"unknown instance type '{name}'", "use an accelerator type from infra/catalog/instances.py")
        return value

    @field_validator("expire_after", "consolidate_after")
    @classmethod
    def _duration_or_never(cls, value: str) -> str:
        if value != "Never" and not _DURATION.match(value):
            raise Problem(f"'{value}' is not a duration", "use a Go duration such as 30m, 720h or Never")
        return value

    @field_validator("termination_grace_period")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not _DURATION.match(value):
            raise Problem(f"'{value}' is not a duration", "use a Go duration such as 2h or 24h")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_POOL_LABELS:
            raise Problem(
                f"{len(value)} labels, more than {MAX_POOL_LABELS}",
                f"keep at most {MAX_POOL_LABELS} (a NodePool's template holds 100, the blueprint sets the rest)",
            )
        for key, label_value in value.items():
            if key.split("/")[0].endswith(("karpenter.sh", "karpenter.k8s.aws", "kubernetes.io", "inference-blueprint")):
                raise Problem(f"label '{key}' is in a reserved domain", "use your own label domain, e.g. example.com/team")
            problem = syntax.label_key_problem(key) or syntax.label_value_problem(label_value)
            if problem:
                raise Problem(problem, "use a Kubernetes label, e.g. example.com/team: ml-platform")
        return value

    @field_validator("expire_after")
    @classmethod
    def _expiry_floor(cls, value: str) -> str:
        if value != "Never" and _DURATION.match(value) and _seconds(value) < MIN_EXPIRE_AFTER_S:
            raise Problem(
                f"nodes expiring after {value} would be replaced before a model on them finished starting",
                "use at least 1h (720h is the default), or Never",
            )
        return value

    @model_validator(mode="after")
    def _gp3_throughput(self) -> NodePoolConfig:
        # gp3 allows 0.25 MiB/s of throughput per provisioned IOPS (EBS User Guide, "General Purpose SSD volumes").
        if self.volume_throughput_mibps > self.volume_iops // 4:
            raise Problem(
                f"{self.volume_throughput_mibps} MiB/s needs at least {self.volume_throughput_mibps * 4} IOPS on gp3, "
                f"volume_iops is {self.volume_iops}",
                f"raise volume_iops to {self.volume_throughput_mibps * 4} or lower the throughput to {self.volume_iops // 4}",
                field="volume_throughput_mibps",
            )
        return self

    @model_validator(mode="after")
    def _consistent(self) -> NodePoolConfig:
        if not self.instance_families and not self.instance_types:
            raise Problem("lists no instance types", "set instance_families or instance_types", field="instance_types")
        if self.limits is None:
            raise Problem(
                "is missing: every pool needs a cost guardrail",
                "set limits.accelerators (and optionally limits.cpu and limits.memory_gib)",
                field="limits",
            )
        for spec in self.types:
            if spec.accelerator != self.accelerator:
                raise Problem(
                    f"{spec.name} is {spec.accelerator} but the pool is {self.accelerator}",
                    "keep NVIDIA and Neuron types in separate pools",
                    field="accelerator",
                )
        if ("reserved" in self.capacity_types) != bool(self.capacity_reservations):
            raise Problem(
                "capacity type 'reserved' and capacity_reservations go together",
                "add capacity_reservations (by id or tags) with 'reserved', or drop one",
                field="capacity_reservations",
            )
        if self.efa:
            missing = [t.name for t in self.types if not t.efa]
            if missing:
                raise Problem(
                    f"EFA pool includes types without EFA: {', '.join(missing)}",
                    "list EFA-capable instance_types (e.g. p5.48xlarge, trn1.32xlarge), not whole families",
                    field="instance_types" if self.instance_types else "instance_families",
                )
            layouts = sorted({(t.network_cards, t.efa_devices, t.name) for t in self.types})
            if len({(cards, efa) for cards, efa, _ in layouts}) > 1:
                named = ", ".join(f"{name} ({cards} cards, {efa} EFA)" for cards, efa, name in layouts)
                raise Problem(
                    f"EFA pool mixes network layouts: {named}",
                    "one EC2NodeClass has one network-interface list; put types with different card counts in separate pools",
                    field="instance_types" if self.instance_types else "instance_families",
                )
            if self.consolidation_policy != "WhenEmpty":
                raise Problem(
                    "multi-node (EFA) pools must not consolidate busy nodes",
                    "set consolidation_policy to WhenEmpty",
                    field="consolidation_policy",
                )
        return self

    @property
    def types(self) -> tuple[instances.InstanceType, ...]:
        """Every instance type the pool may launch, families expanded."""
        names = [n for f in self.instance_families for n in instances.FAMILIES[f]] + list(self.instance_types)
        return tuple(instances.INSTANCE_TYPES[n] for n in dict.fromkeys(names))

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.family for t in self.types))

    @property
    def efa_layout(self) -> instances.InstanceType | None:
        """The type whose network cards the node class configures (every type of an EFA pool has the same)."""
        return self.types[0] if self.efa else None

    @property
    def efa_devices(self) -> int:
        """``vpc.amazonaws.com/efa`` each node of the pool offers (0 without EFA)."""
        return self.efa_layout.efa_devices if self.efa_layout else 0
