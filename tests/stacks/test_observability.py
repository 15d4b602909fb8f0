"""inference-<env>-observability: dashboards parse, metrics are real names, math is wired, alarms act."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import CONTEXT, SHIPPED_ENVS, Synthesized

from infra.catalog.instances import INSTANCE_TYPES
from infra.k8s.otel_collector import EPP_HISTOGRAMS, GATEWAY_HISTOGRAMS, HISTOGRAMS
from infra.metrics import DEVICE_DIMENSIONS, KNOWN_METRICS, karpenter, on_instance_types
from infra.promql import metric_names


def _resolve(value: Any) -> str:
    """A DashboardBody Fn::Join rendered to text, CloudFormation references as placeholders."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_resolve(p) for p in parts)
    return "REF"


def _body(result: Synthesized) -> dict[str, Any]:
    (dashboard,) = result.resources("observability", "AWS::CloudWatch::Dashboard").values()
    return json.loads(_resolve(dashboard["Properties"]["DashboardBody"]))


def _metric_rows(body: dict[str, Any]) -> list[list[Any]]:
    return [row for w in body["widgets"] if w["type"] == "metric" for row in w["properties"].get("metrics", [])]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_graphed_metric_is_a_known_name(synth, env: str) -> None:
    rows = _metric_rows(_body(synth(env)))
    assert rows
    for row in rows:
        options = row[-1] if isinstance(row[-1], dict) else {}
        if "expression" in options:
            continue
        namespace, name = row[0], row[1]
        assert namespace in KNOWN_METRICS, row
        assert name in KNOWN_METRICS[namespace], f"{namespace} has no metric {name!r}"


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_math_expressions_reference_existing_ids(synth, env: str) -> None:
    rows = _metric_rows(_body(synth(env)))
    ids = {row[-1]["id"] for row in rows if isinstance(row[-1], dict) and "id" in row[-1]}
    expressions = [row[-1] for row in rows if isinstance(row[-1], dict) and "expression" in row[-1]]
    for expression in expressions:
        code = re.sub(r"'[^']*'", "''", expression["expression"])  # a SEARCH's quoted query names no ids
        for ref in set(re.findall(r"\b([a-z][A-Za-z0-9_]*)\b", code)) - {"IF", "FILL"}:
            if ref.upper() in ("IF", "FILL"):
                continue
            assert ref in ids, f"{expression['expression']!r} uses {ref!r}, not an id on the widget"


def _alarms(result: Synthesized) -> list[dict[str, Any]]:
    return [a["Properties"] for a in result.resources("observability", "AWS::CloudWatch::Alarm").values()]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_alarm_notifies_the_topic(synth, env: str) -> None:
    result = synth(env)
    (topic_id,) = result.resources("observability", "AWS::SNS::Topic")
    alarms = _alarms(result)
    assert alarms
    for alarm in alarms:
        assert alarm["ActionsEnabled"] is True
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], alarm["AlarmName"]
        for metric in alarm.get("Metrics", []):
            stat = metric.get("MetricStat", {}).get("Metric")
            if stat:
                assert stat["MetricName"] in KNOWN_METRICS[stat["Namespace"]]


