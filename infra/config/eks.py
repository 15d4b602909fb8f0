"""The ``eks`` block: control plane, access, logs, system nodes and add-ons (``infra.constructs.cluster``)."""

from __future__ import annotations

import difflib
import ipaddress
import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.catalog import system_instances
from infra.catalog.versions import CORE_ADDONS, DEFAULT_KUBERNETES_VERSION, KUBERNETES
from infra.config.base import _ADDON_VERSION, _PRINCIPAL_ARN, _ROLE_NAME, Problem, _retention, _Strict, instance_arch


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


# What a VPC may use (Amazon VPC User Guide, "VPC CIDR blocks": RFC 1918 ranges and RFC 6598's
# 100.64.0.0/10) and IPv6 unique local addresses (RFC 4193).
_PRIVATE_RANGES = tuple(ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
_CERTIFICATE_ARN = re.compile(r"^arn:aws:acm:(?P<region>[a-z]{2}(-[a-z]+)+-\d):(?P<account>[0-9]{12}):certificate/[0-9a-f-]{36}$")


class FrontDoorConfig(_Strict):
    """The gateway every EKS-served model is reached through (``infra.constructs.front_door``).

    An internal NLB in front of agentgateway, which checks the serving API key, reads the ``model``
    of each OpenAI-compatible request and sends it to that model's InferencePool, whose endpoint
    picker chooses the replica by queue and KV-cache load."""

    enabled: bool = True
    certificate_arn: str | None = Field(default=None, description="ACM certificate: the NLB terminates TLS on 443")
    allowed_cidrs: tuple[str, ...] = Field(default=(), description="who may reach the NLB; default: the VPC's CIDR")
    proxy_replicas: int = Field(default=2, ge=1, le=20)
    epp_replicas: int = Field(default=1, ge=1, le=5, description="per model; more than 1 elects a leader")

    @field_validator("certificate_arn")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        if value is not None and not _CERTIFICATE_ARN.match(value):
            raise Problem(
                f"'{value}' is not an ACM certificate ARN",
                "use arn:aws:acm:<region>:<account>:certificate/<id> of a certificate in the environment's region",
            )
        return value

    @field_validator("allowed_cidrs")
    @classmethod
    def _allowed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError as exc:
                raise Problem(f"'{cidr}' is not a network ({exc})", "use CIDRs such as 10.0.0.0/16") from None
            if not any(net.version == r.version and net.subnet_of(r) for r in _PRIVATE_RANGES):  # type: ignore[arg-type]
                raise Problem(
                    f"'{cidr}' is not a private network, and the front door's NLB is internal",
                    "list the private CIDRs of the VPCs or networks your clients call from",
                )
        return value

    @property
    def certificate_region(self) -> str | None:
        match = _CERTIFICATE_ARN.match(self.certificate_arn or "")
        return match["region"] if match else None


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
    front_door: FrontDoorConfig = FrontDoorConfig()

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
