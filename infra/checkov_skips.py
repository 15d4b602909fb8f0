"""checkov skips on CloudFormation resources, made inside the construct that owns the resource.

checkov reads a resource's ``Metadata.checkov.skip``, a list of ``{id, comment}``, and reports
those checks as skipped with the comment. ``skip`` writes that list from the construct tree (it
adds metadata to each ``CfnResource``), so a skip sits next to the code that builds the resource,
like ``infra.nag.acknowledge``. ``make test`` runs checkov (``tests/stacks/test_checkov.py``).
"""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

METADATA_KEY = "checkov"
_CHECK_ID = re.compile(r"CKV2?_AWS_\d+")
_MIN_REASON = 20


def skip(scope: IConstruct, resource_type: str, check_id: str, reason: str) -> list[cdk.CfnResource]:
    """Skip ``check_id`` for ``reason`` on every ``resource_type`` resource at or below ``scope``.

    Returns the resources it marked; raises ValueError when there are none, so a skip cannot
    outlive the resource it was written for.
    """
    if not _CHECK_ID.fullmatch(check_id):
        raise ValueError(f"not a checkov CloudFormation check id: {check_id!r}")
    if len(reason.strip()) < _MIN_REASON:
        raise ValueError(f"skipping {check_id} needs a real reason, got {reason!r}")
    marked = [node for node in scope.node.find_all() if cdk.CfnResource.is_cfn_resource(node) and node.cfn_resource_type == resource_type]
    if not marked:
        raise ValueError(f"no {resource_type} at or below {scope.node.path} to skip {check_id} on")
    for resource in marked:
        entries = [e for e in skips(resource) if e["id"] != check_id]
        resource.add_metadata(METADATA_KEY, {"skip": [*entries, {"id": check_id, "comment": reason}]})
    return marked


def skips(resource: cdk.CfnResource) -> list[dict[str, Any]]:
    """The checkov skips already on ``resource``."""
    return list((resource.get_metadata(METADATA_KEY) or {}).get("skip", []))