def test_alarm_topic_is_encrypted_and_tls_only(synth) -> None:
    result = synth("prod")
    (topic,) = result.resources("observability", "AWS::SNS::Topic").values()
    assert "KmsMasterKeyId" in topic["Properties"]
    (policy,) = result.resources("observability", "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)


def test_capetown_bedrock_alarms(synth) -> None:
    alarms = {a["AlarmName"]: a for a in _alarms(synth("capetown"))}
    for model in ("sonnet-4.5", "haiku-4.5", "opus-4.5"):
        throttle = alarms[f"inference-capetown-Bedrock-{model}-ThrottleRate-Critical"]
        assert throttle["Threshold"] == 5 and throttle["ComparisonOperator"] == "GreaterThanThreshold"
        assert f"inference-capetown-Bedrock-{model}-QuotaUsage-Warning" in alarms
    quota = alarms["inference-capetown-Bedrock-sonnet-4.5-QuotaUsage-Warning"]
    assert quota["Threshold"] == pytest.approx(2_000_000 * 0.8)
    expression = next(m["Expression"] for m in quota["Metrics"] if "Expression" in m and "ftout" in m["Expression"])
    assert expression == "ftin + ftcw + 5 * ftout", "the quota CLI's arithmetic (infra.quota.burndown_expression)"
    dims = {d["Value"] for m in quota["Metrics"] if "MetricStat" in m for d in m["MetricStat"]["Metric"]["Dimensions"]}
    assert dims == {"global.anthropic.claude-sonnet-4-5-20250929-v1:0"}
    assert "inference-capetown-BedrockLogDelivery-ModelInvocationLogsCloudWatchDeliveryFailure-Warning" in alarms


def test_quota_is_drawn_as_an_annotation(synth) -> None:
    widgets = [w for w in _body(synth("capetown"))["widgets"] if w["type"] == "metric"]
    annotations = [a for w in widgets for a in w["properties"].get("annotations", {}).get("horizontal", [])]
    assert {"value": 2000000, "label": "TPM quota"} in [{k: a[k] for k in ("value", "label")} for a in annotations]


@pytest.mark.parametrize(("env", "idle"), [("dev", {"NvidiaIdle"}), ("prod", {"NvidiaIdle", "NeuronIdle"}), ("capetown", set())])
def test_idle_accelerator_alarms_follow_the_pools(synth, env: str, idle: set[str]) -> None:
    names = {a["AlarmName"] for a in _alarms(synth(env))}
    found = {kind for kind in ("NvidiaIdle", "NeuronIdle") if f"inference-{env}-Accelerators-{kind}-Warning" in names}
    assert found == idle
    for alarm in _alarms(synth(env)):
        if "Idle" in alarm["AlarmName"]:
            period = alarm.get("Period") or next(m["MetricStat"]["Period"] for m in alarm["Metrics"])
            assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["EvaluationPeriods"], period) == (
                "LessThanThreshold",
                10,
                4,
                900,
            )
            assert alarm["TreatMissingData"] == "notBreaching", "no instances, no waste"


def test_interruption_queue_age_alarm(synth) -> None:
    names = {a["AlarmName"] for a in _alarms(synth("dev"))}
    assert any(n.startswith("inference-dev-KarpenterInterruptions") for n in names)


def test_unhealthy_units_alarm_and_unit_widgets(synth) -> None:
    result = synth("prod")
    alarms = {a["AlarmName"]: a for a in _alarms(result)}
    alarm = alarms["inference-prod-Units-trainium2-UnhealthyUnits-Critical"]
    (stat,) = [m["MetricStat"] for m in alarm["Metrics"]]
    assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]) == (
        "InferenceBlueprint/Units",
        "UnhealthyUnits",
        "Maximum",
    )
    dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
    assert dimensions == {"ClusterName": "inference-prod-units", "UnitPool": "trainium2"}
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
        "breaching",
    ), "a silent health Lambda is an alarm too"
    assert stat["Period"] == 300 and alarm["EvaluationPeriods"] == 1
    below = alarms["inference-prod-Units-trainium2-UnitsBelowTarget-Critical"]
    (stat,) = [m["MetricStat"] for m in below["Metrics"]]
    assert (stat["Metric"]["MetricName"], stat["Stat"], below["Threshold"], below["ComparisonOperator"]) == (
        "HealthyUnits",
        "Minimum",
        2,
        "LessThanThreshold",
    ), "prod's two serving units (the surge unit stands by)"
    assert below["EvaluationPeriods"] == below["DatapointsToAlarm"] == 12, "45 min start-up grace + 15 min, in 5-minute periods"
    rows = _metric_rows(_body(result))
    graphed = {(r[0], r[1]) for r in rows if not isinstance(r[-1], dict) or "expression" not in r[-1]}
    assert {("InferenceBlueprint/Units", "HealthyUnits"), ("AWS/NetworkELB", "HealthyHostCount")} <= graphed
    assert not any(r[0] == "InferenceBlueprint/Units" for r in _metric_rows(_body(synth("dev"))))


