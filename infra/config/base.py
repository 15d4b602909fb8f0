"""Shared pieces of the configuration blocks: the error types, the strict base model, patterns and small validators."""

from __future__ import annotations

import json
import re
import typing
import unicodedata
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from infra import serving_args

DEFAULT_ENV = "dev"

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)

# Interface endpoints a private EKS data plane may want, by the service's endpoint suffix.
INTERFACE_ENDPOINTS = (
    "autoscaling",
    "bedrock-runtime",
    "ec2",
    "ecr.api",
    "ecr.dkr",
    "eks",
    "eks-auth",
    "elasticloadbalancing",
    "kms",
    "logs",
    "monitoring",
    "secretsmanager",
    "sqs",
    "ssm",
    "ssmmessages",
    "sts",
)
DEFAULT_INTERFACE_ENDPOINTS = ("ec2", "ecr.api", "ecr.dkr", "eks-auth", "logs", "sqs", "ssm", "sts")

MODEL_IMAGES = Path(__file__).resolve().parents[2] / "model-images"
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
# ASCII only: Python's \d and \w also match other scripts' digits and letters, which AWS rejects.
_ACCOUNT = re.compile(r"^[0-9]{12}$")
_PRINCIPAL_ARN = re.compile(r"^arn:aws:iam::[0-9]{12}:(role|user)/[A-Za-z0-9_+=,.@/-]{1,512}$")
_INSTANCE_TYPE = re.compile(r"^(?P<family>[a-z]+(?P<gen>\d+)(?P<attrs>[a-z-]*))\.(?P<size>[a-z0-9]+)$")
_ROLE_NAME = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_ADDON_VERSION = re.compile(r"^v\d+\.\d+\.\d+-eksbuild\.\d+$")
# Environment variable names and values that carry secrets (GitHub, Hugging Face, OpenAI-style and
# AWS key formats), refused in env: the value would be written into templates in clear text.
_SECRET_NAME = re.compile(r"(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)(_|$)", re.IGNORECASE)
_SECRET_VALUES = (
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    re.compile(r"\b(ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
    re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
)
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^([0-9]+(s|m|h))+$")
# A NodePool's template labels: the CRD allows 100 (maxProperties); the blueprint's own take the rest.
MAX_POOL_LABELS = 90
# Namespaces that belong to Kubernetes or to the components this blueprint installs: no model is
# served in them, and no Bedrock role is handed to their service accounts (kube-system alone holds
# the CNI, kube-proxy, CoreDNS, the Pod Identity agent and Karpenter).
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "amazon-cloudwatch", "lws-system", "keda", "inference-metrics")
# The shortest node lifetime accepted: below it a model's start-up (up to ~40 min with Neuron
# compilation, infra.k8s.vllm.startup_budget_s) would not finish before Karpenter replaces the node.
MIN_EXPIRE_AFTER_S = 3600


def _seconds(duration: str) -> int:
    """A Go-style duration of s/m/h parts in seconds."""
    return sum(int(n) * {"s": 1, "m": 60, "h": 3600}[unit] for n, unit in re.findall(r"([0-9]+)([smh])", duration))


_AMI_VERSION = re.compile(r"^(latest|v?\d+(\.\d+){0,2}|v\d{8})$")


def _printable(text: str) -> str:
    """``text`` with every non-printable character written as its escape (``\\n``, ``\\x00``)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ConfigError(Exception):
    """A configuration problem, reported as ``<path>: <problem>; <what to do>``.

    ``more`` holds the other problems found in the same pass: ``lines()`` is every one of them, one
    line each, so a draft with nine mistakes shows nine.
    """

    def __init__(self, path: str, problem: str, fix: str, more: tuple[ConfigError, ...] = ()) -> None:
        # One line whatever the input held: control characters (a newline in a value) are escaped.
        path, problem, fix = (_printable(part) for part in (path, problem, fix))
        super().__init__(f"{path}: {problem}; {fix}")
        self.path = path
        self.problem = problem
        self.fix = fix
        self.more = more

    def lines(self) -> list[str]:
        return [str(self), *(str(e) for e in self.more)]


class Problem(ValueError):
    """Raised inside validators: the problem, what to do, and optionally the sub-key it is about."""

    def __init__(self, problem: str, fix: str, field: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.field = field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _json_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        """Numbers and booleans as JSON has them: pydantic would turn true into 1, 2.5e16 into an int
        and "3" into 3; a value of the wrong JSON type is an error instead."""
        kind = _scalar_kind(cls.model_fields[info.field_name or ""].annotation)
        if value is None or kind is None:
            return value
        if kind is bool and not isinstance(value, bool):
            raise Problem(f"must be true or false, got {_shown(value)}", "write true or false")
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise Problem(f"must be a whole number, got {_shown(value)}", "write a whole number")
        if kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise Problem(f"must be a number, got {_shown(value)}", "write a number")
        return value


def _scalar_kind(annotation: Any) -> type | None:
    """``int``, ``float`` or ``bool`` when a field holds that scalar (or it or null), else None."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] if typing.get_args(annotation) else [annotation]
    return args[0] if len(args) == 1 and args[0] in (int, float, bool) else None


