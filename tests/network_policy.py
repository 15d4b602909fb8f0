"""NetworkPolicy verdicts as Kubernetes computes them, for the tests of who reaches a model.

``admits`` is the NetworkPolicy semantics of the Kubernetes documentation ("Network Policies"):
a pod selected by no Ingress policy accepts everything; a pod selected by one or more accepts a
connection when any rule of any of them matches it: a rule matches when one of its ``from`` peers
selects the source (``podSelector`` alone: pods of the policy's namespace; ``namespaceSelector``
alone: every pod of the selected namespaces; both: those pods of those namespaces) and, when the
rule lists ``ports``, the port is one of them (no ``ports``: every port). An ``ipBlock`` peer
matches a source given by address (``{"ip": ...}``, e.g. a client behind the NLB) inside its
``cidr`` and outside its ``except`` ranges.
"""

from __future__ import annotations

import ipaddress
from typing import Any


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def _peer_matches(peer: dict[str, Any], policy_namespace: str, source: dict[str, Any]) -> bool:
    if "ipBlock" in peer or "ip" in source:
        if "ipBlock" not in peer or "ip" not in source:
            return False
        address = ipaddress.ip_address(source["ip"])
        block = peer["ipBlock"]
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except", [])
        )
    namespace_labels = {"kubernetes.io/metadata.name": source["namespace"]}
    if "namespaceSelector" in peer:
        in_namespace = _selects(peer["namespaceSelector"], namespace_labels)
    else:
        in_namespace = source["namespace"] == policy_namespace
    return in_namespace and _selects(peer.get("podSelector", {}), source["labels"])


def admits(policies: list[dict[str, Any]], target: dict[str, Any], source: dict[str, Any], port: int) -> bool:
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == target["namespace"]
        and "Ingress" in p["spec"]["policyTypes"]
        and _selects(p["spec"]["podSelector"], target["labels"])
    ]
    if not selecting:
        return True
    return any(
        any(_peer_matches(peer, p["metadata"]["namespace"], source) for peer in rule.get("from", []))
        and ("ports" not in rule or any(r["port"] == port for r in rule["ports"]))
        for p in selecting
        for rule in p["spec"].get("ingress", [])
    )
