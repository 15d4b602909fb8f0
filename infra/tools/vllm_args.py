"""Derive the ``vllm serve`` arguments a pinned vLLM release accepts, from that release's own source.

    python -m infra.tools.vllm_args --version 0.31.0 [--wheel PATH] [--out PATH] [--accept-drift] [--print-hashes]

Downloads the release's wheel from PyPI (``pip download --no-deps --only-binary=:all: vllm==<version>``;
``--wheel`` reuses a wheel already on disk), never imports it (vLLM needs torch and CUDA), and reads
its Python source straight out of the wheel zip with ``ast``. It then replays, statically, how that
release builds the ``vllm serve`` parser, and writes ``infra/catalog/data/vllm-serve-args-<version>.json``
for ``infra.serving_args.check_vllm_args``.

What it reads, all inside the wheel:

- ``vllm/entrypoints/cli/serve.py``: ``ServeSubcommand.subparser_init``, the entry point. The
  replay follows every call that is handed the parser or a kwargs dict, which at v0.31.0 are
- ``vllm/entrypoints/launchers/cli_args.py``: ``make_arg_parser`` (``model_tag``, ``--headless``,
  ``--api-server-count``, ``--config``, ``--grpc``) and ``BaseFrontendArgs``/``FrontendArgs``
  (``--host``, ``--port``, ``--api-key``, ... one flag per dataclass field, see ``add_cli_args`` and
  ``_customize_cli_kwargs`` there);
- ``vllm/engine/arg_utils.py``: ``EngineArgs.add_cli_args`` and ``AsyncEngineArgs.add_cli_args``
  (the engine flags, mostly ``**get_kwargs(<Config>)["<field>"]``), plus ``get_kwargs`` /
  ``_compute_kwargs``, the rules that turn a config dataclass field's type hint into argparse kwargs
  (``Literal`` -> ``choices``, or only a ``metavar`` when ``str`` is in the union too; ``bool`` ->
  ``BooleanOptionalAction``; ``list``/``set``/``tuple`` -> ``nargs``; ``X | None`` -> ``optional_type``
  which also accepts ``None``/empty; dataclass -> JSON; ``dict`` -> JSON, ...). Those rules are
  ported here (``KwargsPort``) because they run on live type objects; the port is pinned to the
  upstream code by a hash of each ported function's AST (``PORTED``; ``--print-hashes`` prints a
  release's), and a release whose code differs stops the tool unless ``--accept-drift`` is given
  (the drift is then listed in the JSON);
- ``vllm/config/*.py`` (and whatever those import): the dataclass fields and their type hints, type
  aliases such as ``ModelDType = Literal[...]``, resolved through the modules' imports. Module-level
  ``if TYPE_CHECKING: ... else: ...`` blocks are read as they run, i.e. the ``else`` branch (at
  v0.31.0 ``QuantizationMethods`` is ``str`` at run time in ``vllm/config/model.py``, so
  ``--quantization`` takes any string);
- ``vllm/utils/argparse_utils.py``: ``FlexibleArgumentParser.parse_args`` (underscores in flag names
  become dashes, ``--json-flag.key value`` dotted JSON keys, ``-O3``) and ``human_readable_int``,
  which ``infra.serving_args`` reproduces; both are in ``PORTED`` as well.

Anything the replay cannot settle statically (a ``type=`` lambda it does not recognise, choices
computed from the run-time platform, plugin hooks that may add flags at run time) is recorded with
type ``unknown`` and listed under ``unresolved`` in the JSON, never guessed.
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import datetime
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from infra.tools import ROOT, ToolError, ToolParser

DATA_DIR = ROOT / "infra" / "catalog" / "data"
ENTRY_MODULE = "vllm.entrypoints.cli.serve"
ENTRY_CLASS = "ServeSubcommand"
ENTRY_METHOD = "subparser_init"

# Upstream functions whose behaviour is ported (here or in infra/serving_args.py), with the sha256 of
# each one's AST (``_canonical``) at the release the port was written against (v0.31.0). A different
# hash means upstream changed the rule: review the port, then update the hash (--print-hashes).
PORTED: dict[str, str] = {
    "vllm/engine/arg_utils.py::_compute_kwargs": "30eac4bf09859dce525861928b0f68162dc409926e2c5e488be5a1dd671d9d47",
    "vllm/engine/arg_utils.py::get_kwargs": "dcc5fa137a91d36cb05773a476ef53f60e97fda770f7cd7f3019eea0220c6994",
    "vllm/engine/arg_utils.py::literal_to_kwargs": "3fff2c47ddda47ab7159a14bd0544a6dde918f884b2434009ebb4a9e14d0e2e8",
    "vllm/engine/arg_utils.py::collection_to_kwargs": "75c6032bc7bd9eb689da6e2ebf75d9b5d0125ffb795c622eda14d8944a6b1cfc",
    "vllm/engine/arg_utils.py::get_type_hints": "27dd5b20fba3e2d40b6e3e91e62fe7e6130ec984bdd1d69f364cd67bcc57494c",
    "vllm/engine/arg_utils.py::is_dict_subclass": "59c3f3afd2b5cf89075b04ede36a55fa3694bb3470a3d6eab2ed90f89633f0a7",
    "vllm/engine/arg_utils.py::is_not_builtin": "c5e5a84e96af38c17e940c9c31de4a0ecd8b141cf191892cd489e05e3e406aaf",
    "vllm/engine/arg_utils.py::is_type": "ce282065bb32fa277b5e41fac99e7c652e2487f477e366f05ff01f0a60da7426",
    "vllm/engine/arg_utils.py::parse_type": "cf71ebd936c1136f10cf6096eb5595c963e9b916ba75e17473880baa0a6cda88",
    "vllm/engine/arg_utils.py::optional_type": "eb61ef340d8f645ab73d1dfc8ca6d136a9f9cc9bb700428a4e66eebf5647d87c",
    "vllm/engine/arg_utils.py::union_dict_and_str": "23e384229c35f090077d19ad2cf600399205c8f78dd0c191e4d4b1c7d5c660d2",
    "vllm/engine/arg_utils.py::_expand_json_human_readable_numbers": "f1018d3ee1a3e45803d376d35a719883350fa2e6a91dce178c4c3d777fbe19f3",
    "vllm/utils/argparse_utils.py::human_readable_int": "f80fe0a6bb0e736599fdb08730d58cf0ca3896518bef4387c96f5d4297b5a7fc",
    "vllm/utils/argparse_utils.py::human_readable_int_or_auto": "bd318b0ec42107ab65afcfefee10969501c4a7339f45c97d0cc36b91545961d9",
    "vllm/utils/argparse_utils.py::FlexibleArgumentParser.parse_args": "ad7ae64ae7948ab8bc34f96b19aae8b9f4c8ade287a678a61e48871587be8713",
}

_BUILTIN_TYPES = frozenset({"int", "float", "str", "bool", "dict", "list", "tuple", "set", "frozenset", "type", "object", "bytes"})
_TYPING = ("typing.", "typing_extensions.")
_HUMAN_READABLE_INT_FIELDS = frozenset(
    {
        "max_num_batched_tokens",
        "max_num_scheduled_tokens",
        "kv_cache_memory_bytes",
        "safetensors_prefetch_block_size",
        "max_num_queued_tokens",
    }
)
LEGEND = {
    "type": "bool (takes no value), int, float, str, json, json_or_str (JSON when it looks like {...}), choice, or unknown"
    " (not resolved statically, see unresolved)",
    "negatable": "bool: --no-<flag> exists too (argparse.BooleanOptionalAction)",
    "choices": "choice: the accepted values (argparse choices); value_type is what each value is converted to first",
    "known_values": "values --help lists for a str flag (a Literal next to str); argparse does not enforce them",
    "nullable": "'None' or an empty string is also accepted and means None (vllm/engine/arg_utils.py optional_type)",
    "nargs": "argparse nargs when not exactly one value: '?' (value optional), '+' (one or more), N",
    "format": "int: human_readable takes 8k/1M/1G (decimal) and 1K/1M (binary); human_readable_or_auto also -1/auto",
    "schema": "json: the vLLM dataclass the JSON is validated against (pydantic, at parse time)",
    "normalize": "the value is lower-cased and dashes become underscores before the choices check",
    "aliases": "other option strings of the same flag",
    "group": "the --help section (the vLLM config class the flag belongs to)",
    "conditional": "registered in a branch the replay could not decide",
}
FAKE_ARGV = ["vllm", "serve", "MODEL"]  # what sys.argv looks like to the replay: a plain `vllm serve MODEL`


# --------------------------------------------------------------------------------------------------
# The wheel


class Wheel:
    """The release's Python source, read from the wheel zip; remembers which files were read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip = zipfile.ZipFile(path)
        self._names = set(self._zip.namelist())
        self._trees: dict[str, ast.Module | None] = {}
        self.read: set[str] = set()

    def close(self) -> None:
        self._zip.close()

    def version(self) -> str | None:
        """``Version:`` from the wheel's dist-info METADATA."""
        for name in self._names:
            if name.endswith(".dist-info/METADATA") and name.count("/") == 1:
                for line in self._zip.read(name).decode("utf-8").splitlines():
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
        return None

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def module_path(self, module: str) -> str | None:
        base = module.replace(".", "/")
        for candidate in (f"{base}.py", f"{base}/__init__.py"):
            if candidate in self._names:
                return candidate
        return None

    def is_package(self, module: str) -> bool:
        return f"{module.replace('.', '/')}/__init__.py" in self._names

    def tree(self, module: str) -> ast.Module | None:
        if module not in self._trees:
            path = self.module_path(module)
            if path is None:
                self._trees[module] = None
            else:
                self.read.add(path)
                self._trees[module] = ast.parse(self._zip.read(path).decode("utf-8"), filename=path)
        return self._trees[module]


