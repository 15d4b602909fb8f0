"""vllm serve argument checks: infra.serving_args.check_vllm_args against the committed v0.31.0 table.

Every statement about what vLLM accepts cites the upstream source at the tag v0.31.0 (as shipped in
vllm-0.31.0-cp38-abi3-manylinux_2_28_x86_64.whl, the wheel the table was generated from); line
numbers are those of that release.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import CONTEXT
from serving_specs import MULTI, SINGLE

from infra.catalog.versions import VLLM_GPU_IMAGE
from infra.config import load
from infra.k8s import vllm
from infra.serving_args import PINNED_VLLM, accepted_args, check_vllm_args, data_path
from infra.tools import ROOT, ToolError, vllm_args
from infra.unit_serving import leader_command

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def _check(*args: str) -> list[str]:
    return check_vllm_args([MODEL, *args])


# --------------------------------------------------------------------------------------------------
# What v0.31.0 accepts


def test_dtype_takes_only_the_model_dtype_literal() -> None:
    # vllm/config/model.py at v0.31.0, line 99: ModelDType = Literal["auto", "half", "float16", "bfloat16",
    # "float", "float32"]; line 168: dtype: ModelDType | torch.dtype. vllm/engine/arg_utils.py at v0.31.0,
    # literal_to_kwargs (line 213-227): a Literal without str in the union becomes argparse choices
    # (sorted); line 937 registers --dtype with those kwargs.
    assert _check("--dtype", "bfloat16") == []
    assert _check("--dtype=half") == []
    [problem] = _check("--dtype", "fp8")
    assert problem.startswith("--dtype: 'fp8' is not one of")
    for allowed in ("auto", "half", "float16", "bfloat16", "float", "float32"):
        assert allowed in problem
    assert accepted_args()["args"]["--dtype"]["choices"] == ["auto", "bfloat16", "float", "float16", "float32", "half"]


def test_tensor_parallel_size_and_its_short_alias() -> None:
    # vllm/engine/arg_utils.py at v0.31.0, line 1150-1152: add_argument("--tensor-parallel-size", "-tp",
    # **parallel_kwargs["tensor_parallel_size"]); vllm/config/parallel.py at v0.31.0, line 129:
    # tensor_parallel_size: int, so type=int (arg_utils.py _compute_kwargs, the int branch).
    assert _check("--tensor-parallel-size", "8") == []
    assert _check("-tp", "8") == []
    assert _check("-tp=8") == []
    assert _check("-tp", "eight") == ["-tp: 'eight' is not an integer"]


def test_max_num_seqs_is_an_integer() -> None:
    # vllm/config/scheduler.py at v0.31.0, line 63: max_num_seqs: int; vllm/engine/arg_utils.py at
    # v0.31.0, line 1681-1687 registers --max-num-seqs from it (type=int, default None).
    assert _check("--max-num-seqs", "256") == []
    assert _check("--max-num-seqs", "abc") == ["--max-num-seqs: 'abc' is not an integer"]
    assert _check("--max-num-seqs", "1k") == ["--max-num-seqs: '1k' is not an integer"]


def test_enable_prefix_caching_is_a_negatable_flag() -> None:
    # vllm/config/cache.py at v0.31.0, line 142: enable_prefix_caching: bool; vllm/engine/arg_utils.py
    # at v0.31.0, line 377-379: a bool field gets action=argparse.BooleanOptionalAction (so
    # --no-enable-prefix-caching exists and neither form takes a value); line 1338-1344 registers it.
    assert _check("--enable-prefix-caching") == []
    assert _check("--no-enable-prefix-caching") == []
    [problem] = _check("--enable-prefix-caching=true")
    assert problem.startswith("--enable-prefix-caching: takes no value")


def test_unknown_flag_gets_a_suggestion() -> None:
    # The flags of vLLM v0.31.0 are the table's (vllm/engine/arg_utils.py EngineArgs.add_cli_args and
    # vllm/entrypoints/launchers/cli_args.py make_arg_parser/FrontendArgs); there is no --tensor-paralel-size.
    [problem] = _check("--tensor-paralel-size", "8")
    assert problem.startswith("--tensor-paralel-size: not a `vllm serve` option in vLLM 0.31.0; did you mean --tensor-parallel-size")


def test_missing_values() -> None:
    # vllm/entrypoints/launchers/cli_args.py at v0.31.0, line 282: port: int = 8000 (one value);
    # vllm/config/model.py at v0.31.0, line 301: served_model_name: str | list[str] | None, so nargs="+"
    # (arg_utils.py collection_to_kwargs).
    assert _check("--port") == ["--port: expects a value"]
    assert _check("--port", "--host", "0.0.0.0") == ["--port: expects a value"]
    assert _check("--served-model-name") == ["--served-model-name: expects at least one value"]
    assert _check("--served-model-name", "a", "b", "--port", "8000") == []


def test_max_model_len_takes_human_readable_sizes() -> None:
    # vllm/engine/arg_utils.py at v0.31.0, line 397-399: max_model_len gets type=human_readable_int_or_auto;
    # vllm/utils/argparse_utils.py at v0.31.0, line 29-93: 1k = 1000, 1K = 1024, -1/auto, and no decimals
    # with a binary suffix.
    for value in ("32768", "32k", "32K", "auto", "-1"):
        assert _check("--max-model-len", value) == [], value
    [problem] = _check("--max-model-len", "1.5K")
    assert problem.startswith("--max-model-len: '1.5K' is not an integer")


def test_flexible_parser_rewrites() -> None:
    # vllm/utils/argparse_utils.py at v0.31.0, FlexibleArgumentParser.parse_args (line 271-460):
    # underscores in a --flag name become dashes (line 337-351), -O3 means --optimization-level 3
    # (line 353-357), and --json-flag.key value folds into --json-flag '{"key": value}' (line 399-459).
    # vllm/config/vllm.py at v0.31.0, line 410: compilation_config is a CompilationConfig dataclass, so
    # --compilation-config takes JSON (arg_utils.py _compute_kwargs, the dataclass branch).
    assert _check("--max_num_seqs", "8", "-O3", "--compilation-config.mode", "3") == []
    [problem] = _check("--compilation-config", "{bad")
    assert problem.startswith("--compilation-config: '{bad' is not valid JSON")
    [problem] = _check("--enable-prefix-caching.x", "1")
    assert "dotted keys are for JSON-valued flags" in problem


def test_quantization_takes_any_string() -> None:
    # vllm/config/model.py at v0.31.0, line 57-75: QuantizationMethods is imported only under
    # TYPE_CHECKING; at run time it is str, so quantization: QuantizationMethods | str | None (line 232)
    # is str | None and --quantization has no choices (arg_utils.py _compute_kwargs, the str branch).
    assert _check("--quantization", "awq") == []
    assert _check("-q", "anything-goes-at-parse-time") == []


def test_one_positional_model() -> None:
    # vllm/entrypoints/launchers/cli_args.py at v0.31.0, line 417-422: add_argument("model_tag", nargs="?").
    assert check_vllm_args(["vllm", "serve", MODEL, "--port", "8000"]) == []
    assert _check("extra") == [f"'extra': unrecognized positional argument (the model is '{MODEL}')"]


def test_abbreviations_are_reported() -> None:
    # argparse's allow_abbrev is left on (vllm/entrypoints/cli/serve.py at v0.31.0, subparser_init,
    # line 159-172, passes no allow_abbrev): a unique prefix works, an ambiguous one is an error. The
    # check reports both; max_num_scheduled_tokens and max_num_seqs: vllm/config/scheduler.py at v0.31.0.
    [unique] = _check("--enable-pre")
    assert unique.startswith("--enable-pre: abbreviation of --enable-prefix-caching")
    [ambiguous] = _check("--max-num-s", "4")
    assert ambiguous.startswith("--max-num-s: ambiguous option")


# --------------------------------------------------------------------------------------------------
# The parser mechanics, on a small table (no claim about vLLM)

TABLE: dict[str, Any] = {
    "vllm": "test",
    "positionals": {"model_tag": {"type": "str", "nargs": "?"}},
    "args": {
        "--level": {"type": "choice", "choices": [1, 2, 4], "value_type": "int", "aliases": ["-l"]},
        "--mode": {"type": "choice", "choices": ["a_b", "c"], "value_type": "str", "normalize": "lower_dash_to_underscore", "aliases": []},
        "--opt": {"type": "str", "nargs": "?", "aliases": []},
        "--pair": {"type": "float", "nargs": 2, "aliases": []},
        "--maybe": {"type": "int", "nullable": True, "aliases": []},
        "--verbose": {"type": "bool", "negatable": False, "aliases": []},
        "--blob": {"type": "json_or_str", "aliases": []},
        "--weird": {"type": "unknown", "aliases": []},
    },
}


@pytest.mark.parametrize(
    ("args", "problems"),
    [
        (["--level", "2", "-l", "4", "--mode", "A-B"], []),
        (["--level", "3"], ["--level: '3' is not one of 1, 2, 4"]),
        (["--level", "x"], ["--level: 'x' is not an integer (one of 1, 2, 4)"]),
        (["--opt", "--verbose"], []),
        (["--opt", "v", "m"], []),
        (["--pair", "1", "2.5"], []),
        (["--pair", "1"], ["--pair: expects 2 values"]),
        (["--maybe", "None", "--maybe", "", "--maybe", "-3"], []),
        (["--no-verbose"], ["--no-verbose: not a `vllm serve` option in vLLM test; did you mean --verbose?"]),
        (["--verbose=1"], ["--verbose: takes no value (got '1'); give --verbose alone"]),
        (["--blob", "plain", "--blob", '{"a": 1}'], []),
        (
            ["--blob", "{a}"],
            ["--blob: '{a}' is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"],
        ),
        (["--weird", "anything"], []),
        (["m", "--", "--level"], ["'--level': unrecognized positional argument (the model is 'm')"]),
    ],
)
def test_parser_mechanics(args: list[str], problems: list[str]) -> None:
    assert check_vllm_args(args, accepted=TABLE) == problems


# --------------------------------------------------------------------------------------------------
# The data file and the flags the project renders


def test_data_file_records_the_pinned_release() -> None:
    doc = accepted_args()
    assert VLLM_GPU_IMAGE.endswith(f":v{PINNED_VLLM}") and PINNED_VLLM == "0.31.0"
    assert data_path().name == "vllm-serve-args-0.31.0.json"
    assert doc["vllm"] == "0.31.0"
    assert re.fullmatch(r"vllm-0\.31\.0-\S+\.whl sha256:[0-9a-f]{64}", doc["source"])
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", doc["generated"])
    assert all(a["type"] != "unknown" or any(u.get("arg") == flag for u in doc["unresolved"]) for flag, a in doc["args"].items())


def _rendered_k8s() -> list[list[str]]:
    custom = dataclasses.replace(SINGLE, model="meta-llama/Llama-3.1-8B-Instruct", dtype="bfloat16", quantization="fp8")
    return [[vllm.RUNTIME_EXAMPLES.get(a, a) for a in vllm.vllm_args(spec)] for spec in (SINGLE, MULTI, custom)]


def _rendered_ecs() -> list[str]:
    context = copy.deepcopy(CONTEXT)
    unit = {
        "name": "trn2",
        "instance_type": "trn2.48xlarge",
        "unit_size": 2,
        "architecture": "llama-3.1-405b",
        "weights": {"s3_prefix": "llama-405b/"},
        "dtype": "bfloat16",
        "units": 2,
        "surge": True,
    }
    context["environments"]["prod"]["unit_pools"] = [unit]
    config = load({**context, "env": "prod"})
    pool = config.unit_pools[0]
    return leader_command(pool, config.plan_unit(pool))


def _entrypoint_extra() -> list[str]:
    """The flags model-images/neuron-unit/entrypoint.sh adds to a member's vllm serve (values dropped)."""
    script = (ROOT / "model-images" / "neuron-unit" / "entrypoint.sh").read_text(encoding="utf-8")
    lists = re.findall(r"extra=\((--[^)]*)\)", script)
    assert len(lists) == 2, lists  # ray-pipeline's leader, and every data-parallel member
    # The run-time values, as examples of their kind.
    values = {'"${address}"': "10.0.0.10", '"${DP_RPC_PORT}"': "13345"}
    return [values.get(token, token) for extra in lists for token in extra.split()]


