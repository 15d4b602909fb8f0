"""What Karpenter v1.14.1 believes an AL2023 node of a given EC2 instance type can hold ("allocatable").

Source: aws/karpenter-provider-aws tag v1.14.1 (commit bde00654cd316fddb3dccfba3f5ac07039865429) and
kubernetes-sigs/karpenter at the commit it pins (go.mod:49 ``v1.14.1-0.20260819221709-6e7eab7a0f48``,
which is the core repo's tag v1.14.1, commit 6e7eab7a0f485d7225eb98995fad9b66c79b322b). Paths below are
in aws/karpenter-provider-aws unless prefixed ``core:``. Assumed: EC2NodeClass with ``amiFamily``/alias
AL2023, no ``spec.kubelet`` (so no maxPods, podsPerCore, kubeReserved, systemReserved, evictionHard),
no ``spec.networkInterfaces``, and Karpenter's default settings (vmMemoryOverheadPercent, reservedENIs).

Allocatable for scheduling
    core: pkg/cloudprovider/types.go:331-334 ``Allocatable()`` -> :271-294 ``computeAllocatable``:
    ``resources.Subtract(Capacity, Overhead.Total())`` (:280), where ``Overhead.Total()`` (:461-463) is
    ``resources.Merge(KubeReserved, SystemReserved, EvictionThreshold)`` (core: pkg/utils/resources/resources.go:52
    Merge sums, :83 Subtract). Capacity and Overhead are built in pkg/providers/instancetype/types.go:126-160
    ``NewInstanceType`` (capacity :148, kube-reserved :150-151, system-reserved :152, eviction :153).
    Pods' requests *plus DaemonSet overhead* must fit this; DaemonSets are not modelled here.

CPU capacity
    types.go:352-354 ``cpu()``: VCpuInfo.DefaultVCpus, i.e. vcpus * 1000 millicores.

Memory capacity (types.go:356-366 ``memory()``)
    MemoryInfo.SizeInMiB, minus 64 MiB if the first architecture is arm64 (:358-361), then minus
    ``int64(math.Ceil(float64(bytes) * VMMemoryOverheadPercent / 1024 / 1024))`` Mi (:364): the overhead is
    rounded UP to a whole MiB, so capacity is rounded DOWN. VMMemoryOverheadPercent defaults to 0.075
    (pkg/operator/options/options.go:58, flag --vm-memory-overhead-percent / env VM_MEMORY_OVERHEAD_PERCENT;
    Helm charts/karpenter/values.yaml:205 ``settings.vmMemoryOverheadPercent: 0.075``).
    Caveat: once a node of the type has registered with the nodeclass's current AMIs, Karpenter replaces this
    estimate with the node's real ``status.capacity.memory`` (pkg/providers/instancetype/instancetype.go:228-230,
    filled by UpdateInstanceTypeCapacityFromNode :355-380, kept 60 days: pkg/cache/cache.go:47). Only the
    capacity is replaced; kube-reserved and the eviction threshold are unchanged. This module models the
    estimate, i.e. what Karpenter uses before it has seen a node of the type.

Pods (types.go:576-591 ``pods()``)
    kubelet.maxPods unset and AL2023 ``SupportsENILimitedPodDensity`` -> ``ENILimitedPods(ctx, info,
    ReservedENIs, nodeClassNetworkInterfaces)`` (:581-582); podsPerCore unset so no cap (:587-589).
    AL2023 embeds DefaultFamily (pkg/providers/amifamily/al2023.go:34-35) and does not override
    FeatureFlags, so the flags are pkg/providers/amifamily/resolver.go:127-134: UsesENILimitedMemoryOverhead,
    PodsPerCoreEnabled, EvictionSoftEnabled, SupportsENILimitedPodDensity all true.
    ReservedENIs defaults to 0 (options.go:60; values.yaml:215 ``reservedENIs: "0"``).
    The same number is written to the node's kubelet --max-pods when kubelet.maxPods is unset
    (pkg/providers/amifamily/resolver.go:282-287).

ENILimitedPods (types.go:485-505)
    ``interfaces = NetworkInfo.NetworkCards[DefaultNetworkCardIndex].MaximumNetworkInterfaces`` (:492) --
    only the default (primary) network card counts, following the VPC CNI; on multi-card types (p4d: 4 cards,
    p5/p5e: 32, p5en/trn1n/trn2: 16, trn1: 8, g6e.24xl/48xl: 2/4) the other cards' interfaces are ignored.
    ``usable = max(interfaces - reservedENIs - numEFAOnlyOnCard0, 0)`` (:495-499; EFA-only interfaces come only
    from EC2NodeClass.spec.networkInterfaces, none by default); 0 if usable == 0 (:500-502); else
    ``usable * (Ipv4AddressesPerInterface - 1) + 2`` (:503-504).
    At runtime Karpenter reads these inputs from EC2 DescribeInstanceTypes, not from a table. Karpenter's
    generated mirror of that data, pkg/providers/instancetype/zz_generated.vpclimits.go (``Limits``; used only
    for pod-ENI and private-IPv4 resources, types.go:407-414 and :507-514), is the cited source for every row of
    ENI_LIMITS except trn2.48xlarge, which that file lacks; its row is from EC2 DescribeInstanceTypes as
    mirrored by moto 5.2.5 (moto/ec2/resources/instance_types.json.gz, ``NetworkInfo.NetworkCards[0]
    .MaximumNetworkInterfaces`` = 2, ``NetworkInfo.Ipv4AddressesPerInterface`` = 50, DefaultNetworkCardIndex 0).
    moto agrees with vpclimits.go on all 35 other rows.

kube-reserved (types.go:522-552 ``kubeReservedResources``)
    memory = ``(11 * pods) + 255`` Mi (:524), where for AL2023 (UsesENILimitedMemoryOverhead) pods is
    ``ENILimitedPods(ctx, info, 0, networkInterfaces)`` -- reservedENIs forced to 0 and kubelet.maxPods ignored
    (:150-151). cpu (:529-548) sums, over millicore bands [0,1000) 6%, [1000,2000) 1%, [2000,4000) 0.5%,
    [4000, 2^31) 0.25%, ``int64(band_width_used * percentage)`` (each band truncated separately).
    ephemeral-storage 1Gi (:525) is not modelled.

system-reserved (types.go:516-520)
    Only what kubelet.systemReserved sets; nothing by default.

Eviction threshold (types.go:554-574 ``evictionThreshold``)
    memory 100Mi (:556) unless kubelet.evictionHard["memory.available"] is set (:564-567); evictionSoft is
    ignored for allocatable (:561-563).

Cross-check: website/content/en/docs/reference/instance-types.md at the tag (generated by
hack/docs/instancetypes_gen/main.go with default options, :93-100, an ``al2023@latest`` nodeclass, :165, and
``resources.Subtract(it.Capacity, it.Overhead.Total())``, :240, from live DescribeInstanceTypes) lists cpu,
memory and pods for all 36 types below; ``allocatable`` and ``max_pods`` reproduce every value (e.g.
g5.xlarge 3920m / 14162Mi / 58 pods, docs line 9735; trn2.48xlarge 191450m / 1938410Mi / 100 pods, line 35936).
That file was last regenerated at v1.13.0; types.go is unchanged between v1.13.0 and v1.14.1.

Not modelled: the kubelet's own allocatable on the node (set by AL2023 nodeadm, not by Karpenter), hugepages
(core types.go:282-292; no hugepages capacity on these types), NodeOverlay capacity/overhead overrides.
"""