# --------------------------------------------------------------------------------------------------
# Static values: what a name or an expression stands for


@dataclasses.dataclass(frozen=True)
class ClassVal:
    module: str
    node: ast.ClassDef = dataclasses.field(compare=False, hash=False)
    name: str = ""

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.node.name}"


@dataclasses.dataclass(frozen=True)
class FuncVal:
    module: str
    node: ast.FunctionDef | ast.AsyncFunctionDef = dataclasses.field(compare=False, hash=False)
    name: str = ""
    owner: ClassVal | None = None  # the class that defines it, for methods
    bound: Any = None  # cls (classmethod) or self (method), prepended to the arguments

    @property
    def qualname(self) -> str:
        owner = f"{self.owner.node.name}." if self.owner else ""
        return f"{self.module}.{owner}{self.node.name}"


@dataclasses.dataclass(frozen=True)
class ModuleVal:
    name: str


@dataclasses.dataclass(frozen=True)
class ExternalVal:
    """Something outside vLLM: ``typing.Literal``, ``argparse.BooleanOptionalAction``, ``torch.dtype``."""

    qualname: str


@dataclasses.dataclass(frozen=True)
class BuiltinVal:
    name: str


@dataclasses.dataclass(frozen=True)
class InstanceVal:
    cls: ClassVal


@dataclasses.dataclass(frozen=True)
class SuperVal:
    owner: ClassVal
    bound: Any


@dataclasses.dataclass(frozen=True)
class LambdaVal:
    module: str
    node: ast.Lambda = dataclasses.field(compare=False, hash=False)


@dataclasses.dataclass(frozen=True)
class BoundMethod:
    target: Any
    name: str


@dataclasses.dataclass(frozen=True)
class Unknown:
    reason: str
    prefix: tuple[Any, ...] | None = None  # the known start of a list, when only its tail is unknown


@dataclasses.dataclass(frozen=True)
class AssignVal:
    module: str
    expr: ast.expr = dataclasses.field(compare=False, hash=False)
    name: str = ""


# Type hints, as _compute_kwargs sees them


@dataclasses.dataclass(frozen=True)
class TBuiltin:
    name: str  # int, str, ..., NoneType, Ellipsis


@dataclasses.dataclass(frozen=True)
class TLiteral:
    values: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class TGeneric:
    origin: str  # a builtin name (list, dict, ...) or a qualified name (collections.abc.Callable)
    args: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class TUnion:
    members: tuple[Any, ...]


@dataclasses.dataclass(frozen=True)
class TClass:
    cls: ClassVal


@dataclasses.dataclass(frozen=True)
class TExternal:
    qualname: str


@dataclasses.dataclass(frozen=True)
class TUnresolved:
    reason: str


NONE_T = TBuiltin("NoneType")
ELLIPSIS_T = TBuiltin("Ellipsis")


# argparse ``type=`` callables, symbolically


@dataclasses.dataclass(frozen=True)
class TypeFn:
    kind: str  # int, float, str, bool, human_readable_int, human_readable_int_or_auto, json, union_dict_and_str,
    # dataclass_json, normalize_lower_dash, optional, unknown
    detail: str = ""
    inner: TypeFn | None = None


def _unknown_fn(reason: str) -> TypeFn:
    return TypeFn("unknown", detail=reason)


# --------------------------------------------------------------------------------------------------
# Name resolution across the wheel's modules


