"""inference-<env>-eks: control plane, access, logs, system nodes, add-ons, kubectl provider."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match
from conftest import SHIPPED_ENVS, Synthesized

from infra.checks import CONTROL_PLANE_LOG_TYPES

ADMIN = "arn:aws:iam::123456789012:role/platform-admins"


def _cluster(result: Synthesized) -> dict:
    (cluster,) = result.resources("eks", "AWS::EKS::Cluster").values()
    return cluster["Properties"]


def _addons(result: Synthesized) -> dict[str, dict]:
    return {a["Properties"]["AddonName"]: a for a in result.resources("eks", "AWS::EKS::Addon").values()}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_cluster_basics(synth, env: str) -> None:
    props = _cluster(synth(env))
    assert props["Name"] == f"inference-{env}"
    assert props["Version"] == "1.36"
    assert props["AccessConfig"] == {"AuthenticationMode": "API", "BootstrapClusterCreatorAdminPermissions": False}
    assert props["ComputeConfig"] == {"Enabled": False}, "Auto Mode stays off: Karpenter manages accelerator capacity"
    assert {t["Type"] for t in props["Logging"]["ClusterLogging"]["EnabledTypes"]} == CONTROL_PLANE_LOG_TYPES
    assert props["EncryptionConfig"][0]["Resources"] == ["secrets"]
    assert "Fn::GetAtt" in props["EncryptionConfig"][0]["Provider"]["KeyArn"]


def test_prod_endpoint_is_private(prod: Synthesized) -> None:
    vpc = _cluster(prod)["ResourcesVpcConfig"]
    assert (vpc["EndpointPrivateAccess"], vpc["EndpointPublicAccess"]) == (True, False)
    assert "PublicAccessCidrs" not in vpc


def test_dev_endpoint_is_public_only_to_listed_cidrs(dev: Synthesized) -> None:
    vpc = _cluster(dev)["ResourcesVpcConfig"]
    assert (vpc["EndpointPrivateAccess"], vpc["EndpointPublicAccess"]) == (True, True)
    assert vpc["PublicAccessCidrs"] == ["198.51.100.0/24"]


def test_cluster_runs_in_private_subnets_of_the_network_stack(prod: Synthesized) -> None:
    subnets = _cluster(prod)["ResourcesVpcConfig"]["SubnetIds"]
    assert len(subnets) == 3
    assert all("privateSubnet" in json.dumps(s) for s in subnets)


def test_control_plane_log_group_precreated_encrypted_and_retained(prod: Synthesized) -> None:
    template = prod.template("eks")
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {"LogGroupName": "/aws/eks/inference-prod/cluster", "RetentionInDays": 365, "KmsKeyId": Match.any_value()},
            "DeletionPolicy": "Retain",
        },
    )
    (cluster,) = prod.resources("eks", "AWS::EKS::Cluster").values()
    (log_group_id,) = [
        k
        for k, r in prod.resources("eks", "AWS::Logs::LogGroup").items()
        if r["Properties"].get("LogGroupName") == "/aws/eks/inference-prod/cluster"
    ]
    assert log_group_id in cluster["DependsOn"], "EKS must not create the log group itself (it would have no retention)"


def test_cluster_key_rotates_and_is_retained(prod: Synthesized) -> None:
    prod.template("eks").has_resource("AWS::KMS::Key", {"Properties": {"EnableKeyRotation": True}, "DeletionPolicy": "Retain"})


def test_system_node_group(prod: Synthesized) -> None:
    prod.template("eks").has_resource_properties(
        "AWS::EKS::Nodegroup",
        {
            "NodegroupName": "system",
            "AmiType": "AL2023_x86_64_STANDARD",
            "CapacityType": "ON_DEMAND",
            "InstanceTypes": ["m7i.xlarge", "m6i.xlarge"],
            "ScalingConfig": {"MinSize": 3, "DesiredSize": 3, "MaxSize": 6},
            "Labels": {"inference-blueprint/node-role": "system"},
            "NodeRepairConfig": {"Enabled": True},
        },
    )


def test_system_nodes_imdsv2_encrypted_no_ssh(prod: Synthesized) -> None:
    (template,) = prod.resources("eks", "AWS::EC2::LaunchTemplate").values()
    data = template["Properties"]["LaunchTemplateData"]
    # Hop limit 1: a pod outside the host network cannot reach IMDS, so it cannot take the node
    # role's credentials (EC2 User Guide, "Configure the instance metadata options": "in a container
    # environment ... the hop limit of 1" stops containers from the token). What needs IMDS there
    # runs on the host network (see SYSTEM_NODE_IMDS_HOP_LIMIT's comment for the chart sources).
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}
    assert data["BlockDeviceMappings"][0]["Ebs"] == {"DeleteOnTermination": True, "Encrypted": True, "VolumeSize": 50, "VolumeType": "gp3"}
    assert "KeyName" not in data
    (nodegroup,) = prod.resources("eks", "AWS::EKS::Nodegroup").values()
    assert "RemoteAccess" not in nodegroup["Properties"]


def test_node_role_has_no_cni_or_cloudwatch_permissions(prod: Synthesized) -> None:
    roles = prod.resources("eks", "AWS::IAM::Role")
    node_role = next(r for k, r in roles.items() if k.startswith("EksSystemNodeRole"))
    policies = json.dumps(node_role["Properties"]["ManagedPolicyArns"])
    assert "AmazonEKSWorkerNodePolicy" in policies and "AmazonEC2ContainerRegistryPullOnly" in policies
    assert "CNI" not in policies and "CloudWatch" not in policies


def test_addons_and_their_order(prod: Synthesized) -> None:
    addons = _addons(prod)
    assert set(addons) == {
        "vpc-cni",
        "kube-proxy",
        "eks-pod-identity-agent",
        "coredns",
        "amazon-cloudwatch-observability",
        "aws-secrets-store-csi-driver-provider",
    }
    (nodegroup_id,) = prod.resources("eks", "AWS::EKS::Nodegroup")
    nodegroup = prod.resources("eks", "AWS::EKS::Nodegroup")[nodegroup_id]
    ids = {a["Properties"]["AddonName"]: k for k, a in prod.resources("eks", "AWS::EKS::Addon").items()}
    for name in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert ids[name] in nodegroup["DependsOn"], f"{name} must exist before nodes join"
    for name in ("coredns", "amazon-cloudwatch-observability", "aws-secrets-store-csi-driver-provider"):
        assert nodegroup_id in addons[name]["DependsOn"], f"{name} needs nodes to schedule on"
    assert all(a["Properties"]["ResolveConflicts"] == "OVERWRITE" for a in addons.values())
    assert all("AddonVersion" not in a["Properties"] for a in addons.values()), "unpinned: EKS default for the version"


@pytest.mark.parametrize(
    ("addon", "service_account", "policy"),
    [
        ("vpc-cni", "aws-node", "AmazonEKS_CNI_Policy"),
        ("amazon-cloudwatch-observability", "cloudwatch-agent", "CloudWatchAgentServerPolicy"),
    ],
)
def test_addon_pod_identity(prod: Synthesized, addon: str, service_account: str, policy: str) -> None:
    (association,) = _addons(prod)[addon]["Properties"]["PodIdentityAssociations"]
    assert association["ServiceAccount"] == service_account
    role_id = association["RoleArn"]["Fn::GetAtt"][0]
    role = prod.template_json("eks")["Resources"][role_id]["Properties"]
    assert policy in json.dumps(role["ManagedPolicyArns"])
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_cloudwatch_addon_collects_accelerator_metrics(prod: Synthesized) -> None:
    config = json.loads(_addons(prod)["amazon-cloudwatch-observability"]["Properties"]["ConfigurationValues"])
    kubernetes = config["agent"]["config"]["logs"]["metrics_collected"]["kubernetes"]
    assert kubernetes == {"enhanced_container_insights": True, "accelerated_compute_metrics": True}
    assert "application_signals" in config["agent"]["config"]["logs"]["metrics_collected"]


def test_vpc_cni_enforces_network_policies(prod: Synthesized) -> None:
    # Without enableNetworkPolicy the CNI's node agent programs nothing and every NetworkPolicy is
    # accepted by the API server but ignored (EKS User Guide, "Restrict Pod network traffic with
    # Kubernetes network policies"): the serving namespaces' default-deny would be decoration.
    config = json.loads(_addons(prod)["vpc-cni"]["Properties"]["ConfigurationValues"])
    assert config == {"enableNetworkPolicy": "true"}


def test_secrets_provider_runs_on_tainted_accelerator_nodes_and_mirrors_the_key(prod: Synthesized) -> None:
    # The provider chart's DaemonSet tolerates nothing by default (aws/secrets-store-csi-driver-provider-aws
    # charts/.../values.yaml "tolerations: []"); serving pods on tainted GPU/Neuron nodes mount the key
    # through it. syncSecret makes the driver mirror it into the Secret the container's env reads
    # (kubernetes-sigs/secrets-store-csi-driver chart values "syncSecret.enabled").
    config = json.loads(_addons(prod)["aws-secrets-store-csi-driver-provider"]["Properties"]["ConfigurationValues"])
    assert config == {
        "awsRegion": "us-east-2",
        "secrets-store-csi-driver": {"syncSecret": {"enabled": True}},
        "tolerations": [{"operator": "Exists"}],
    }


def test_kubectl_layer_matches_cluster_version(prod: Synthesized) -> None:
    layers = [layer["Properties"].get("Description", "") for layer in prod.resources("eks", "AWS::Lambda::LayerVersion").values()]
    assert any(d.startswith("/opt/kubectl/kubectl 1.36.") for d in layers), layers


def test_kubectl_provider_runs_in_private_subnets(prod: Synthesized) -> None:
    handlers = [f["Properties"] for f in prod.resources("eks", "AWS::Lambda::Function").values() if "VpcConfig" in f["Properties"]]
    assert handlers and all(len(h["VpcConfig"]["SubnetIds"]) == 3 for h in handlers)


def test_kubectl_provider_logs_are_encrypted_with_the_cluster_key(prod: Synthesized) -> None:
    groups = {k: g["Properties"] for k, g in prod.resources("eks", "AWS::Logs::LogGroup").items() if "KubectlProvider" in k}
    assert len(groups) == 2, list(groups)
    (key,) = [k for k in prod.resources("eks", "AWS::KMS::Key") if k.startswith("EksClusterKey")]
    assert all(g["KmsKeyId"] == {"Fn::GetAtt": [key, "Arn"]} for g in groups.values()), groups


def test_admin_role_names_become_cluster_admin_access_entries_in_the_deploying_account(prod: Synthesized) -> None:
    entries = [
        e["Properties"] for e in prod.resources("eks", "AWS::EKS::AccessEntry").values() if e["Properties"].get("Type") != "EC2_LINUX"
    ]
    principals = [json.dumps(e["PrincipalArn"]) for e in entries]
    assert len(entries) == 2 and sum("KubectlProvider" in p for p in principals) == 1, principals
    (admin,) = [e for e in entries if "KubectlProvider" not in json.dumps(e["PrincipalArn"])]
    # arn:aws:iam::<the stack's account>:role/<name>, the account resolved at deploy (the stack is account-agnostic).
    assert admin["PrincipalArn"] == {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "AWS::AccountId"}, ":role/platform-admins"]]}
    assert [p["AccessScope"]["Type"] for p in admin["AccessPolicies"]] == ["cluster"]
    assert "cluster-access-policy/AmazonEKSClusterAdminPolicy" in json.dumps(admin["AccessPolicies"])


def test_configured_admins_and_addon_pins(synth) -> None:
    def edit(envs: dict) -> None:
        envs["prod"]["eks"]["admin_principal_arns"] = [ADMIN]
        envs["prod"]["eks"]["addon_versions"] = {"vpc-cni": "v1.20.4-eksbuild.1"}

    result = synth("prod", key="admins", edit=edit)
    result.template("eks").has_resource_properties(
        "AWS::EKS::AccessEntry",
        {
            "PrincipalArn": ADMIN,
            "AccessPolicies": [{"AccessScope": {"Type": "cluster"}, "PolicyArn": Match.any_value()}],
        },
    )
    entry = next(e for e in result.resources("eks", "AWS::EKS::AccessEntry").values() if e["Properties"]["PrincipalArn"] == ADMIN)
    assert "AmazonEKSClusterAdminPolicy" in json.dumps(entry["Properties"]["AccessPolicies"])
    assert _addons(result)["vpc-cni"]["Properties"]["AddonVersion"] == "v1.20.4-eksbuild.1"


def test_graviton_system_nodes_get_the_arm_ami(synth) -> None:
    def edit(envs: dict) -> None:
        envs["dev"]["eks"]["system_nodes"]["instance_types"] = ["m7g.large"]

    synth("dev", key="graviton", edit=edit).template("eks").has_resource_properties(
        "AWS::EKS::Nodegroup", {"AmiType": "AL2023_ARM_64_STANDARD"}
    )


def test_kubeconfig_output(prod: Synthesized) -> None:
    outputs = prod.template_json("eks")["Outputs"]
    assert any(o["Value"] == "aws eks update-kubeconfig --name inference-prod --region us-east-2" for o in outputs.values())
