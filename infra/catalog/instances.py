"""Accelerator instance types the blueprint can schedule inference on: sizes, devices, EFA, regions.

Sources: the EC2 DescribeInstanceTypes and DescribeInstanceTypeOfferings (location type
``region``) results as of 2026-08, as mirrored by moto 5.2.5 (``moto/ec2/resources/
instance_types.json`` and ``instance_type_offerings/region/*.json``), checked against the EC2
accelerated-computing specifications (docs.aws.amazon.com/ec2/latest/instancetypes/ac.html) and
the AWS Neuron architecture docs (awsdocs-neuron.readthedocs-hosted.com, "Trainium",
"Inferentia2", "Trainium2" and "Amazon EC2 Trn2 architecture" pages). The tables below were
generated once from that data and are literal: nothing here calls AWS or reads moto at runtime.

Where the sources disagree:

* ``accelerator_memory_gib`` is the nominal memory per device from the EC2 docs and the Neuron
  docs. DescribeInstanceTypes reports less for some GPUs (A10G and L4: 22,888 MiB; L40S:
  45,776 MiB); the docs' 24 and 48 GiB are listed. A100, H100 and H200 agree (40, 80, 141 GiB).
  For trn2.48xlarge it reports 512 GiB per Trainium2 device (8 TiB in total); the Neuron docs
  give 96 GiB of HBM per device (1.5 TiB per instance), which is what is listed here.
* ``memory_gib`` (instance RAM) and vCPUs, GPU/device counts, ``network_cards`` (MaximumNetworkCards)
  and ``efa_interfaces`` (EfaInfo.MaximumEfaInterfaces, 0 when EfaSupported is false) are taken
  from DescribeInstanceTypes as they are.

``FAMILY_REGIONS`` lists a family in a region when DescribeInstanceTypeOfferings shows any of its
sizes there, restricted to the regions in :mod:`infra.catalog.regions`. Regions that catalog has
but the offerings data does not cover (ap-east-2, ap-southeast-6, ap-southeast-7, mx-central-1)
offer nothing here. Capacity-Block-only types (p5e, p5en, trn2) may show as not offered in
regions where they are sold only as EC2 Capacity Blocks for ML, so ``offered_in`` being False
does not prove they cannot be had there. An offering does not mean there is capacity or quota.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Accelerator = Literal["nvidia", "neuron"]


@dataclass(frozen=True)
class InstanceType:
    name: str  # "p5.48xlarge"
    family: str  # "p5"
    vcpus: int
    memory_gib: int  # instance RAM
    accelerator: Accelerator
    accelerator_name: str  # "A10G", "L4", "L40S", "A100", "H100", "H200", "Inferentia2", "Trainium", "Trainium2"
    accelerators: int  # GPUs, or Neuron devices (chips)
    accelerator_memory_gib: int  # per device: GPU memory, or Neuron device HBM
    neuron_cores: int  # physical NeuronCores on the instance; 0 for nvidia
    network_cards: int
    efa_interfaces: int  # maximum EFA interfaces; 0 when EFA is not supported

    @property
    def efa(self) -> bool:
        """Whether the type supports Elastic Fabric Adapter interfaces."""
        return self.efa_interfaces > 0

    @property
    def efa_on_card_0(self) -> bool:
        """Whether network card 0 carries an EFA too (an EFA-only interface at device index 1).

        EC2 allows one EFA per network card; when the type's EFA maximum equals its card count, card 0
        must be one of them. EC2 user guide, "Maximize network bandwidth on Amazon EC2 instances with
        multiple network cards": "If the network card index 0 supports EFA, create an EFA-only
        network interface for network card index 0, device index 1" (p5.48xlarge: 32 EFA + 1 ENA).
        """
        return self.efa_interfaces >= self.network_cards > 0

    @property
    def efa_devices(self) -> int:
        """EFA devices a node exposes (``vpc.amazonaws.com/efa``) when every card that can carries one."""
        return min(self.efa_interfaces, self.network_cards)

    @property
    def usable_memory_gib(self) -> float:
        """Memory per device the engine can use: CUDA's figure for GPUs, the HBM for Neuron devices."""
        return CUDA_MEMORY_GIB.get(self.accelerator_name, float(self.accelerator_memory_gib))

    @property
    def total_accelerator_memory_gib(self) -> int:
        """Device memory summed over all GPUs or Neuron devices."""
        return self.accelerators * self.accelerator_memory_gib

    @property
    def size(self) -> str:
        """The part after the family, e.g. ``48xlarge``."""
        return self.name.partition(".")[2]


