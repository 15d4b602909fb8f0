"""infra.bedrock_marketplace: the first caller's AWS Marketplace statements, evaluated, and the README's copy of them.

What the statements must allow comes from the Bedrock User Guide, "Request access to models"
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html#model-access-permissions):
Subscribe, Unsubscribe and ViewSubscriptions, with ``aws-marketplace:ProductId`` usable on Subscribe only.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from unit.test_bedrock_policy import allowed

from infra.bedrock_marketplace import first_call_statements

SONNET_ID = "prod-aaaaaaaaaaaaa"
HAIKU_ID = "prod-bbbbbbbbbbbbb"
OTHER_ID = "prod-ccccccccccccc"
README = Path(__file__).resolve().parents[2] / "README.md"


def _subscribe(product_id: str | None) -> bool:
    context = {"aws-marketplace:ProductId": product_id} if product_id else {}
    return allowed(first_call_statements([HAIKU_ID, SONNET_ID]), "aws-marketplace:Subscribe", "*", context)


def test_subscribe_is_allowed_for_the_configured_models_only() -> None:
    assert _subscribe(SONNET_ID) and _subscribe(HAIKU_ID)
    assert not _subscribe(OTHER_ID)
    assert not _subscribe(None)


def test_view_and_unsubscribe_are_allowed_and_their_neighbours_are_not() -> None:
    statements = first_call_statements([SONNET_ID])
    assert allowed(statements, "aws-marketplace:ViewSubscriptions", "*", {})
    assert allowed(statements, "aws-marketplace:Unsubscribe", "*", {})
    for neighbour in (
        "aws-marketplace:AcceptAgreementRequest",
        "aws-marketplace:CreatePrivateMarketplaceRequests",
        "aws-marketplace:ListEntitlementDetails",
        "bedrock:CreateFoundationModelAgreement",
        "bedrock:InvokeModel",
    ):
        assert not allowed(statements, neighbour, "*", {"aws-marketplace:ProductId": SONNET_ID}), neighbour


def test_exact_statements() -> None:
    assert first_call_statements([SONNET_ID, HAIKU_ID, SONNET_ID]) == [
        {
            "Sid": "SubscribeToConfiguredModels",
            "Effect": "Allow",
            "Action": "aws-marketplace:Subscribe",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws-marketplace:ProductId": [SONNET_ID, HAIKU_ID]}},
        },
        {
            "Sid": "ViewAndUnsubscribe",
            "Effect": "Allow",
            "Action": ["aws-marketplace:Unsubscribe", "aws-marketplace:ViewSubscriptions"],
            "Resource": "*",
        },
    ]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], "no product id: Subscribe would be unscoped; take the ids from each model's card in the Bedrock console"),
        (["anthropic.claude-sonnet-4-5-20250929-v1:0"], "'anthropic.claude-sonnet-4-5-20250929-v1:0' is not an AWS Marketplace product id"),
    ],
)
def test_no_or_malformed_product_ids_are_refused(ids: list[str], message: str) -> None:
    with pytest.raises(ValueError) as err:
        first_call_statements(ids)
    assert str(err.value).startswith(message)


def test_the_shipped_product_id_shapes_are_the_user_guides() -> None:
    # "Use product ID condition keys to control access" lists ids of these three shapes.
    assert first_call_statements(["prod-4dlfvry4v5hbi", "prodview-ajc3gw4mjy7my", "c468b48a-84df-43a4-8c46-8870630108a7"])


def test_the_readme_policy_is_the_builders() -> None:
    (block,) = re.findall(r"<!-- marketplace-policy -->\n```json\n(.*?)```", README.read_text(), flags=re.S)
    document = json.loads(block.replace('"<product id>"', json.dumps(SONNET_ID)))
    assert document == {"Version": "2012-10-17", "Statement": first_call_statements([SONNET_ID])}
