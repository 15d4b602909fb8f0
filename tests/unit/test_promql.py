"""infra.promql: the latency queries select one model's histogram series (vLLM's, and its route's and
endpoint picker's) and read as PromQL."""

from __future__ import annotations

import pytest

from infra import promql
from infra.k8s import otel_collector

SERIES = promql.ModelSeries(cluster_name="inference-prod", namespace="inference", model_name="llama-3-1-8b")


def test_selector_names_the_histogram_and_the_models_labels() -> None:
    assert SERIES.selector(promql.TTFT) == (
        '{"vllm:time_to_first_token_seconds", "@resource.k8s.cluster.name"="inference-prod", '
        '"Namespace"="inference", "model_name"="llama-3-1-8b"}'
    )


def test_quantile_reads_the_native_histogram_by_rate_per_model() -> None:
    assert SERIES.quantile(promql.E2E, 0.99) == (
        'histogram_quantile(0.99, sum by ("model_name") (rate({"vllm:e2e_request_latency_seconds", '
        '"@resource.k8s.cluster.name"="inference-prod", "Namespace"="inference", "model_name"="llama-3-1-8b"}[5m])))'
    )
    assert "_bucket" not in SERIES.quantile(promql.TTFT, 0.9)  # CloudWatch keeps OTLP histograms whole


def test_above_makes_an_alarm_condition() -> None:
    assert promql.above(SERIES.quantile(promql.TTFT, 0.9), 1.5).endswith("[5m]))) > 1.5")


def test_label_values_are_escaped() -> None:
    odd = promql.ModelSeries(cluster_name='a"b', namespace="x\\y", model_name="m")
    assert '"@resource.k8s.cluster.name"="a\\"b"' in odd.selector(promql.ITL)
    assert '"Namespace"="x\\\\y"' in odd.selector(promql.ITL)


def test_metric_names_finds_every_selected_histogram() -> None:
    query = f"{SERIES.quantile(promql.TTFT, 0.5)} / {SERIES.quantile(promql.ITL, 0.5)}"
    assert promql.metric_names(query) == {promql.TTFT, promql.ITL}
    assert promql.metric_names('histogram_quantile(0.9, rate({"vllm:typo_seconds"}[5m]))') == {"vllm:typo_seconds"}


def test_quantiles_and_histograms_are_what_the_collector_sends() -> None:
    assert (promql.TTFT, promql.ITL, promql.E2E) == otel_collector.HISTOGRAMS
    assert promql.QUANTILES == (0.5, 0.9, 0.99)


FRONT_DOOR = promql.FrontDoorSeries(cluster_name="inference-prod", namespace="inference", model_name="llama-3-1-8b", epp="llama-3-1-8b-epp")


def test_gateway_latency_reads_the_models_route() -> None:
    assert FRONT_DOOR.quantile(otel_collector.GATEWAY_DURATION, 0.99) == (
        'histogram_quantile(0.99, sum by ("route") (rate({"agentgateway_request_duration_seconds", '
        '"@resource.k8s.cluster.name"="inference-prod", "route"="inference/llama-3-1-8b"}[5m])))'
    )


def test_endpoint_picker_latency_reads_the_models_requests_and_its_pickers_scheduling() -> None:
    assert FRONT_DOOR.quantile(otel_collector.EPP_DURATION, 0.5) == (
        'histogram_quantile(0.5, sum by ("model_name") (rate({"llm_d_epp_request_duration_seconds", '
        '"@resource.k8s.cluster.name"="inference-prod", "Namespace"="inference", "model_name"="llama-3-1-8b"}[5m])))'
    )
    assert FRONT_DOOR.quantile(otel_collector.EPP_SCHEDULING, 0.99) == (
        'histogram_quantile(0.99, sum by ("epp") (rate({"llm_d_epp_scheduler_e2e_duration_seconds", '
        '"@resource.k8s.cluster.name"="inference-prod", "Namespace"="inference", "epp"="llama-3-1-8b-epp"}[5m])))'
    )
    assert promql.FRONT_DOOR_QUANTILES == (0.5, 0.99)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: SERIES.selector("vllm:num_requests_waiting"), "not a histogram"),
        (lambda: SERIES.quantile(promql.TTFT, 1.0), "quantile"),
        (lambda: SERIES.quantile(promql.TTFT, 0.9, window="5 minutes"), "window"),
        (lambda: promql.above("x", 0), "threshold"),
        (lambda: FRONT_DOOR.selector(promql.TTFT), "not a front-door histogram"),
        (lambda: FRONT_DOOR.selector("agentgateway_requests_total"), "not a front-door histogram"),
        (lambda: FRONT_DOOR.quantile(otel_collector.GATEWAY_DURATION, 0), "quantile"),
        (lambda: SERIES.selector(otel_collector.GATEWAY_DURATION), "not a histogram"),
    ],
)
def test_bad_arguments_are_refused(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