class Resolver:
    """Module-level bindings as they are at run time, imports followed into vLLM, type hints evaluated."""

    def __init__(self, wheel: Wheel) -> None:
        self.wheel = wheel
        self._bindings: dict[str, dict[str, tuple[str, Any]]] = {}
        self._resolving: set[tuple[str, str]] = set()

    # module bindings ---------------------------------------------------------------------------

    def bindings(self, module: str) -> dict[str, tuple[str, Any]]:
        if module not in self._bindings:
            table: dict[str, tuple[str, Any]] = {}
            tree = self.wheel.tree(module)
            if tree is not None:
                self._collect(module, tree.body, table)
            self._bindings[module] = table
        return self._bindings[module]

    def _collect(self, module: str, body: Sequence[ast.stmt], table: dict[str, tuple[str, Any]]) -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                table[stmt.name] = ("class", stmt)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                table[stmt.name] = ("func", stmt)
            elif isinstance(stmt, ast.Import | ast.ImportFrom):
                for name, binding in self._import_bindings(module, stmt):
                    table[name] = binding
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        table[target.id] = ("assign", stmt.value)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                table[stmt.target.id] = ("assign", stmt.value)
            elif isinstance(stmt, ast.If):
                type_checking = _is_type_checking(stmt.test)
                if type_checking is True:
                    self._collect(module, stmt.orelse, table)  # run time takes the else branch
                elif type_checking is False:
                    self._collect(module, stmt.body, table)
                else:
                    self._collect(module, stmt.body, table)
                    self._collect(module, stmt.orelse, table)
            elif isinstance(stmt, ast.Try | ast.With):
                self._collect(module, stmt.body, table)

    def _import_bindings(self, module: str, stmt: ast.Import | ast.ImportFrom) -> Iterator[tuple[str, tuple[str, Any]]]:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    yield alias.asname, ("module", alias.name)
                else:
                    top = alias.name.split(".")[0]
                    yield top, ("module", top)
            return
        source = self._absolute(module, stmt.module, stmt.level)
        for alias in stmt.names:
            if alias.name == "*":
                continue
            yield alias.asname or alias.name, ("from", (source, alias.name))

    def _absolute(self, module: str, target: str | None, level: int) -> str:
        if level == 0:
            return target or ""
        parts = module.split(".")
        if not self.wheel.is_package(module):
            parts = parts[:-1]
        if level > 1:
            parts = parts[: len(parts) - (level - 1)]
        return ".".join([*parts, target] if target else parts)

    def is_vllm(self, module: str) -> bool:
        return module == "vllm" or module.startswith("vllm.")

    def module_value(self, name: str) -> Any:
        if self.is_vllm(name):
            return ModuleVal(name) if self.wheel.module_path(name) else Unknown(f"no module {name} in the wheel")
        return ExternalVal(name)

    def lookup(self, module: str, name: str) -> Any:
        """What ``name`` is bound to at module level in ``module`` (a value, possibly Unknown)."""
        key = (module, name)
        if key in self._resolving:
            return Unknown(f"circular reference {module}.{name}")
        self._resolving.add(key)
        try:
            return self._lookup(module, name)
        finally:
            self._resolving.discard(key)

    def _lookup(self, module: str, name: str) -> Any:
        if not self.is_vllm(module):
            return ExternalVal(f"{module}.{name}")
        binding = self.bindings(module).get(name)
        if binding is None:
            if self.wheel.module_path(f"{module}.{name}"):
                return ModuleVal(f"{module}.{name}")
            if hasattr(builtins, name):
                return BuiltinVal(name)
            return Unknown(f"{name} is not bound at module level in {module}")
        kind, payload = binding
        if kind == "class":
            return ClassVal(module, payload, payload.name)
        if kind == "func":
            return FuncVal(module, payload, payload.name)
        if kind == "assign":
            return AssignVal(module, payload, name)
        if kind == "module":
            return self.module_value(payload)
        source, attr = payload
        if self.is_vllm(source) and self.wheel.module_path(f"{source}.{attr}"):
            return ModuleVal(f"{source}.{attr}")
        if not self.is_vllm(source):
            return ExternalVal(f"{source}.{attr}")
        return self.lookup(source, attr)

    def attribute(self, base: Any, attr: str) -> Any:
        if isinstance(base, ModuleVal):
            return self.lookup(base.name, attr)
        if isinstance(base, ExternalVal):
            return ExternalVal(f"{base.qualname}.{attr}")
        return Unknown(f"attribute {attr} of {base!r}")

    # classes -----------------------------------------------------------------------------------

    def bases(self, cls: ClassVal) -> list[Any]:
        return [self.static_value(base, cls.module) for base in cls.node.bases]

    def mro(self, cls: ClassVal) -> list[ClassVal]:
        """The class and its vLLM ancestors, depth first (enough for single inheritance chains)."""
        out: list[ClassVal] = []
        pending = [cls]
        while pending:
            current = pending.pop(0)
            if current in out:
                continue
            out.append(current)
            pending.extend(b for b in self.bases(current) if isinstance(b, ClassVal))
        return out

    def is_dataclass(self, cls: ClassVal) -> bool:
        for current in self.mro(cls):
            for decorator in current.node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                value = self.static_value(target, current.module)
                if isinstance(value, ExternalVal) and value.qualname in ("dataclasses.dataclass", "pydantic.dataclasses.dataclass"):
                    return True
                if isinstance(value, FuncVal) and value.qualname == "vllm.config.utils.config":
                    return True
        return False

    def is_dict_subclass(self, cls: ClassVal) -> bool:
        for current in self.mro(cls):
            for base_node in current.node.bases:
                head = base_node.value if isinstance(base_node, ast.Subscript) else base_node
                base = self.static_value(head, current.module)
                if isinstance(base, ExternalVal) and base.qualname.endswith(".TypedDict"):
                    return False
                if base == BuiltinVal("dict") or (
                    isinstance(base, ExternalVal) and base.qualname in ("typing.Dict", "collections.OrderedDict")
                ):
                    return True
        return False

    def dataclass_fields(self, cls: ClassVal) -> dict[str, tuple[ast.expr, str]]:
        """``dataclasses.fields(cls)`` by name: annotation and the module it is evaluated in (bases first)."""
        out: dict[str, tuple[ast.expr, str]] = {}
        for current in reversed(self.mro(cls)):
            for stmt in current.node.body:
                if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
                    continue
                head = stmt.annotation.value if isinstance(stmt.annotation, ast.Subscript) else stmt.annotation
                marker = self.static_value(head, current.module)
                if isinstance(marker, ExternalVal) and marker.qualname in ("typing.ClassVar", "dataclasses.InitVar"):
                    continue
                out[stmt.target.id] = (stmt.annotation, current.module)
        return out

    def class_attribute(self, cls: ClassVal, attr: str) -> Any:
        for current in self.mro(cls):
            for stmt in current.node.body:
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == attr:
                    return FuncVal(current.module, stmt, stmt.name, owner=current)
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.target.id == attr and stmt.value:
                    return AssignVal(current.module, stmt.value, attr)
                if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == attr for t in stmt.targets):
                    return AssignVal(current.module, stmt.value, attr)
        return Unknown(f"{cls.qualname} has no attribute {attr}")

    # expressions that name things --------------------------------------------------------------

    def static_value(self, node: ast.expr, module: str) -> Any:
        """A Name/Attribute chain, resolved without running anything."""
        if isinstance(node, ast.Name):
            value = self.lookup(module, node.id)
            return value
        if isinstance(node, ast.Attribute):
            base = self.static_value(node.value, module)
            if isinstance(base, AssignVal):
                base = self.static_value(base.expr, base.module) if isinstance(base.expr, ast.Name | ast.Attribute) else base
            if isinstance(base, ClassVal):
                return self.class_attribute(base, node.attr)
            return self.attribute(base, node.attr)
        return Unknown(f"not a name: {ast.unparse(node)}")

    # type hints --------------------------------------------------------------------------------

    def type_of(self, node: ast.expr, module: str, depth: int = 0) -> Any:
        """The type a hint expression evaluates to at run time, as TBuiltin/TLiteral/TGeneric/... ."""
        if depth > 40:
            return TUnresolved(f"type alias chain too deep at {ast.unparse(node)}")
        if isinstance(node, ast.Constant):
            if node.value is None:
                return NONE_T
            if node.value is Ellipsis:
                return ELLIPSIS_T
            if isinstance(node.value, str):
                return TUnresolved(f"string annotation {node.value!r} stays a string at run time")
            return TUnresolved(f"constant {node.value!r} in a type hint")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return TUnion((self.type_of(node.left, module, depth + 1), self.type_of(node.right, module, depth + 1)))
        if isinstance(node, ast.Subscript):
            return self._subscript_type(node, module, depth)
        if isinstance(node, ast.Name | ast.Attribute):
            return self._named_type(self.static_value(node, module), node, depth)
        return TUnresolved(f"unsupported type expression {ast.unparse(node)}")

    def _named_type(self, value: Any, node: ast.expr, depth: int) -> Any:
        if isinstance(value, BuiltinVal):
            return TBuiltin(value.name) if value.name in _BUILTIN_TYPES else TUnresolved(f"builtin {value.name} as a type")
        if isinstance(value, ClassVal):
            return TClass(value)
        if isinstance(value, AssignVal):
            return self.type_of(value.expr, value.module, depth + 1)
        if isinstance(value, ExternalVal):
            name = value.qualname
            for prefix in _TYPING:
                if name.startswith(prefix):
                    short = name[len(prefix) :]
                    if short in ("List", "Dict", "Set", "Tuple", "Type", "FrozenSet"):
                        return TGeneric(short.lower(), ())
                    return TExternal(f"typing.{short}")
            return TExternal(name)
        if isinstance(value, Unknown):
            return TUnresolved(value.reason)
        return TUnresolved(f"{ast.unparse(node)} is not a type")

    def _subscript_type(self, node: ast.Subscript, module: str, depth: int) -> Any:
        head = self.static_value(node.value, module)
        elements = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        head_name = head.qualname if isinstance(head, ExternalVal) else ""
        for prefix in _TYPING:
            if head_name.startswith(prefix):
                head_name = "typing." + head_name[len(prefix) :]
        if head_name == "typing.Literal":
            values: list[Any] = []
            for element in elements:
                if isinstance(element, ast.Constant):
                    values.append(element.value)
                    continue
                inner = self.type_of(element, module, depth + 1)
                if not isinstance(inner, TLiteral):
                    return TUnresolved(f"Literal member {ast.unparse(element)} is not a Literal")
                values.extend(inner.values)
            return TLiteral(tuple(dict.fromkeys(values)))
        if head_name == "typing.Optional":
            return TUnion((self.type_of(elements[0], module, depth + 1), NONE_T))
        if head_name == "typing.Union":
            return TUnion(tuple(self.type_of(e, module, depth + 1) for e in elements))
        if head_name in ("typing.Annotated", "pydantic.SkipValidation", "pydantic.functional_validators.SkipValidation"):
            return self.type_of(elements[0], module, depth + 1)
        if head_name in ("typing.Callable", "collections.abc.Callable"):
            return TGeneric("collections.abc.Callable", ())
        if isinstance(head, BuiltinVal) and head.name in _BUILTIN_TYPES:
            return TGeneric(head.name, tuple(self.type_of(e, module, depth + 1) for e in elements))
        if head_name in ("typing.List", "typing.Dict", "typing.Set", "typing.Tuple", "typing.Type", "typing.FrozenSet"):
            return TGeneric(head_name.split(".")[1].lower(), tuple(self.type_of(e, module, depth + 1) for e in elements))
        if isinstance(head, ExternalVal):
            return TGeneric(head.qualname, tuple(self.type_of(e, module, depth + 1) for e in elements))
        if isinstance(head, ClassVal):
            return TGeneric(head.qualname, tuple(self.type_of(e, module, depth + 1) for e in elements))
        if isinstance(head, AssignVal):
            return TUnresolved(f"subscripted alias {ast.unparse(node)}")
        return TUnresolved(f"unsupported generic {ast.unparse(node)}")


