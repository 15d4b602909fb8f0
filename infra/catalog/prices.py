"""On-demand list prices for the cost estimate ``make plan`` prints: EC2 instances, EKS, NAT, endpoints, NLB, gp3.

Currency: USD. EC2 prices are Linux, shared tenancy, no pre-installed software, on-demand, per
instance-hour. Spot, Savings Plans, Reserved Instances, Capacity Blocks (ML), dedicated hosts,
private or EDP pricing and tax are all excluded. Service prices are the fixed hourly part only: data
processing, LCUs/NLCUs, public IPv4 addresses and data transfer are extra. AWS changes these prices
(the p4d/p5 rates below are already the reduced 2025 ones), so re-check every row when bumping
``PRICE_DATE``.
Nothing here calls AWS; the numbers are literal and were read on ``PRICE_DATE`` from the sources
below.

Sources (all read 2026-11-29; except where a third-party guide is named, each traces back to the AWS Price List
API, offer files
``https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/<offer>/current/<region>/index.{json,csv}``):

[K] us-east-1 EC2: aws/karpenter-provider-aws ``pkg/providers/pricing/zz_generated.pricing_aws.go`` at
    commit 6fc13b5236fd, "generated at 2026-07-20T13:44:30Z for us-east-1" from the AWS Price List
    API (OnDemand, Linux, Shared tenancy, preInstalledSw NA, capacitystatus Used).
[S] us-east-2, us-west-2, af-south-1 EC2: skypilot-org/skypilot-catalog ``catalogs/v9/aws/vms.csv`` at
    commit 2c3d7ea7d76bf84cf80d382e946c1609571485fd, column ``Price``, written by SkyPilot's
    ``fetch_aws.py`` from the AmazonEC2 bulk CSV (OnDemand, Linux, no pre-installed software,
    CapacityStatus Used). The snapshot carries no date of its own; its us-east-1 rows equal [K]
    for every type listed here, so it already has the reduced 2025 p4d/p5 prices. The m5.large,
    m5.xlarge and m5.2xlarge rows were read from [K] (us-east-1) and [S] (all four regions, equal
    to [K] in us-east-1) and agree with [W]'s ec2 map.
[W] QuinnyPig/aws-price-watcher, read at commit a6645eb2e53e (2025-06-18): daily snapshots of the
    regional price maps behind the AWS pricing pages
    (``https://b0.p.awsstatic.com/pricing/2.0/meteredUnitMaps/<service>/USD/current/<service>.json``),
    each row a Price List rate code ``<SKU>.JRTCKXETXF.6YS6EN2CT7`` (JRTCKXETXF = OnDemand).
    ``raw/elb.json`` (ELB offer published 2025-06-05, commit daa3fca6cad0): "Network Load
    Balancer Hours" (NLCU-hours are the separate "Network Load Balancer LCU Hours" row).
    ``raw/vpc.json`` (VPC offer published 2025-06-13, commit 37d5030bc8c8): "Hourly charge for
    VPC Endpoints per Hrs" (the ``<prefix>-VpcEndpoint-Hours`` interface-endpoint rate).
    ``processed/ec2.json`` (commit 07c8174c4b4c, 2025-06-13): "OnDemand Linux" instance prices.
    Older than ``PRICE_DATE``, but every EC2 row of this table that [W]'s ec2 map also lists (143
    of 150) and the us-east-1/us-west-2 interface-endpoint rates above agree with it.
[P] Services and gp3. The AWS pricing pages render their regional tables client-side, so these are
    AWS Price List rows (usage type / SKU / description) as quoted in public repositories' cost
    docs and test fixtures, plus AWS pricing/FAQ pages and third-party guides where noted:
    - AmazonEKS us-east-1 ``USE1-AmazonEKS-Hours:perCluster`` 0.10 (offer published 2026-09-28) and
      AmazonEKS us-west-2 0.10 (read 2026-10-04); aws.amazon.com/eks/faqs and the EKS pricing page
      state "$0.10 per hour for each Amazon EKS cluster" (standard support; extended support
      is $0.60) with no regional variation, which is the only source for us-east-2 and af-south-1.
    - NAT gateway: AmazonEC2 us-east-1 "$0.045 per NAT Gateway Hour" (SKU M2YSHUBETB3JX4M4,
      effective 2026-08-01); us-west-2 ``USW2-NatGateway-Hours`` 0.045 (read 2026-10-04); us-east-2
      0.045 from third-party guides that name Ohio (cloudburn.io/blog/aws-nat-gateway-pricing,
      2026-02; rajesh.medampudi.com/blog/aws-nat-gateway-hidden-tax).
    - Interface endpoint: AmazonVPC us-east-1 ``USE1-VpcEndpoint-Hours`` 0.01 (offer published
      2026-09-17) and us-west-2 ``USW2-VpcEndpoint-Hours`` 0.01 (read 2026-10-06); billed per
      endpoint per AZ (aws.amazon.com/privatelink/pricing: "Pricing per VPC endpoint per AZ").
    - Interface endpoint, us-east-2 and af-south-1: [W] vpc "Hourly charge for VPC Endpoints per
      Hrs", US East (Ohio) 0.01 (SKU P2Q7Y6KZKKFAHEVG) and Africa (Cape Town) 0.01309 (SKU
      8ZMGRUS7QT5EM7NR). A public AWS Network Firewall traffic-analyser script
      (traffic_analyzer.py, table INTERFACE_ENDPOINT_PRICING, "Source: AWS Price List API
      (ServiceCode AmazonVPC, usagetype '<region>-VpcEndpoint-Hours'), validated 2026-08-21")
      quotes the same two rates.
    - NLB: [W] elb "Network Load Balancer Hours": US East (N. Virginia) 0.0225 (SKU
      YKBGGP5EBGDU9T5W), US East (Ohio) 0.0225 (SKU 3KH8NB2MDHMS75NZ), US West (Oregon) 0.0225
      (SKU SCYRS8C539B49TTY), Africa (Cape Town) 0.03 (SKU YJM397J7M2PPNQM7). The us-east-1
      rate matches third-party guides (clustercost.com/blog/network-load-balancer-pricing-2025,
      "AWS Network Load Balancer Pricing (US-East-1 2025 Guide)";
      awsnegotiations.com/elastic-load-balancer-cost.html, 2026-05).
    - EBS gp3: AmazonEC2 "$0.08 per GB-month of General Purpose (gp3) provisioned storage" for
      US East (N. Virginia) (SKU JG3KUJMBRGHV3N8G) and US East (Ohio) (SKU M6UGCCQ3CDJQAA37,
      effective 2023-03-01); us-west-2 ``USW2-EBS:VolumeUsage.gp3`` 0.08 (read 2026-10-04);
      af-south-1 "$0.1047 per GB-month ... - Africa (Cape Town)" (SKU XWCTMRRUJM7TGYST, offer
      published 2024-07-05).

Missing, deliberately left out (a caller must treat a missing key as "price unknown", not zero):
    - p5e.48xlarge and trn2.48xlarge in every region: the Price List has rows for them (p5e in
      us-east-2/us-west-2, trn2 in us-east-2) but no on-demand price; they are sold through EC2
      Capacity Blocks for ML only.
    - af-south-1 accelerator types (g5, g6, g6e, p4d, p5, p5en, inf2, trn1, trn1n): not offered
      there; only the general-purpose system-node types are listed for af-south-1.
    - SERVICE_USD_PER_HOUR: af-south-1 nat_gateway. No region-specific source was found: [W]
      has no NAT gateway map, [S] and [K] are EC2-instance only, and the one public table seen
      that lists af-south-1 (at 0.045) gives 0.045 for every region, Tokyo and Sao Paulo
      included, so it is a placeholder rather than a regional price.
"""