def _tag_char(c: str) -> bool:
    """A character AWS allows in tag keys and values: a Unicode letter, digit or space, or _.:/=+-@."""
    return unicodedata.category(c)[0] in "LNZ" or c in "_.:/=+-@"


def _check_vllm_dtype(value: str | None) -> str | None:
    """``value`` when the pinned vLLM's ``--dtype`` accepts it (its choices, from the committed args table)."""
    if value is None:
        return value
    choices = serving_args.accepted_choices("--dtype")
    if value not in choices:
        hint = f"; for {value} weights set quantization ({QUANTIZED_WEIGHTS_HINT[value]})" if value in QUANTIZED_WEIGHTS_HINT else ""
        raise Problem(f"'{value}' is not a vLLM --dtype{hint}", f"use one of {', '.join(choices)} or leave it out (auto)")
    return value


# What vLLM's --dtype values mean for the planner's weight sizing (vllm/config/model.py: half is
# float16, float is float32, auto keeps the checkpoint's dtype).
_DTYPE_SIZING = {"auto": None, "half": "float16", "float16": "float16", "bfloat16": "bfloat16", "float": "float32", "float32": "float32"}
# Weight widths of quantization methods the planner can size: fp8 is 8-bit (online or checkpoint);
# AWQ is 4-bit only; GPTQ checkpoints are 4- or 8-bit, sized as 8 to stay on the safe side. Other
# methods are sized as the checkpoint's 16-bit weights (an overestimate).
_QUANTIZATION_SIZING = {"fp8": "fp8", "awq": "int4", "awq_marlin": "int4", "gptq": "int8", "gptq_marlin": "int8"}
QUANTIZED_WEIGHTS_HINT = {"fp8": "fp8", "int8": "gptq, with an 8-bit GPTQ checkpoint", "int4": "awq, with a 4-bit AWQ checkpoint"}


def sizing_dtype(dtype: str | None, quantization: str | None) -> str | None:
    """The weight dtype the planner sizes a model with, from its vLLM dtype and quantization."""
    if quantization in _QUANTIZATION_SIZING:
        return _QUANTIZATION_SIZING[quantization]
    return _DTYPE_SIZING.get(dtype or "auto")


def instance_arch(instance_type: str) -> str:
    """``arm64`` for Graviton types (a ``g`` among the family's attributes, e.g. m7g, c7gn), else ``x86_64``."""
    m = _INSTANCE_TYPE.match(instance_type)
    if not m:
        raise Problem(f"'{instance_type}' is not an EC2 instance type", "write it as family.size, e.g. m7i.large")
    return "arm64" if "g" in m.group("attrs") else "x86_64"


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(str(d) for d in LOG_RETENTION_DAYS)
        raise Problem(f"{value} is not a CloudWatch Logs retention period", f"use one of {allowed}")
    return value


def _shown(value: Any) -> str:
    """A value as JSON, or its size when the JSON would not fit on an error line."""
    text = json.dumps(value, default=str)
    if len(text) <= 80:
        return text
    if isinstance(value, (list, tuple, dict)):
        return f"{len(value)} {'entries' if isinstance(value, dict) else 'items'}"
    return text[:77] + "..."


def refuse_system_namespace(value: str, consequence: str, fix: str) -> str:
    """``value`` unless it is one of ``SYSTEM_NAMESPACES``; then a Problem saying ``consequence`` and ``fix``."""
    if value in SYSTEM_NAMESPACES:
        raise Problem(f"'{value}' belongs to Kubernetes or the blueprint's own components{consequence}", fix)
    return value