from __future__ import annotations

import math

# pkg/operator/options/options.go:58 (default 0.075 = 7.5 %).
VM_MEMORY_OVERHEAD_PERCENT: float = 0.075
# pkg/operator/options/options.go:60 (default 0).
RESERVED_ENIS: int = 0
# pkg/providers/instancetype/types.go:556 (``memory.available`` hard eviction default, Mi).
EVICTION_HARD_MEMORY_MIB: int = 100
# pkg/providers/instancetype/types.go:516-520 (nothing unless kubelet.systemReserved is set).
SYSTEM_RESERVED_CPU_MILLICORES: int = 0
SYSTEM_RESERVED_MEMORY_MIB: int = 0
# pkg/providers/instancetype/types.go:358-361 (Graviton CMA reservation).
ARM64_CMA_RESERVED_MIB: int = 64

# pkg/providers/instancetype/types.go:534-537: (start, end, percentage) in millicores.
_KUBE_RESERVED_CPU_BANDS: tuple[tuple[int, int, float], ...] = (
    (0, 1000, 0.06),
    (1000, 2000, 0.01),
    (2000, 4000, 0.005),
    (4000, 1 << 31, 0.0025),
)

# Instance type -> (MaximumNetworkInterfaces of the default network card, Ipv4AddressesPerInterface): the inputs of
# ENILimitedPods (types.go:492, :503). Line numbers are in pkg/providers/instancetype/zz_generated.vpclimits.go at the
# tag: the entry's first line, then the default card's MaximumNetworkInterfaces and IPv4PerInterface lines.
# "all cards" is the instance's total interface count, which Karpenter does NOT use for pod density.
ENI_LIMITS: dict[str, tuple[int, int]] = {
    "g5.xlarge": (4, 15),  # vpclimits.go:5258 (card 0: L5266, IPv4: L5260; all cards: 4)
    "g5.2xlarge": (4, 15),  # vpclimits.go:5198 (card 0: L5206, IPv4: L5200; all cards: 4)
    "g5.4xlarge": (8, 30),  # vpclimits.go:5228 (card 0: L5236, IPv4: L5230; all cards: 8)
    "g5.8xlarge": (8, 30),  # vpclimits.go:5243 (card 0: L5251, IPv4: L5245; all cards: 8)
    "g5.12xlarge": (15, 50),  # vpclimits.go:5153 (card 0: L5161, IPv4: L5155; all cards: 15)
    "g5.16xlarge": (8, 30),  # vpclimits.go:5168 (card 0: L5176, IPv4: L5170; all cards: 8)
    "g5.24xlarge": (15, 50),  # vpclimits.go:5183 (card 0: L5191, IPv4: L5185; all cards: 15)
    "g5.48xlarge": (7, 50),  # vpclimits.go:5213 (card 0: L5221, IPv4: L5215; all cards: 7)
    "g6.xlarge": (4, 15),  # vpclimits.go:5468 (card 0: L5476, IPv4: L5470; all cards: 4)
    "g6.2xlarge": (4, 15),  # vpclimits.go:5408 (card 0: L5416, IPv4: L5410; all cards: 4)
    "g6.4xlarge": (8, 30),  # vpclimits.go:5438 (card 0: L5446, IPv4: L5440; all cards: 8)
    "g6.8xlarge": (8, 30),  # vpclimits.go:5453 (card 0: L5461, IPv4: L5455; all cards: 8)
    "g6.12xlarge": (8, 30),  # vpclimits.go:5363 (card 0: L5371, IPv4: L5365; all cards: 8)
    "g6.16xlarge": (15, 50),  # vpclimits.go:5378 (card 0: L5386, IPv4: L5380; all cards: 15)
    "g6.24xlarge": (15, 50),  # vpclimits.go:5393 (card 0: L5401, IPv4: L5395; all cards: 15)
    "g6.48xlarge": (15, 50),  # vpclimits.go:5423 (card 0: L5431, IPv4: L5425; all cards: 15)
    "g6e.xlarge": (4, 15),  # vpclimits.go:5608 (card 0: L5616, IPv4: L5610; all cards: 4)
    "g6e.2xlarge": (4, 15),  # vpclimits.go:5533 (card 0: L5541, IPv4: L5535; all cards: 4)
    "g6e.4xlarge": (8, 30),  # vpclimits.go:5578 (card 0: L5586, IPv4: L5580; all cards: 8)
    "g6e.8xlarge": (8, 30),  # vpclimits.go:5593 (card 0: L5601, IPv4: L5595; all cards: 8)
    "g6e.12xlarge": (10, 30),  # vpclimits.go:5483 (card 0: L5491, IPv4: L5485; all cards: 10)
    "g6e.16xlarge": (15, 50),  # vpclimits.go:5498 (card 0: L5506, IPv4: L5500; all cards: 15)
    "g6e.24xlarge": (10, 50),  # vpclimits.go:5513 (card 0: L5521, IPv4: L5515; all cards: 20)
    "g6e.48xlarge": (10, 50),  # vpclimits.go:5548 (card 0: L5556, IPv4: L5550; all cards: 40)
    "p4d.24xlarge": (15, 50),  # vpclimits.go:12744 (card 0: L12752, IPv4: L12746; all cards: 60)
    "p5.48xlarge": (2, 50),  # vpclimits.go:12804 (card 0: L12812, IPv4: L12806; all cards: 64)
    "p5e.48xlarge": (2, 50),  # vpclimits.go:12989 (card 0: L12997, IPv4: L12991; all cards: 64)
    "p5en.48xlarge": (4, 50),  # vpclimits.go:13159 (card 0: L13167, IPv4: L13161; all cards: 64)
    "inf2.xlarge": (4, 15),  # vpclimits.go:7279 (card 0: L7287, IPv4: L7281; all cards: 4)
    "inf2.8xlarge": (8, 30),  # vpclimits.go:7264 (card 0: L7272, IPv4: L7266; all cards: 8)
    "inf2.24xlarge": (15, 50),  # vpclimits.go:7234 (card 0: L7242, IPv4: L7236; all cards: 15)
    "inf2.48xlarge": (15, 50),  # vpclimits.go:7249 (card 0: L7257, IPv4: L7251; all cards: 15)
    "trn1.2xlarge": (4, 15),  # vpclimits.go:18754 (card 0: L18762, IPv4: L18756; all cards: 4)
    "trn1.32xlarge": (5, 50),  # vpclimits.go:18769 (card 0: L18777, IPv4: L18771; all cards: 40)
    "trn1n.32xlarge": (5, 50),  # vpclimits.go:18819 (card 0: L18827, IPv4: L18821; all cards: 80)
    "trn2.48xlarge": (2, 50),  # NOT in vpclimits.go; moto 5.2.5 instance_types.json (all cards: 32)
}