def test_flags_the_project_renders_are_in_the_table() -> None:
    # Every flag of infra/k8s/vllm.py vllm_args, infra/constructs/ecs_unit.py leader_command and
    # model-images/neuron-unit/entrypoint.sh is a v0.31.0 flag: --served-model-name (vllm/config/model.py
    # line 301), --host/--port (vllm/entrypoints/launchers/cli_args.py line 280-283),
    # --tensor-parallel-size/--pipeline-parallel-size (vllm/config/parallel.py line 127-129),
    # --max-model-len, --dtype, --quantization (vllm/engine/arg_utils.py line 937-952),
    # --gpu-memory-utilization (vllm/config/cache.py line 103), --load-format (vllm/config/load.py line 30,
    # str), --distributed-executor-backend (vllm/config/parallel.py line 260-262, str or a Literal).
    # The ECS units and the entrypoint run the Neuron images, whose vLLM is another release; the table
    # checks them against the GPU pin only.
    table = accepted_args()["args"]
    renders = [*_rendered_k8s(), _rendered_ecs(), ["model", *_entrypoint_extra()]]
    flags = {token.split("=", 1)[0] for args in renders for token in args if token.startswith("--")}
    assert {"--served-model-name", "--host", "--port", "--tensor-parallel-size", "--max-model-len", "--dtype"} <= flags
    assert flags <= set(table)
    for args in renders:
        assert check_vllm_args(args) == [], args