SEARCH = re.compile(
    r"^(?P<function>AVG|SUM)\(SEARCH\('\{(?P<schema>[^}]*)\} MetricName=\"(?P<name>[^\"]+)\" "
    r"ClusterName=\"(?P<cluster>[^\"]+)\" \((?P<types>[^)]*)\)', 'Average', (?P<period>\d+)\)\)$"
)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_pool_lines_search_the_pools_instance_types_in_a_published_dimension_set(synth, env: str) -> None:
    result = synth(env)
    config = result.stacks.config
    searches = [r[-1] for r in _metric_rows(_body(result)) if isinstance(r[-1], dict) and "SEARCH" in r[-1].get("expression", "")]
    pools = {p.name: p for p in config.node_pools}
    expected = {(p.name, m) for p in config.node_pools for m in ("utilization", "memory")} | {
        (p.name, m) for p in config.node_pools if p.efa for m in ("rx", "tx")
    }
    found = set()
    for search in searches:
        match = SEARCH.match(search["expression"])
        assert match, search["expression"]
        assert len(search["expression"]) <= 2048, "GetMetricData's limit for an expression"
        namespace, *dimensions = match["schema"].split(",")
        assert namespace == "ContainerInsights" and match["name"] in KNOWN_METRICS[namespace]
        assert tuple(dimensions) == DEVICE_DIMENSIONS[match["name"]] and "InstanceType" in dimensions
        assert match["cluster"] == config.cluster_name
        label = search["label"].removeprefix("pool ").split(" ")
        pool = pools[label[0]]
        types = re.findall(r'InstanceType="([^"]+)"', match["types"])
        assert types == [t.name for t in pool.types] and match["types"].count(" OR ") == len(types) - 1
        assert match["function"] == ("SUM" if match["name"].startswith("node_efa") else "AVG")
        kind = label[1] if len(label) > 1 else ("memory" if "memory" in match["name"] else "utilization")
        found.add((pool.name, kind))
    assert found == expected, "one line per pool and figure"


def test_the_widest_pool_search_fits_an_expression() -> None:
    everything = tuple(INSTANCE_TYPES)  # every catalogued type at once: a pool cannot list more
    for name in DEVICE_DIMENSIONS:
        expression = on_instance_types("AVG", name, "inference-a-rather-long-environment-name", everything, label="x")
        assert len(expression.expression) <= 2048
    with pytest.raises(ValueError, match="within 2048 characters"):
        on_instance_types("AVG", "node_gpu_utilization", "c", everything * 2, label="x")
    with pytest.raises(ValueError, match="0 instance type"):
        on_instance_types("AVG", "node_gpu_utilization", "c", (), label="x")


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_karpenter_widgets_per_node_pool(synth, env: str) -> None:
    result = synth(env)
    config = result.stacks.config
    body = _body(result)
    rows = [r for r in _metric_rows(body) if r[0] == "ContainerInsights/Prometheus" and r[1].startswith("karpenter_")]
    dims = [dict(zip(r[2:-1:2], r[3:-1:2], strict=True)) for r in rows]
    stats: dict[str, set[str]] = {r[1]: set() for r in rows}
    for row in rows:
        stats[row[1]].add(row[-1].get("stat", "Average"))
    assert stats["karpenter_scheduler_unschedulable_pods_count"] == {"Maximum"}, "the standby controller reports 0"
    assert stats["karpenter_cloudprovider_errors_total"] == {"Sum"}
    if not config.node_pools:  # no pool, no per-pool widget
        assert set(stats) == {"karpenter_scheduler_unschedulable_pods_count", "karpenter_cloudprovider_errors_total"}
        return
    assert stats["karpenter_nodepools_usage"] == {"Maximum"}
    assert stats["karpenter_nodes_created_total"] == stats["karpenter_nodes_terminated_total"] == {"Sum"}
    assert all(d["ClusterName"] == config.cluster_name for d in dims)
    usage = {(d["nodepool"], d["resource_type"]) for r, d in zip(rows, dims, strict=True) if r[1] == "karpenter_nodepools_usage"}
    resource = {"nvidia": "nvidia.com/gpu", "neuron": "aws.amazon.com/neuron"}
    assert usage == {(p.name, resource[p.accelerator]) for p in config.node_pools} | {(p.name, "nodes") for p in config.node_pools}
    created = {d["nodepool"] for r, d in zip(rows, dims, strict=True) if r[1] == "karpenter_nodes_created_total"}
    assert created == {p.name for p in config.node_pools}
    (widget,) = [w for w in body["widgets"] if w["properties"].get("title") == "Accelerators provisioned per node pool"]
    limits = {a["label"]: a["value"] for a in widget["properties"].get("annotations", {}).get("horizontal", [])}
    assert limits == {f"{p.name} limit": p.limits.accelerators for p in config.node_pools if p.limits is not None}


