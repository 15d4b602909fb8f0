"""inference-<env>-bedrock: exact invoke statements, the guardrail, Pod Identity, invocation logging."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match
from cfnlint.api import ManualArgs, lint_file
from conftest import CONTEXT, SHIPPED_ENVS, Synthesized, context_for

import app as app_module
from infra import checks, nag
from infra.bedrock_policy import application_profile_statements, guardrail_identifier, guardrail_statements, invoke_statements
from infra.catalog import bedrock as catalog
from infra.config import ConfigError
from infra.constructs.bedrock_guardrail import configuration_digest

# How _join writes the deploy-time attributes of the guardrail, its version and its key.
GUARDRAIL_ARN = "${Guardrail.GuardrailArn}"
GUARDRAIL = guardrail_identifier(GUARDRAIL_ARN, "${GuardrailVersion.Version}")
GUARDRAIL_KEY_ARN = "${GuardrailKey.Arn}"


def _policy(result: Synthesized) -> list[dict[str, Any]]:
    (policy,) = [p for k, p in result.resources("bedrock", "AWS::IAM::ManagedPolicy").items() if k.startswith("AccessInvokePolicy")]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _expected(env: str) -> list[dict[str, Any]]:
    region = CONTEXT["environments"][env]["region"]
    guardrail = CONTEXT["environments"][env]["bedrock"].get("guardrail")
    enforced = guardrail is not None and guardrail.get("enforced", True)
    statements = []
    for access in CONTEXT["environments"][env]["bedrock"]["models"]:
        model = catalog.MODELS[access["model"]]
        scope = access.get("scope", "global")
        statements += invoke_statements(
            partition="aws",
            source_region=region,
            account="${AWS::AccountId}",
            model_id=model.model_id,
            scope=scope,
            streaming=access.get("streaming", True),
            sid_prefix="X",
            guardrail=GUARDRAIL if enforced else None,
        )
    if enforced:
        statements += guardrail_statements(guardrail_arn=GUARDRAIL_ARN, key_arn=GUARDRAIL_KEY_ARN)
    return statements


def _normal(statements: list[dict[str, Any]]) -> list[str]:
    """Statements without Sids, with joins resolved, one-item actions as lists and resource lists sorted."""
    out = []
    for statement in json.loads(json.dumps(statements)):
        statement.pop("Sid", None)
        statement["Action"] = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resource = _join(statement["Resource"])
        statement["Resource"] = sorted(resource) if isinstance(resource, list) else resource
        for operator in statement.get("Condition", {}).values():
            for name, value in operator.items():
                operator[name] = _join(value)
        out.append(json.dumps(statement, sort_keys=True))
    return sorted(out)


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_statements_are_exactly_the_documented_ones(synth, env: str) -> None:
    actual = _policy(synth(env))
    expected = _expected(env)
    assert len(actual) == len(expected)
    assert _normal(actual) == _normal(expected)


def _attribute(value: dict[str, Any]) -> str:
    """``${<construct path>.<attribute>}`` for a GetAtt of the guardrail's resources, by logical id prefix."""
    logical_id, attribute = value["Fn::GetAtt"]
    if logical_id.startswith("Team"):
        return f"${{{logical_id}.{attribute}}}"
    for prefix in ("GuardrailVersion", "GuardrailKey", "Guardrail"):
        if logical_id.startswith(prefix):
            return f"${{{prefix}.{attribute}}}"
    raise AssertionError(f"unexpected GetAtt {value}")


def _join(value: Any) -> Any:
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_join(p) for p in parts)
    if value == {"Ref": "AWS::AccountId"}:
        return "${AWS::AccountId}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return _attribute(value)
    if isinstance(value, list):
        return [_join(v) for v in value]
    return value


def test_capetown_grants_three_arns_per_model_and_nothing_wider(synth) -> None:
    statements = _policy(synth("capetown"))
    assert len(statements) == 9
    text = json.dumps(statements)
    for forbidden in ('"bedrock:*"', "foundation-model/*", "arn:aws:bedrock:*", '"*"'):
        assert forbidden not in text
    regionless = [s for s in statements if _join(s["Resource"]).startswith("arn:aws:bedrock:::foundation-model/")]
    assert len(regionless) == 3
    assert all(s["Condition"]["StringEquals"]["aws:RequestedRegion"] == "unspecified" for s in regionless)
    for statement in statements:
        assert statement["Action"] == ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]