def _is_type_checking(test: ast.expr) -> bool | None:
    """True for ``if TYPE_CHECKING``, False for ``if not TYPE_CHECKING``, None otherwise."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        inner = _is_type_checking(test.operand)
        return None if inner is None else not inner
    if isinstance(test, ast.Name) and test.id == "TYPE_CHECKING":
        return True
    if isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING":
        return True
    return None


# --------------------------------------------------------------------------------------------------
# The port of vllm/engine/arg_utils.py's _compute_kwargs (see PORTED)


class KwargsPort:
    """``get_kwargs(cls)``: argparse kwargs per dataclass field, from the field's type hint."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._cache: dict[str, dict[str, dict[str, Any]]] = {}

    def get_kwargs(self, cls: ClassVal) -> dict[str, dict[str, Any]]:
        if cls.qualname not in self._cache:
            fields = self.resolver.dataclass_fields(cls)
            self._cache[cls.qualname] = {
                name: self._field_kwargs(self.resolver.type_of(annotation, module), name) for name, (annotation, module) in fields.items()
            }
        return copy.deepcopy(self._cache[cls.qualname])

    # get_type_hints, is_type, is_not_builtin, is_dict_subclass -------------------------------------

    def _hints(self, hint: Any) -> set[Any]:
        if isinstance(hint, TUnion):
            out: set[Any] = set()
            for member in hint.members:
                out |= self._hints(member)
            return out
        return {hint}

    @staticmethod
    def _is_type(hint: Any, name: str) -> bool:
        return hint == TBuiltin(name) or (isinstance(hint, TGeneric) and hint.origin == name)

    def _contains(self, hints: set[Any], name: str) -> bool:
        return any(self._is_type(h, name) for h in hints)

    @staticmethod
    def _is_not_builtin(hint: Any) -> bool:
        if isinstance(hint, TBuiltin):
            return False
        if isinstance(hint, TGeneric):
            return hint.origin not in _BUILTIN_TYPES
        return True

    def _is_dict_subclass(self, hint: Any) -> bool:
        return isinstance(hint, TClass) and self.resolver.is_dict_subclass(hint.cls)

    def _is_dataclass(self, hint: Any) -> bool:
        return isinstance(hint, TClass) and self.resolver.is_dataclass(hint.cls)

    # literal_to_kwargs, collection_to_kwargs ----------------------------------------------------

    def _literal_kwargs(self, hints: set[Any]) -> dict[str, Any]:
        literals = [h for h in hints if isinstance(h, TLiteral)]
        if len(literals) != 1:
            return {"type": _unknown_fn("several Literal members in one union: argparse choices depend on set order")}
        options = literals[0].values
        option_type = type(options[0])
        if not all(isinstance(option, option_type) for option in options):
            return {"type": _unknown_fn(f"Literal mixes types {options}; vLLM itself raises ValueError")}
        kwarg = "metavar" if self._contains(hints, "str") else "choices"
        return {"type": TypeFn(option_type.__name__), kwarg: sorted(options)}

    def _collection_kwargs(self, hints: set[Any], name: str) -> dict[str, Any]:
        hint = next(h for h in hints if self._is_type(h, name))
        types = hint.args
        if not types:
            return {"type": _unknown_fn(f"bare {name} without element type")}
        elem = types[0]
        if any(t != elem for t in types if t != ELLIPSIS_T):
            return {"type": _unknown_fn(f"{name} with mixed element types; vLLM itself asserts")}
        if isinstance(elem, TUnion):
            if TBuiltin("str") not in self._hints(elem):
                return {"type": _unknown_fn(f"{name} of a union without str; vLLM itself asserts")}
            elem = TBuiltin("str")
        nargs: Any = "+" if name != "tuple" or ELLIPSIS_T in types else len(types)
        return {"type": self._elem_type(elem), "nargs": nargs}

    def _elem_type(self, elem: Any) -> Any:
        if isinstance(elem, TLiteral):
            return elem  # _compute_kwargs turns a Literal ``type`` into choices afterwards
        if isinstance(elem, TBuiltin) and elem.name in ("int", "float", "str"):
            return TypeFn(elem.name)
        if isinstance(elem, TUnresolved):
            return _unknown_fn(elem.reason)
        return _unknown_fn(f"element type {elem} is called on each value")

    # _compute_kwargs ----------------------------------------------------------------------------

    def _field_kwargs(self, hint: Any, name: str) -> dict[str, Any]:
        hints = self._hints(hint)
        unresolved = [h for h in hints if isinstance(h, TUnresolved)]
        if unresolved:
            return {"type": _unknown_fn("; ".join(sorted(h.reason for h in unresolved)))}
        hints = {TBuiltin("dict") if self._is_dict_subclass(h) else h for h in hints}
        dataclass_cls = next((h for h in sorted(hints, key=repr) if self._is_dataclass(h)), None)
        kwargs: dict[str, Any] = {}
        if dataclass_cls is not None:
            kwargs["type"] = TypeFn("dataclass_json", detail=dataclass_cls.cls.qualname)
        elif hints == {TBuiltin("bool"), TBuiltin("str"), NONE_T}:
            kwargs.update(type=TypeFn("str"), nargs="?", const=True)
        elif self._contains(hints, "bool"):
            kwargs["action"] = ExternalVal("argparse.BooleanOptionalAction")
        elif any(isinstance(h, TLiteral) for h in hints):
            kwargs.update(self._literal_kwargs(hints))
        elif self._contains(hints, "tuple"):
            kwargs.update(self._collection_kwargs(hints, "tuple"))
        elif self._contains(hints, "list"):
            kwargs.update(self._collection_kwargs(hints, "list"))
        elif self._contains(hints, "set"):
            kwargs.update(self._collection_kwargs(hints, "set"))
        elif self._contains(hints, "int"):
            if name == "max_model_len":
                kwargs["type"] = TypeFn("human_readable_int_or_auto")
            elif name in _HUMAN_READABLE_INT_FIELDS:
                kwargs["type"] = TypeFn("human_readable_int")
            else:
                kwargs["type"] = TypeFn("int")
        elif self._contains(hints, "float"):
            kwargs["type"] = TypeFn("float")
        elif self._contains(hints, "dict") and (self._contains(hints, "str") or any(self._is_not_builtin(h) for h in hints)):
            kwargs["type"] = TypeFn("union_dict_and_str")
        elif self._contains(hints, "dict"):
            kwargs["type"] = TypeFn("json")
        elif self._contains(hints, "str") or any(self._is_not_builtin(h) for h in hints):
            kwargs["type"] = TypeFn("str")
        else:
            kwargs["type"] = _unknown_fn(f"unsupported type {hints}; vLLM itself raises ValueError")
        if isinstance(kwargs.get("type"), TLiteral):
            kwargs.update(self._literal_kwargs({kwargs["type"]}))
        if NONE_T in hints and not self._contains(hints, "bool"):
            kwargs["type"] = TypeFn("optional", inner=kwargs.get("type"))
            if kwargs.get("choices"):
                kwargs["choices"].append(None)
        return kwargs


