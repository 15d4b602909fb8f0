"""checkov skips on Kubernetes objects: ``checkov.io/skip<N>: <check id>=<reason>`` annotations.

checkov reads them from the object's ``metadata.annotations`` (for a Deployment, they cover the
pod it templates too) and splits each value at ``=`` into the check id and the reason, so a reason
must not contain ``=``. Builders put them on the objects they make, next to the settings the
reason is about.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

ANNOTATION_PREFIX = "checkov.io/skip"
_CHECK_ID = re.compile(r"CKV2?_K8S_\d+")


def checkov_annotations(skips: Mapping[str, str]) -> dict[str, str]:
    """One annotation per ``check id -> reason``, numbered from 1 in the mapping's order."""
    out = {}
    for number, (check_id, reason) in enumerate(skips.items(), start=1):
        if not _CHECK_ID.fullmatch(check_id):
            raise ValueError(f"not a checkov Kubernetes check id: {check_id!r}")
        if "=" in reason or not reason.strip():
            raise ValueError(f"{check_id}: a skip reason must be non-empty and without '=' (checkov splits at it): {reason!r}")
        out[f"{ANNOTATION_PREFIX}{number}"] = f"{check_id}={reason}"
    return out