def test_prod_geography_grant_covers_us_destinations(synth) -> None:
    resources = [_join(s["Resource"]) for s in _policy(synth("prod"))]
    haiku = catalog.MODELS["haiku-4.5"].model_id
    for region in catalog.destinations("us", "us-east-2"):
        assert any(f"arn:aws:bedrock:{region}::foundation-model/{haiku}" in json.dumps(r) for r in resources), region
    assert any(f"inference-profile/us.{haiku}" in json.dumps(r) for r in resources)


def test_pod_identity_role_gets_the_policy(synth) -> None:
    result = synth("capetown")
    (association,) = [
        a for a in result.resources("bedrock", "AWS::EKS::PodIdentityAssociation").values() if a["Properties"]["Namespace"] == "assistant"
    ]
    assert association["Properties"]["ClusterName"] == "inference-capetown"
    assert (association["Properties"]["Namespace"], association["Properties"]["ServiceAccount"]) == ("assistant", "assistant")
    role_id = association["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    (policy,) = [p for k, p in result.resources("bedrock", "AWS::IAM::ManagedPolicy").items() if k.startswith("AccessInvokePolicy")]
    assert policy["Properties"]["Roles"] == [{"Ref": role_id}]
    manifest = json.loads((result.outdir / "manifest.json").read_text())
    deps = manifest["artifacts"]["inference-capetown-bedrock"].get("dependencies", [])
    assert "inference-capetown-eks" in deps


def test_dev_without_pod_identities_does_not_wait_for_eks(synth) -> None:
    manifest = json.loads((synth("dev").outdir / "manifest.json").read_text())
    assert "inference-dev-eks" not in manifest["artifacts"]["inference-dev-bedrock"].get("dependencies", [])


def _logging_props(result: Synthesized) -> dict[str, Any]:
    (resource,) = result.resources("bedrock", "Custom::BedrockInvocationLogging").values()
    props: dict[str, Any] = resource["Properties"]
    return props


def _key_id(result: Synthesized) -> str:
    (key_id,) = [k for k in result.resources("bedrock", "AWS::KMS::Key") if k.startswith("InvocationLoggingLogKey")]
    return key_id


def _handler_id(result: Synthesized) -> str:
    (handler_id,) = [
        k
        for k, f in result.resources("bedrock", "AWS::Lambda::Function").items()
        if k.startswith("InvocationLogging") and f["Properties"].get("Handler") == "handler.on_event"
    ]
    return handler_id


def test_invocation_logging(synth) -> None:
    result = synth("capetown")
    template = result.template("bedrock")
    template.has_resource(
        "AWS::Logs::LogGroup",
        {
            "Properties": {"LogGroupName": "/aws/bedrock/invocations/capetown", "RetentionInDays": 365, "KmsKeyId": Match.any_value()},
            "DeletionPolicy": "Retain",
        },
    )
    props = _logging_props(result)
    assert {k: v for k, v in props.items() if k not in ("ServiceToken", "LogGroupName", "RoleArn", "BucketName")} == {
        "TextDataDelivery": "true",
        "ImageDataDelivery": "false",
        "EmbeddingDataDelivery": "false",
        "AdoptExisting": "false",
    }
    assert props["BucketName"] == {"Ref": next(k for k in result.resources("bedrock", "AWS::S3::Bucket") if "PayloadBucket" in k)}


@pytest.mark.parametrize("env", SHIPPED_ENVS)
def test_shipped_environments_choose_text_delivery_in_cdk_json(synth, env: str) -> None:
    chosen = CONTEXT["environments"][env]["bedrock"]["invocation_logging"]["text"]
    assert isinstance(chosen, bool)
    assert _logging_props(synth(env))["TextDataDelivery"] == str(chosen).lower()


def _metadata_only_adopting(envs: dict[str, Any]) -> None:
    envs["capetown"]["bedrock"]["invocation_logging"].update(text=False, image=True, adopt_existing=True, retention_days=30)


def test_config_fields_reach_the_custom_resource_and_the_bucket(synth) -> None:
    result = synth("capetown", key="metadata-only-adopting", edit=_metadata_only_adopting)
    props = _logging_props(result)
    assert (props["TextDataDelivery"], props["ImageDataDelivery"], props["EmbeddingDataDelivery"], props["AdoptExisting"]) == (
        "false",
        "true",
        "false",
        "true",
    )
    (bucket,) = [b for k, b in result.resources("bedrock", "AWS::S3::Bucket").items() if "PayloadBucket" in k]
    assert bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 30


def test_text_delivery_not_chosen_is_one_config_error_line() -> None:
    def drop_text(envs: dict[str, Any]) -> None:
        del envs["capetown"]["bedrock"]["invocation_logging"]["text"]

    with pytest.raises(ConfigError) as err:
        app_module.create_app(context_for("capetown", drop_text))
    assert [f"error: {line}" for line in err.value.lines()] == [
        "error: environments.capetown.bedrock.invocation_logging.text: text delivery is not chosen (true stores full prompts "
        "and responses in the log group and bucket); set text to true, or to false to log metadata only"
    ]


def test_payload_bucket_is_kms_encrypted_private_versioned_tls_only_and_expires_objects(synth) -> None:
    result = synth("capetown")
    buckets = result.resources("bedrock", "AWS::S3::Bucket")
    assert len(buckets) == 2
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        assert bucket["DeletionPolicy"] == "Retain"
    (payload,) = [b["Properties"] for k, b in buckets.items() if "PayloadBucket" in k]
    (access_logs,) = [b["Properties"] for k, b in buckets.items() if "AccessLogBucket" in k]
    assert payload["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {"KMSMasterKeyID": {"Fn::GetAtt": [_key_id(result), "Arn"]}, "SSEAlgorithm": "aws:kms"},
        }
    ]
    assert payload["LifecycleConfiguration"] == {
        "Rules": [
            {
                "Id": "InvocationLogRetention",
                "ExpirationInDays": 365,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                "Status": "Enabled",
            }
        ]
    }
    # S3 server access logs can only be delivered to a bucket with SSE-S3 default encryption.
    assert access_logs["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    policies = [p["Properties"]["PolicyDocument"]["Statement"] for p in result.resources("bedrock", "AWS::S3::BucketPolicy").values()]
    statements = [s for group in policies for s in group]
    assert sum(1 for s in statements if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}) == 2
    bedrock_put = next(s for s in statements if s.get("Sid") == "BedrockInvocationLogs")
    assert bedrock_put["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert bedrock_put["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_key_policy_lets_bedrock_of_this_account_and_region_generate_data_keys(synth) -> None:
    """The statement the Bedrock user guide asks for on an SSE-KMS bucket's key ("Monitor model invocation
    using CloudWatch Logs and Amazon S3", Set up an Amazon S3 destination): GenerateDataKey for
    bedrock.amazonaws.com, aws:SourceAccount this account, aws:SourceArn arn:aws:bedrock:<region>:<account>:*."""
    result = synth("capetown")
    key = result.resources("bedrock", "AWS::KMS::Key")[_key_id(result)]
    statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    assert statements["BedrockInvocationLogsToS3"] == {
        "Sid": "BedrockInvocationLogsToS3",
        "Effect": "Allow",
        "Principal": {"Service": "bedrock.amazonaws.com"},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", ["arn:aws:bedrock:af-south-1:", {"Ref": "AWS::AccountId"}, ":*"]]}},
        },
    }
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"


