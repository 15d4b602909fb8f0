"""lambda/bedrock_enforced_guardrail: the stack's guardrail version as the account's enforced guardrail, and nobody else's touched.

Bedrock's side is stubbed with botocore's Stubber (moto has no enforced guardrail operations), shaped
as the Bedrock API Reference documents them: ListEnforcedGuardrailsConfiguration returns
``guardrailsConfig`` with at most one item; PutEnforcedGuardrailConfiguration takes an optional
``configId`` and ``guardrailInferenceConfig`` and returns the ``configId``;
DeleteEnforcedGuardrailConfiguration takes the ``configId``
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_PutEnforcedGuardrailConfiguration.html,
API_ListEnforcedGuardrailsConfiguration.html, API_DeleteEnforcedGuardrailConfiguration.html).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber
from custom_resource_errors import HandlerError
from lambda_handlers import load_handler

from infra.constructs import custom_resource
from infra.constructs.bedrock_enforced_guardrail import HANDLER_DIR, MODELS, bedrock_model_files

handler = load_handler("bedrock_enforced_guardrail")

ARN = "arn:aws:bedrock:us-east-2:123456789012:guardrail/abc123def456"
OTHER_ARN = "arn:aws:bedrock:us-east-2:123456789012:guardrail/zzz999"
PROPS = {"ServiceToken": "arn:aws:lambda:us-east-2:123456789012:function:x", "GuardrailArn": ARN, "GuardrailVersion": "3"}
GUARDING = {"system": "COMPREHENSIVE", "messages": "COMPREHENSIVE"}
WHEN = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/enforcement-handler")
    yield boto3.session.Session().client("bedrock", region_name="us-east-2", config=handler.RETRIES)


def _config(config_id: str, arn: str, version: str, **extra: Any) -> dict[str, Any]:
    return {
        "configId": config_id,
        "guardrailArn": arn,
        "guardrailId": arn.rsplit("/", 1)[1],
        "guardrailVersion": version,
        "owner": "ACCOUNT",
        "selectiveContentGuarding": GUARDING,
        "updatedBy": "arn:aws:sts::123456789012:assumed-role/admin/someone",
        "updatedAt": WHEN,
        **extra,
    }


def _listed(stub: Stubber, *configs: dict[str, Any]) -> None:
    stub.add_response("list_enforced_guardrails_configuration", {"guardrailsConfig": list(configs)}, {})


def _put(stub: Stubber, config_id: str, *, sent_id: str | None = None, version: str = "3") -> None:
    expected: dict[str, Any] = {
        "guardrailInferenceConfig": {"guardrailIdentifier": ARN, "guardrailVersion": version, "selectiveContentGuarding": GUARDING}
    }
    if sent_id:
        expected["configId"] = sent_id
    stub.add_response("put_enforced_guardrail_configuration", {"configId": config_id, "updatedAt": WHEN}, expected)


def _event(request: str, **extra: Any) -> dict[str, Any]:
    return {"RequestType": request, "RequestId": "r", "ResourceProperties": PROPS, **extra}


def test_create_in_a_region_without_a_configuration_puts_the_version_comprehensively(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        _listed(stub)
        _put(stub, "cfg1")
        assert handler.on_event(_event("Create"), bedrock=bedrock) == {"PhysicalResourceId": "cfg1", "Data": {"ConfigId": "cfg1"}}
        stub.assert_no_pending_responses()


def test_create_that_finds_its_own_version_in_place_puts_nothing(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        _listed(stub, _config("cfg1", ARN, "3"))
        assert handler.on_event(_event("Create"), bedrock=bedrock)["PhysicalResourceId"] == "cfg1"
        stub.assert_no_pending_responses()


def test_a_configuration_put_by_someone_else_is_refused_and_left_as_it_is(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        _listed(stub, _config("theirs", OTHER_ARN, "7"))
        with pytest.raises(HandlerError) as err:
            handler.on_event(_event("Create"), bedrock=bedrock)
        stub.assert_no_pending_responses()
    assert str(err.value) == (
        f"the account already has an enforced guardrail configuration in us-east-2 (theirs: guardrail {OTHER_ARN} version 7, "
        "set by arn:aws:sts::123456789012:assumed-role/admin/someone), not this stack's; nothing was changed. Set "
        "bedrock.guardrail.enforced_account_wide to false to keep it, or remove it with aws bedrock "
        "delete-enforced-guardrail-configuration --config-id theirs --region us-east-2 and deploy again"
    )


def test_an_organization_owned_configuration_is_not_the_accounts_and_is_not_touched(bedrock: Any) -> None:
    # CloudFormation's registry schema of AWS::Bedrock::EnforcedGuardrailConfiguration: Owner is ACCOUNT or ORGANIZATION.
    with Stubber(bedrock) as stub:
        _listed(stub, _config("org", OTHER_ARN, "1", owner="ORGANIZATION"))
        _put(stub, "cfg1")
        assert handler.on_event(_event("Create"), bedrock=bedrock)["PhysicalResourceId"] == "cfg1"
        stub.assert_no_pending_responses()


def test_update_moves_its_configuration_to_the_new_version_and_keeps_the_id(bedrock: Any) -> None:
    event = _event("Update", PhysicalResourceId="cfg1", OldResourceProperties={**PROPS, "GuardrailVersion": "2"})
    with Stubber(bedrock) as stub:
        _listed(stub, _config("cfg1", ARN, "2"))
        _put(stub, "cfg1", sent_id="cfg1")
        assert handler.on_event(event, bedrock=bedrock) == {"PhysicalResourceId": "cfg1", "Data": {"ConfigId": "cfg1"}}
        stub.assert_no_pending_responses()


def test_update_puts_back_guarding_changed_outside_the_stack(bedrock: Any) -> None:
    selective = {"system": "SELECTIVE", "messages": "COMPREHENSIVE"}
    with Stubber(bedrock) as stub:
        _listed(stub, _config("cfg1", ARN, "3", selectiveContentGuarding=selective))
        _put(stub, "cfg1", sent_id="cfg1")
        assert handler.on_event(_event("Update", PhysicalResourceId="cfg1"), bedrock=bedrock)["PhysicalResourceId"] == "cfg1"
        stub.assert_no_pending_responses()


def test_update_after_its_configuration_was_removed_creates_a_new_one(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        _listed(stub)
        _put(stub, "cfg2")
        assert handler.on_event(_event("Update", PhysicalResourceId="cfg1"), bedrock=bedrock)["PhysicalResourceId"] == "cfg2"
        stub.assert_no_pending_responses()


def test_delete_removes_its_own_configuration(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        _listed(stub, _config("cfg1", ARN, "3"))
        stub.add_response("delete_enforced_guardrail_configuration", {}, {"configId": "cfg1"})
        assert handler.on_event(_event("Delete", PhysicalResourceId="cfg1"), bedrock=bedrock) == {"PhysicalResourceId": "cfg1"}
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("live", [[], [_config("theirs", OTHER_ARN, "7")], [_config("cfg2", ARN, "4")]])
def test_delete_leaves_any_configuration_that_is_not_its_own(bedrock: Any, live: list[dict[str, Any]]) -> None:
    with Stubber(bedrock) as stub:
        _listed(stub, *live)
        assert handler.on_event(_event("Delete", PhysicalResourceId="cfg1"), bedrock=bedrock) == {"PhysicalResourceId": "cfg1"}
        stub.assert_no_pending_responses()


def test_delete_of_a_configuration_gone_meanwhile_succeeds(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        _listed(stub, _config("cfg1", ARN, "3"))
        stub.add_client_error("delete_enforced_guardrail_configuration", "ResourceNotFoundException", "gone", 404)
        assert handler.on_event(_event("Delete", PhysicalResourceId="cfg1"), bedrock=bedrock) == {"PhysicalResourceId": "cfg1"}


def test_access_denied_is_one_status_reason_naming_the_call_and_what_to_check(bedrock: Any) -> None:
    with Stubber(bedrock) as stub:
        _listed(stub)
        stub.add_client_error("put_enforced_guardrail_configuration", "AccessDeniedException", "not authorized", 403)
        with pytest.raises(HandlerError) as err:
            handler.on_event(_event("Create"), bedrock=bedrock)
    assert str(err.value) == (
        "PutEnforcedGuardrailConfiguration failed with AccessDeniedException after 1 attempt(s): not authorized; the handler's "
        "role, a permissions boundary or a service control policy denies it; details in CloudWatch log group "
        "/aws/lambda/enforcement-handler"
    )


def test_the_asset_carries_a_bedrock_model_botocore_loads_before_its_own(tmp_path: Path) -> None:
    """A botocore without the enforced-guardrail operations still gets them from the asset's models directory (AWS_DATA_PATH)."""
    staged = custom_resource.staged_code(HANDLER_DIR, bedrock_model_files())
    assert sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if p.is_file()) == [
        "handler.py",
        *bedrock_model_files(),
    ]
    assert custom_resource.staged_code(HANDLER_DIR, bedrock_model_files()) == staged
    session = botocore.session.get_session()
    session.set_config_variable("data_path", str(staged / MODELS))
    model = session.get_service_model("bedrock")
    inference = model.operation_model("PutEnforcedGuardrailConfiguration").input_shape.members["guardrailInferenceConfig"]
    assert set(inference.members["selectiveContentGuarding"].members) == {"system", "messages"}
    assert {"ListEnforcedGuardrailsConfiguration", "DeleteEnforcedGuardrailConfiguration"} <= set(model.operation_names)
