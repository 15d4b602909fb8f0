"""checkov skips: the CloudFormation metadata helper, the Kubernetes annotations, and which builders skip what.

Whether each skip is still needed is decided by checkov itself in tests/stacks/test_checkov.py;
these tests pin what each builder claims and when.
"""

from __future__ import annotations

import dataclasses

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Template
from serving_specs import MULTI, SINGLE

from infra import checkov_skips
from infra.k8s import cwagent, otel_collector, vllm
from infra.k8s.skips import checkov_annotations

REASON = "a reason that is long enough to be read"


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S")


def test_a_skip_is_written_to_each_resource_of_the_type_below_the_scope() -> None:
    stack = _stack()
    bucket = s3.Bucket(stack, "Logs", enforce_ssl=True)
    marked = checkov_skips.skip(bucket, "AWS::S3::Bucket", "CKV_AWS_18", REASON)
    checkov_skips.skip(bucket, "AWS::S3::Bucket", "CKV_AWS_21", REASON + ", too")
    checkov_skips.skip(bucket, "AWS::S3::Bucket", "CKV_AWS_18", "the same check again, with a new reason")
    assert len(marked) == 1
    buckets = Template.from_stack(stack).find_resources("AWS::S3::Bucket")
    (resource,) = buckets.values()
    assert resource["Metadata"]["checkov"] == {
        "skip": [
            {"id": "CKV_AWS_21", "comment": REASON + ", too"},
            {"id": "CKV_AWS_18", "comment": "the same check again, with a new reason"},
        ]
    }
    # The bucket policy below the same scope is another type: untouched.
    (policy,) = Template.from_stack(stack).find_resources("AWS::S3::BucketPolicy").values()
    assert "checkov" not in policy.get("Metadata", {})


@pytest.mark.parametrize(
    ("resource_type", "check_id", "reason", "message"),
    [
        ("AWS::Logs::LogGroup", "CKV_AWS_158", REASON, "no AWS::Logs::LogGroup at or below S/Queue to skip CKV_AWS_158 on"),
        ("AWS::SQS::Queue", "CKV_K8S_8", REASON, "not a checkov CloudFormation check id: 'CKV_K8S_8'"),
        ("AWS::SQS::Queue", "CKV_AWS_27", "short", "skipping CKV_AWS_27 needs a real reason, got 'short'"),
    ],
)
def test_a_skip_that_cannot_apply_is_refused(resource_type: str, check_id: str, reason: str, message: str) -> None:
    queue = sqs.Queue(_stack(), "Queue")
    with pytest.raises(ValueError) as raised:
        checkov_skips.skip(queue, resource_type, check_id, reason)
    assert str(raised.value) == message


def test_annotations_are_numbered_in_order() -> None:
    assert checkov_annotations({"CKV_K8S_43": "pinned by tag", "CKV2_K8S_6": "no policy engine"}) == {
        "checkov.io/skip1": "CKV_K8S_43=pinned by tag",
        "checkov.io/skip2": "CKV2_K8S_6=no policy engine",
    }


@pytest.mark.parametrize(
    ("skips", "message"),
    [
        (
            {"CKV_K8S_40": "a UID >= 10000"},
            "CKV_K8S_40: a skip reason must be non-empty and without '=' (checkov splits at it): 'a UID >= 10000'",
        ),
        ({"CKV_K8S_40": " "}, "CKV_K8S_40: a skip reason must be non-empty and without '=' (checkov splits at it): ' '"),
        ({"CKV_AWS_18": "x"}, "not a checkov Kubernetes check id: 'CKV_AWS_18'"),
    ],
)
def test_an_annotation_checkov_could_not_read_is_refused(skips: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        checkov_annotations(skips)
    assert str(raised.value) == message


ALWAYS = ["CKV_K8S_11", "CKV_K8S_15", "CKV_K8S_22", "CKV_K8S_29", "CKV_K8S_43", "CKV_K8S_35"]
NEURON = dataclasses.replace(
    SINGLE, accelerator="neuron", max_num_seqs=8, neuron_plugin="0.5.3", hub_token_secret="hf-token", model="meta-llama/x"
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (SINGLE, [*ALWAYS, "CKV_K8S_40"]),
        (MULTI, [*ALWAYS, "CKV_K8S_40", "CKV_K8S_25", "CKV_K8S_8", "CKV_K8S_9"]),
        (NEURON, [*ALWAYS, "CKV_K8S_23", "CKV_K8S_28", "CKV_K8S_37", "CKV_K8S_40"]),
    ],
    ids=["single-gpu", "multi-node-efa", "neuron-with-hub-token"],
)
def test_serving_workloads_skip_only_what_their_spec_needs(spec: vllm.ServingSpec, expected: list[str]) -> None:
    assert list(vllm.checkov_skips(spec)) == expected
    workload = vllm.manifests(spec)[0]
    assert workload["metadata"]["annotations"] == checkov_annotations(vllm.checkov_skips(spec))


@pytest.mark.parametrize("spec", [SINGLE, MULTI], ids=["deployment", "leader-worker-set"])
def test_serving_pods_mount_no_kubernetes_api_token(spec: vllm.ServingSpec) -> None:
    """vLLM never calls the Kubernetes API; its AWS credentials come from EKS Pod Identity, which mounts a
    token of its own (audience pods.eks.amazonaws.com) whatever automountServiceAccountToken says: Amazon EKS
    User Guide, "Understand how EKS Pod Identity works",
    https://docs.aws.amazon.com/eks/latest/userguide/pod-id-how-it-works.html."""
    workload = vllm.manifests(spec)[0]
    if spec.multi_node:
        group = workload["spec"]["leaderWorkerTemplate"]
        templates = [group["leaderTemplate"], group["workerTemplate"]]
    else:
        templates = [workload["spec"]["template"]]
    assert [t["spec"]["automountServiceAccountToken"] for t in templates] == [False] * len(templates)


def _scraper(objects: list[dict]) -> dict:
    (deployment,) = [o for o in objects if o["kind"] == "Deployment"]
    return deployment


def test_scrapers_skip_the_token_and_image_checks_and_the_agent_its_probes() -> None:
    common = ["CKV_K8S_15", "CKV_K8S_38", "CKV_K8S_43"]
    agent = _scraper(cwagent.prometheus_agent(cluster_name="c", region="us-east-2", namespace="metrics", node_selector={"role": "system"}))
    collector = _scraper(
        otel_collector.latency_collector(cluster_name="c", region="us-east-2", namespace="metrics", node_selector={"role": "system"})
    )
    ids = [value.split("=")[0] for value in agent["metadata"]["annotations"].values()]
    assert ids == [*common, "CKV_K8S_8", "CKV_K8S_9"]
    assert [value.split("=")[0] for value in collector["metadata"]["annotations"].values()] == common
    # The token the CKV_K8S_38 skip keeps is the one pod discovery uses.
    assert agent["spec"]["template"]["spec"]["automountServiceAccountToken"] is True
