"""Configuration of one environment: the single validation pass at the edge of the app.

``load(context)`` takes the CDK context (``cdk.json`` plus ``-c`` values), picks the environment
named by ``env``, applies the ``region`` and ``account`` overrides and returns a frozen, validated
``EnvironmentConfig``. Every problem becomes one ``ConfigError`` whose text is the contract line
``<key path>: <problem>; <what to do>`` (``app.py`` prefixes ``error: ``).
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import json
import re
import typing
import unicodedata
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from infra import bedrock_policy, planner, serving_args
from infra.catalog import bedrock as bedrock_catalog
from infra.catalog import instances, regions, system_instances
from infra.catalog.versions import AL2023_AMI_RELEASE, CORE_ADDONS, DEFAULT_KUBERNETES_VERSION, KUBERNETES
from infra.k8s import syntax

DEFAULT_ENV = "dev"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)

# Interface endpoints a private EKS data plane may want, by the service's endpoint suffix.
INTERFACE_ENDPOINTS = (
    "autoscaling",
    "bedrock-runtime",
    "ec2",
    "ecr.api",
    "ecr.dkr",
    "eks",
    "eks-auth",
    "elasticloadbalancing",
    "kms",
    "logs",
    "monitoring",
    "secretsmanager",
    "sqs",
    "ssm",
    "ssmmessages",
    "sts",
)
DEFAULT_INTERFACE_ENDPOINTS = ("ec2", "ecr.api", "ecr.dkr", "eks-auth", "logs", "sqs", "ssm", "sts")

MODEL_IMAGES = Path(__file__).resolve().parents[1] / "model-images"
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# ASCII only: Python's \d and \w also match other scripts' digits and letters, which AWS rejects.
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws:iam::[0-9]{12}:(role|user)/[A-Za-z0-9_+=,.@/-]{1,512}$")
_INSTANCE_TYPE = re.compile(r"^(?P<family>[a-z]+(?P<gen>\d+)(?P<attrs>[a-z-]*))\.(?P<size>[a-z0-9]+)$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
# Environment variable names and values that carry secrets (GitHub, Hugging Face, OpenAI-style and
# AWS key formats), refused in env: the value would be written into templates in clear text.
_SECRET_NAME = re.compile(r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)(_|$)", re.IGNORECASE)
_SECRET_VALUES = (
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    re.compile(r"\b(ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^([0-9]+(s|m|h))+$")
# A NodePool's template labels: the CRD allows 100 (maxProperties); the blueprint's own take the rest.
MAX_POOL_LABELS = 90
# Namespaces that belong to Kubernetes or to the components this blueprint installs: no model is
# served in them, and no Bedrock role is handed to their service accounts (kube-system alone holds
# the CNI, kube-proxy, CoreDNS, the Pod Identity agent and Karpenter).
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "amazon-cloudwatch", "lws-system", "inference-metrics")
# The shortest node lifetime accepted: below it a model's start-up (up to ~40 min with Neuron
# compilation, infra.k8s.vllm.startup_budget_s) would not finish before Karpenter replaces the node.
MIN_EXPIRE_AFTER_S = 3600


def _seconds(duration: str) -> int:
    """A Go-style duration of s/m/h parts in seconds."""
    return sum(int(n) * {"s": 1, "m": 60, "h": 3600}[unit] for n, unit in re.findall(r"([0-9]+)([smh])", duration))


_AMI_VERSION = re.compile(r"^(latest|v?\d+(\.\d+){0,2}|v\d{8})$")


def _printable(text: str) -> str:
    """``text`` with every non-printable character written as its escape (``\\n``, ``\\x00``)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ConfigError(Exception):
    """A configuration problem, reported as ``<path>: <problem>; <what to do>``.

    ``more`` holds the other problems found in the same pass: ``lines()`` is every one of them, one
    line each, so a draft with nine mistakes shows nine.
    """

    def __init__(self, path: str, problem: str, fix: str, more: tuple[ConfigError, ...] = ()) -> None:
        # One line whatever the input held: control characters (a newline in a value) are escaped.
        path, problem, fix = (_printable(part) for part in (path, problem, fix))
        super().__init__(f"{path}: {problem}; {fix}")
        self.path = path
        self.problem = problem
        self.fix = fix
        self.more = more

    def lines(self) -> list[str]:
        return [str(self), *(str(e) for e in self.more)]


