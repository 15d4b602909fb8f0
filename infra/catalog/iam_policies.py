"""IAM policies that upstream projects publish for their controllers, vendored unmodified.

``data/iam-policies/sources.json`` records each file's repository, tag, commit, path, license and
sha256. ``python -m infra.tools.schemas`` checks the files against it, and ``--fetch`` re-downloads
them at the pinned commit, as it does for the CRDs. The documents name the ``aws`` partition
(``arn:aws:``), the only one the blueprint deploys to (``infra.catalog.regions``). Upstream
publishes the other partitions' variants beside them (the load balancer controller's
``iam_policy_cn.json``, ``iam_policy_us-gov.json``, ...).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

POLICY_DIR = Path(__file__).resolve().parent / "data" / "iam-policies"
SOURCES = POLICY_DIR / "sources.json"

# kubernetes-sigs/aws-load-balancer-controller v3.5.0, docs/install/iam_policy.json.
LOAD_BALANCER_CONTROLLER = "aws-load-balancer-controller.json"


def document(file: str) -> dict[str, Any]:
    """The vendored policy document ``file``, parsed, as upstream wrote it."""
    return dict(json.loads((POLICY_DIR / file).read_text(encoding="utf-8")))
