"""The ``network`` block: the VPC, its subnets, NAT gateways, endpoints and flow logs (``infra.constructs.network``)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from infra.config.base import DEFAULT_INTERFACE_ENDPOINTS, INTERFACE_ENDPOINTS, Problem, _retention, _Strict


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