def _limits(instance_type: str) -> tuple[int, int]:
    try:
        return ENI_LIMITS[instance_type]
    except KeyError:
        raise KeyError(f"no ENI limits recorded for {instance_type!r}; add a row to ENI_LIMITS from a cited source") from None


def eni_limited_pods(instance_type: str, reserved_enis: int = RESERVED_ENIS) -> int:
    """``ENILimitedPods`` (types.go:485-505) with no EFA-only interfaces in the EC2NodeClass."""
    interfaces, ipv4_per_interface = _limits(instance_type)
    usable = max(interfaces - reserved_enis, 0)
    if usable == 0:
        return 0
    return usable * (ipv4_per_interface - 1) + 2


def max_pods(instance_type: str) -> int:
    """Karpenter's pods capacity for AL2023 with no kubelet.maxPods/podsPerCore (types.go:576-591)."""
    return eni_limited_pods(instance_type, RESERVED_ENIS)


def kube_reserved_cpu_millicores(vcpus: int) -> int:
    """kube-reserved CPU (types.go:529-548): per-band ``int64(width * pct)``, summed."""
    cpu = vcpus * 1000
    total = 0
    for start, end, percentage in _KUBE_RESERVED_CPU_BANDS:
        if cpu >= start:
            width = float(end - start) if cpu >= end else float(cpu - start)
            total += int(width * percentage)  # Go int64() truncates toward zero, as does int()
    return total