from __future__ import annotations

PRICE_DATE = "2026-11-29"
PRICE_SOURCE = (
    "AWS Price List API via aws/karpenter-provider-aws zz_generated.pricing_aws.go@6fc13b5 (us-east-1, generated 2026-07-20) "
    "and skypilot-org/skypilot-catalog catalogs/v9/aws/vms.csv@2c3d7ea (us-east-2, us-west-2, af-south-1); service and gp3 "
    "rates from AWS Price List rows and AWS pricing pages as quoted in the module docstring, NLB and interface-endpoint rates "
    "via QuinnyPig/aws-price-watcher@a6645eb (AWS pricing-page maps, 2025-06); read 2026-11-29"
)

# Types offered identically priced in us-east-1, us-east-2 and us-west-2 ([K] for us-east-1, [S] for the other two;
# every value below was read separately for each of the three regions and they are equal).
_US_ACCELERATED: dict[str, float] = {
    "g5.xlarge": 1.006,
    "g5.2xlarge": 1.212,
    "g5.4xlarge": 1.624,
    "g5.8xlarge": 2.448,
    "g5.12xlarge": 5.672,
    "g5.16xlarge": 4.096,
    "g5.24xlarge": 8.144,
    "g5.48xlarge": 16.288,
    "g6.xlarge": 0.8048,
    "g6.2xlarge": 0.9776,
    "g6.4xlarge": 1.3232,
    "g6.8xlarge": 2.0144,
    "g6.12xlarge": 4.6016,
    "g6.16xlarge": 3.3968,
    "g6.24xlarge": 6.6752,
    "g6.48xlarge": 13.3504,
    "g6e.xlarge": 1.861,
    "g6e.2xlarge": 2.24208,
    "g6e.4xlarge": 3.00424,
    "g6e.8xlarge": 4.52856,
    "g6e.12xlarge": 10.49264,
    "g6e.16xlarge": 7.57719,
    "g6e.24xlarge": 15.06559,
    "g6e.48xlarge": 30.13118,
    # p4d.24xlarge differs only in rounding between the sources; set per region below.
    "p5.48xlarge": 55.04,
    # p5e.48xlarge: no on-demand price in any region (Capacity Blocks only).
    "p5en.48xlarge": 63.296,
    "inf2.xlarge": 0.7582,
    "inf2.8xlarge": 1.96786,
    "inf2.24xlarge": 6.49063,
    "inf2.48xlarge": 12.98127,
    "trn1.2xlarge": 1.34375,
    "trn1.32xlarge": 21.5,
    "trn1n.32xlarge": 24.78,
    # trn2.48xlarge: no on-demand price in any region (Capacity Blocks only).
}

