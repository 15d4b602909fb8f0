"""Helm charts and construct ids shared by the cluster-side constructs."""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_eks_v2 as eks
from constructs import Construct

from infra.catalog.versions import Chart


def construct_id(name: str) -> str:
    """``gpu-efa`` -> ``GpuEfa``: stable, readable construct ids from config names."""
    return "".join(part.capitalize() for part in name.split("-"))


def install_chart(
    scope: Construct,
    id: str,
    *,
    cluster: eks.ICluster,
    chart: Chart,
    namespace: str,
    values: dict[str, Any],
    release: str | None = None,
    wait: bool = False,
    create_namespace: bool | None = None,
    skip_crds: bool | None = None,
) -> eks.HelmChart:
    """A pinned chart (``infra.catalog.versions``) installed through the cluster's kubectl provider."""
    return eks.HelmChart(
        scope,
        id,
        cluster=cluster,
        repository=chart.repository,
        chart=chart.chart,
        version=chart.version,
        release=release or chart.chart,
        namespace=namespace,
        values=values,
        wait=wait,
        create_namespace=create_namespace,
        skip_crds=skip_crds,
    )