# --------------------------------------------------------------------------------------------------
# A small interpreter for the functions that build the parser


@dataclasses.dataclass
class ArgRecord:
    option_strings: list[Any]
    kwargs: dict[str, Any]
    group: str | None
    where: str
    conditional: bool


class ParserObj:
    def __init__(self, prog: str, *, allow_abbrev: Any = True) -> None:
        self.prog = prog
        self.allow_abbrev = allow_abbrev
        self.records: list[ArgRecord] = []


@dataclasses.dataclass
class GroupObj:
    parser: ParserObj
    title: str | None


class SubparsersObj:
    def __init__(self) -> None:
        self.parsers: list[ParserObj] = []


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


@dataclasses.dataclass
class Frame:
    module: str
    locals: dict[str, Any]
    owner: ClassVal | None = None  # the class whose method runs (for super())
    bound: Any = None
    conditional: bool = False


_PURE_BUILTINS: dict[str, Callable[..., Any]] = {
    "list": list,
    "tuple": tuple,
    "dict": dict,
    "set": set,
    "sorted": sorted,
    "len": len,
    "str": str,
    "bool": bool,
    "any": any,
    "all": all,
}
_PURE_METHODS: dict[type, set[str]] = {
    dict: {"pop", "get", "items", "keys", "values", "update", "copy", "setdefault"},
    list: {"append", "extend", "copy", "index", "count", "insert"},
    str: {"replace", "lower", "upper", "startswith", "endswith", "join", "split", "strip", "format", "removeprefix", "removesuffix"},
    tuple: {"index", "count"},
}