_US_SYSTEM: dict[str, float] = {
    "m7i.large": 0.1008,
    "m7i.xlarge": 0.2016,
    "m7i.2xlarge": 0.4032,
    "m6i.large": 0.096,
    "m6i.xlarge": 0.192,
    "m7g.large": 0.0816,
    "m7g.xlarge": 0.1632,
    "c7i.large": 0.08925,
    "t3.large": 0.0832,
    "m5.large": 0.096,  # [K] us-east-1; [S] us-east-2/us-west-2 (and [W] ec2 map, all three regions)
    "m5.xlarge": 0.192,  # [K] us-east-1; [S] us-east-2/us-west-2 (and [W] ec2 map, all three regions)
    "m5.2xlarge": 0.384,  # [K] us-east-1; [S] us-east-2/us-west-2 (and [W] ec2 map, all three regions)
}

EC2_ON_DEMAND_USD_PER_HOUR: dict[str, dict[str, float]] = {
    "us-east-2": {**_US_ACCELERATED, "p4d.24xlarge": 21.95764, **_US_SYSTEM},  # [S]; p4d printed to 5 decimals there
    "us-west-2": {**_US_ACCELERATED, "p4d.24xlarge": 21.95764, **_US_SYSTEM},  # [S]; p4d printed to 5 decimals there
    "us-east-1": {**_US_ACCELERATED, "p4d.24xlarge": 21.957642, **_US_SYSTEM},  # [K]
    "af-south-1": {  # [S]; general-purpose types only, no accelerated instances are offered in af-south-1
        "m7i.large": 0.13335,
        "m7i.xlarge": 0.2667,
        "m7i.2xlarge": 0.5334,
        "m6i.large": 0.127,
        "m6i.xlarge": 0.254,
        "m7g.large": 0.108,
        "m7g.xlarge": 0.2159,
        "c7i.large": 0.1197,
        "t3.large": 0.1085,
        "m5.large": 0.127,  # [S] af-south-1 (and [W] ec2 map, Africa (Cape Town))
        "m5.xlarge": 0.254,  # [S] af-south-1 (and [W] ec2 map, Africa (Cape Town))
        "m5.2xlarge": 0.508,  # [S] af-south-1 (and [W] ec2 map, Africa (Cape Town))
    },
}