# --------------------------------------------------------------------------------------------------
# The extractor, on a small made-up release (no download, no claim about vLLM)

FAKE_SOURCES = {
    "vllm/__init__.py": "",
    "vllm/entrypoints/__init__.py": "",
    "vllm/entrypoints/cli/__init__.py": "",
    "vllm/entrypoints/cli/serve.py": """
from vllm.entrypoints.launchers.cli_args import make_arg_parser


class ServeSubcommand:
    name = "serve"

    def subparser_init(self, subparsers):
        serve_parser = subparsers.add_parser(self.name, help="serve")
        return make_arg_parser(serve_parser)
""",
    "vllm/entrypoints/launchers/__init__.py": "",
    "vllm/entrypoints/launchers/cli_args.py": """
from vllm.engine.arg_utils import EngineArgs


def make_arg_parser(parser):
    parser.add_argument("model_tag", type=str, nargs="?")
    parser.add_argument("--headless", action="store_true")
    return EngineArgs.add_cli_args(parser)
""",
    "vllm/engine/__init__.py": "",
    "vllm/engine/arg_utils.py": """
import argparse

from vllm.config.model import ModelConfig
from vllm.plugins import load_general_plugins


def get_kwargs(cls):
    raise NotImplementedError


class EngineArgs:
    @staticmethod
    def add_cli_args(parser):
        load_general_plugins()
        model_kwargs = get_kwargs(ModelConfig)
        group = parser.add_argument_group(title="ModelConfig")
        group.add_argument("--dtype", **model_kwargs["dtype"])
        group.add_argument("--seed", **{**model_kwargs["seed"], "default": None})
        group.add_argument("--enforce-eager", **model_kwargs["enforce_eager"])
        group.add_argument("--served-model-name", **model_kwargs["served_model_name"])
        group.add_argument("--quantization", "-q", **model_kwargs["quantization"])
        group.add_argument("--max-model-len", **model_kwargs["max_model_len"])
        group.add_argument("--tensor-parallel-size", "-tp", type=int, default=1)
        group.add_argument("--device-ids", type=lambda s: s.split(","))
        parser.add_argument("--log-level", choices=["debug", "info"], default="info")
        return parser
""",
    "vllm/plugins/__init__.py": "def load_general_plugins():\n    pass\n",
    "vllm/config/__init__.py": "",
    "vllm/config/model.py": """
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from vllm.quant import QuantizationMethods
else:
    QuantizationMethods = str

ModelDType = Literal["auto", "half"]


@dataclass
class ModelConfig:
    dtype: ModelDType = "auto"
    seed: int | None = 0
    enforce_eager: bool = False
    served_model_name: str | list[str] | None = None
    quantization: QuantizationMethods | None = None
    max_model_len: int = 0
""",
}