class Interpreter:
    """Runs parser-building functions over static values; records every add_argument call."""

    def __init__(self, resolver: Resolver, port: KwargsPort) -> None:
        self.resolver = resolver
        self.port = port
        self.hooks: list[dict[str, str]] = []
        self.depth = 0

    # entry ---------------------------------------------------------------------------------------

    def serve_parser(self) -> ParserObj:
        cls = self.resolver.lookup(ENTRY_MODULE, ENTRY_CLASS)
        if not isinstance(cls, ClassVal):
            raise ToolError(ENTRY_MODULE, f"no class {ENTRY_CLASS}", "the entry point moved: update ENTRY_* in infra/tools/vllm_args.py")
        method = self.resolver.class_attribute(cls, ENTRY_METHOD)
        if not isinstance(method, FuncVal):
            raise ToolError(ENTRY_MODULE, f"{ENTRY_CLASS} has no method {ENTRY_METHOD}", "update ENTRY_* in infra/tools/vllm_args.py")
        subparsers = SubparsersObj()
        self.call(dataclasses.replace(method, bound=InstanceVal(cls)), [subparsers], {}, where=f"{ENTRY_MODULE}.{ENTRY_CLASS}")
        if len(subparsers.parsers) != 1:
            raise ToolError(ENTRY_MODULE, f"{ENTRY_METHOD} added {len(subparsers.parsers)} parsers, expected one", "review the replay")
        return subparsers.parsers[0]

    # calls ---------------------------------------------------------------------------------------

    def call(self, func: Any, args: list[Any], kwargs: dict[str, Any], *, where: str, conditional: bool = False) -> Any:
        if isinstance(func, FuncVal):
            return self._call_function(func, args, kwargs, where=where, conditional=conditional)
        if isinstance(func, BoundMethod):
            return self._call_method(func, args, kwargs, where=where, conditional=conditional)
        if isinstance(func, BuiltinVal) and func.name in _PURE_BUILTINS and _known(args) and _known(list(kwargs.values())):
            try:
                return _PURE_BUILTINS[func.name](*args, **kwargs)
            except Exception as exc:
                return Unknown(f"{func.name}() failed statically: {exc}")
        return Unknown(f"call of {func!r}")

    def _call_function(self, func: FuncVal, args: list[Any], kwargs: dict[str, Any], *, where: str, conditional: bool) -> Any:
        if func.qualname in ("vllm.engine.arg_utils.get_kwargs", "vllm.engine.arg_utils._compute_kwargs"):
            target = args[0] if args else kwargs.get("cls")
            if not isinstance(target, ClassVal):
                return Unknown(f"get_kwargs of {target!r}")
            return self.port.get_kwargs(target)
        if func.qualname == "vllm.engine.arg_utils.optional_type":
            return TypeFn("optional", inner=_as_type_fn(args[0] if args else None))
        if func.qualname == "vllm.engine.arg_utils.parse_type":
            return _as_type_fn(args[0] if args else None)
        # Only functions that are handed the parser or a kwargs table build arguments; others are opaque.
        if not any(isinstance(a, ParserObj | GroupObj | SubparsersObj | dict) for a in [*args, *kwargs.values()]):
            return Unknown(f"{func.qualname}() not followed")
        if self.depth > 30:
            return Unknown("call depth")
        node = func.node
        params = node.args
        positional = [*params.posonlyargs, *params.args]
        decorators = {ast.unparse(d) for d in node.decorator_list}
        call_args = list(args)
        if func.bound is not None and "staticmethod" not in decorators:
            call_args = [func.bound, *call_args]
        local: dict[str, Any] = {}
        defaults = params.defaults
        first_default = len(positional) - len(defaults)
        for index, param in enumerate(positional):
            if index < len(call_args):
                local[param.arg] = call_args[index]
            elif param.arg in kwargs:
                local[param.arg] = kwargs[param.arg]
            elif index >= first_default:
                local[param.arg] = self.eval(defaults[index - first_default], Frame(func.module, {}))
            else:
                local[param.arg] = Unknown(f"missing argument {param.arg}")
        for param, default in zip(params.kwonlyargs, params.kw_defaults, strict=True):
            if param.arg in kwargs:
                local[param.arg] = kwargs[param.arg]
            else:
                local[param.arg] = self.eval(default, Frame(func.module, {})) if default is not None else Unknown(param.arg)
        frame = Frame(func.module, local, owner=func.owner, bound=func.bound, conditional=conditional)
        self.depth += 1
        try:
            self.run(node.body, frame)
        except _Return as ret:
            return ret.value
        finally:
            self.depth -= 1
        return None

    def _call_method(self, method: BoundMethod, args: list[Any], kwargs: dict[str, Any], *, where: str, conditional: bool) -> Any:
        target, name = method.target, method.name
        if isinstance(target, SubparsersObj) and name == "add_parser":
            parser = ParserObj(prog=f"vllm {args[0] if args else '?'}", allow_abbrev=kwargs.get("allow_abbrev", True))
            if kwargs.get("add_help", True):
                parser.records.append(ArgRecord(["-h", "--help"], {"action": "help"}, None, where, conditional))
            target.parsers.append(parser)
            return parser
        if isinstance(target, ParserObj | GroupObj):
            parser = target if isinstance(target, ParserObj) else target.parser
            group = target.title if isinstance(target, GroupObj) else None
            if name == "add_argument":
                parser.records.append(ArgRecord(list(args), dict(kwargs), group, where, conditional))
                return None
            if name in ("add_argument_group", "add_mutually_exclusive_group"):
                title = kwargs.get("title", args[0] if args else None)
                return GroupObj(parser, title if isinstance(title, str) else group)
            if name in ("set_defaults", "error", "print_help"):
                return None
            return Unknown(f"parser method {name}")
        if type(target) in _PURE_METHODS and name in _PURE_METHODS[type(target)]:
            if not (_known(args) or name in ("pop", "get", "append", "extend", "setdefault", "update")):
                return Unknown(f"{name} on unknown arguments")
            try:
                return getattr(target, name)(*args, **kwargs)
            except Exception as exc:
                return Unknown(f"{name}() failed statically: {exc}")
        return Unknown(f"method {name} of {type(target).__name__}")

    # statements ----------------------------------------------------------------------------------

    def run(self, body: Sequence[ast.stmt], frame: Frame) -> None:
        for stmt in body:
            self.exec(stmt, frame)

    def exec(self, stmt: ast.stmt, frame: Frame) -> None:
        if isinstance(stmt, ast.Expr):
            if isinstance(stmt.value, ast.Constant):
                return  # docstring
            value = self.eval(stmt.value, frame)
            if isinstance(stmt.value, ast.Call) and isinstance(value, Unknown):
                reason = "a call the replay does not follow; it runs at start-up and may add or change arguments"
                self.hooks.append({"hook": ast.unparse(stmt.value), "where": self._where(frame, stmt), "reason": reason})
        elif isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, frame)
            for target in stmt.targets:
                self.assign(target, value, frame)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value, frame), frame)
        elif isinstance(stmt, ast.AugAssign):
            current = self.eval(stmt.target, frame)
            value = self.eval(stmt.value, frame)
            self.assign(stmt.target, _binop(stmt.op, current, value), frame)
        elif isinstance(stmt, ast.If):
            test = self.eval(stmt.test, frame)
            if isinstance(test, Unknown):
                self.hooks.append(
                    {"hook": f"if {ast.unparse(stmt.test)}", "where": self._where(frame, stmt), "reason": "both branches replayed"}
                )
                branch = dataclasses.replace(frame, conditional=True)
                self.run(stmt.body, branch)
                self.run(stmt.orelse, branch)
            elif test:
                self.run(stmt.body, frame)
            else:
                self.run(stmt.orelse, frame)
        elif isinstance(stmt, ast.For):
            iterable = self.eval(stmt.iter, frame)
            if isinstance(iterable, Unknown) or not hasattr(iterable, "__iter__"):
                self.hooks.append(
                    {"hook": f"for ... in {ast.unparse(stmt.iter)}", "where": self._where(frame, stmt), "reason": "loop not replayed"}
                )
                return
            for item in list(iterable):
                self.assign(stmt.target, item, frame)
                self.run(stmt.body, frame)
        elif isinstance(stmt, ast.Return):
            raise _Return(self.eval(stmt.value, frame) if stmt.value is not None else None)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                if isinstance(target, ast.Subscript):
                    container = self.eval(target.value, frame)
                    key = self.eval(target.slice, frame)
                    if isinstance(container, dict) and not isinstance(key, Unknown):
                        container.pop(key, None)
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for name, (kind, payload) in self.resolver._import_bindings(frame.module, stmt):
                if kind == "module":
                    frame.locals[name] = self.resolver.module_value(payload)
                else:
                    source, attr = payload
                    frame.locals[name] = (
                        self.resolver.lookup(source, attr) if self.resolver.is_vllm(source) else ExternalVal(f"{source}.{attr}")
                    )
        elif isinstance(stmt, ast.Try | ast.With):
            self.run(stmt.body, frame)
        elif isinstance(stmt, ast.Pass | ast.FunctionDef | ast.ClassDef):
            return
        else:
            self.hooks.append(
                {"hook": ast.unparse(stmt).splitlines()[0], "where": self._where(frame, stmt), "reason": "statement not replayed"}
            )

    def _where(self, frame: Frame, node: ast.AST) -> str:
        path = self.resolver.wheel.module_path(frame.module) or frame.module
        return f"{path}:{getattr(node, 'lineno', '?')}"

    def assign(self, target: ast.expr, value: Any, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            frame.locals[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = list(value) if isinstance(value, list | tuple) else [Unknown("unpack")] * len(target.elts)
            for element, item in zip(target.elts, items, strict=False):
                self.assign(element, item, frame)
        elif isinstance(target, ast.Subscript):
            container = self.eval(target.value, frame)
            key = self.eval(target.slice, frame)
            if isinstance(container, dict) and not isinstance(key, Unknown):
                container[key] = value
        # attribute assignment (parser.epilog = ...) changes no argument

    # expressions ---------------------------------------------------------------------------------

    def eval(self, node: ast.expr, frame: Frame) -> Any:
        try:
            return self._eval(node, frame)
        except _Return:
            raise
        except Exception as exc:  # a static replay must not crash on code it does not model
            return Unknown(f"{ast.unparse(node)}: {exc}")

    def _eval(self, node: ast.expr, frame: Frame) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in frame.locals:
                return frame.locals[node.id]
            return self._materialise(self.resolver.lookup(frame.module, node.id))
        if isinstance(node, ast.Attribute):
            return self._attribute(self.eval(node.value, frame), node.attr)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, frame)
        if isinstance(node, ast.Call):
            return self._call_node(node, frame)
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    merged = self.eval(value, frame)
                    if not isinstance(merged, dict):
                        return Unknown(f"** of {ast.unparse(value)}")
                    out.update(merged)
                else:
                    out[self.eval(key, frame)] = self.eval(value, frame)
            return out
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            items: list[Any] = []
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    spread = self.eval(element.value, frame)
                    if not isinstance(spread, list | tuple):
                        return Unknown(f"* of {ast.unparse(element.value)}")
                    items.extend(spread)
                else:
                    items.append(self.eval(element, frame))
            return items if isinstance(node, ast.List) else tuple(items) if isinstance(node, ast.Tuple) else set(items)
        if isinstance(node, ast.BinOp):
            return _binop(node.op, self.eval(node.left, frame), self.eval(node.right, frame))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            operand = self.eval(node.operand, frame)
            return operand if isinstance(operand, Unknown) else not operand
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = self.eval(node.operand, frame)
            return -operand if isinstance(operand, int | float) else Unknown("negation")
        if isinstance(node, ast.BoolOp):
            values = [self.eval(v, frame) for v in node.values]
            if any(isinstance(v, Unknown) for v in values):
                return Unknown(f"{ast.unparse(node)}")
            return all(values) if isinstance(node.op, ast.And) else any(values)
        if isinstance(node, ast.Compare):
            return self._compare(node, frame)
        if isinstance(node, ast.IfExp):
            test = self.eval(node.test, frame)
            if isinstance(test, Unknown):
                return Unknown(f"depends on {ast.unparse(node.test)}")
            return self.eval(node.body if test else node.orelse, frame)
        if isinstance(node, ast.JoinedStr):
            parts: list[str] = []
            for value in node.values:
                if isinstance(value, ast.Constant):
                    parts.append(str(value.value))
                elif isinstance(value, ast.FormattedValue):
                    inner = self.eval(value.value, frame)
                    if not isinstance(inner, str | int | float):
                        return Unknown(f"f-string part {ast.unparse(value.value)}")
                    parts.append(str(inner))
            return "".join(parts)
        if isinstance(node, ast.Lambda):
            return LambdaVal(frame.module, node)
        return Unknown(f"unsupported expression {type(node).__name__}")

    def _materialise(self, value: Any) -> Any:
        """Module-level constants evaluate to their value; everything else stays symbolic."""
        if isinstance(value, AssignVal):
            if isinstance(
                value.expr, ast.Constant | ast.JoinedStr | ast.BinOp | ast.List | ast.Tuple | ast.Dict | ast.Name | ast.Attribute
            ):
                return self.eval(value.expr, Frame(value.module, {}))
            return Unknown(f"module-level {value.name} = {ast.unparse(value.expr)[:60]}")
        return value

    def _attribute(self, base: Any, attr: str) -> Any:
        if isinstance(base, ExternalVal) and base.qualname == "sys" and attr == "argv":
            return list(FAKE_ARGV)
        if isinstance(base, ClassVal):
            if attr == "__name__":
                return base.node.name
            if attr == "__doc__":
                return ast.get_docstring(base.node)
            return self._bind(self.resolver.class_attribute(base, attr), base, base)
        if isinstance(base, InstanceVal):
            return self._bind(self.resolver.class_attribute(base.cls, attr), base.cls, base)
        if isinstance(base, SuperVal):
            for cls in self.resolver.mro(base.owner)[1:]:
                value = self.resolver.class_attribute(cls, attr)
                if not isinstance(value, Unknown):
                    return self._bind(value, cls, base.bound)
            return Unknown(f"super().{attr}")
        if isinstance(base, ModuleVal | ExternalVal):
            return self._materialise(self.resolver.attribute(base, attr))
        if isinstance(base, ParserObj | GroupObj | SubparsersObj) or type(base) in _PURE_METHODS:
            return BoundMethod(base, attr)
        return Unknown(f".{attr} of {type(base).__name__}")

    def _bind(self, value: Any, cls: ClassVal, instance: Any) -> Any:
        if isinstance(value, FuncVal):
            decorators = {ast.unparse(d) for d in value.node.decorator_list}
            if "classmethod" in decorators:
                return dataclasses.replace(value, bound=cls if not isinstance(instance, InstanceVal) else instance.cls)
            if "staticmethod" in decorators:
                return value
            return dataclasses.replace(value, bound=instance) if isinstance(instance, InstanceVal) else value
        return self._materialise(value)

    def _subscript(self, node: ast.Subscript, frame: Frame) -> Any:
        container = self.eval(node.value, frame)
        if isinstance(node.slice, ast.Slice):
            lower = self.eval(node.slice.lower, frame) if node.slice.lower else None
            upper = self.eval(node.slice.upper, frame) if node.slice.upper else None
            if isinstance(container, list | tuple | str) and not isinstance(lower, Unknown) and not isinstance(upper, Unknown):
                return container[lower:upper]
            return Unknown("slice")
        key = self.eval(node.slice, frame)
        if isinstance(container, dict | list | tuple | str) and not isinstance(key, Unknown):
            return container[key]
        return Unknown(f"subscript {ast.unparse(node)}")

    def _compare(self, node: ast.Compare, frame: Frame) -> Any:
        left = self.eval(node.left, frame)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.eval(right_node, frame)
            if isinstance(left, Unknown) or isinstance(right, Unknown):
                return Unknown(f"comparison {ast.unparse(node)}")
            ops: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
                ast.In: lambda a, b: a in b,
                ast.NotIn: lambda a, b: a not in b,
                ast.Eq: lambda a, b: a == b,
                ast.NotEq: lambda a, b: a != b,
                ast.Is: lambda a, b: a is b,
                ast.IsNot: lambda a, b: a is not b,
                ast.Lt: lambda a, b: a < b,
                ast.Gt: lambda a, b: a > b,
                ast.LtE: lambda a, b: a <= b,
                ast.GtE: lambda a, b: a >= b,
            }
            if not ops[type(op)](left, right):
                return False
            left = right
        return True

    def _call_node(self, node: ast.Call, frame: Frame) -> Any:
        func = self.eval(node.func, frame)
        if isinstance(node.func, ast.Name) and node.func.id == "super" and not node.args and frame.owner is not None:
            return SuperVal(frame.owner, frame.bound)
        if isinstance(func, ExternalVal) and func.qualname in ("typing.get_args", "typing_extensions.get_args") and node.args:
            hint = self.resolver.type_of(node.args[0], frame.module)
            return tuple(hint.values) if isinstance(hint, TLiteral) else Unknown(f"get_args({ast.unparse(node.args[0])})")
        args: list[Any] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                spread = self.eval(arg.value, frame)
                if not isinstance(spread, list | tuple):
                    args.append(Unknown(f"*{ast.unparse(arg.value)}"))
                else:
                    args.extend(spread)
            else:
                args.append(self.eval(arg, frame))
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            value = self.eval(keyword.value, frame)
            if keyword.arg is None:
                if isinstance(value, dict):
                    kwargs.update(value)
                else:
                    kwargs["**"] = Unknown(f"**{ast.unparse(keyword.value)}")
            else:
                kwargs[keyword.arg] = value
        return self.call(func, args, kwargs, where=self._where(frame, node), conditional=frame.conditional)


