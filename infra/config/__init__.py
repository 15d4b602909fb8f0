"""Configuration of one environment: the single validation pass at the edge of the app.

``load(context)`` takes the CDK context (``cdk.json`` plus ``-c`` values), picks the environment
named by ``env``, applies the ``region`` and ``account`` overrides and returns a frozen, validated
``EnvironmentConfig``. Every problem becomes one ``ConfigError`` whose text is the contract line
``<key path>: <problem>; <what to do>`` (``app.py`` prefixes ``error: ``).

The package has one module per block of an environment (``network``, ``eks``, ``node_pools``,
``bedrock``, ``models``, ``units``, ``observability``), each validating what the constructs of that
block consume; ``environment`` holds the rules that span blocks and ``load``; ``base`` the error
types and the strict base model every block shares.
"""

from __future__ import annotations

from infra.config.base import (
    DEFAULT_ENV,
    DEFAULT_INTERFACE_ENDPOINTS,
    INTERFACE_ENDPOINTS,
    LOG_RETENTION_DAYS,
    MAX_POOL_LABELS,
    MIN_EXPIRE_AFTER_S,
    MODEL_IMAGES,
    QUANTIZED_WEIGHTS_HINT,
    SYSTEM_NAMESPACES,
    ConfigError,
    Problem,
    instance_arch,
    sizing_dtype,
)
from infra.config.bedrock import (
    BedrockConfig,
    BedrockModelAccess,
    BedrockTeam,
    GuardrailConfig,
    InvocationLoggingConfig,
    ModelAccessForm,
    ServiceAccountRef,
)
from infra.config.eks import EksConfig, FrontDoorConfig, SystemNodesConfig
from infra.config.environment import EnvironmentConfig, load, validate_environment
from infra.config.models import AutoscalingConfig, ServedModelConfig, WeightsConfig
from infra.config.network import NetworkConfig
from infra.config.node_pools import AmiConfig, CapacityReservationConfig, DisruptionBudgetConfig, NodePoolConfig, NodePoolLimits
from infra.config.observability import AlarmThresholds, ObservabilityConfig
from infra.config.units import UnitPoolConfig, UnitWeightsConfig

__all__ = [
    "DEFAULT_ENV",
    "DEFAULT_INTERFACE_ENDPOINTS",
    "INTERFACE_ENDPOINTS",
    "LOG_RETENTION_DAYS",
    "MAX_POOL_LABELS",
    "MIN_EXPIRE_AFTER_S",
    "MODEL_IMAGES",
    "QUANTIZED_WEIGHTS_HINT",
    "SYSTEM_NAMESPACES",
    "AlarmThresholds",
    "AmiConfig",
    "AutoscalingConfig",
    "BedrockConfig",
    "BedrockModelAccess",
    "BedrockTeam",
    "CapacityReservationConfig",
    "ConfigError",
    "DisruptionBudgetConfig",
    "EksConfig",
    "EnvironmentConfig",
    "FrontDoorConfig",
    "GuardrailConfig",
    "InvocationLoggingConfig",
    "ModelAccessForm",
    "NetworkConfig",
    "NodePoolConfig",
    "NodePoolLimits",
    "ObservabilityConfig",
    "Problem",
    "ServedModelConfig",
    "ServiceAccountRef",
    "SystemNodesConfig",
    "UnitPoolConfig",
    "UnitWeightsConfig",
    "WeightsConfig",
    "instance_arch",
    "load",
    "sizing_dtype",
    "validate_environment",
]