def test_delivery_role_is_for_bedrock_in_this_account_and_region_only(synth) -> None:
    result = synth("capetown")
    roles = {k: r for k, r in result.resources("bedrock", "AWS::IAM::Role").items() if k.startswith("InvocationLoggingDeliveryRole")}
    (role,) = roles.values()
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert "af-south-1" in json.dumps(statement["Condition"]["ArnLike"])


def test_handler_may_only_configure_logging_pass_its_role_and_keep_its_record(synth) -> None:
    result = synth("capetown")
    policies = [
        p["Properties"]["PolicyDocument"]["Statement"] for k, p in result.resources("bedrock", "AWS::IAM::Policy").items() if "Handler" in k
    ]
    statements = {s["Sid"]: s for group in policies for s in group if "Sid" in s}
    assert sorted(statements["InvocationLoggingConfiguration"]["Action"]) == [
        "bedrock:DeleteModelInvocationLoggingConfiguration",
        "bedrock:GetModelInvocationLoggingConfiguration",
        "bedrock:PutModelInvocationLoggingConfiguration",
    ]
    assert statements["PassDeliveryRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    assert statements["StateParameter"] == {
        "Sid": "StateParameter",
        "Effect": "Allow",
        "Action": ["ssm:DeleteParameter", "ssm:GetParameter", "ssm:PutParameter"],
        "Resource": {
            "Fn::Join": [
                "",
                ["arn:aws:ssm:af-south-1:", {"Ref": "AWS::AccountId"}, ":parameter/inference-capetown-bedrock/bedrock-invocation-logging"],
            ]
        },
    }
    function = result.resources("bedrock", "AWS::Lambda::Function")[_handler_id(result)]["Properties"]
    assert function["Environment"]["Variables"] == {"STATE_PARAMETER": "/inference-capetown-bedrock/bedrock-invocation-logging"}
    assert function["Runtime"] == "python3.14" and function["Timeout"] == 300


