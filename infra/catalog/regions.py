"""Commercial AWS regions the blueprint can target, with their Availability Zone counts.

Source: AWS "Regions and Availability Zones" table (docs.aws.amazon.com/global-infrastructure/
latest/regions/aws-regions.html: code, AZs, opt-in status) and botocore's partitions.json for the
list of ``aws``-partition regions, checked 2026-11. ``az_count`` is the number of AZs a new account
sees (us-west-1 shows new accounts 2 of its 3; ap-northeast-1 3 of its 4). The VPC never names
AZs itself: it picks the first ``az_count`` entries of ``Fn::GetAZs`` at deploy time, so this
table only bounds what a configuration may ask for.
``opt_in`` regions must be enabled in the account before anything deploys there.

China and GovCloud partitions are out of scope: their ARNs, endpoints and service sets differ.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Region:
    name: str
    az_count: int
    opt_in: bool = False


_REGIONS = (
    Region("us-east-1", 6),
    Region("us-east-2", 3),
    Region("us-west-1", 2),
    Region("us-west-2", 4),
    Region("ca-central-1", 3),
    Region("ca-west-1", 3, opt_in=True),
    Region("mx-central-1", 3, opt_in=True),
    Region("sa-east-1", 3),
    Region("eu-central-1", 3),
    Region("eu-central-2", 3, opt_in=True),
    Region("eu-west-1", 3),
    Region("eu-west-2", 3),
    Region("eu-west-3", 3),
    Region("eu-north-1", 3),
    Region("eu-south-1", 3, opt_in=True),
    Region("eu-south-2", 3, opt_in=True),
    Region("il-central-1", 3, opt_in=True),
    Region("me-south-1", 3, opt_in=True),
    Region("me-central-1", 3, opt_in=True),
    Region("af-south-1", 3, opt_in=True),
    Region("ap-east-1", 3, opt_in=True),
    Region("ap-east-2", 3, opt_in=True),
    Region("ap-south-1", 3),
    Region("ap-south-2", 3, opt_in=True),
    Region("ap-northeast-1", 3),
    Region("ap-northeast-2", 4),
    Region("ap-northeast-3", 3),
    Region("ap-southeast-1", 3),
    Region("ap-southeast-2", 3),
    Region("ap-southeast-3", 3, opt_in=True),
    Region("ap-southeast-4", 3, opt_in=True),
    Region("ap-southeast-5", 3, opt_in=True),
    Region("ap-southeast-6", 3, opt_in=True),
    Region("ap-southeast-7", 3, opt_in=True),
)

REGIONS: dict[str, Region] = {r.name: r for r in _REGIONS}


def region(name: str) -> Region | None:
    """The catalog entry for ``name``, or None when the region is unknown."""
    return REGIONS.get(name)
