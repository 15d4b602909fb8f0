"""One environment: the blocks together, the rules that span them, and ``load`` (the context to a validated config)."""

from __future__ import annotations

import difflib
import functools
import json
import re
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator

from infra import bedrock_policy, planner
from infra.catalog import bedrock as bedrock_catalog
from infra.catalog import instances, regions, system_instances
from infra.config.base import _ACCOUNT, _ENV_NAME, DEFAULT_ENV, ConfigError, Problem, _retention, _shown, _Strict, _tag_char, sizing_dtype
from infra.config.bedrock import BedrockConfig, GuardrailConfig, check_profile_tag
from infra.config.eks import EksConfig
from infra.config.models import ServedModelConfig
from infra.config.network import NetworkConfig
from infra.config.node_pools import NodePoolConfig
from infra.config.observability import ObservabilityConfig
from infra.config.units import UnitPoolConfig

# The tag the stacks put on every resource, and AWS's limit of user tags per resource (Tagging AWS resources).
ENVIRONMENT_TAG = "inference-blueprint:environment"
MAX_TAGS = 50


def _unique_names(names: list[str], block: str, what: str) -> None:
    """A Problem at ``<block>[i].name`` for the first name a later entry of ``block`` repeats."""
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in seen:
            raise Problem(
                f"{what} name '{name}' is also used by {block}[{seen[name]}]",
                f"give each {what} its own name",
                field=f"{block}[{index}].name",
            )
        seen[name] = index


def _no_single_point_of_failure(pool: UnitPoolConfig, where: str) -> None:
    """A production pool serves from two units or more and rolls out through a surge unit."""
    if pool.units < 2:
        raise Problem(
            f"{pool.units} unit in a production environment is a single point of failure: a fault or a rollout of that "
            "unit takes the model down",
            "run units 2 or more, or set production to false",
            field=f"{where}.units",
        )
    if not pool.surge:
        raise Problem(
            "a production pool without a surge unit: a rollout would stop a serving unit before its replacement runs",
            f"set surge to true ({pool.unit_size} more instances standing by), or set production to false",
            field=f"{where}.surge",
        )