def test_failure_reason_names_the_handlers_real_log_group(synth) -> None:
    """The provider framework appends "Logs: /aws/lambda/<handler function name>" to a handler's error
    (aws-cdk-lib custom-resources/lib/provider-framework/runtime/framework.ts): the handler logs there,
    to a group the stack creates before the custom resource first runs."""
    result = synth("capetown")
    handler_id = _handler_id(result)
    assert "LoggingConfig" not in result.resources("bedrock", "AWS::Lambda::Function")[handler_id]["Properties"]
    (group_id,) = [
        k
        for k, g in result.resources("bedrock", "AWS::Logs::LogGroup").items()
        if g["Properties"].get("LogGroupName") == {"Fn::Join": ["", ["/aws/lambda/", {"Ref": handler_id}]]}
    ]
    group = result.resources("bedrock", "AWS::Logs::LogGroup")[group_id]
    assert group["Properties"]["RetentionInDays"] == 365 and group["DeletionPolicy"] == "Delete"
    (resource,) = result.resources("bedrock", "Custom::BedrockInvocationLogging").values()
    assert group_id in resource["DependsOn"]


# --- the guardrail ---


def _only(result: Synthesized, type_: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = result.resources("bedrock", type_).items()
    return logical_id, resource


def test_prod_guardrail_filters_the_configured_pii_with_its_own_key(synth) -> None:
    result = synth("prod")
    configured = CONTEXT["environments"]["prod"]["bedrock"]["guardrail"]["pii"]
    guardrail_id, guardrail = _only(result, "AWS::Bedrock::Guardrail")
    props = guardrail["Properties"]
    assert props["Name"] == "inference-prod"
    assert props["SensitiveInformationPolicyConfig"] == {
        "PiiEntitiesConfig": [{"Type": entity, "Action": action} for entity, action in sorted(configured.items())]
    }
    assert props["BlockedInputMessaging"].startswith("This request was blocked")
    assert props["BlockedOutputsMessaging"].startswith("The response was blocked")
    key_id, attribute = props["KmsKeyArn"]["Fn::GetAtt"]
    assert attribute == "Arn" and key_id.startswith("GuardrailKey")
    assert result.template_json("bedrock")["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    _, version = _only(result, "AWS::Bedrock::GuardrailVersion")
    assert version["Properties"]["GuardrailIdentifier"] == {"Fn::GetAtt": [guardrail_id, "GuardrailId"]}
    digest = configuration_digest(
        pii=configured, blocked_input=props["BlockedInputMessaging"], blocked_output=props["BlockedOutputsMessaging"]
    )
    assert version["Properties"]["Description"] == f"inference-prod: configuration {digest}"
    outputs = result.template_json("bedrock")["Outputs"]
    assert outputs["GuardrailArn"]["Value"] == {"Fn::GetAtt": [guardrail_id, "GuardrailArn"]}
    assert outputs["GuardrailVersion"]["Value"]["Fn::GetAtt"][1] == "Version"


def test_a_changed_configuration_names_a_new_version() -> None:
    # Description is create-only on AWS::Bedrock::GuardrailVersion (CloudFormation Template Reference:
    # "Update requires: Replacement"), so a new digest publishes a new version of the updated guardrail.
    def digest(pii: dict[str, str], blocked_output: str = "out") -> str:
        return configuration_digest(pii=pii, blocked_input="in", blocked_output=blocked_output)

    base = digest({"EMAIL": "ANONYMIZE", "PHONE": "BLOCK"})
    assert digest({"PHONE": "BLOCK", "EMAIL": "ANONYMIZE"}) == base
    assert digest({"EMAIL": "BLOCK", "PHONE": "BLOCK"}) != base
    assert digest({"EMAIL": "ANONYMIZE"}) != base
    assert digest({"EMAIL": "ANONYMIZE", "PHONE": "BLOCK"}, blocked_output="other") != base


def test_every_invoke_statement_of_prod_requires_the_deployed_guardrail_version(synth) -> None:
    statements = _policy(synth("prod"))
    invoke = [s for s in statements if "bedrock:InvokeModel" in s["Action"]]
    allows = [s for s in invoke if s["Effect"] == "Allow"]
    denies = [s for s in invoke if s["Effect"] == "Deny"]
    assert len(allows) == 5 and len(denies) == 2
    assert all(_join(s["Condition"]["StringEquals"]["bedrock:GuardrailIdentifier"]) == GUARDRAIL for s in allows)
    assert all(_join(s["Condition"]["StringNotEquals"]["bedrock:GuardrailIdentifier"]) == GUARDRAIL for s in denies)
    assert {json.dumps(_join(s["Resource"])) for s in statements if s["Action"] == "bedrock:ApplyGuardrail"} == {json.dumps(GUARDRAIL_ARN)}


def _not_enforced(envs: dict[str, Any]) -> None:
    envs["prod"]["bedrock"]["guardrail"]["enforced"] = False


def test_a_guardrail_that_is_not_enforced_is_only_offered(synth) -> None:
    result = synth("prod", key="guardrail-not-enforced", edit=_not_enforced)
    assert len(result.resources("bedrock", "AWS::Bedrock::Guardrail")) == 1
    text = json.dumps(_policy(result))
    assert "GuardrailIdentifier" not in text and "ApplyGuardrail" not in text and '"Deny"' not in text


def test_environments_without_a_guardrail_have_none(synth) -> None:
    result = synth("capetown")
    assert result.resources("bedrock", "AWS::Bedrock::Guardrail") == {}
    assert "GuardrailArn" not in result.template_json("bedrock")["Outputs"]


# --- the account-level enforced guardrail ---


def _account_wide(envs: dict[str, Any]) -> None:
    envs["prod"]["bedrock"]["guardrail"]["enforced_account_wide"] = True


def _synth_account_wide(synth) -> Synthesized:
    return synth("prod", key="guardrail-account-wide", edit=_account_wide, **{nag.NIST_KEY: "true"})


def test_account_wide_enforcement_is_nag_cfn_lint_and_blueprint_rule_clean(synth) -> None:
    result = _synth_account_wide(synth)  # synth raises on an unacknowledged cdk-nag finding (AwsSolutions and NIST)
    assert json.loads((result.outdir / "policy-validation-report.json").read_text())["pluginReports"] == []
    path = result.outdir / "inference-prod-bedrock.template.json"
    assert list(checks.findings(json.loads(path.read_text()))) == []
    assert [m.rule.id for m in lint_file(path, config=ManualArgs(regions=["us-east-2"], ignore_checks=["W3005"]))] == []


def test_account_wide_enforcement_puts_the_deployed_version_and_its_handler_may_call_only_the_three_actions(synth) -> None:
    result = _synth_account_wide(synth)
    guardrail_id, _ = _only(result, "AWS::Bedrock::Guardrail")
    version_id, _ = _only(result, "AWS::Bedrock::GuardrailVersion")
    (resource,) = result.resources("bedrock", "Custom::BedrockEnforcedGuardrailConfiguration").values()
    assert {k: v for k, v in resource["Properties"].items() if k != "ServiceToken"} == {
        "GuardrailArn": {"Fn::GetAtt": [guardrail_id, "GuardrailArn"]},
        "GuardrailVersion": {"Fn::GetAtt": [version_id, "Version"]},
    }
    (policy,) = [p for k, p in result.resources("bedrock", "AWS::IAM::Policy").items() if k.startswith("EnforcedGuardrailHandler")]
    # Service Authorization Reference, Amazon Bedrock actions: none of the three has a resource type, so "*" is all they take.
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "EnforcedGuardrail",
            "Effect": "Allow",
            "Action": [
                "bedrock:DeleteEnforcedGuardrailConfiguration",
                "bedrock:ListEnforcedGuardrailsConfiguration",
                "bedrock:PutEnforcedGuardrailConfiguration",
            ],
            "Resource": "*",
        }
    ]
    (function,) = [f for k, f in result.resources("bedrock", "AWS::Lambda::Function").items() if k.startswith("EnforcedGuardrailHandler")]
    assert function["Properties"]["Environment"]["Variables"] == {"AWS_DATA_PATH": "/var/task/models"}
    assert function["Properties"]["Timeout"] == 300


