"""What the Bedrock custom-resource handlers share: their retry configuration, the dispatch of a
request to its handler, and how a failed AWS call becomes the status reason CloudFormation shows.

``infra.constructs.custom_resource.handler_function`` copies this module into each handler's
asset, beside ``handler.py``, which imports it by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Standard retry mode (botocore's exponential backoff with jitter and a retry quota), eight attempts
# in all: a deployment waits out a throttled or briefly failing Bedrock API instead of failing.
RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 8})


class HandlerError(Exception):
    """A failure whose message is the status reason CloudFormation shows: what happened and what to do."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def explain(exc: ClientError | BotoCoreError, hints: Mapping[str, str]) -> str:
    """The status reason for a failed AWS call: the call, AWS's error, what to check (``hints`` by
    error code), and where the handler's log is."""
    where = f"details in CloudWatch log group {os.environ.get('AWS_LAMBDA_LOG_GROUP_NAME', '/aws/lambda/<handler function>')}"
    if isinstance(exc, BotoCoreError):
        return f"an AWS call failed: {exc}; deploy again, {where}"
    attempts = int(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) + 1
    message = exc.response.get("Error", {}).get("Message", "")
    hint = hints.get(error_code(exc), "deploy again once the cause is fixed")
    return f"{exc.operation_name} failed with {error_code(exc)} after {attempts} attempt(s): {message}; {hint}; {where}"


def dispatch(
    event: Mapping[str, Any],
    handlers: Mapping[str, Callable[..., dict[str, Any]]],
    hints: Mapping[str, str],
    arguments: Callable[[], tuple[Any, ...]],
) -> dict[str, Any]:
    """The provider framework's onEvent: ``handlers[RequestType](event, *arguments())``, a failed AWS
    call (``arguments`` included) raised as a HandlerError whose message is ``explain``'s."""
    request = event["RequestType"]
    if request not in handlers:
        raise ValueError(f"unknown RequestType {request!r}")
    try:
        return handlers[request](event, *arguments())
    except (ClientError, BotoCoreError) as exc:
        raise HandlerError(explain(exc, hints)) from exc