def _known(values: Sequence[Any]) -> bool:
    return not any(isinstance(v, Unknown) for v in values)


def _binop(op: ast.operator, left: Any, right: Any) -> Any:
    if isinstance(op, ast.Add):
        if isinstance(left, list) and isinstance(right, Unknown):
            return Unknown(right.reason, prefix=tuple(left))
        if isinstance(left, Unknown) or isinstance(right, Unknown):
            return Unknown("sum with an unknown operand")
        if type(left) is type(right) and isinstance(left, list | tuple | str | int | float):
            return left + right
    return Unknown(f"operator {type(op).__name__}")


def _as_type_fn(value: Any) -> TypeFn:
    """What an argparse ``type=`` value does, symbolically."""
    if value is None:
        return TypeFn("str")  # argparse's default: the string itself
    if isinstance(value, TypeFn):
        return value
    if isinstance(value, BuiltinVal) and value.name in ("int", "float", "str"):
        return TypeFn(value.name)
    if isinstance(value, ExternalVal) and value.qualname == "json.loads":
        return TypeFn("json")
    if isinstance(value, FuncVal):
        known = {
            "vllm.utils.argparse_utils.human_readable_int": "human_readable_int",
            "vllm.utils.argparse_utils.human_readable_int_or_auto": "human_readable_int_or_auto",
            "vllm.engine.arg_utils.union_dict_and_str": "union_dict_and_str",
        }
        if value.qualname in known:
            return TypeFn(known[value.qualname])
        return _unknown_fn(f"type={value.qualname}")
    if isinstance(value, LambdaVal):
        if _is_lower_dash_lambda(value.node):
            return TypeFn("normalize_lower_dash")
        return _unknown_fn(f"type=lambda {ast.unparse(value.node.args)}: {ast.unparse(value.node.body)}")
    if isinstance(value, Unknown):
        return _unknown_fn(value.reason)
    return _unknown_fn(f"type={value!r}")


def _is_lower_dash_lambda(node: ast.Lambda) -> bool:
    """``lambda s: s.lower().replace("-", "_")``."""
    if len(node.args.args) != 1:
        return False
    param = node.args.args[0].arg
    return ast.dump(node.body) == ast.dump(ast.parse(f"{param}.lower().replace('-', '_')", mode="eval").body)


# --------------------------------------------------------------------------------------------------
# From recorded add_argument calls to the JSON table


def _type_entry(fn: TypeFn) -> dict[str, Any]:
    """The JSON description of a (non-optional) argparse type function."""
    simple = {"int": "int", "float": "float", "str": "str", "json": "json", "union_dict_and_str": "json_or_str"}
    if fn.kind in simple:
        return {"type": simple[fn.kind]}
    if fn.kind == "human_readable_int":
        return {"type": "int", "format": "human_readable"}
    if fn.kind == "human_readable_int_or_auto":
        return {"type": "int", "format": "human_readable_or_auto"}
    if fn.kind == "dataclass_json":
        return {"type": "json", "schema": fn.detail}
    if fn.kind == "normalize_lower_dash":
        return {"type": "str", "normalize": "lower_dash_to_underscore"}
    if fn.kind == "optional" and fn.inner is not None:
        return {**_type_entry(fn.inner), "nullable": True}
    return {"type": "unknown", "why": fn.detail or fn.kind}