def test_shipped_environments_enforce_no_guardrail_account_wide(synth) -> None:
    for env in SHIPPED_ENVS:
        assert synth(env).resources("bedrock", "Custom::BedrockEnforcedGuardrailConfiguration") == {}


# --- the Anthropic use-case form ---


def test_prod_submits_its_configured_form_and_its_handler_may_call_only_the_two_form_actions(synth) -> None:
    result = synth("prod")
    (resource,) = result.resources("bedrock", "Custom::BedrockModelAccessForm").values()
    form = CONTEXT["environments"]["prod"]["bedrock"]["model_access_form"]
    assert json.loads(resource["Properties"]["FormData"]) == {
        "companyName": form["company_name"],
        "companyWebsite": form["company_website"],
        "industryOption": form["industry"],
        "intendedUsers": "2",
        "otherIndustryOption": "",
        "useCases": form["use_cases"],
    }
    (policy,) = [p for k, p in result.resources("bedrock", "AWS::IAM::Policy").items() if k.startswith("ModelAccessFormHandler")]
    # Service Authorization Reference (Amazon Bedrock actions, as cfn-lint's Policies.json carries it): neither action has a
    # resource type, so "*" is the only Resource they take.
    assert policy["Properties"]["PolicyDocument"]["Statement"] == [
        {
            "Sid": "AnthropicUseCaseForm",
            "Effect": "Allow",
            "Action": ["bedrock:GetUseCaseForModelAccess", "bedrock:PutUseCaseForModelAccess"],
            "Resource": "*",
        }
    ]
    (function,) = [f for k, f in result.resources("bedrock", "AWS::Lambda::Function").items() if k.startswith("ModelAccessFormHandler")]
    assert "Environment" not in function["Properties"] and function["Properties"]["Timeout"] == 300