class EnvironmentConfig(_Strict):
    """One deployable environment: where it goes and what it runs."""

    name: str
    region: str
    account: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    network: NetworkConfig = NetworkConfig()
    eks: EksConfig = EksConfig()
    node_pools: tuple[NodePoolConfig, ...] = ()
    bedrock: BedrockConfig | None = None
    models: tuple[ServedModelConfig, ...] = ()
    unit_pools: tuple[UnitPoolConfig, ...] = ()
    unit_log_retention_days: int = 90
    observability: ObservabilityConfig = ObservabilityConfig()
    budget_usd_per_hour: float | None = Field(default=None, gt=0, description="fail synth when the standing cost is above this")
    production: bool = Field(default=False, description="serves production traffic: synth refuses a single point of failure")

    @model_validator(mode="before")
    @classmethod
    def _name_from_key(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, dict) and info.context:
            if "name" in data:
                raise Problem("is taken from the environment's key", "remove it", field="name")
            data = {**data, "name": info.context["name"]}
        return data

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if regions.region(value) is None:
            raise Problem(f"'{value}' is not a known AWS region", "use a region from infra/catalog/regions.py")
        return value

    _unit_retention = field_validator("unit_log_retention_days")(_retention)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        # AWS tagging rules (Tagging AWS resources, "Tag naming limits and requirements"): at most 50
        # tags per resource (the blueprint adds one), keys 1-128 and values 0-256 characters of
        # letters, digits, spaces and _ . : / = + - @, and no key starting with aws: (reserved).
        if len(value) > 49:
            raise Problem(f"{len(value)} tags; with inference-blueprint:environment that is over AWS's 50", "keep at most 49")
        for key, text in value.items():
            if not key:
                raise Problem("a tag key is empty", "give every tag a key")
            if len(key) > 128:
                raise Problem(f"tag key {key[:20]!r}... is {len(key)} characters", "keep tag keys to 128 characters")
            if key.lower().startswith("aws:"):
                raise Problem(f"tag key {key!r} starts with aws:, which AWS reserves", "use another prefix")
            if len(text) > 256:
                raise Problem(f"the value of tag {key!r} is {len(text)} characters", "keep tag values to 256 characters")
            bad = sorted({c for c in key + text if not _tag_char(c)})
            if bad:
                raise Problem(
                    f"tag {key!r} has characters AWS does not allow in tags: {''.join(bad)!r}",
                    "use letters, digits, spaces and _ . : / = + - @",
                )
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.match(value):
            raise Problem(f"'{value}' is not a 12-digit AWS account id", "use the 12 digits, or leave it out")
        return value

    @model_validator(mode="after")
    def _fits_region(self) -> EnvironmentConfig:
        available = regions.REGIONS[self.region].az_count
        if self.network.az_count > available:
            raise Problem(
                f"{self.network.az_count} AZs asked but {self.region} has {available}",
                f"set network.az_count to {available} or fewer",
                field="network.az_count",
            )
        if not (self.eks.admin_principal_arns or self.eks.admin_role_names or self.eks.allow_no_admins):
            raise Problem(
                "no IAM principal would be a cluster admin: only the stack's kubectl provider could use the Kubernetes API",
                "add your administrators to eks.admin_principal_arns (ARNs) or eks.admin_role_names (roles of this account), "
                "or set eks.allow_no_admins to true to accept that",
                field="eks.admin_principal_arns",
            )
        for index, name in enumerate(self.eks.system_nodes.instance_types):
            if system_instances.offered_in(name, self.region) is False:
                raise Problem(
                    f"{name} is not offered in {self.region}",
                    "use a type EC2 offers there (aws ec2 describe-instance-type-offerings --region " + self.region + ")",
                    field=f"eks.system_nodes.instance_types[{index}]",
                )
        configured = {access.model for access in self.bedrock.models} if self.bedrock else set()
        for key in self.observability.bedrock_tpm_quotas:
            if key not in configured:
                raise Problem(
                    f"a quota for {key}, which this environment's bedrock.models does not list",
                    f"add {key} to bedrock.models or remove its quota",
                    field=f'observability.bedrock_tpm_quotas["{key}"]'
                    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key)
                    else f"observability.bedrock_tpm_quotas.{key}",
                )
        self._check_front_door()
        self._check_pools()
        self._check_bedrock()
        self._check_models()
        self._check_units()
        return self

    def pool(self, name: str) -> NodePoolConfig | None:
        return next((p for p in self.node_pools if p.name == name), None)

    def plan(self, model: ServedModelConfig) -> planner.Plan:
        """The planner's layout for ``model`` on its pool: the given instance type, else the smallest that fits."""
        pool = self.pool(model.pool)
        assert pool is not None
        if model.instance_type is not None:
            candidates = [model.instance_type]
        else:
            candidates = [t.name for t in sorted(pool.types, key=lambda t: (t.total_accelerator_memory_gib, t.vcpus))]
        # One node on any type of the pool before several: a group across nodes is slower and needs
        # EFA, so it is only tried on an EFA pool and only when no single node holds the model.
        passes: list[int | None] = [model.nodes] if model.nodes is not None else [1, *([None] if pool.efa else [])]
        max_nodes = planner.MAX_NODES if pool.efa else 1
        last: planner.PlanError | None = None
        for nodes, instance_type in ((n, t) for n in passes for t in candidates):
            try:
                return planner.plan(
                    model.architecture,
                    instance_type,
                    nodes=nodes,
                    tensor_parallel=model.tensor_parallel,
                    pipeline_parallel=model.pipeline_parallel,
                    max_model_len=model.max_model_len,
                    dtype=sizing_dtype(model.dtype, model.quantization),
                    gpu_memory_utilization=model.gpu_memory_utilization,
                    max_nodes=max_nodes,
                )
            except planner.PlanError as exc:
                last = exc
        assert last is not None
        if not pool.efa and model.nodes is None:
            raise planner.PlanError(
                f"{last.problem}; pool '{pool.name}' has no EFA for a group across nodes",
                f"{last.fix}, or serve it from an efa pool as a multi-node group",
                last.field,
            )
        raise last

    def _check_models(self) -> None:
        names: dict[tuple[str, str], int] = {}
        for index, model in enumerate(self.models):
            where = f"models[{index}]"
            key = (model.namespace, model.name)
            if key in names:
                raise Problem(
                    f"'{model.name}' is also served by models[{names[key]}] in {model.namespace}",
                    "give each model its own name",
                    field=f"{where}.name",
                )
            names[key] = index
            pool = self.pool(model.pool)
            if pool is None:
                known = ", ".join(p.name for p in self.node_pools) or "none are configured"
                raise Problem(
                    f"pool '{model.pool}' does not exist", f"use one of this environment's node_pools ({known})", field=f"{where}.pool"
                )
            if model.instance_type is not None and model.instance_type not in {t.name for t in pool.types}:
                raise Problem(
                    f"{model.instance_type} is not in pool '{pool.name}'",
                    f"use one of {', '.join(t.name for t in pool.types)}",
                    field=f"{where}.instance_type",
                )
            try:
                plan = self.plan(model)
            except planner.PlanError as exc:
                raise Problem(exc.problem, exc.fix, field=f"{where}.{exc.field or 'architecture'}") from None
            if plan.layout.nodes > 1 and pool.accelerator == "neuron":
                raise Problem(
                    f"needs {plan.layout.nodes} Neuron nodes; one vLLM group across Neuron nodes on EKS is not supported",
                    "use a larger Neuron type (e.g. trn2.48xlarge) for one node, or an ECS inference unit",
                    field=f"{where}.nodes",
                )
            if plan.layout.nodes > 1 and not pool.efa:
                raise Problem(
                    f"spans {plan.layout.nodes} nodes but pool '{pool.name}' has no EFA",
                    "serve multi-node models from an efa pool, or fit the model on one node",
                    field=f"{where}.pool",
                )

    def plan_unit(self, pool: UnitPoolConfig) -> planner.Plan:
        """The planner's layout of one engine of a unit pool: on one instance (data-parallel), or across the unit."""
        return planner.plan(
            pool.architecture,
            pool.instance_type,
            nodes=pool.engine_instances,
            tensor_parallel=pool.tensor_parallel,
            pipeline_parallel=pool.pipeline_parallel,
            max_model_len=pool.max_model_len,
            dtype=sizing_dtype(pool.dtype, None),
        )

    def _check_units(self) -> None:
        _unique_names([p.name for p in self.unit_pools], "unit_pools", "unit pool")
        for index, pool in enumerate(self.unit_pools):
            where = f"unit_pools[{index}]"
            if not instances.offered_in(pool.spec.family, self.region):
                offered = ", ".join(instances.regions_offering(pool.spec.family)) or "no catalogued region"
                raise Problem(
                    f"{pool.instance_type} is not offered in {self.region}",
                    f"use a type this region offers, or a region that offers {pool.spec.family} ({offered})",
                    field=f"{where}.instance_type",
                )
            if pool.az_index >= self.network.az_count:
                raise Problem(
                    f"AZ index {pool.az_index} but the VPC has {self.network.az_count} AZs",
                    f"use 0..{self.network.az_count - 1}",
                    field=f"{where}.az_index",
                )
            if self.production:
                _no_single_point_of_failure(pool, where)
            try:
                self.plan_unit(pool)
            except planner.PlanError as exc:
                if pool.runtime == "data-parallel" and exc.field in ("instance_type", "nodes"):
                    raise Problem(
                        f"{exc.problem}; with runtime data-parallel every member holds the whole model",
                        "lower max_model_len until one instance holds it, or set runtime ray-pipeline to spread one engine "
                        "over the unit (no Neuron document for the pinned SDK describes that; unverified)",
                        field=f"{where}.runtime",
                    ) from None
                field = {"nodes": "unit_size"}.get(exc.field or "", exc.field or "architecture")
                raise Problem(exc.problem, exc.fix, field=f"{where}.{field}") from None

    def _check_bedrock(self) -> None:
        if self.bedrock is None:
            return
        for index, access in enumerate(self.bedrock.models):
            problem = bedrock_policy.validate_request(access.model, access.scope, self.region)
            if problem:
                text, _, fix = problem.partition("; ")
                field = "model" if bedrock_catalog.model(access.model) is None else "scope"
                raise Problem(text, fix or "check infra/catalog/bedrock.py", field=f"bedrock.models[{index}].{field}")
        self.bedrock.invocation_logging.check_text_chosen()
        self._check_residency(self.bedrock)
        if self.bedrock.guardrail is not None:
            self._check_account_wide(self.bedrock.guardrail)
        if self.bedrock.guardrail is not None and self.region not in bedrock_catalog.GUARDRAIL_CFN_REGIONS:
            raise Problem(
                f"CloudFormation has no AWS::Bedrock::Guardrail in {self.region}, and a guardrail must be in the Region of "
                "the calls it guards",
                "remove bedrock.guardrail, or deploy the environment in a Region that has guardrails "
                "(infra/catalog/bedrock.py GUARDRAIL_CFN_REGIONS)",
                field="bedrock.guardrail",
            )
        anthropic = any(bedrock_catalog.MODELS[access.model].model_id.startswith("anthropic.") for access in self.bedrock.models)
        self.bedrock.check_model_access_form(anthropic)
        if self.bedrock.teams:
            self._check_teams(self.bedrock)

    def _check_teams(self, bedrock: BedrockConfig) -> None:
        """Teams' profiles can be created in the region, and their tags (the environment's too) fit on them."""
        if self.region not in bedrock_catalog.APPLICATION_PROFILE_API_REGIONS:
            raise Problem(
                f"Bedrock does not create application inference profiles in {self.region}",
                "remove bedrock.teams, or deploy in a Region of infra/catalog/bedrock.py APPLICATION_PROFILE_API_REGIONS",
                field="bedrock.teams",
            )
        for key, value in self.tags.items():
            try:
                check_profile_tag(key, value)
            except Problem as problem:
                raise Problem(f"{problem.problem}, and every team profile carries it", problem.fix, field="tags") from None
        for index, team in enumerate(bedrock.teams):
            # The environment's tags, inference-blueprint:environment, and the team's (AWS: at most 50 per resource).
            count = len({*self.tags, ENVIRONMENT_TAG, *team.profile_tags()})
            if count > MAX_TAGS:
                raise Problem(
                    f"its profiles would carry {count} tags (the environment's, {ENVIRONMENT_TAG}, team and the team's); "
                    f"AWS allows {MAX_TAGS}",
                    "remove some of the team's tags",
                    field=f"bedrock.teams[{index}].tags",
                )

    def _check_account_wide(self, guardrail: GuardrailConfig) -> None:
        if not guardrail.enforced_account_wide:
            return
        field = "bedrock.guardrail.enforced_account_wide"
        if self.region not in bedrock_catalog.ENFORCED_GUARDRAIL_REGIONS:
            guardrails = self.region in bedrock_catalog.GUARDRAIL_CFN_REGIONS
            raise Problem(
                f"Bedrock offers no account-level enforced guardrail configuration in {self.region}"
                + ("" if guardrails else ", nor guardrails"),
                (
                    "set it to false; guardrail.enforced still holds the stack's own roles to the guardrail"
                    if guardrails
                    else "remove bedrock.guardrail"
                )
                + ", or deploy the environment in a Region of infra/catalog/bedrock.py ENFORCED_GUARDRAIL_REGIONS",
                field=field,
            )
        if not guardrail.enforced:
            raise Problem(
                "every caller in the account then needs bedrock:ApplyGuardrail on the guardrail or gets AccessDeniedException, "
                "and the invoke policy grants it only with guardrail.enforced",
                "set bedrock.guardrail.enforced to true",
                field=field,
            )

    def _check_front_door(self) -> None:
        """ACM certificates are regional: a load balancer uses one requested or imported in its own
        Region (ACM user guide, "Supported Regions"), and of its own account."""
        door = self.eks.front_door
        region = door.certificate_region
        if region is not None and region != self.region:
            raise Problem(
                f"the certificate is in {region} but the environment deploys to {self.region}",
                f"request or import the certificate in ACM in {self.region} and use its ARN",
                field="eks.front_door.certificate_arn",
            )
        account = (door.certificate_arn or "").split(":")[4:5]
        if self.account is not None and account and account[0] != self.account:
            raise Problem(
                f"the certificate belongs to account {account[0]} but the environment deploys to {self.account}",
                "use a certificate of the environment's own account",
                field="eks.front_door.certificate_arn",
            )

    def _check_residency(self, bedrock: BedrockConfig) -> None:
        """Every inference profile sends prompts to other Regions: the environment must say it accepts where."""
        for index, access in enumerate(bedrock.models):
            if access.scope == bedrock_catalog.GLOBAL:
                if bedrock.cross_region_routing != "global":
                    raise Problem(
                        f"{access.model} via the global profile sends prompts and responses to any commercial AWS Region for "
                        f"processing, outside {self.region}'s geography",
                        "set bedrock.cross_region_routing to global to accept that, or use a geographic scope",
                        field=f"bedrock.models[{index}].scope",
                    )
            elif bedrock.cross_region_routing is None:
                regions_used = ", ".join(bedrock_catalog.destinations(access.scope, self.region))
                raise Problem(
                    f"{access.model} via the {access.scope} profile sends prompts and responses to {regions_used} for processing",
                    "set bedrock.cross_region_routing to geography (or global) to accept that",
                    field=f"bedrock.models[{index}].scope",
                )

    def _check_pools(self) -> None:
        _unique_names([p.name for p in self.node_pools], "node_pools", "pool")
        efa_types: dict[str, str] = {}
        for index, pool in enumerate(self.node_pools):
            where = f"node_pools[{index}]"
            for family in pool.families:
                if not instances.offered_in(family, self.region):
                    offered = ", ".join(instances.regions_offering(family)) or "no catalogued region"
                    raise Problem(
                        f"{family} is not offered in {self.region}",
                        f"remove it from this environment's pools or use a region that offers it ({offered})",
                        field=f"{where}.{'instance_families' if family in pool.instance_families else 'instance_types'}",
                    )
            if pool.efa:
                if pool.efa_az_index >= self.network.az_count:
                    raise Problem(
                        f"AZ index {pool.efa_az_index} but the VPC has {self.network.az_count} AZs",
                        f"use 0..{self.network.az_count - 1}",
                        field=f"{where}.efa_az_index",
                    )
                for spec in pool.types:
                    if spec.name in efa_types:
                        raise Problem(
                            f"{spec.name} is also in EFA pool '{efa_types[spec.name]}'",
                            "give each EFA instance type to one pool, so a group never spans two placement groups",
                            field=f"{where}.instance_types",
                        )
                    efa_types[spec.name] = pool.name

    def stack_name(self, part: str) -> str:
        """The contract stack name ``inference-<env>-<part>``."""
        return f"inference-{self.name}-{part}"

    @property
    def cluster_name(self) -> str:
        return f"inference-{self.name}"


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _path(loc: tuple[int | str, ...]) -> str:
    """``network.cidr``, ``models[0]``; a key that is not a plain name is quoted: ``tags["a;b"]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _PLAIN_KEY.match(part):
            out += f"[{json.dumps(part)}]"
        else:
            out += f".{part}" if out else part
    return out


_HINTS = {
    "extra_forbidden": ("unknown key", "remove it or fix its spelling (see the configuration reference in README.md)"),
    "missing": ("required key is missing", "add it"),
}
# pydantic's error types in the words of someone editing JSON.
_KINDS = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "an object ({...})",
    "model_type": "an object ({...})",
    "model_attributes_type": "an object ({...})",
    "tuple_type": "a list ([...])",
    "list_type": "a list ([...])",
}
_BOUNDS = {
    "greater_than": "more than {gt}",
    "greater_than_equal": "at least {ge}",
    "less_than": "less than {lt}",
    "less_than_equal": "at most {le}",
    "too_short": "at least {min_length} item(s)",
    "too_long": "at most {max_length} item(s)",
    "string_pattern_mismatch": "text matching {pattern}",
}


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The configuration blocks an annotation holds (``X``, ``X | None``, ``tuple[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


@functools.cache
def _known_keys() -> tuple[str, ...]:
    """Every key any configuration block accepts, for "did you mean"."""
    keys: set[str] = set()
    seen: set[type[BaseModel]] = set()
    pending: list[type[BaseModel]] = [EnvironmentConfig]
    while pending:
        model = pending.pop()
        seen.add(model)
        for name, info in model.model_fields.items():
            keys.add(name)
            pending.extend(m for m in _models_in(info.annotation) if m not in seen)
    return tuple(sorted(keys))


def _translate(err: Mapping[str, Any], prefix: str) -> ConfigError:
    # pydantic adds "[key]" for a bad mapping key and "function-..." for wrapped validators.
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p == "[key]" or p.startswith("function-"))))
    path = ".".join(x for x in (prefix, _path(loc)) if x)
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, Problem):
        if cause.field:
            path = f"{path}.{cause.field}"
        return ConfigError(path, cause.problem, cause.fix)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        close = difflib.get_close_matches(key, _known_keys(), n=1, cutoff=0.75)
        fix = f"did you mean '{close[0]}'?" if close else _HINTS[kind][1]
        return ConfigError(path, f"unknown key '{key}'", fix)
    if kind in _HINTS:
        problem, fix = _HINTS[kind]
        return ConfigError(path, problem, fix)
    if kind == "literal_error":
        return ConfigError(path, f"{err['input']!r} is not allowed", f"use {err['ctx']['expected']}")
    got = _shown(err["input"])
    if kind in _KINDS:
        return ConfigError(path, f"must be {_KINDS[kind]}, got {got}", f"write {_KINDS[kind]}")
    if kind in _BOUNDS:
        wanted = _BOUNDS[kind].format(**(err.get("ctx") or {}))
        verb = "have" if kind in ("too_short", "too_long") else "be"
        return ConfigError(path, f"must {verb} {wanted}, got {got}", "change the value")
    return ConfigError(path, f"{err['msg'].lower()} (got {got})", "fix the value")


def validate_environment(name: str, raw: Any) -> EnvironmentConfig:
    """Validate one environment's raw mapping; raises ConfigError with the full key path."""
    prefix = f"environments.{name}"
    if not _ENV_NAME.match(name):
        raise ConfigError(prefix, "environment names are 1-20 of a-z, 0-9 and -, starting with a letter", "rename it")
    if not isinstance(raw, dict):
        raise ConfigError(prefix, f"expected a mapping, got {type(raw).__name__}", "write the environment as a JSON object")
    try:
        return EnvironmentConfig.model_validate(raw, context={"name": name})
    except ValidationError as exc:
        # Every problem once, in the order pydantic found them.
        first, *rest = {str(e): e for e in (_translate(err, prefix) for err in exc.errors())}.values()
        raise ConfigError(first.path, first.problem, first.fix, tuple(rest)) from None