def test_karpenter_metrics_carry_exactly_the_published_dimensions() -> None:
    usage = karpenter("karpenter_nodepools_usage", "c", "Maximum", "gpu", nodepool="gpu", resource_type="nodes")
    assert usage.dimensions == {"ClusterName": "c", "nodepool": "gpu", "resource_type": "nodes"}
    with pytest.raises(ValueError, match="published by"):
        karpenter("karpenter_nodepools_usage", "c", "Maximum", "gpu", nodepool="gpu")  # CloudWatch would draw nothing
    with pytest.raises(ValueError, match="published by"):
        karpenter("karpenter_scheduler_unschedulable_pods_count", "c", "Maximum", "pods", nodepool="gpu")


NEURON_UNIT_METRICS = {"NeuronCoreUtilization", "NeuronCoresInUse", "NeuronDeviceMemoryUsed", "NeuronExecutionErrors"}


def test_unit_neuroncore_widgets_and_idle_alarm(synth) -> None:
    result = synth("prod")
    alarm = {a["AlarmName"]: a for a in _alarms(result)}["inference-prod-Units-trainium2-NeuronIdle-Warning"]
    (stat,) = [m["MetricStat"] for m in alarm["Metrics"]]
    assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"], stat["Period"]) == (
        "InferenceBlueprint/Units",
        "NeuronCoreUtilization",
        "Average",
        900,
    )
    assert {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]} == {"ClusterName": "inference-prod-units", "UnitPool": "trainium2"}
    floor = result.stacks.config.observability.thresholds.accelerator_utilization_floor_pct
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
        floor,
        "LessThanThreshold",
        4,
        4,
    ), "an hour below the floor"
    rows = [r for r in _metric_rows(_body(result)) if r[0] == "InferenceBlueprint/Units" and r[1] in NEURON_UNIT_METRICS]
    assert {r[1] for r in rows} == NEURON_UNIT_METRICS, "every figure the daemon publishes is drawn"
    for row in rows:
        assert row[2:6] == ["ClusterName", "inference-prod-units", "UnitPool", "trainium2"], row
    utilization = {r[-1].get("stat", "Average") for r in rows if r[1] == "NeuronCoreUtilization"}  # Average is the widget default
    assert utilization == {"Average", "Minimum", "Maximum"}, "the pool, its idlest and its busiest instance"


def test_vllm_widgets_and_waiting_requests_alarm_per_model(synth) -> None:
    result = synth("prod")
    alarms = {a["AlarmName"]: a for a in _alarms(result)}
    for model in ("llama-3-1-8b", "llama-3-1-405b", "llama-3-1-8b-inf2"):
        alarm = alarms[f"inference-prod-Vllm-{model}-WaitingRequests-Warning"]
        (stat,) = [m["MetricStat"] for m in alarm["Metrics"]]
        dimensions = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
        assert dimensions == {"ClusterName": "inference-prod", "Namespace": "inference", "model_name": model}
        assert stat["Metric"]["Namespace"] == "ContainerInsights/Prometheus"
        assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], stat["Period"]) == (20, 3, 3, 300)
    rows = _metric_rows(_body(result))
    graphed = {r[1] for r in rows if r[0] == "ContainerInsights/Prometheus"}
    assert {"vllm:num_requests_running", "vllm:kv_cache_usage_perc", "vllm:generation_tokens_total"} <= graphed
    texts = [w["properties"]["markdown"] for w in _body(result)["widgets"] if w["type"] == "text"]
    assert any("PromQL" in t and "OTLP" in t for t in texts), "the dashboard says where latency percentiles come from"