@pytest.mark.parametrize("env", ["dev", "prod", "capetown"])
def test_every_environment_with_bedrock_models_has_the_form_resource(synth, env: str) -> None:
    assert len(synth(env).resources("bedrock", "Custom::BedrockModelAccessForm")) == 1


def test_an_environment_whose_form_is_already_submitted_deploys_no_form_resource(synth) -> None:
    def edit(envs: dict[str, Any]) -> None:
        envs["dev"]["bedrock"].pop("model_access_form")
        envs["dev"]["bedrock"]["model_access_form_submitted"] = True

    assert synth("dev", key="form-submitted", edit=edit).resources("bedrock", "Custom::BedrockModelAccessForm") == {}


# --- teams: application inference profiles (CloudFormation AWS::Bedrock::ApplicationInferenceProfile; the custom
# resource where CloudFormation lacks the type) ---


def _profiles(result: Synthesized, type_: str) -> dict[str, dict[str, Any]]:
    return result.resources("bedrock", type_)


def _team_policy(result: Synthesized, team: str) -> list[dict[str, Any]]:
    (policy,) = [
        p for k, p in result.resources("bedrock", "AWS::IAM::ManagedPolicy").items() if k.startswith(f"Team{team.title()}InvokePolicy")
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def _copy_from(region: str, scope: str, model_key: str) -> dict[str, Any]:
    profile = f":inference-profile/{scope}.{catalog.MODELS[model_key].model_id}"
    return {"Fn::Join": ["", [f"arn:aws:bedrock:{region}:", {"Ref": "AWS::AccountId"}, profile]]}


def test_prod_creates_each_teams_profiles_by_copying_the_configured_system_profile_with_cost_tags(synth) -> None:
    profiles = _profiles(synth("prod"), "AWS::Bedrock::ApplicationInferenceProfile")
    by_name = {p["Properties"]["InferenceProfileName"]: p["Properties"] for p in profiles.values()}
    assert sorted(by_name) == ["prod-search-haiku-4-5-us", "prod-search-sonnet-4-5-global", "prod-support-sonnet-4-5-global"]
    haiku = by_name["prod-search-haiku-4-5-us"]
    assert haiku["ModelSource"] == {"CopyFrom": _copy_from("us-east-2", "us", "haiku-4.5")}
    assert by_name["prod-support-sonnet-4-5-global"]["ModelSource"] == {"CopyFrom": _copy_from("us-east-2", "global", "sonnet-4.5")}
    assert haiku["Description"] == "prod team search haiku-4.5 copying us.anthropic.claude-haiku-4-5-20251001-v1:0"
    # The team's tags win over the environment's cost-center; the environment's other tags stay.
    assert haiku["Tags"] == [
        {"Key": "cost-center", "Value": "search-prod"},
        {"Key": "inference-blueprint:environment", "Value": "prod"},
        {"Key": "owner", "Value": "platform-team"},
        {"Key": "team", "Value": "search"},
    ]
    assert {t["Value"] for t in by_name["prod-support-sonnet-4-5-global"]["Tags"] if t["Key"] in ("team", "cost-center")} == {
        "support",
        "support-prod",
    }


def _expected_team(result: Synthesized, team: str, region: str, guardrail: str | None) -> list[dict[str, Any]]:
    config = CONTEXT["environments"][result.env]["bedrock"]
    (spec,) = [t for t in config["teams"] if t["name"] == team]
    profiles = {
        p["Properties"]["InferenceProfileName"]: k for k, p in _profiles(result, "AWS::Bedrock::ApplicationInferenceProfile").items()
    }
    profiles.update({p["Properties"]["Name"]: k for k, p in _profiles(result, "Custom::BedrockApplicationProfile").items()})
    statements = []
    for key in spec["models"]:
        (access,) = [a for a in config["models"] if a["model"] == key]
        scope = access.get("scope", "global")
        logical_id = profiles[catalog.application_profile_name(result.env, team, key, scope)]
        statements += application_profile_statements(
            application_profile_arn=f"${{{logical_id}.InferenceProfileArn}}",
            partition="aws",
            source_region=region,
            model_id=catalog.MODELS[key].model_id,
            scope=scope,
            streaming=access.get("streaming", True),
            sid_prefix="X",
            guardrail=guardrail,
        )
    if guardrail is not None:
        statements += guardrail_statements(guardrail_arn=GUARDRAIL_ARN, key_arn=GUARDRAIL_KEY_ARN)
    return statements


@pytest.mark.parametrize("team", ["search", "support"])
def test_each_prod_team_may_invoke_only_through_its_own_profiles_with_the_guardrail(synth, team: str) -> None:
    result = synth("prod")
    actual = _team_policy(result, team)
    assert _normal(actual) == _normal(_expected_team(result, team, "us-east-2", GUARDRAIL))
    text = json.dumps(actual)
    assert "inference-profile/global." not in text and "inference-profile/us." not in text  # no system profile
    other = "support" if team == "search" else "search"
    assert f"Team{other.title()}" not in text


def test_prod_team_users_are_pod_identities_bound_to_the_team_policy_after_eks(synth) -> None:
    result = synth("prod")
    associations = result.resources("bedrock", "AWS::EKS::PodIdentityAssociation")
    roles = {
        (a["Properties"]["Namespace"], a["Properties"]["ServiceAccount"]): a["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        for a in associations.values()
    }
    assert sorted(roles) == [("assistant", "assistant"), ("search", "search-api"), ("support", "support-assistant")]
    policies = result.resources("bedrock", "AWS::IAM::ManagedPolicy")
    for (namespace, _), role_id in roles.items():
        (holder,) = [k for k, p in policies.items() if {"Ref": role_id} in p["Properties"].get("Roles", [])]
        assert holder.startswith("AccessInvokePolicy" if namespace == "assistant" else f"Team{namespace.title()}InvokePolicy")
    outputs = result.template_json("bedrock")["Outputs"]
    assert {k for k in outputs if k.startswith("Team")} == {
        "TeamSearchPolicyArn",
        "TeamSearchSonnet45GlobalProfileArn",
        "TeamSearchHaiku45UsProfileArn",
        "TeamSupportPolicyArn",
        "TeamSupportSonnet45GlobalProfileArn",
    }


def _assumable(envs: dict[str, Any]) -> None:
    envs["prod"]["bedrock"]["teams"][1]["assume_role_principals"] = ["arn:aws:iam::123456789012:role/support-ci"]


def test_a_team_role_is_assumable_only_by_the_teams_principals(synth) -> None:
    result = synth("prod", key="team-assumable", edit=_assumable)
    roles = {k: r for k, r in result.resources("bedrock", "AWS::IAM::Role").items() if k.startswith("TeamSupportRole")}
    ((role_id, role),) = roles.items()
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/support-ci"}}
    ]
    (policy_id,) = [k for k in result.resources("bedrock", "AWS::IAM::ManagedPolicy") if k.startswith("TeamSupportInvokePolicy")]
    assert role["Properties"]["ManagedPolicyArns"] == [{"Ref": policy_id}]
    assert result.template_json("bedrock")["Outputs"]["TeamSupportRoleArn"]["Value"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_capetown_gets_its_team_profile_from_the_api_custom_resource(synth) -> None:
    result = synth("capetown")
    assert _profiles(result, "AWS::Bedrock::ApplicationInferenceProfile") == {}
    resources = _profiles(result, "Custom::BedrockApplicationProfile")
    props = {r["Properties"]["Name"]: r["Properties"] for r in resources.values()}
    assert sorted(props) == ["capetown-research-opus-4-5-global", "capetown-research-sonnet-4-5-global"]
    sonnet = props["capetown-research-sonnet-4-5-global"]
    assert {k: v for k, v in sonnet.items() if k != "ServiceToken"} == {
        "Name": "capetown-research-sonnet-4-5-global",
        "CopyFrom": _copy_from("af-south-1", "global", "sonnet-4.5"),
        "Description": "capetown team research sonnet-4.5 copying global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "Tags": {
            "inference-blueprint:environment": "capetown",
            "owner": "platform-team",
            "cost-center": "research-capetown",
            "team": "research",
        },
    }
    assert _normal(_team_policy(result, "research")) == _normal(_expected_team(result, "research", "af-south-1", None))


def test_capetowns_profile_function_may_create_only_copies_of_the_configured_profiles(synth) -> None:
    result = synth("capetown")
    (policy,) = [p for k, p in result.resources("bedrock", "AWS::IAM::Policy").items() if k.startswith("ApplicationProfilesHandler")]
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    applications = {"Fn::Join": ["", ["arn:aws:bedrock:af-south-1:", {"Ref": "AWS::AccountId"}, ":application-inference-profile/*"]]}
    assert statements["CreateApplicationProfiles"]["Action"] == "bedrock:CreateInferenceProfile"
    assert statements["CreateApplicationProfiles"]["Resource"] == [
        applications,
        _copy_from("af-south-1", "global", "opus-4.5"),
        _copy_from("af-south-1", "global", "sonnet-4.5"),
    ]
    assert statements["ManageApplicationProfiles"]["Action"] == [
        "bedrock:DeleteInferenceProfile",
        "bedrock:TagResource",
        "bedrock:UntagResource",
    ]
    assert statements["ManageApplicationProfiles"]["Resource"] == applications


@pytest.mark.parametrize("env", ["prod", "capetown"])
def test_every_custom_resource_asset_carries_the_shared_module_its_handler_imports(synth, env: str) -> None:
    """A handler that imports ``custom_resource_errors`` finds it in its own asset (Lambda puts the
    asset's root on the import path), byte for byte the project's ``lambda/_shared`` module."""
    from infra.constructs.custom_resource import SHARED_MODULE

    result = synth(env)
    importing = [
        d
        for d in result.outdir.glob("asset.*")
        if (d / "handler.py").exists() and "custom_resource_errors" in (d / "handler.py").read_text()
    ]
    assert len(importing) >= 2, "the model-access form, invocation logging and team profile handlers import it"
    for directory in importing:
        assert (directory / "custom_resource_errors.py").read_bytes() == SHARED_MODULE.read_bytes(), directory