def _context_str(context: Mapping[str, Any], key: str) -> str | None:
    value = context.get(key)
    if value is None or value == "":
        return None
    return str(value)


def load(context: Mapping[str, Any]) -> EnvironmentConfig:
    """The validated configuration of the environment the context selects."""
    environments = context.get("environments")
    if not isinstance(environments, dict) or not environments:
        raise ConfigError("context.environments", "no environments defined", "define them in cdk.json under context.environments")

    env = _context_str(context, "env") or DEFAULT_ENV
    if env not in environments:
        raise ConfigError(
            "context.env",
            f"no environment named '{env}'",
            f"use one of {', '.join(sorted(environments))} (cdk.json context.environments)",
        )
    raw = environments[env]
    if not isinstance(raw, dict):
        raise ConfigError(f"environments.{env}", f"expected a mapping, got {type(raw).__name__}", "write the environment as a JSON object")
    raw = dict(raw)

    region = _context_str(context, "region")
    if region is not None:
        if regions.region(region) is None:
            raise ConfigError(
                "context.region", f"'{region}' is not a known AWS region", "pass -c region=<a region from infra/catalog/regions.py>"
            )
        raw["region"] = region
    account = _context_str(context, "account")
    if account is not None:
        if not _ACCOUNT.match(account):
            raise ConfigError(
                "context.account", f"'{account}' is not a 12-digit AWS account id", "pass -c account=<12 digits> or leave it out"
            )
        raw["account"] = account

    config = validate_environment(env, raw)
    # Rules over the whole validated environment: the serving deployability check, then the budget.
    from infra import cost, serving_plan

    found = [ConfigError(f"environments.{env}.{path}", problem, fix) for path, problem, fix in serving_plan.problems(config)]
    if found:
        raise ConfigError(found[0].path, found[0].problem, found[0].fix, tuple(found[1:]))
    over_budget = cost.budget_problem(config, cost.estimate(config))
    if over_budget is not None:
        raise ConfigError(
            f"environments.{env}.budget_usd_per_hour",
            over_budget,
            "raise the budget, or lower replicas, system nodes or unit pools (make plan ENV=" + env + " itemizes it)",
        )
    return config