class Problem(ValueError):
    """Raised inside validators: the problem, what to do, and optionally the sub-key it is about."""

    def __init__(self, problem: str, fix: str, field: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.field = field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _json_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        """Numbers and booleans as JSON has them: pydantic would turn true into 1, 2.5e16 into an int
        and "3" into 3; a value of the wrong JSON type is an error instead."""
        kind = _scalar_kind(cls.model_fields[info.field_name or ""].annotation)
        if value is None or kind is None:
            return value
        if kind is bool and not isinstance(value, bool):
            raise Problem(f"must be true or false, got {_shown(value)}", "write true or false")
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise Problem(f"must be a whole number, got {_shown(value)}", "write a whole number")
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise Problem(f"must be a number, got {_shown(value)}", "write a number")
        return value


def _scalar_kind(annotation: Any) -> type | None:
    """``int``, ``float`` or ``bool`` when a field holds that scalar (or it or null), else None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] if typing.get_args(annotation) else [annotation]
    return args[0] if len(args) == 1 and args[0] in (int, float, bool) else None


def _tag_char(c: str) -> bool:
    """A character AWS allows in tag keys and values: a Unicode letter, digit or space, or _.:/=+-@."""
    return unicodedata.category(c)[0] in "LNZ" or c in "_.:/=+-@"


def _check_vllm_dtype(value: str | None) -> str | None:
    """``value`` when the pinned vLLM's ``--dtype`` accepts it (its choices, from the committed args table)."""
    if value is None:
        return value
    choices = serving_args.accepted_choices("--dtype")
    if value not in choices:
        hint = f"; for {value} weights set quantization ({QUANTIZED_WEIGHTS_HINT[value]})" if value in QUANTIZED_WEIGHTS_HINT else ""
        raise Problem(f"'{value}' is not a vLLM --dtype{hint}", f"use one of {', '.join(choices)} or leave it out (auto)")
    return value


# What vLLM's --dtype values mean for the planner's weight sizing (vllm/config/model.py: half is
# float16, float is float32, auto keeps the checkpoint's dtype).
_DTYPE_SIZING = {"auto": None, "half": "float16", "float16": "float16", "bfloat16": "bfloat16", "float": "float32", "float32": "float32"}
# Weight widths of quantization methods the planner can size: fp8 is 8-bit (online or checkpoint);
# AWQ is 4-bit only; GPTQ checkpoints are 4- or 8-bit, sized as 8 to stay on the safe side. Other
# methods are sized as the checkpoint's 16-bit weights (an overestimate).
_QUANTIZATION_SIZING = {"fp8": "fp8", "awq": "int4", "awq_marlin": "int4", "gptq": "int8", "gptq_marlin": "int8"}
QUANTIZED_WEIGHTS_HINT = {"fp8": "fp8", "int8": "gptq, with an 8-bit GPTQ checkpoint", "int4": "awq, with a 4-bit AWQ checkpoint"}


def sizing_dtype(dtype: str | None, quantization: str | None) -> str | None:
    """The weight dtype the planner sizes a model with, from its vLLM dtype and quantization."""
    if quantization in _QUANTIZATION_SIZING:
        return _QUANTIZATION_SIZING[quantization]
    return _DTYPE_SIZING.get(dtype or "auto")


def instance_arch(instance_type: str) -> str:
    """``arm64`` for Graviton types (a ``g`` among the family's attributes, e.g. m7g, c7gn), else ``x86_64``."""
    m = _INSTANCE_TYPE.match(instance_type)
    if not m:
        raise Problem(f"'{instance_type}' is not an EC2 instance type", "write it as family.size, e.g. m7i.large")
    return "arm64" if "g" in m.group("attrs") else "x86_64"


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise Problem(f"{value} is not a CloudWatch Logs retention period", f"use one of {allowed}")
    return value


class NetworkConfig(_Strict):
    """The VPC: AZ count, address plan, NAT gateways, endpoints, flow logs."""

    cidr: str = "10.0.0.0/16"
    az_count: int = Field(default=3, ge=2, le=6)
    nat_gateways: int | None = Field(default=None, ge=1, description="default: one per AZ")
    public_subnet_mask: int = Field(default=24, ge=16, le=28)
    private_subnet_mask: int = Field(default=19, ge=16, le=28)
    interface_endpoints: tuple[Literal[INTERFACE_ENDPOINTS], ...] = DEFAULT_INTERFACE_ENDPOINTS  # type: ignore[valid-type]
    flow_log_retention_days: int = 90

    _check_retention = field_validator("flow_log_retention_days")(_retention)

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        try:
            net = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise Problem(f"'{value}' is not an IPv4 network ({exc})", "use a CIDR such as 10.0.0.0/16") from None
        if not 16 <= net.prefixlen <= 24:
            raise Problem(f"a /{net.prefixlen} VPC is outside /16../24", "use a prefix between /16 and /24")
        # IANA special-purpose ranges (RFC 6890) that no VPC can route: loopback, link-local (where
        # instance metadata and the Pod Identity agent live), multicast, reserved, "this network".
        for kind, special in (
            ("loopback", net.is_loopback),
            ("link-local", net.is_link_local),
            ("multicast", net.is_multicast),
            ("reserved", net.is_reserved),
            ("'this network' (0.0.0.0/8)", net.subnet_of(ipaddress.IPv4Network("0.0.0.0/8"))),
        ):
            if special:
                raise Problem(f"{value} is a {kind} range, not one a VPC can use", "use an RFC 1918 range such as 10.0.0.0/16")
        return value

    @field_validator("interface_endpoints")
    @classmethod
    def _unique_endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        dupes = sorted({e for e in value if value.count(e) > 1})
        if dupes:
            raise Problem(f"{', '.join(dupes)} listed twice", "list each endpoint once")
        return value

    @model_validator(mode="after")
    def _plan(self) -> NetworkConfig:
        if self.nat_gateways is not None and self.nat_gateways > self.az_count:
            raise Problem(
                f"{self.nat_gateways} NAT gateways for {self.az_count} AZs",
                f"set nat_gateways to at most {self.az_count}",
                field="nat_gateways",
            )
        vpc = ipaddress.IPv4Network(self.cidr)
        needed = self.az_count * (2 ** (32 - self.public_subnet_mask) + 2 ** (32 - self.private_subnet_mask))
        if needed > vpc.num_addresses:
            raise Problem(
                f"{self.az_count} AZs x (/{self.public_subnet_mask} public + /{self.private_subnet_mask} private) "
                f"need {needed} addresses but {self.cidr} has {vpc.num_addresses}",
                "use a larger cidr, fewer AZs or longer subnet masks",
                field="private_subnet_mask",
            )
        return self

    @property
    def nat_gateway_count(self) -> int:
        return self.az_count if self.nat_gateways is None else self.nat_gateways


class SystemNodesConfig(_Strict):
    """The managed node group that runs Karpenter, CoreDNS and the cluster's controllers."""

    instance_types: tuple[str, ...] = Field(default=("m7i.large",), min_length=1)
    capacity_type: Literal["on-demand", "spot"] = "on-demand"
    min_size: int = Field(default=2, ge=1, le=20)
    desired_size: int | None = Field(default=None, ge=1, le=20, description="default: min_size")
    max_size: int = Field(default=4, ge=1, le=20)
    disk_size_gib: int = Field(default=50, ge=20, le=1000)

    @field_validator("instance_types")
    @classmethod
    def _types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not system_instances.known(name):
                close = difflib.get_close_matches(name, system_instances.names(), n=1, cutoff=0.7)
                hint = f"did you mean '{close[0]}'?" if close else "use a general-purpose type such as m7i.large or m7g.large"
                raise Problem(
                    f"'{name}' is not a general-purpose, compute or memory instance type EC2 lists "
                    "(infra/catalog/data/system-instance-types.json)",
                    hint,
                )
        arches = {instance_arch(t) for t in value}
        if len(arches) > 1:
            raise Problem("mixes Graviton (arm64) and x86_64 types", "use one architecture for the system nodes")
        return value

    @model_validator(mode="after")
    def _sizes(self) -> SystemNodesConfig:
        desired = self.desired_count
        if not self.min_size <= desired <= self.max_size:
            raise Problem(
                f"needs min_size <= desired_size <= max_size, got {self.min_size} <= {desired} <= {self.max_size}",
                "raise max_size or lower min_size/desired_size",
                field="max_size",
            )
        return self

    @property
    def desired_count(self) -> int:
        return self.min_size if self.desired_size is None else self.desired_size

    @property
    def arch(self) -> str:
        return instance_arch(self.instance_types[0])


class EksConfig(_Strict):
    """The EKS control plane, its access, logs, system nodes and add-ons."""

    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    endpoint_access: Literal["private", "public_and_private"] = "private"
    public_access_cidrs: tuple[str, ...] = ()
    admin_principal_arns: tuple[str, ...] = ()
    admin_role_names: tuple[str, ...] = Field(default=(), description="IAM roles of the environment's account, by name")
    allow_no_admins: bool = Field(default=False, description="accept a cluster that no IAM principal administers")
    control_plane_log_retention_days: int = 90
    system_nodes: SystemNodesConfig = SystemNodesConfig()
    addon_versions: dict[Literal[CORE_ADDONS], str] = Field(default_factory=dict)  # type: ignore[valid-type]

    _check_retention = field_validator("control_plane_log_retention_days")(_retention)

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in KUBERNETES:
            raise Problem(
                f"Kubernetes {value} is not pinned in this blueprint",
                f"use one of {', '.join(KUBERNETES)} (infra/catalog/versions.py)",
            )
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise Problem(f"'{cidr}' is not a network ({exc})", "use CIDRs such as 203.0.113.0/24") from None
            if net.prefixlen == 0:
                raise Problem(
                    f"'{cidr}' opens the Kubernetes API to the whole internet",
                    "list your office/VPN egress CIDRs, or set endpoint_access to private",
                )
        # However it is split (two /1s are 0.0.0.0/0), more than a /8 of addresses is not an allow-list.
        networks = [ipaddress.ip_network(cidr) for cidr in value]
        v4 = [n for n in networks if isinstance(n, ipaddress.IPv4Network)]
        v6 = [n for n in networks if isinstance(n, ipaddress.IPv6Network)]
        for version, collapsed, largest, limit in (
            (4, list(ipaddress.collapse_addresses(v4)), "/8", 2**24),
            (6, list(ipaddress.collapse_addresses(v6)), "/32", 2**96),
        ):
            total = sum(n.num_addresses for n in collapsed)
            if total > limit:
                raise Problem(
                    f"together these CIDRs open the Kubernetes API to {total:,} IPv{version} addresses, more than a {largest}",
                    "list your office/VPN egress CIDRs, or set endpoint_access to private",
                )
        return value

    @field_validator("admin_principal_arns")
    @classmethod
    def _principals(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for arn in value:
            if not _PRINCIPAL_ARN.match(arn):
                raise Problem(
                    f"'{arn}' is not an IAM role or user ARN",
                    "use arn:aws:iam::<account>:role/<name> or arn:aws:iam::<account>:user/<name>",
                )
        if len(set(value)) != len(value):
            raise Problem("lists a principal twice", "list each principal once")
        return value

    @field_validator("admin_role_names")
    @classmethod
    def _role_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            # IAM CreateRole RoleName: 1-64 of letters, digits and +=,.@_- (a role under a path: give its ARN instead).
            if not _ROLE_NAME.match(name):
                raise Problem(
                    f"'{name}' is not an IAM role name", "use the role's name (e.g. platform-admins); for a role under a path use its ARN"
                )
        if len(set(value)) != len(value):
            raise Problem("lists a role twice", "list each role once")
        return value

    @field_validator("addon_versions")
    @classmethod
    def _addon_versions(cls, value: dict[str, str]) -> dict[str, str]:
        for name, version in value.items():
            if not _ADDON_VERSION.match(version):
                raise Problem(
                    f"'{version}' is not an EKS add-on version",
                    f"use the form v1.2.3-eksbuild.1 (aws eks describe-addon-versions --addon-name {name})",
                    field=name,
                )
        return value

    @model_validator(mode="after")
    def _access(self) -> EksConfig:
        if self.endpoint_access == "public_and_private" and not self.public_access_cidrs:
            raise Problem(
                "a public endpoint needs the CIDRs allowed to reach it",
                "list them in public_access_cidrs, or set endpoint_access to private",
                field="public_access_cidrs",
            )
        if self.endpoint_access == "private" and self.public_access_cidrs:
            raise Problem(
                "is set but the endpoint is private",
                "remove public_access_cidrs, or set endpoint_access to public_and_private",
                field="public_access_cidrs",
            )
        if self.allow_no_admins and (self.admin_principal_arns or self.admin_role_names):
            raise Problem("is true but admins are listed", "remove allow_no_admins, or the admins", field="allow_no_admins")
        return self


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
        if value in SYSTEM_NAMESPACES:
            raise Problem(
                f"'{value}' belongs to Kubernetes or the blueprint's own components: every pod of that service account "
                "would hold Bedrock access",
                "give the workload that calls Bedrock a service account in its own namespace",
            )
        return value


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


class WeightsConfig(_Strict):
    """Where a model's weights come from: a prefix in the environment's model bucket, or a hub id."""

    s3_prefix: str | None = Field(default=None, description="key prefix in the environment's model bucket")
    hub_id: str | None = Field(default=None, description="e.g. meta-llama/Llama-3.1-8B-Instruct")
    hub_token_secret: str | None = Field(default=None, description="Kubernetes Secret (key 'token') in the serving namespace")

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
        if value is not None and not (_K8S_NAME.match(value) and len(value) <= 253):
            raise Problem(f"'{value}' is not a Kubernetes Secret name", "use a lowercase DNS name")
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

    @field_validator("name", "namespace")
    @classmethod
    def _name(cls, value: str) -> str:
        if not (_K8S_NAME.match(value) and len(value) <= 40):
            raise Problem(f"'{value}' is not a valid name", "use 1-40 of a-z, 0-9 and -, starting and ending alphanumeric")
        return value

    @field_validator("namespace")
    @classmethod
    def _not_system(cls, value: str) -> str:
        if value in SYSTEM_NAMESPACES:
            raise Problem(
                f"'{value}' belongs to Kubernetes or the blueprint's own components",
                "serve models in a namespace of their own, e.g. inference",
            )
        return value

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
                    "remove it; for a model hub token use weights.hub_token_secret (a Kubernetes Secret on EKS, "
                    "a Secrets Manager secret for unit pools)",
                )
        return value


class UnitWeightsConfig(_Strict):
    """Where an ECS unit's weights come from: a prefix in the environment's model bucket, or a hub id."""

    s3_prefix: str | None = Field(default=None, description="key prefix in the ECS stack's weights bucket; every member syncs it")
    hub_id: str | None = Field(default=None, description="e.g. meta-llama/Llama-3.1-70B-Instruct")
    hub_token_secret: str | None = Field(default=None, description="Secrets Manager secret name holding the hub token")

    _prefix = field_validator("s3_prefix")(WeightsConfig._prefix.__func__)  # type: ignore[attr-defined]
    _hub = field_validator("hub_id")(WeightsConfig._hub.__func__)  # type: ignore[attr-defined]

    @field_validator("hub_token_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[A-Za-z0-9/_+=.@-]{1,512}$", value):
            raise Problem(f"'{value}' is not a Secrets Manager secret name", "use the secret's name (letters, digits and /_+=.@-)")
        return value

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

    _image = field_validator("image")(ServedModelConfig._image.__func__)  # type: ignore[attr-defined]
    _env = field_validator("env")(ServedModelConfig._env.__func__)  # type: ignore[attr-defined]
    _dtype = field_validator("dtype")(ServedModelConfig._dtype.__func__)  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _capacity(self) -> UnitPoolConfig:
        needed = self.units * self.unit_size
        if self.max_instances is not None and needed > self.max_instances:
            raise Problem(
                f"{self.units} units of {self.unit_size} need {needed} instances but max_instances is {self.max_instances}",
                f"raise max_instances to at least {needed} or run fewer units",
                field="units",
            )
        return self

    @property
    def spec(self) -> instances.InstanceType:
        return instances.INSTANCE_TYPES[self.instance_type]

    @property
    def instances(self) -> int:
        """Instances the pool keeps running: every unit's members."""
        return self.units * self.unit_size

    @property
    def maximum(self) -> int:
        return self.max_instances if self.max_instances is not None else self.instances

    @property
    def slots(self) -> tuple[str, ...]:
        """The unit ids (``<pool>-<n>``) the topology Lambda writes and the services select on."""
        return tuple(f"{self.name}-{n}" for n in range(self.units))


class AlarmThresholds(_Strict):
    """Alarm thresholds; each one's default is what an on-call team would start from."""

    bedrock_throttle_rate_pct: float = Field(default=5.0, gt=0, le=100, description="throttled / invocations, 5-minute periods")
    bedrock_quota_utilization_pct: float = Field(default=80.0, gt=0, le=100, description="burndown-weighted TPM vs the configured quota")
    ttft_p90_seconds: float = Field(default=2.0, gt=0, le=600, description="vLLM time to first token, p90")
    waiting_requests: int = Field(default=20, ge=1, description="vLLM requests waiting, sustained 15 minutes")
    accelerator_utilization_floor_pct: float = Field(
        default=10.0, ge=0, lt=100, description="GPU/NeuronCore utilization below this for an hour"
    )
    unhealthy_units: int = Field(default=1, ge=1, description="ECS inference units unhealthy")


class ObservabilityConfig(_Strict):
    """Dashboards and alarms for the environment, alarms to one encrypted SNS topic."""

    alarm_email: str | None = None
    thresholds: AlarmThresholds = AlarmThresholds()
    vllm_latency: bool = Field(
        default=True,
        description="collect vLLM latency histograms over CloudWatch OTLP (PromQL charts, TTFT alarm); off where OTLP is unavailable",
    )
    bedrock_tpm_quotas: dict[str, int] = Field(default_factory=dict, description="model key -> tokens-per-minute quota granted")

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise Problem(f"'{value}' is not an email address", "give the on-call address, or leave alarm_email out")
        return value

    @field_validator("bedrock_tpm_quotas")
    @classmethod
    def _quotas(cls, value: dict[str, int]) -> dict[str, int]:
        for key, tpm in value.items():
            if bedrock_catalog.model(key) is None:
                raise Problem(
                    f"'{key}' is not a catalogued Bedrock model", f"use one of {', '.join(sorted(bedrock_catalog.MODELS))}", field=key
                )
            if tpm <= 0:
                raise Problem(f"quota {tpm} is not positive", "give the tokens-per-minute quota Service Quotas shows", field=key)
        return value


class EnvironmentConfig(_Strict):
    """One deployable environment: where it goes and what it runs."""

    name: str
    region: str
    account: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    network: NetworkConfig = NetworkConfig()
    eks: EksConfig = EksConfig()
    node_pools: tuple[NodePoolConfig, ...] = ()
    bedrock: BedrockConfig | None = None
    models: tuple[ServedModelConfig, ...] = ()
    unit_pools: tuple[UnitPoolConfig, ...] = ()
    unit_log_retention_days: int = 90
    observability: ObservabilityConfig = ObservabilityConfig()
    budget_usd_per_hour: float | None = Field(default=None, gt=0, description="fail synth when the standing cost is above this")

    @model_validator(mode="before")
    @classmethod
    def _name_from_key(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and info.context:
            if "name" in data:
                raise Problem("is taken from the environment's key", "remove it", field="name")
            data = {**data, "name": info.context["name"]}
        return data

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if regions.region(value) is None:
            raise Problem(f"'{value}' is not a known AWS region", "use a region from infra/catalog/regions.py")
        return value

    _unit_retention = field_validator("unit_log_retention_days")(_retention)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        # AWS tagging rules (Tagging AWS resources, "Tag naming limits and requirements"): at most 50
        # tags per resource (the blueprint adds one), keys 1-128 and values 0-256 characters of
        # letters, digits, spaces and _ . : / = + - @, and no key starting with aws: (reserved).
        if len(value) > 49:
            raise Problem(f"{len(value)} tags; with inference-blueprint:environment that is over AWS's 50", "keep at most 49")
        for key, text in value.items():
            if not key:
                raise Problem("a tag key is empty", "give every tag a key")
            if len(key) > 128:
                raise Problem(f"tag key {key[:20]!r}... is {len(key)} characters", "keep tag keys to 128 characters")
            if key.lower().startswith("aws:"):
                raise Problem(f"tag key {key!r} starts with aws:, which AWS reserves", "use another prefix")
            if len(text) > 256:
                raise Problem(f"the value of tag {key!r} is {len(text)} characters", "keep tag values to 256 characters")
            bad = sorted({c for c in key + text if not _tag_char(c)})
            if bad:
                raise Problem(
                    f"tag {key!r} has characters AWS does not allow in tags: {''.join(bad)!r}",
                    "use letters, digits, spaces and _ . : / = + - @",
                )
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise Problem(f"'{value}' is not a 12-digit AWS account id", "use the 12 digits, or leave it out")
        return value

    @model_validator(mode="after")
    def _fits_region(self) -> EnvironmentConfig:
        available = regions.REGIONS[self.region].az_count
        if self.network.az_count > available:
            raise Problem(
                f"{self.network.az_count} AZs asked but {self.region} has {available}",
                f"set network.az_count to {available} or fewer",
                field="network.az_count",
            )
        if not (self.eks.admin_principal_arns or self.eks.admin_role_names or self.eks.allow_no_admins):
            raise Problem(
                "no IAM principal would be a cluster admin: only the stack's kubectl provider could use the Kubernetes API",
                "add your administrators to eks.admin_principal_arns (ARNs) or eks.admin_role_names (roles of this account), "
                "or set eks.allow_no_admins to true to accept that",
                field="eks.admin_principal_arns",
            )
        for index, name in enumerate(self.eks.system_nodes.instance_types):
            if system_instances.offered_in(name, self.region) is False:
                raise Problem(
                    f"{name} is not offered in {self.region}",
                    "use a type EC2 offers there (aws ec2 describe-instance-type-offerings --region " + self.region + ")",
                    field=f"eks.system_nodes.instance_types[{index}]",
                )
        configured = {access.model for access in self.bedrock.models} if self.bedrock else set()
        for key in self.observability.bedrock_tpm_quotas:
            if key not in configured:
                raise Problem(
                    f"a quota for {key}, which this environment's bedrock.models does not list",
                    f"add {key} to bedrock.models or remove its quota",
                    field=f'observability.bedrock_tpm_quotas["{key}"]'
                    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key)
                    else f"observability.bedrock_tpm_quotas.{key}",
                )
        self._check_pools()
        self._check_bedrock()
        self._check_models()
        self._check_units()
        return self

    def pool(self, name: str) -> NodePoolConfig | None:
        return next((p for p in self.node_pools if p.name == name), None)

    def plan(self, model: ServedModelConfig) -> planner.Plan:
        """The planner's layout for ``model`` on its pool: the given instance type, else the smallest that fits."""
        pool = self.pool(model.pool)
        assert pool is not None
        if model.instance_type is not None:
            candidates = [model.instance_type]
        else:
            candidates = [t.name for t in sorted(pool.types, key=lambda t: (t.total_accelerator_memory_gib, t.vcpus))]
        # One node on any type of the pool before several: a group across nodes is slower and needs
        # EFA, so it is only tried on an EFA pool and only when no single node holds the model.
        passes: list[int | None] = [model.nodes] if model.nodes is not None else [1, *([None] if pool.efa else [])]
        max_nodes = planner.MAX_NODES if pool.efa else 1
        last: planner.PlanError | None = None
        for nodes, instance_type in ((n, t) for n in passes for t in candidates):
            try:
                return planner.plan(
                    model.architecture,
                    instance_type,
                    nodes=nodes,
                    tensor_parallel=model.tensor_parallel,
                    pipeline_parallel=model.pipeline_parallel,
                    max_model_len=model.max_model_len,
                    dtype=sizing_dtype(model.dtype, model.quantization),
                    gpu_memory_utilization=model.gpu_memory_utilization,
                    max_nodes=max_nodes,
                )
            except planner.PlanError as exc:
                last = exc
        assert last is not None
        if not pool.efa and model.nodes is None:
            raise planner.PlanError(
                f"{last.problem}; pool '{pool.name}' has no EFA for a group across nodes",
                f"{last.fix}, or serve it from an efa pool as a multi-node group",
                last.field,
            )
        raise last

    def _check_models(self) -> None:
        names: dict[tuple[str, str], int] = {}
        for index, model in enumerate(self.models):
            where = f"models[{index}]"
            key = (model.namespace, model.name)
            if key in names:
                raise Problem(
                    f"'{model.name}' is also served by models[{names[key]}] in {model.namespace}",
                    "give each model its own name",
                    field=f"{where}.name",
                )
            names[key] = index
            pool = self.pool(model.pool)
            if pool is None:
                known = ", ".join(p.name for p in self.node_pools) or "none are configured"
                raise Problem(
                    f"pool '{model.pool}' does not exist", f"use one of this environment's node_pools ({known})", field=f"{where}.pool"
                )
            if model.instance_type is not None and model.instance_type not in {t.name for t in pool.types}:
                raise Problem(
                    f"{model.instance_type} is not in pool '{pool.name}'",
                    f"use one of {', '.join(t.name for t in pool.types)}",
                    field=f"{where}.instance_type",
                )
            try:
                plan = self.plan(model)
            except planner.PlanError as exc:
                raise Problem(exc.problem, exc.fix, field=f"{where}.{exc.field or 'architecture'}") from None
            if plan.layout.nodes > 1 and pool.accelerator == "neuron":
                raise Problem(
                    f"needs {plan.layout.nodes} Neuron nodes; one vLLM group across Neuron nodes on EKS is not supported",
                    "use a larger Neuron type (e.g. trn2.48xlarge) for one node, or an ECS inference unit",
                    field=f"{where}.nodes",
                )
            if plan.layout.nodes > 1 and not pool.efa:
                raise Problem(
                    f"spans {plan.layout.nodes} nodes but pool '{pool.name}' has no EFA",
                    "serve multi-node models from an efa pool, or fit the model on one node",
                    field=f"{where}.pool",
                )

    def plan_unit(self, pool: UnitPoolConfig) -> planner.Plan:
        """The planner's layout for a unit pool's model across one unit's instances."""
        return planner.plan(
            pool.architecture,
            pool.instance_type,
            nodes=pool.unit_size,
            tensor_parallel=pool.tensor_parallel,
            pipeline_parallel=pool.pipeline_parallel,
            max_model_len=pool.max_model_len,
            dtype=sizing_dtype(pool.dtype, None),
        )

    def _check_units(self) -> None:
        seen: dict[str, int] = {}
        for index, pool in enumerate(self.unit_pools):
            where = f"unit_pools[{index}]"
            if pool.name in seen:
                raise Problem(
                    f"unit pool name '{pool.name}' is also used by unit_pools[{seen[pool.name]}]",
                    "give each unit pool its own name",
                    field=f"{where}.name",
                )
            seen[pool.name] = index
            if not instances.offered_in(pool.spec.family, self.region):
                offered = ", ".join(instances.regions_offering(pool.spec.family)) or "no catalogued region"
                raise Problem(
                    f"{pool.instance_type} is not offered in {self.region}",
                    f"use a type this region offers, or a region that offers {pool.spec.family} ({offered})",
                    field=f"{where}.instance_type",
                )
            if pool.az_index >= self.network.az_count:
                raise Problem(
                    f"AZ index {pool.az_index} but the VPC has {self.network.az_count} AZs",
                    f"use 0..{self.network.az_count - 1}",
                    field=f"{where}.az_index",
                )
            try:
                self.plan_unit(pool)
            except planner.PlanError as exc:
                field = {"nodes": "unit_size"}.get(exc.field or "", exc.field or "architecture")
                raise Problem(exc.problem, exc.fix, field=f"{where}.{field}") from None

    def _check_bedrock(self) -> None:
        if self.bedrock is None:
            return
        for index, access in enumerate(self.bedrock.models):
            problem = bedrock_policy.validate_request(access.model, access.scope, self.region)
            if problem:
                text, _, fix = problem.partition("; ")
                field = "model" if bedrock_catalog.model(access.model) is None else "scope"
                raise Problem(text, fix or "check infra/catalog/bedrock.py", field=f"bedrock.models[{index}].{field}")
        self.bedrock.invocation_logging.check_text_chosen()

    def _check_pools(self) -> None:
        seen: dict[str, int] = {}
        efa_types: dict[str, str] = {}
        for index, pool in enumerate(self.node_pools):
            where = f"node_pools[{index}]"
            if pool.name in seen:
                raise Problem(
                    f"pool name '{pool.name}' is also used by node_pools[{seen[pool.name]}]",
                    "give each pool its own name",
                    field=f"{where}.name",
                )
            seen[pool.name] = index
            for family in pool.families:
                if not instances.offered_in(family, self.region):
                    offered = ", ".join(instances.regions_offering(family)) or "no catalogued region"
                    raise Problem(
                        f"{family} is not offered in {self.region}",
                        f"remove it from this environment's pools or use a region that offers it ({offered})",
                        field=f"{where}.{'instance_families' if family in pool.instance_families else 'instance_types'}",
                    )
            if pool.efa:
                if pool.efa_az_index >= self.network.az_count:
                    raise Problem(
                        f"AZ index {pool.efa_az_index} but the VPC has {self.network.az_count} AZs",
                        f"use 0..{self.network.az_count - 1}",
                        field=f"{where}.efa_az_index",
                    )
                for spec in pool.types:
                    if spec.name in efa_types:
                        raise Problem(
                            f"{spec.name} is also in EFA pool '{efa_types[spec.name]}'",
                            "give each EFA instance type to one pool, so a group never spans two placement groups",
                            field=f"{where}.instance_types",
                        )
                    efa_types[spec.name] = pool.name

    def stack_name(self, part: str) -> str:
        """The contract stack name ``inference-<env>-<part>``."""
        return f"inference-{self.name}-{part}"

    @property
    def cluster_name(self) -> str:
        return f"inference-{self.name}"


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _path(loc: tuple[int | str, ...]) -> str:
    """``network.cidr``, ``models[0]``; a key that is not a plain name is quoted: ``tags["a;b"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.match(part):
            out += f"[{json.dumps(part)}]"
        else:
            out += f".{part}" if out else part
    return out


_HINTS = {
    "extra_forbidden": ("unknown key", "remove it or fix its spelling (see the configuration reference in README.md)"),
    "missing": ("required key is missing", "add it"),
}
# pydantic's error types in the words of someone editing JSON.
_KINDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "an object ({...})",
    "model_type": "an object ({...})",
    "model_attributes_type": "an object ({...})",
    "tuple_type": "a list ([...])",
    "list_type": "a list ([...])",
}
_BOUNDS = {
    "greater_than": "more than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
    "too_short": "at least {min_length} item(s)",
    "too_long": "at most {max_length} item(s)",
    "string_pattern_mismatch": "text matching {pattern}",
}


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The configuration blocks an annotation holds (``X``, ``X | None``, ``tuple[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


@functools.cache
def _known_keys() -> tuple[str, ...]:
    """Every key any configuration block accepts, for "did you mean"."""
    keys: set[str] = set()
    seen: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [EnvironmentConfig]
    while pending:
        model = pending.pop()
        seen.add(model)
        for name, info in model.model_fields.items():
            keys.add(name)
            pending.extend(m for m in _models_in(info.annotation) if m not in seen)
    return tuple(sorted(keys))


def _shown(value: Any) -> str:
    """A value as JSON, or its size when the JSON would not fit on an error line."""
    text = json.dumps(value, default=str)
    if len(text) <= 80:
        return text
    if isinstance(value, (list, tuple, dict)):
        return f"{len(value)} {'entries' if isinstance(value, dict) else 'items'}"
    return text[:77] + "..."


def _translate(err: Mapping[str, Any], prefix: str) -> ConfigError:
    # pydantic adds "[key]" for a bad mapping key and "function-..." for wrapped validators.
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p == "[key]" or p.startswith("function-"))))
    path = ".".join(x for x in (prefix, _path(loc)) if x)
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, Problem):
        if cause.field:
            path = f"{path}.{cause.field}"
        return ConfigError(path, cause.problem, cause.fix)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        close = difflib.get_close_matches(key, _known_keys(), n=1, cutoff=0.75)
        fix = f"did you mean '{close[0]}'?" if close else _HINTS[kind][1]
        return ConfigError(path, f"unknown key '{key}'", fix)
    if kind in _HINTS:
        problem, fix = _HINTS[kind]
        return ConfigError(path, problem, fix)
    if kind == "literal_error":
        return ConfigError(path, f"{err['input']!r} is not allowed", f"use {err['ctx']['expected']}")
    got = _shown(err["input"])
    if kind in _KINDS:
        return ConfigError(path, f"must be {_KINDS[kind]}, got {got}", f"write {_KINDS[kind]}")
    if kind in _BOUNDS:
        wanted = _BOUNDS[kind].format(**(err.get("ctx") or {}))
        verb = "have" if kind in ("too_short", "too_long") else "be"
        return ConfigError(path, f"must {verb} {wanted}, got {got}", "change the value")
    return ConfigError(path, f"{err['msg'].lower()} (got {got})", "fix the value")


def validate_environment(name: str, raw: Any) -> EnvironmentConfig:
    """Validate one environment's raw mapping; raises ConfigError with the full key path."""
    prefix = f"environments.{name}"
    if not _ENV_NAME.match(name):
        raise ConfigError(prefix, "environment names are 1-20 of a-z, 0-9 and -, starting with a letter", "rename it")
    if not isinstance(raw, dict):
        raise ConfigError(prefix, f"expected a mapping, got {type(raw).__name__}", "write the environment as a JSON object")
    try:
        return EnvironmentConfig.model_validate(raw, context={"name": name})
    except ValidationError as exc:
        # Every problem once, in the order pydantic found them.
        first, *rest = {str(e): e for e in (_translate(err, prefix) for err in exc.errors())}.values()
        raise ConfigError(first.path, first.problem, first.fix, tuple(rest)) from None


def _context_str(context: Mapping[str, Any], key: str) -> str | None:
    value = context.get(key)
    if value is None or value == "":
        return None
    return str(value)


def load(context: Mapping[str, Any]) -> EnvironmentConfig:
    """The validated configuration of the environment the context selects."""
    environments = context.get("environments")
    if not isinstance(environments, dict) or not environments:
        raise ConfigError("context.environments", "no environments defined", "define them in cdk.json under context.environments")

    env = _context_str(context, "env") or DEFAULT_ENV
    if env not in environments:
        raise ConfigError(
            "context.env",
            f"no environment named '{env}'",
            f"use one of {', '.join(sorted(environments))} (cdk.json context.environments)",
        )
    raw = environments[env]
    if not isinstance(raw, dict):
        raise ConfigError(f"environments.{env}", f"expected a mapping, got {type(raw).__name__}", "write the environment as a JSON object")
    raw = dict(raw)

    region = _context_str(context, "region")
    if region is not None:
        if regions.region(region) is None:
            raise ConfigError(
                "context.region", f"'{region}' is not a known AWS region", "pass -c region=<a region from infra/catalog/regions.py>"
            )
        raw["region"] = region
    account = _context_str(context, "account")
    if account is not None:
        if not _ACCOUNT.match(account):
            raise ConfigError(
                "context.account", f"'{account}' is not a 12-digit AWS account id", "pass -c account=<12 digits> or leave it out"
            )
        raw["account"] = account

    config = validate_environment(env, raw)
    # Rules over the whole validated environment: the serving deployability check, then the budget.
    from infra import cost, serving_plan

    found = [ConfigError(f"environments.{env}.{path}", problem, fix) for path, problem, fix in serving_plan.problems(config)]
    if found:
        raise ConfigError(found[0].path, found[0].problem, found[0].fix, tuple(found[1:]))
    over_budget = cost.budget_problem(config, cost.estimate(config))
    if over_budget is not None:
        raise ConfigError(
            f"environments.{env}.budget_usd_per_hour",
            over_budget,
            "raise the budget, or lower replicas, system nodes or unit pools (make plan ENV=" + env + " itemizes it)",
        )
    return config
