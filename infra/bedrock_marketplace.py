"""The AWS Marketplace statements Bedrock's first-call auto-enablement of a third-party serverless model needs.

Bedrock User Guide, "Request access to models" (model-access.html, "Grant IAM permissions to request
access to Amazon Bedrock foundation models with a product ID"): the first invocation of a model sold
through AWS Marketplace in an account makes Bedrock subscribe the account to it, which needs
``aws-marketplace:Subscribe``, ``aws-marketplace:Unsubscribe`` and ``aws-marketplace:ViewSubscriptions``
on the caller. Only ``Subscribe`` takes the ``aws-marketplace:ProductId`` condition key, so it is the
one scoped to the models' product ids; once a model is enabled, every caller of the account invokes it
without these permissions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SUBSCRIBE = "aws-marketplace:Subscribe"
VIEW_AND_UNSUBSCRIBE = ("aws-marketplace:Unsubscribe", "aws-marketplace:ViewSubscriptions")
# The product ids in the user guide's table ("Use product ID condition keys to control access") are
# prod-<13 lowercase alphanumerics>, prodview-<...>, or a UUID for the oldest models.
_PRODUCT_ID = re.compile(r"^(prod-[a-z0-9]{13}|prodview-[a-z0-9]{13}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def first_call_statements(product_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Statements that let one identity enable ``product_ids`` for the account by invoking them first.

    Raises ValueError for no product id or one not shaped like AWS Marketplace's: an unscoped
    Subscribe would let the identity subscribe the account to any Marketplace product.
    """
    if not product_ids:
        raise ValueError("no product id: Subscribe would be unscoped; take the ids from each model's card in the Bedrock console")
    for product_id in product_ids:
        if not _PRODUCT_ID.match(product_id):
            raise ValueError(f"'{product_id}' is not an AWS Marketplace product id (prod-..., prodview-... or a UUID)")
    return [
        {
            "Sid": "SubscribeToConfiguredModels",
            "Effect": "Allow",
            "Action": SUBSCRIBE,
            "Resource": "*",
            "Condition": {"StringEquals": {"aws-marketplace:ProductId": sorted(set(product_ids))}},
        },
        {"Sid": "ViewAndUnsubscribe", "Effect": "Allow", "Action": list(VIEW_AND_UNSUBSCRIBE), "Resource": "*"},
    ]