# Memory per GPU as CUDA reports it, which is what vLLM budgets with (vllm/v1/worker/utils.py: the
# device total from CUDA x gpu_memory_utilization), in GiB. Less than the marketing figure:
# - A10G 22.30: vLLM's own start-up log on g5 (the figure REFERENCES.md quotes);
# - L4 22.49: nvidia-smi 23034 MiB on g6 (speaches-ai/speaches PR #438);
# - L40S 44.99: nvidia-smi 46068 MiB (akash-network/provider-configs PR #99);
# - A100 40GB 39.39: CUDA deviceQuery 40339 MiB (bottlerocket-os/bottlerocket PR #3873);
# - H100 79.65: nvidia-smi 81559 MiB (LMCache/LMCache issue #259);
# - H200 140.40: nvidia-smi 143771 MiB (REFERENCES.md; NVIDIA/cuda-samples issue #311).
CUDA_MEMORY_GIB: dict[str, float] = {"A10G": 22.30, "L4": 22.49, "L40S": 44.99, "A100": 39.39, "H100": 79.65, "H200": 140.40}

# accelerator_name -> (accelerator kind, memory per device in GiB, NeuronCores per device)
_DEVICES: dict[str, tuple[Accelerator, int, int]] = {
    "A10G": ("nvidia", 24, 0),
    "L4": ("nvidia", 24, 0),
    "L40S": ("nvidia", 48, 0),
    "A100": ("nvidia", 40, 0),
    "H100": ("nvidia", 80, 0),
    "H200": ("nvidia", 141, 0),
    "Inferentia2": ("neuron", 32, 2),
    "Trainium": ("neuron", 32, 2),
    "Trainium2": ("neuron", 96, 8),
}


def _t(name: str, vcpus: int, memory_gib: int, device: str, count: int, network_cards: int, efa_interfaces: int) -> InstanceType:
    kind, device_memory_gib, cores_per_device = _DEVICES[device]
    return InstanceType(
        name=name,
        family=family_of(name),
        vcpus=vcpus,
        memory_gib=memory_gib,
        accelerator=kind,
        accelerator_name=device,
        accelerators=count,
        accelerator_memory_gib=device_memory_gib,
        neuron_cores=count * cores_per_device,
        network_cards=network_cards,
        efa_interfaces=efa_interfaces,
    )


def family_of(name: str) -> str:
    """The family part of an instance type name (``p5.48xlarge`` -> ``p5``), known type or not."""
    return name.partition(".")[0]


_INSTANCE_TYPES = (
    # name, vCPUs, RAM GiB, device, devices, network cards, max EFA interfaces
    _t("g5.xlarge", 4, 16, "A10G", 1, 1, 0),
    _t("g5.2xlarge", 8, 32, "A10G", 1, 1, 0),
    _t("g5.4xlarge", 16, 64, "A10G", 1, 1, 0),
    _t("g5.8xlarge", 32, 128, "A10G", 1, 1, 1),
    _t("g5.12xlarge", 48, 192, "A10G", 4, 1, 1),
    _t("g5.16xlarge", 64, 256, "A10G", 1, 1, 1),
    _t("g5.24xlarge", 96, 384, "A10G", 4, 1, 1),
    _t("g5.48xlarge", 192, 768, "A10G", 8, 1, 1),
    _t("g6.xlarge", 4, 16, "L4", 1, 1, 0),
    _t("g6.2xlarge", 8, 32, "L4", 1, 1, 0),
    _t("g6.4xlarge", 16, 64, "L4", 1, 1, 0),
    _t("g6.8xlarge", 32, 128, "L4", 1, 1, 1),
    _t("g6.12xlarge", 48, 192, "L4", 4, 1, 1),
    _t("g6.16xlarge", 64, 256, "L4", 1, 1, 1),
    _t("g6.24xlarge", 96, 384, "L4", 4, 1, 1),
    _t("g6.48xlarge", 192, 768, "L4", 8, 1, 1),
    _t("g6e.xlarge", 4, 32, "L40S", 1, 1, 0),
    _t("g6e.2xlarge", 8, 64, "L40S", 1, 1, 0),
    _t("g6e.4xlarge", 16, 128, "L40S", 1, 1, 0),
    _t("g6e.8xlarge", 32, 256, "L40S", 1, 1, 1),
    _t("g6e.12xlarge", 48, 384, "L40S", 4, 1, 1),
    _t("g6e.16xlarge", 64, 512, "L40S", 1, 1, 1),
    _t("g6e.24xlarge", 96, 768, "L40S", 4, 2, 2),
    _t("g6e.48xlarge", 192, 1536, "L40S", 8, 4, 4),
    _t("p4d.24xlarge", 96, 1152, "A100", 8, 4, 4),
    _t("p5.48xlarge", 192, 2048, "H100", 8, 32, 32),
    _t("p5e.48xlarge", 192, 2048, "H200", 8, 32, 32),
    _t("p5en.48xlarge", 192, 2048, "H200", 8, 16, 16),
    _t("inf2.xlarge", 4, 16, "Inferentia2", 1, 1, 0),
    _t("inf2.8xlarge", 32, 128, "Inferentia2", 1, 1, 0),
    _t("inf2.24xlarge", 96, 384, "Inferentia2", 6, 1, 0),
    _t("inf2.48xlarge", 192, 768, "Inferentia2", 12, 1, 0),
    _t("trn1.2xlarge", 8, 32, "Trainium", 1, 1, 0),
    _t("trn1.32xlarge", 128, 512, "Trainium", 16, 8, 8),
    _t("trn1n.32xlarge", 128, 512, "Trainium", 16, 16, 16),
    _t("trn2.48xlarge", 192, 2048, "Trainium2", 16, 16, 16),
)

