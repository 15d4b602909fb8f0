"""Prometheus relabelling as a scrape applies it, for the tests of what a scrape job reaches and keeps.

``relabel`` follows the Prometheus configuration reference (``<relabel_config>``): the source
labels' values joined by ``;``, the regex anchored at both ends, ``keep`` and ``drop`` on whether
it matches, ``replace`` writing the expanded ``replacement`` (default ``$1``) to ``target_label``
when it matches. ``pod_target`` is what Kubernetes pod discovery (``role: pod``) gives for one
container port of a pod before relabelling.
"""

from __future__ import annotations

import re
from typing import Any


def relabel(rules: list[dict[str, Any]], labels: dict[str, str]) -> dict[str, str] | None:
    """``labels`` after ``rules``, or None when a rule drops the target or sample."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule["source_labels"])
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if (action == "keep" and not match) or (action == "drop" and match):
            return None
        if action == "replace" and match:
            template = re.sub(r"\$\{(\d+)\}|\$(\d+)", lambda m: f"\\g<{m.group(1) or m.group(2)}>", rule.get("replacement", "$1"))
            labels[rule["target_label"]] = match.expand(template)
    return labels


def pod_target(pod_labels: dict[str, str], port: dict[str, Any], *, namespace: str, phase: str = "Running") -> dict[str, str]:
    """The discovered labels of container port ``port`` (``name``, ``containerPort``) of a pod."""
    labels = {
        "__address__": f"10.0.1.7:{port['containerPort']}",
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": "pod-abcde",
        "__meta_kubernetes_pod_phase": phase,
        "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
        "__meta_kubernetes_pod_container_port_number": str(port["containerPort"]),
    }
    for key, value in pod_labels.items():
        labels["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    return labels


def scraped_ports(job: dict[str, Any], pod_labels: dict[str, str], ports: list[dict[str, Any]], *, namespace: str) -> list[int]:
    """The container ports of a running pod that ``job`` scrapes."""
    rules = job["relabel_configs"]
    return [p["containerPort"] for p in ports if relabel(rules, pod_target(pod_labels, p, namespace=namespace)) is not None]