def test_an_autoscaled_model_alarms_when_held_at_max_replicas_with_a_queue(synth) -> None:
    # prod's llama-3-1-8b autoscales (cdk.json); its Service selects the pods serving the API, so
    # Container Insights' service_number_of_running_pods counts its replicas.
    result = synth("prod")
    alarms = {a["AlarmName"]: a for a in _alarms(result)}
    alarm = alarms["inference-prod-Vllm-llama-3-1-8b-AtMaxReplicasWithQueue-Warning"]
    config = next(m for m in CONTEXT["environments"]["prod"]["models"] if m["name"] == "llama-3-1-8b")["autoscaling"]
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]
    target = config.get("target_waiting_per_replica", 4)
    assert expression["Expression"] == f"IF(replicas >= {config['max_replicas']} AND waiting > {target:g}, 1, 0)"
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert stats["replicas"]["MetricName"] == "service_number_of_running_pods"
    assert {d["Name"]: d["Value"] for d in stats["replicas"]["Dimensions"]} == {
        "ClusterName": "inference-prod",
        "Namespace": "inference",
        "Service": "llama-3-1-8b",
    }
    assert stats["waiting"]["MetricName"] == "vllm:num_requests_waiting"
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (1, 3, 3)
    ceiling = {name for name in alarms if "AtMaxReplicasWithQueue" in name}
    assert ceiling == {f"inference-prod-Vllm-{m['name']}-AtMaxReplicasWithQueue-Warning" for m in CONTEXT["environments"]["prod"]["models"]}


def _charts(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in body["widgets"] if w["type"] == "chart"]


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_every_promql_chart_reads_a_histogram_the_collector_sends(synth, env: str) -> None:
    result = synth(env)
    charts = _charts(_body(result))
    models = result.stacks.config.models
    routed = models if result.stacks.config.eks.front_door.enabled else ()
    # TTFT, inter-token, end-to-end per model; gateway, EPP request and EPP scheduling per routed model
    assert len(charts) == 3 * len(models) + 3 * len(routed)
    for chart in charts:
        properties = chart["properties"]
        assert properties["region"] == result.stacks.config.region and properties["view"] == "line"
        queries = properties["data"]["queries"]
        assert [q["label"] for q in queries] in (["p50", "p90", "p99"], ["p50", "p99"])
        assert len({q["id"] for q in queries}) == len(queries)
        for query in queries:
            assert (query["language"], query["type"]) == ("PromQL", "cloudwatch-metrics")
            names = metric_names(query["query"])
            assert names and names <= {*HISTOGRAMS, *GATEWAY_HISTOGRAMS, *EPP_HISTOGRAMS}, query["query"]
            assert f'"@resource.k8s.cluster.name"="{result.stacks.config.cluster_name}"' in query["query"]
        assert "metrics" not in properties  # a PromQL chart is not a classic metric widget


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_routed_model_draws_gateway_and_picker_latency_after_its_gateway_widgets(synth, env: str) -> None:
    result = synth(env)
    (collector_config,) = [
        m["data"]["collector.yaml"] for m in result.stacks.eks.vllm_metrics.manifests if m["metadata"]["name"] == "otel-vllm-latency-config"
    ]
    jobs = json.loads(collector_config)["receivers"]["prometheus"]["config"]["scrape_configs"]
    assert [j["job_name"] for j in jobs] == ["vllm", "agentgateway", "epp"], "the Collector scrapes what the charts read"
    widgets = _body(result)["widgets"]
    cluster = f'"@resource.k8s.cluster.name"="{result.stacks.config.cluster_name}"'
    for model in result.stacks.config.models:
        ns, name = model.namespace, model.name
        expected = {
            "Gateway request duration (s)": ("agentgateway_request_duration_seconds", "route", f'"route"="{ns}/{name}"'),
            "EPP request duration (s)": (
                "llm_d_epp_request_duration_seconds",
                "model_name",
                f'"Namespace"="{ns}", "model_name"="{name}"',
            ),
            "EPP scheduling time (s)": (
                "llm_d_epp_scheduler_e2e_duration_seconds",
                "epp",
                f'"Namespace"="{ns}", "epp"="{name[:40]}-epp"',
            ),
        }
        section = next(i for i, w in enumerate(widgets) if w["type"] == "text" and f"vLLM {ns}/{name}" in w["properties"]["markdown"])
        following = widgets[section + 1 :]
        first_chart = next(i for i, w in enumerate(following) if w["type"] == "chart")
        assert "Gateway 5xx rate (%)" in {w["properties"].get("title") for w in following[:first_chart]}
        row = following[first_chart : first_chart + 3]
        assert [w["properties"]["title"] for w in row] == list(expected)
        assert len({w["y"] for w in row}) == 1, "one row"
        for widget in row:
            metric, by, matchers = expected[widget["properties"]["title"]]
            queries = widget["properties"]["data"]["queries"]
            assert [(q["label"], q["query"]) for q in queries] == [
                (f"p{p}", f'histogram_quantile({q}, sum by ("{by}") (rate({{"{metric}", {cluster}, {matchers}}}[5m])))')
                for p, q in (("50", "0.5"), ("99", "0.99"))
            ]