# Keys: eks_cluster (standard-support control plane per cluster-hour), nat_gateway (per gateway-hour, no data
# processing), interface_endpoint_per_az (per endpoint ENI per AZ per hour, no data processing), nlb (per NLB-hour,
# no NLCUs). A key that is absent has no sourced price (see the module docstring).
SERVICE_USD_PER_HOUR: dict[str, dict[str, float]] = {
    "us-east-2": {
        "eks_cluster": 0.10,  # EKS FAQ/pricing page, region-independent statement
        "nat_gateway": 0.045,  # third-party guides naming US East (Ohio)
        "interface_endpoint_per_az": 0.01,  # [W] vpc "Hourly charge for VPC Endpoints", SKU P2Q7Y6KZKKFAHEVG
        "nlb": 0.0225,  # [W] elb "Network Load Balancer Hours", SKU 3KH8NB2MDHMS75NZ
    },
    "us-west-2": {
        "eks_cluster": 0.10,  # AmazonEKS us-west-2 price list
        "nat_gateway": 0.045,  # USW2-NatGateway-Hours
        "interface_endpoint_per_az": 0.01,  # USW2-VpcEndpoint-Hours
        "nlb": 0.0225,  # [W] elb "Network Load Balancer Hours", SKU SCYRS8C539B49TTY
    },
    "us-east-1": {
        "eks_cluster": 0.10,  # USE1-AmazonEKS-Hours:perCluster
        "nat_gateway": 0.045,  # "$0.045 per NAT Gateway Hour", SKU M2YSHUBETB3JX4M4
        "interface_endpoint_per_az": 0.01,  # USE1-VpcEndpoint-Hours
        "nlb": 0.0225,  # [W] elb "Network Load Balancer Hours", SKU YKBGGP5EBGDU9T5W; same in third-party guides
    },
    "af-south-1": {
        "eks_cluster": 0.10,  # EKS FAQ/pricing page, region-independent statement
        "interface_endpoint_per_az": 0.01309,  # [W] vpc "Hourly charge for VPC Endpoints", SKU 8ZMGRUS7QT5EM7NR
        "nlb": 0.03,  # [W] elb "Network Load Balancer Hours", SKU YJM397J7M2PPNQM7
        # nat_gateway: no sourced af-south-1 rate (see the module docstring).
    },
}

# EBS gp3 storage, USD per GiB-month (AWS bills "GB-month" and means GiB). Storage only: IOPS above the 3,000
# baseline and throughput above 125 MiB/s are billed separately, as are snapshots.
GP3_USD_PER_GIB_MONTH: dict[str, float] = {
    "us-east-2": 0.08,  # SKU M6UGCCQ3CDJQAA37
    "us-west-2": 0.08,  # USW2-EBS:VolumeUsage.gp3
    "us-east-1": 0.08,  # SKU JG3KUJMBRGHV3N8G
    "af-south-1": 0.1047,  # SKU XWCTMRRUJM7TGYST, offer published 2024-07-05
}