def describe(record: ArgRecord) -> tuple[dict[str, Any], str | None]:
    """One argument's JSON entry, and why it is (partly) unknown if it is."""
    kwargs = record.kwargs
    action = kwargs.get("action")
    entry: dict[str, Any]
    if action == ExternalVal("argparse.BooleanOptionalAction"):
        entry = {"type": "bool", "negatable": True}
    elif action in ("store_true", "store_false", "store_const", "count"):
        entry = {"type": "bool", "negatable": False}
    elif action in ("help", "version"):
        entry = {"type": "bool", "negatable": False, "action": action}
    elif action is None or action in ("store", "append") or isinstance(action, ClassVal):
        fn = _as_type_fn(kwargs.get("type"))
        entry = _type_entry(fn)
        nullable = entry.pop("nullable", False)
        choices = kwargs.get("choices")
        if isinstance(choices, Unknown):
            entry = {"type": "unknown", "why": f"choices: {choices.reason}"}
            if choices.prefix:
                entry["known_choices"] = list(choices.prefix)
        elif choices is not None:
            listed = list(choices)
            value_type = entry.get("type")
            entry = {
                "type": "choice",
                "choices": [c for c in listed if c is not None],
                "value_type": value_type if value_type in ("int", "float") else "str",
                **({"normalize": entry["normalize"]} if "normalize" in entry else {}),
            }
            if nullable and None in listed:
                entry["nullable"] = True
        elif nullable:
            entry["nullable"] = True
        metavar = kwargs.get("metavar")
        if isinstance(metavar, list) and entry["type"] != "choice":
            entry["known_values"] = metavar  # a Literal next to ``str``: shown in --help, not enforced
        nargs = kwargs.get("nargs")
        if isinstance(nargs, Unknown):
            entry = {"type": "unknown", "why": f"nargs: {nargs.reason}"}
        elif nargs is not None:
            entry["nargs"] = nargs
        if action == "append":
            entry["repeatable"] = True
        if isinstance(action, ClassVal):
            entry["action"] = action.node.name
    else:
        entry = {"type": "unknown", "why": f"action {action!r}"}
    if "**" in kwargs:
        entry = {"type": "unknown", "why": kwargs["**"].reason}
    if kwargs.get("deprecated") is True:
        entry["deprecated"] = True
    if record.group:
        entry["group"] = record.group
    if record.conditional:
        entry["conditional"] = True
    why = entry.pop("why", None) if entry["type"] == "unknown" else None
    return entry, why


def build_table(parser: ParserObj, hooks: list[dict[str, str]]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    args: dict[str, Any] = {}
    positionals: dict[str, Any] = {}
    unresolved: list[dict[str, Any]] = []
    for record in parser.records:
        names = record.option_strings
        if not names or not all(isinstance(n, str) for n in names):
            unresolved.append({"arg": repr(names), "where": record.where, "reason": "option strings not known statically"})
            continue
        entry, why = describe(record)
        if not names[0].startswith("-"):
            positionals[names[0]] = {k: v for k, v in entry.items() if k != "group"}
            continue
        primary = next((n for n in names if n.startswith("--")), names[0])
        entry["aliases"] = [n for n in names if n != primary]
        if primary in args:
            unresolved.append({"arg": primary, "where": record.where, "reason": "registered twice (argparse would raise a conflict)"})
        args[primary] = entry
        if why is not None:
            unresolved.append({"arg": primary, "where": record.where, "reason": why})
    for hook in hooks:
        unresolved.append({"hook": hook["hook"], "where": hook["where"], "reason": hook["reason"]})
    return dict(sorted(args.items())), positionals, unresolved


# --------------------------------------------------------------------------------------------------
# Drift check


def _function_node(tree: ast.Module, dotted: str) -> ast.AST | None:
    body: Sequence[ast.stmt] = tree.body
    node: ast.AST | None = None
    for part in dotted.split("."):
        node = next((n for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == part), None)
        if node is None:
            return None
        body = node.body
    return node


def port_hashes(wheel: Wheel) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in PORTED:
        path, dotted = key.split("::")
        module = path.removesuffix(".py").replace("/", ".")
        tree = wheel.tree(module)
        node = _function_node(tree, dotted) if tree is not None else None
        out[key] = hashlib.sha256(_canonical(node).encode()).hexdigest() if node is not None else "missing"
    return out


def _canonical(node: Any) -> str:
    """An AST as text, without positions and without empty fields (so Python 3.11 to 3.14 agree)."""
    if isinstance(node, ast.AST):
        fields = [f"{name}={_canonical(value)}" for name, value in ast.iter_fields(node) if value is not None and value != []]
        return f"{type(node).__name__}({', '.join(fields)})"
    if isinstance(node, list):
        return f"[{', '.join(_canonical(item) for item in node)}]"
    return repr(node)


# --------------------------------------------------------------------------------------------------
# Command line


def download_wheel(version: str, dest: Path) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", f"vllm=={version}", "-d", str(dest), "-q"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(dest.glob(f"vllm-{version}-*.whl"))
    if done.returncode != 0 or not wheels:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ToolError(
            "pip download",
            f"vllm=={version}: {detail[-1] if detail else 'no wheel'}",
            "check the version exists on PyPI (pip index versions vllm)",
        )
    return wheels[0]


def extract(wheel_path: Path, version: str, *, accept_drift: bool) -> dict[str, Any]:
    """The JSON document for the release in ``wheel_path`` (which must be vllm ``version``)."""
    wheel = Wheel(wheel_path)
    try:
        return _extract(wheel, version, accept_drift=accept_drift)
    finally:
        wheel.close()


def _extract(wheel: Wheel, version: str, *, accept_drift: bool) -> dict[str, Any]:
    if wheel.version() != version:
        raise ToolError(str(wheel.path), f"the wheel is vllm {wheel.version()}, not {version}", "pass the matching --version or --wheel")
    hashes = port_hashes(wheel)
    drift = {key: got for key, got in hashes.items() if got != PORTED[key]}
    if drift and not accept_drift:
        raise ToolError(
            "vllm source",
            f"the ported upstream code differs from the release the port was written against: {', '.join(sorted(drift))}",
            "review KwargsPort (and infra/serving_args.py) against it, then update PORTED, or pass --accept-drift",
        )
    resolver = Resolver(wheel)
    interpreter = Interpreter(resolver, KwargsPort(resolver))
    parser = interpreter.serve_parser()
    args, positionals, unresolved = build_table(parser, interpreter.hooks)
    doc: dict[str, Any] = {
        "vllm": version,
        "source": f"{wheel.path.name} sha256:{wheel.sha256()}",
        "generated": datetime.datetime.now(tz=datetime.UTC).date().isoformat(),
        "generator": "python -m infra.tools.vllm_args",
        "parser": {
            "prog": parser.prog,
            "allow_abbrev": parser.allow_abbrev if isinstance(parser.allow_abbrev, bool) else "unknown",
            "underscores_to_dashes": True,
            "dotted_json_keys": True,
            "optimization_shorthand": "-O<level> means --optimization-level <level>",
        },
        "legend": LEGEND,
        "positionals": positionals,
        "args": args,
        "unresolved": unresolved,
        "upstream_files": sorted(wheel.read),
    }
    if drift:
        doc["drift"] = drift
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m infra.tools.vllm_args", description=__doc__.splitlines()[0])
    parser.add_argument("--version", required=True, help="the vLLM release, e.g. 0.31.0")
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of downloading it from PyPI")
    parser.add_argument("--out", type=Path, help="where to write (default: infra/catalog/data/vllm-serve-args-<version>.json)")
    parser.add_argument("--accept-drift", action="store_true", help="write even if the ported upstream code changed")
    parser.add_argument("--print-hashes", action="store_true", help="print the AST hashes of the ported upstream functions and exit")
    try:
        options = parser.parse_args(argv)
        out = options.out or DATA_DIR / f"vllm-serve-args-{options.version}.json"
        with tempfile.TemporaryDirectory(prefix="vllm-wheel-") as tmp:
            wheel_path = options.wheel or download_wheel(options.version, Path(tmp))
            if options.print_hashes:
                wheel = Wheel(wheel_path)
                print(json.dumps(port_hashes(wheel), indent=2))
                wheel.close()
                return 0
            doc = extract(wheel_path, options.version, accept_drift=options.accept_drift)
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    unknown = sum(1 for a in doc["args"].values() if a["type"] == "unknown")
    where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"{where}: {len(doc['args'])} flags, {unknown} of unknown type, {len(doc['unresolved'])} unresolved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
