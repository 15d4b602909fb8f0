"""PromQL over the latency histograms that ``infra.k8s.otel_collector`` sends to CloudWatch: vLLM's,
agentgateway's and the endpoint pickers'.

Pure string builders, used by the dashboard's chart widgets and the TTFT alarm, so the two read the
same series. CloudWatch stores OTLP histograms as native histogram samples under the base metric
name, so a quantile is ``histogram_quantile(q, sum by (...) (rate({"<name>", ...}[window])))``,
not the classic ``_bucket``/``le`` form. The Collector sends cumulative histograms, which is what
``rate`` assumes (CloudWatch User Guide, "PromQL querying").

Metric and label names are quoted (``{"vllm:..."}``, ``"@resource.k8s.cluster.name"``), the
UTF-8 syntax of Prometheus 3 that CloudWatch implements; label values are escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.k8s.cwagent import NAMESPACE_LABEL
from infra.k8s.otel_collector import (
    CLUSTER_ATTRIBUTE,
    EPP_DURATION,
    EPP_HISTOGRAMS,
    EPP_LABEL,
    EPP_SCHEDULING,
    GATEWAY_DURATION,
    GATEWAY_HISTOGRAMS,
    HISTOGRAMS,
)

TTFT, ITL, E2E = HISTOGRAMS
QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.99)
FRONT_DOOR_QUANTILES: tuple[float, ...] = (0.5, 0.99)
WINDOW = "5m"
CLUSTER_LABEL = f"@resource.{CLUSTER_ATTRIBUTE}"
ROUTE_LABEL = "route"  # agentgateway's: "<namespace>/<HTTPRoute name>"

_WINDOW = re.compile(r"^[1-9][0-9]*[smh]$")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _selector(metric: str, matchers: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join([_quote(metric), *(f"{_quote(k)}={_quote(v)}" for k, v in matchers)]) + "}"


def _quantile(selector: str, by: str, q: float, window: str) -> str:
    if not 0 < q < 1:
        raise ValueError(f"quantile {q} must be between 0 and 1")
    if not _WINDOW.match(window):
        raise ValueError(f"window {window!r}: use a duration such as '5m'")
    return f"histogram_quantile({q:g}, sum by ({_quote(by)}) (rate({selector}[{window}])))"


@dataclass(frozen=True)
class ModelSeries:
    """Which vLLM service a query reads: cluster (resource attribute), namespace and served model name."""

    cluster_name: str
    namespace: str
    model_name: str

    def selector(self, metric: str) -> str:
        """``{"<metric>", "@resource.k8s.cluster.name"="...", "Namespace"="...", "model_name"="..."}``."""
        if metric not in HISTOGRAMS:
            raise ValueError(f"{metric!r} is not a histogram the Collector sends ({', '.join(HISTOGRAMS)})")
        return _selector(metric, ((CLUSTER_LABEL, self.cluster_name), (NAMESPACE_LABEL, self.namespace), ("model_name", self.model_name)))

    def quantile(self, metric: str, q: float, window: str = WINDOW) -> str:
        """The ``q`` quantile of ``metric`` over ``window``, across the model's pods, per model."""
        return _quantile(self.selector(metric), "model_name", q, window)


@dataclass(frozen=True)
class FrontDoorSeries:
    """Which front-door series a query reads for one model: its route at the gateway, its requests
    at its endpoint picker (``model_name``: the served model name the request names), and its
    picker's scheduling (``epp``: the picker's pod label, ``infra.k8s.gateway.epp_name``)."""

    cluster_name: str
    namespace: str
    model_name: str
    epp: str

    def selector(self, metric: str) -> str:
        """The model's series of ``metric``, one of the gateway's or endpoint picker's histograms."""
        cluster = (CLUSTER_LABEL, self.cluster_name)
        if metric in GATEWAY_HISTOGRAMS:
            return _selector(metric, (cluster, (ROUTE_LABEL, f"{self.namespace}/{self.model_name}")))
        if metric == EPP_SCHEDULING:
            return _selector(metric, (cluster, (NAMESPACE_LABEL, self.namespace), (EPP_LABEL, self.epp)))
        if metric in EPP_HISTOGRAMS:
            return _selector(metric, (cluster, (NAMESPACE_LABEL, self.namespace), ("model_name", self.model_name)))
        raise ValueError(f"{metric!r} is not a front-door histogram the Collector sends")

    def quantile(self, metric: str, q: float, window: str = WINDOW) -> str:
        """The ``q`` quantile of ``metric`` over ``window``, across the proxies or the picker's replicas."""
        by = {GATEWAY_DURATION: ROUTE_LABEL, EPP_DURATION: "model_name", EPP_SCHEDULING: EPP_LABEL}
        return _quantile(self.selector(metric), by[metric], q, window)


def above(expression: str, threshold: float) -> str:
    """An alarm condition: the series of ``expression`` that exceed ``threshold`` (each a contributor)."""
    if threshold <= 0:
        raise ValueError(f"threshold {threshold} must be positive")
    return f"{expression} > {threshold:g}"


def metric_names(query: str) -> set[str]:
    """The metric names a query selects (the quoted first element of each ``{...}`` selector)."""
    return set(re.findall(r'\{"((?:[^"\\]|\\.)*)"(?=\s*[,}])', query))