def kube_reserved_memory_mib(max_pods: int) -> int:
    """kube-reserved memory (types.go:524): 11 MiB per pod + 255 MiB.

    For AL2023 Karpenter passes ``ENILimitedPods(..., reservedENIs=0, ...)`` here (types.go:150-151), not the
    kubelet.maxPods override; see ``allocatable``.
    """
    return 11 * max_pods + 255


def memory_capacity_mib(size_in_mib: int, *, arm64: bool = False) -> int:
    """Memory capacity Karpenter estimates (types.go:356-366); the overhead is rounded up to a whole MiB."""
    if arm64:
        size_in_mib -= ARM64_CMA_RESERVED_MIB
    size_in_bytes = size_in_mib * 1024 * 1024
    overhead_mib = math.ceil(float(size_in_bytes) * VM_MEMORY_OVERHEAD_PERCENT / 1024 / 1024)  # same float ops as Go
    return size_in_mib - overhead_mib


def allocatable(vcpus: int, memory_gib: int, instance_type: str, *, arm64: bool = False) -> tuple[int, int]:
    """(cpu millicores, memory MiB) Karpenter schedules against: capacity - (kube-reserved + system-reserved + eviction).

    ``vcpus`` is DefaultVCpus and ``memory_gib`` is MemoryInfo.SizeInMiB / 1024 (whole GiB for every type here).
    ``arm64`` applies the Graviton 64 MiB deduction; every type in ENI_LIMITS is x86_64.
    """
    cpu_capacity = vcpus * 1000
    memory_capacity = memory_capacity_mib(memory_gib * 1024, arm64=arm64)
    reserved_pods = eni_limited_pods(instance_type, 0)  # types.go:150-151: reservedENIs = 0 for kube-reserved
    cpu = cpu_capacity - kube_reserved_cpu_millicores(vcpus) - SYSTEM_RESERVED_CPU_MILLICORES
    memory = memory_capacity - kube_reserved_memory_mib(reserved_pods) - SYSTEM_RESERVED_MEMORY_MIB - EVICTION_HARD_MEMORY_MIB
    return cpu, memory
