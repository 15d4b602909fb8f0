"""Queue-driven autoscaling: KEDA objects, the drain that protects in-flight streams, and the config rules."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest
from conftest import CONTEXT
from serving_specs import MULTI, SINGLE

from infra import serving_plan
from infra.config import ConfigError, load
from infra.k8s import autoscaling, vllm
from infra.k8s.schema import validate

SCALING = autoscaling.AutoscalingSpec(
    name="llama-3-1-8b",
    namespace="inference",
    multi_node=False,
    cluster_name="inference-prod",
    region="us-east-2",
    min_replicas=2,
    max_replicas=6,
    target_waiting_per_replica=4,
    polling_seconds=30,
    scale_up_stabilization_seconds=0,
    scale_down_stabilization_seconds=600,
)


def test_the_trigger_reads_the_queue_the_cloudwatch_agent_publishes() -> None:
    # infra.k8s.cwagent: METRIC_NAMESPACE, DIMENSIONS (ClusterName, Namespace, model_name) and the
    # vllm:num_requests_waiting gauge; KEDA 2.20 docs scalers/aws-cloudwatch.md for the parameters.
    assert autoscaling.trigger_metadata(SCALING) == {
        "namespace": "ContainerInsights/Prometheus",
        "metricName": "vllm:num_requests_waiting",
        "dimensionName": "ClusterName;Namespace;model_name",
        "dimensionValue": "inference-prod;inference;llama-3-1-8b",
        "metricStat": "Average",
        "metricStatPeriod": "60",
        "metricCollectionTime": "180",
        "targetMetricValue": "4",
        "ignoreNullValues": "false",
        "awsRegion": "us-east-2",
    }


def test_the_scaled_object_targets_the_deployment_with_the_configured_bounds_and_behaviour() -> None:
    spec = autoscaling.scaled_object(SCALING)["spec"]
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "llama-3-1-8b"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["pollingInterval"]) == (2, 6, 30)
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"] == {
        "scaleUp": {"stabilizationWindowSeconds": 0},
        "scaleDown": {"stabilizationWindowSeconds": 600, "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
    }
    (trigger,) = spec["triggers"]
    assert (trigger["type"], trigger["metricType"], trigger["authenticationRef"]) == (
        "aws-cloudwatch",
        "Value",
        {"name": "llama-3-1-8b-keda-aws"},
    )


def test_a_multi_node_model_scales_its_leader_worker_set_by_groups() -> None:
    # leaderworkerset.x-k8s.io/v1 has a scale subresource whose replicas are groups.
    group = dataclasses.replace(SCALING, name="llama-405b", multi_node=True)
    assert autoscaling.scaled_object(group)["spec"]["scaleTargetRef"] == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "name": "llama-405b",
    }


def test_the_scaler_uses_the_keda_operators_pod_identity() -> None:
    # KEDA 2.20 docs authentication-providers/aws.md: provider aws, identityOwner keda (the operator's role).
    assert autoscaling.trigger_authentication(SCALING)["spec"] == {"podIdentity": {"provider": "aws", "identityOwner": "keda"}}


@pytest.mark.parametrize("multi_node", [False, True])
def test_every_keda_object_validates_against_the_vendored_crds(multi_node: bool) -> None:
    for manifest in autoscaling.manifests(dataclasses.replace(SCALING, multi_node=multi_node)):
        assert validate(manifest) == [], (manifest["kind"], validate(manifest))


def test_the_vendored_crd_rejects_a_minimum_above_the_maximum() -> None:
    bad = autoscaling.scaled_object(dataclasses.replace(SCALING, min_replicas=7))
    assert validate(bad) == [
        "spec: minReplicaCount must be less than or equal to maxReplicaCount (rule: !has(self.minReplicaCount) || "
        "self.minReplicaCount <= (has(self.maxReplicaCount) ? self.maxReplicaCount : 100))"
    ]


def test_a_draining_server_leaves_the_service_then_finishes_its_requests() -> None:
    # vLLM v0.31.0: SIGTERM starts the API server's shutdown (vllm/entrypoints/launchers/launcher.py:135),
    # whose mode is "abort" when --shutdown-timeout is 0 and "drain" otherwise (launcher.py:141-142);
    # the flag defaults to 0 (vllm/engine/arg_utils.py:1867, vllm/config/vllm.py:458). Draining, the
    # engine finishes in-flight requests for up to the timeout and aborts the rest
    # (vllm/v1/engine/core.py:1549 _handle_shutdown) and rejects new ones (core.py:1631
    # _reject_add_in_shutdown). So: preStop 15 s out of the endpoints, drain 600 s, teardown 30 s.
    draining = dataclasses.replace(SINGLE, drain_seconds=600)
    pod = vllm.deployment(draining)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][-2:] == ["--shutdown-timeout", "600"]
    assert container["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    assert pod["terminationGracePeriodSeconds"] == 645


def test_a_groups_workers_outlive_the_leaders_drain() -> None:
    spec = vllm.leader_worker_set(dataclasses.replace(MULTI, drain_seconds=300))["spec"]["leaderWorkerTemplate"]
    leader, worker = (spec[t]["spec"] for t in ("leaderTemplate", "workerTemplate"))
    assert leader["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 15}}}
    assert worker["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 315}}}
    assert leader["terminationGracePeriodSeconds"] == worker["terminationGracePeriodSeconds"] == 345


def test_a_fixed_model_keeps_vllms_default_shutdown() -> None:
    pod = vllm.deployment(SINGLE)["spec"]["template"]["spec"]
    assert "--shutdown-timeout" not in pod["containers"][0]["command"] and "lifecycle" not in pod["containers"][0]
    assert pod["terminationGracePeriodSeconds"] == 120


def test_draining_workloads_validate() -> None:
    for spec in (dataclasses.replace(SINGLE, drain_seconds=600), dataclasses.replace(MULTI, drain_seconds=600)):
        for manifest in vllm.manifests(spec):
            assert validate(manifest) == [], (manifest["kind"], validate(manifest))


def _load(env: str, edit: Any) -> Any:
    context = copy.deepcopy(CONTEXT)
    edit(context["environments"][env])
    return load({**context, "env": env})


def _error(env: str, edit: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        _load(env, edit)
    return str(raised.value)


def _autoscale(env: str, index: int, **scaling: Any) -> Any:
    def edit(environment: dict[str, Any]) -> None:
        environment["models"][index].pop("replicas", None)
        environment["models"][index]["autoscaling"] = scaling

    return edit


def test_the_prod_model_starts_at_its_minimum_and_drains_on_scale_down() -> None:
    config = load({**copy.deepcopy(CONTEXT), "env": "prod"})
    model = config.models[0]
    pool = config.pool(model.pool)
    assert pool is not None
    spec = serving_plan.serving_spec(model, pool, config.plan(model), region="us-east-2", weights_bucket="b", image="i:1")
    assert (spec.replicas, spec.drain_seconds) == (2, 600)
    scaling = serving_plan.autoscaling_spec(model, config.plan(model), cluster_name="inference-prod", region="us-east-2")
    assert scaling == SCALING


@pytest.mark.parametrize(
    ("scaling", "line"),
    [
        (
            {"min_replicas": 3, "max_replicas": 2},
            "models[0].autoscaling.min_replicas: min_replicas 3 is above max_replicas 2; lower min_replicas or raise max_replicas",
        ),
        ({"min_replicas": 0, "max_replicas": 2}, "models[0].autoscaling.min_replicas: must be at least 1"),
        ({"min_replicas": 1}, "models[0].autoscaling.max_replicas: "),
        ({"max_replicas": 2, "target_waiting_per_replica": 0}, "models[0].autoscaling.target_waiting_per_replica: must be more than 0"),
        ({"max_replicas": 2, "polling_seconds": 5}, "models[0].autoscaling.polling_seconds: must be at least 10"),
        ({"max_replicas": 2, "scale_down_stabilization_seconds": 3601}, "models[0].autoscaling.scale_down_stabilization_seconds: "),
        ({"max_replicas": 2, "scale_up_cooldown_seconds": 60}, "models[0].autoscaling.scale_up_cooldown_seconds: "),
    ],
)
def test_autoscaling_errors(scaling: dict[str, Any], line: str) -> None:
    text = _error("dev", _autoscale("dev", 0, **scaling))
    assert text.startswith(f"environments.dev.{line}"), text


def test_the_min_above_max_line_is_exact() -> None:
    assert _error("dev", _autoscale("dev", 0, min_replicas=3, max_replicas=2)) == (
        "environments.dev.models[0].autoscaling.min_replicas: min_replicas 3 is above max_replicas 2; "
        "lower min_replicas or raise max_replicas"
    )


def test_fixed_replicas_and_autoscaling_together_fail_synth() -> None:
    def edit(environment: dict[str, Any]) -> None:
        environment["models"][0].update(replicas=2, autoscaling={"max_replicas": 3})

    assert _error("dev", edit) == (
        "environments.dev.models[0].replicas: replicas is fixed while autoscaling sets the count; "
        "remove replicas; autoscaling.min_replicas and max_replicas bound it"
    )


def test_max_replicas_must_fit_the_pools_accelerator_limit() -> None:
    # dev's gpu pool allows 4 GPUs; llama-3.2-1b takes one per replica: 5 replicas at their most do not fit.
    assert _error("dev", _autoscale("dev", 0, max_replicas=5)) == (
        "environments.dev.node_pools[0].limits.accelerators: the pool's models need 5 accelerators (llama-3-2-1b 5) "
        "but limits.accelerators is 4; raise the limit, or lower replicas (autoscaling.max_replicas where a model autoscales)"
    )
    assert _load("dev", _autoscale("dev", 0, max_replicas=4)).models[0].peak_replicas == 4


def test_a_group_counts_every_node_of_every_group_at_its_maximum() -> None:
    # prod's gpu-efa pool: 32 GPUs; the 405B group is 2 x p5.48xlarge = 16 GPUs, so 2 groups fit and 3 do not.
    assert _load("prod", _autoscale("prod", 1, max_replicas=2)).models[1].peak_replicas == 2
    assert _error("prod", _autoscale("prod", 1, max_replicas=3)) == (
        "environments.prod.node_pools[1].limits.accelerators: the pool's models need 48 accelerators (llama-3-1-405b 48) "
        "but limits.accelerators is 32; raise the limit, or lower replicas (autoscaling.max_replicas where a model autoscales)"
    )


def test_an_engine_without_a_drain_flag_cannot_autoscale() -> None:
    # vLLM 0.16.0 (the inf2/trn1 Neuron image) has no --shutdown-timeout (infra/catalog/data/vllm-serve-args-0.16.0.json).
    assert _error("prod", _autoscale("prod", 2, max_replicas=2)) == (
        "environments.prod.models[2].autoscaling: vLLM 0.16.0 (the inf2.8xlarge image's engine) has no --shutdown-timeout, "
        "so a scale-down would cut in-flight streams; serve it on a GPU or trn2 pool, set autoscaling.scale_down to false, "
        "or remove autoscaling"
    )


def test_extra_args_cannot_reset_the_drain() -> None:
    def edit(environment: dict[str, Any]) -> None:
        environment["models"][0]["extra_args"] = ["--shutdown-timeout", "0"]

    assert _error("prod", edit) == (
        "environments.prod.models[0].extra_args: --shutdown-timeout is set by the blueprint (set autoscaling.max_request_seconds); "
        "remove --shutdown-timeout from extra_args"
    )


def test_a_model_that_cannot_drain_scales_out_and_never_in() -> None:
    """Kubernetes autoscaling/v2 HPAScalingRules: ``selectPolicy: Disabled`` turns scaling in that
    direction off. Used for engines without vLLM's --shutdown-timeout, whose scale-down would cut streams."""
    behavior = autoscaling.scaled_object(dataclasses.replace(SCALING, scale_down=False))["spec"]["advanced"][
        "horizontalPodAutoscalerConfig"
    ]["behavior"]
    assert behavior["scaleDown"] == {"selectPolicy": "Disabled"}
    assert behavior["scaleUp"] == {"stabilizationWindowSeconds": SCALING.scale_up_stabilization_seconds}
    assert validate(autoscaling.scaled_object(dataclasses.replace(SCALING, scale_down=False))) == []