INSTANCE_TYPES: dict[str, InstanceType] = {t.name: t for t in _INSTANCE_TYPES}

FAMILIES: dict[str, tuple[str, ...]] = {
    family: tuple(t.name for t in sorted((t for t in _INSTANCE_TYPES if t.family == family), key=lambda t: (t.vcpus, t.memory_gib)))
    for family in dict.fromkeys(t.family for t in _INSTANCE_TYPES)
}

FAMILY_REGIONS: dict[str, frozenset[str]] = {
    "g5": frozenset(
        (
            "ap-east-1",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ca-central-1",
            "eu-central-1",
            "eu-north-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-2",
        )
    ),
    "g6": frozenset(
        (
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-2",
            "ap-southeast-5",
            "ca-central-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-2",
            "eu-west-2",
            "eu-west-3",
            "me-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-2",
        )
    ),
    "g6e": frozenset(
        (
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "eu-central-1",
            "eu-north-1",
            "eu-south-2",
            "me-central-1",
            "us-east-1",
            "us-east-2",
            "us-west-2",
        )
    ),
    "p4d": frozenset(
        (
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-2",
            "ca-central-1",
            "eu-central-1",
            "eu-north-1",
            "eu-west-1",
            "eu-west-2",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-2",
        )
    ),
    "p5": frozenset(
        (
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ca-central-1",
            "eu-north-1",
            "eu-west-2",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        )
    ),
    "p5e": frozenset(("ap-southeast-2", "ap-southeast-3", "eu-north-1", "eu-west-2", "sa-east-1", "us-east-2", "us-west-2")),
    "p5en": frozenset(
        (
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-3",
            "eu-north-1",
            "eu-south-2",
            "me-central-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        )
    ),
    "inf2": frozenset(
        (
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-south-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "eu-central-1",
            "eu-north-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-2",
        )
    ),
    "trn1": frozenset(("ap-south-1", "ap-southeast-2", "ap-southeast-4", "us-east-1", "us-east-2", "us-west-2")),
    "trn1n": frozenset(("us-east-1", "us-east-2", "us-west-2")),
    "trn2": frozenset(("ap-south-2", "ap-southeast-4", "sa-east-1", "us-east-2")),
}


def instance_type(name: str) -> InstanceType | None:
    """The catalog entry for ``name``, or None when the type is not in the catalog."""
    return INSTANCE_TYPES.get(name)


def offered_in(family: str, region: str) -> bool:
    """Whether EC2 lists any size of ``family`` in ``region`` (False for unknown families)."""
    return region in FAMILY_REGIONS.get(family, frozenset())


def regions_offering(family: str) -> list[str]:
    """The regions offering ``family``, sorted; empty for unknown families."""
    return sorted(FAMILY_REGIONS.get(family, frozenset()))