def _fake_wheel(tmp_path: Path, version: str = "9.9.9") -> Path:
    path = tmp_path / f"vllm-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"vllm-{version}.dist-info/METADATA", f"Metadata-Version: 2.1\nName: vllm\nVersion: {version}\n")
        for name, text in FAKE_SOURCES.items():
            wheel.writestr(name, text)
    return path


def test_extractor_replays_a_release(tmp_path: Path) -> None:
    doc = vllm_args.extract(_fake_wheel(tmp_path), "9.9.9", accept_drift=True)
    args = doc["args"]
    assert doc["vllm"] == "9.9.9" and doc["positionals"] == {"model_tag": {"type": "str", "nargs": "?"}}
    assert args["--dtype"] == {"type": "choice", "choices": ["auto", "half"], "value_type": "str", "group": "ModelConfig", "aliases": []}
    assert args["--seed"] == {"type": "int", "nullable": True, "group": "ModelConfig", "aliases": []}
    assert args["--enforce-eager"]["type"] == "bool" and args["--enforce-eager"]["negatable"] is True
    assert args["--headless"] == {"type": "bool", "negatable": False, "aliases": []}
    assert args["--served-model-name"]["nargs"] == "+"
    assert args["--quantization"] == {"type": "str", "nullable": True, "group": "ModelConfig", "aliases": ["-q"]}
    assert args["--max-model-len"]["format"] == "human_readable_or_auto"
    assert args["--tensor-parallel-size"]["aliases"] == ["-tp"]
    assert args["--log-level"]["choices"] == ["debug", "info"]
    assert args["--help"]["aliases"] == ["-h"]
    assert args["--device-ids"]["type"] == "unknown"
    reasons = {u.get("arg") or u.get("hook") for u in doc["unresolved"]}
    assert reasons == {"--device-ids", "load_general_plugins()"}
    assert set(doc["drift"]) == set(vllm_args.PORTED)  # none of the ported functions is in the made-up release
    assert "vllm/config/model.py" in doc["upstream_files"]


def test_extractor_refuses_drift_and_a_wrong_version(tmp_path: Path) -> None:
    wheel = _fake_wheel(tmp_path)
    with pytest.raises(ToolError, match="ported upstream code differs"):
        vllm_args.extract(wheel, "9.9.9", accept_drift=False)
    with pytest.raises(ToolError, match=re.escape("the wheel is vllm 9.9.9, not 0.31.0")):
        vllm_args.extract(wheel, "0.31.0", accept_drift=True)