def _promql_alarms(result: Synthesized) -> dict[str, dict[str, Any]]:
    return {a["AlarmName"]: a for a in _alarms(result) if "EvaluationCriteria" in a}


def test_ttft_p90_alarm_per_model_against_its_slo(synth) -> None:
    result = synth("prod")
    alarms = _promql_alarms(result)
    assert set(alarms) == {f"inference-prod-Vllm-{m.name}-TtftP90-Warning" for m in result.stacks.config.models}
    for model in result.stacks.config.models:
        alarm = alarms[f"inference-prod-Vllm-{model.name}-TtftP90-Warning"]
        criteria = alarm["EvaluationCriteria"]["PromQLCriteria"]
        query = criteria["Query"]
        assert query.startswith("histogram_quantile(0.9, ") and query.endswith(" > 1.5")  # prod's ttft_p90_seconds
        assert f'"model_name"="{model.name}"' in query and f'"Namespace"="{model.namespace}"' in query
        assert metric_names(query) == {"vllm:time_to_first_token_seconds"}
        assert (criteria["PendingPeriod"], criteria["RecoveryPeriod"], alarm["EvaluationInterval"]) == (600, 600, 60)
        # CloudWatch refuses these beside EvaluationCriteria; cfn-lint does not check it.
        assert not {"Threshold", "ComparisonOperator", "EvaluationPeriods", "DatapointsToAlarm", "Metrics", "MetricName"} & set(alarm)
        assert alarm["OKActions"] == alarm["AlarmActions"]


def test_a_models_own_slo_overrides_the_default(synth) -> None:
    def tighter(environments: dict) -> None:
        environments["dev"]["models"][0]["ttft_p90_slo_seconds"] = 0.75

    result = synth("dev", key="ttft-slo", edit=tighter)
    ((name, alarm),) = _promql_alarms(result).items()
    assert alarm["EvaluationCriteria"]["PromQLCriteria"]["Query"].endswith(" > 0.75")
    (ttft,) = [c for c in _charts(_body(result)) if "first token" in c["properties"]["title"]]
    assert "p90 SLO 0.75 s" in ttft["properties"]["title"]
    default = _promql_alarms(synth("dev"))[name]
    assert default["EvaluationCriteria"]["PromQLCriteria"]["Query"].endswith(" > 2")  # AlarmThresholds.ttft_p90_seconds


def _stat_dimensions(alarm: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        m["Id"]: {
            "name": m["MetricStat"]["Metric"]["MetricName"],
            **{d["Name"]: d["Value"] for d in m["MetricStat"]["Metric"]["Dimensions"]},
        }
        for m in alarm["Metrics"]
        if "MetricStat" in m
    }


def test_a_routed_model_alarms_on_its_gateway_5xx_rate(synth) -> None:
    result = synth("prod")
    alarms = {a["AlarmName"]: a for a in _alarms(result)}
    for model in result.stacks.config.models:
        alarm = alarms[f"inference-prod-Vllm-{model.name}-Gateway5xxRate-Critical"]
        (expression,) = [m["Expression"] for m in alarm["Metrics"] if "Expression" in m]
        assert expression == "IF(req >= 20, 100 * FILL(err, 0) / req, 0)"
        stats = _stat_dimensions(alarm)
        route = f"{model.namespace}/{model.name}"  # agentgateway's route label: <namespace>/<HTTPRoute name>
        assert stats == {
            "req": {"name": "agentgateway_requests_total", "ClusterName": "inference-prod", "route": route},
            "err": {"name": "agentgateway_requests_total", "ClusterName": "inference-prod", "route": route, "status_class": "5xx"},
        }
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (5, "GreaterThanThreshold")
        assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["TreatMissingData"]) == (3, 2, "notBreaching")
        assert {m["MetricStat"]["Period"] for m in alarm["Metrics"] if "MetricStat" in m} == {300}


def test_an_autoscaled_model_alarms_on_scaler_errors(synth) -> None:
    result = synth("prod")
    alarms = {a["AlarmName"]: a for a in _alarms(result)}
    alarm = alarms["inference-prod-Vllm-llama-3-1-8b-ScalerErrors-Warning"]
    (stat,) = [m["MetricStat"] for m in alarm["Metrics"]]
    assert stat["Metric"]["MetricName"] == "keda_scaled_object_errors_total" and stat["Stat"] == "Sum"
    # KEDA v2.20.2 labels: namespace and scaledObject (the ScaledObject is named after the model).
    assert {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]} == {
        "ClusterName": "inference-prod",
        "namespace": "inference",
        "scaledObject": "llama-3-1-8b",
    }
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
        3,
        3,
    )
    assert stat["Period"] == 300 and alarm["TreatMissingData"] == "notBreaching"
    scaled = {name for name in alarms if "ScalerErrors" in name}
    assert scaled == {f"inference-prod-Vllm-{m['name']}-ScalerErrors-Warning" for m in CONTEXT["environments"]["prod"]["models"]}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_model_draws_its_front_door_and_pending_pods(synth, env: str) -> None:
    result = synth(env)
    rows = [r for r in _metric_rows(_body(result)) if r[0] == "ContainerInsights/Prometheus"]
    drawn = {
        (r[1], frozenset(zip(r[2:-1:2], r[3:-1:2], strict=True))) for r in rows if isinstance(r[-1], dict) and "expression" not in r[-1]
    }
    cluster = ("ClusterName", result.stacks.config.cluster_name)
    for model in result.stacks.config.models:
        ns = model.namespace
        route = ("route", f"{ns}/{model.name}")
        expected = {
            (name, frozenset(dims))
            for name, dims in {
                ("agentgateway_requests_total", (cluster, route)),
                ("agentgateway_requests_total", (cluster, route, ("status_class", "5xx"))),
                ("llm_d_epp_request_total", (cluster, ("Namespace", ns), ("model_name", model.name))),
                ("llm_d_epp_request_error_total", (cluster, ("Namespace", ns), ("model_name", model.name))),
                ("llm_d_epp_ready_endpoints", (cluster, ("Namespace", ns), ("name", model.name))),
                ("karpenter_pods_state", (cluster, ("namespace", ns), ("model_name", model.name))),
            }
        }
        assert expected <= drawn, expected - drawn
    every_row = _metric_rows(_body(result))
    expressions = [r[-1]["expression"] for r in every_row if isinstance(r[-1], dict) and "expression" in r[-1]]
    assert expressions.count("FILL(pending, 0) * 30 / PERIOD(pending)") == len(result.stacks.config.models)


def test_component_metrics_carry_exactly_the_published_dimensions() -> None:
    from infra.metrics import component

    metric = component("llm_d_epp_ready_endpoints", "c", "Maximum", "ready", Namespace="inference", name="m")
    assert metric.dimensions == {"ClusterName": "c", "Namespace": "inference", "name": "m"}
    component("agentgateway_requests_total", "c", "Sum", "all", route="inference/m")
    component("agentgateway_requests_total", "c", "Sum", "5xx", route="inference/m", status_class="5xx")
    with pytest.raises(ValueError, match="published by"):
        component("agentgateway_requests_total", "c", "Sum", "x", route="inference/m", status="503")
    with pytest.raises(ValueError, match="published by"):
        component("keda_scaled_object_errors_total", "c", "Sum", "x", Namespace="inference", scaledObject="m")
