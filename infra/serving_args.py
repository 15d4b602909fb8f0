"""Check a rendered ``vllm serve`` argument list against the flags the pinned vLLM release accepts.

The table of accepted flags is ``infra/catalog/data/vllm-serve-args-<version>.json``, derived from
the release's own source by ``python -m infra.tools.vllm_args --version <version>`` (see that module
for what it reads). ``check_vllm_args`` reads an argument list the way that release's parser does:

- ``FlexibleArgumentParser.parse_args`` (``vllm/utils/argparse_utils.py``) first rewrites the list:
  underscores in a ``--flag`` name become dashes, ``-O3`` / ``-O 3`` become
  ``--optimization-level 3``, and ``--json-flag.key value`` (``.key+`` for list items) is folded
  into ``--json-flag '{"key": value}'``;
- then argparse: ``--flag value``, ``--flag=value``, flags with no value (``store_true`` and
  ``BooleanOptionalAction``, whose ``--no-<flag>`` form exists too), ``nargs`` ``?``/``+``, values
  that look like options are not taken as values (negative numbers are), one positional (the
  model), and every value through the flag's ``type`` and ``choices``.

Each problem comes back as one readable line: an unknown flag (with a "did you mean" from difflib),
a value that is not among the choices, a value that does not parse as the flag's int/float/JSON
type, a missing value, a value given to a flag that takes none, an extra positional. argparse also
accepts a unique prefix of a long flag (``allow_abbrev``); that is reported too, because a later
release can add a flag that makes the prefix ambiguous. Flags of type ``unknown`` in the table
(see its ``unresolved`` list) are accepted with any value.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.catalog.versions import VLLM_GPU_IMAGE

DATA_DIR = Path(__file__).resolve().parent / "catalog" / "data"
PINNED_VLLM = VLLM_GPU_IMAGE.rsplit(":v", 1)[-1]

# argparse's _negative_number_matcher (Python 3.11/3.12): such tokens are values, not options.
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")
# vllm/engine/arg_utils.py union_dict_and_str: only a {...} string is parsed as JSON.
_JSON_OBJECT = re.compile(r"(?s)^\s*{.*}\s*$")
_DECIMAL = {"k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def data_path(version: str = PINNED_VLLM) -> Path:
    return DATA_DIR / f"vllm-serve-args-{version}.json"


@functools.cache
def accepted_args(version: str = PINNED_VLLM) -> Mapping[str, Any]:
    """The committed table for ``version`` (the pinned GPU image's release by default), read once."""
    return json.loads(data_path(version).read_text(encoding="utf-8"))


def accepted_choices(flag: str, version: str = PINNED_VLLM) -> tuple[str, ...]:
    """The values ``flag`` accepts at ``version`` (its ``choices`` in the committed table)."""
    return tuple(accepted_args(version)["args"][flag]["choices"])


def check_vllm_args(args: Sequence[str], *, accepted: Mapping | None = None) -> list[str]:
    """Problems vLLM's parser would have with ``args`` (an empty list when it would take them).

    ``args`` is what follows ``vllm serve`` (a leading ``vllm serve`` is skipped). ``accepted`` is a
    table as written by ``infra.tools.vllm_args`` (the whole document or just its ``args``); by
    default the pinned release's.
    """
    doc = accepted_args() if accepted is None else accepted
    table = _Table.of(doc)
    tokens = list(args)
    if tokens[:2] == ["vllm", "serve"]:
        tokens = tokens[2:]
    elif tokens[:1] == ["serve"]:
        tokens = tokens[1:]
    problems: list[str] = []
    tokens, folded = _fold_dotted(_flexible_rewrite(tokens), table, problems)
    _Parse(table, tokens + folded, problems).run()
    return problems


def option_flags(args: Sequence[str], *, accepted: Mapping | None = None) -> list[str]:
    """The flags ``args`` sets, each by its table name (aliases, ``--a_b``, ``--a=v``, ``--no-a``
    and ``--json-flag.key`` resolved the way the parser resolves them). Tokens the release would
    not take as a flag are left out (``check_vllm_args`` reports those)."""
    table = _Table.of(accepted_args() if accepted is None else accepted)
    flags: list[str] = []
    for token in _flexible_rewrite(list(args)):
        if not table.is_option(token):
            continue
        name = token.split("=", 1)[0].split(".", 1)[0]
        option = table.options.get(name)
        if option is None and not name.startswith("--") and name[:2] in table.options:
            option = table.options[name[:2]]  # a one-letter option with its value attached
        if option is not None:
            flags.append(option.flag)
    return flags


# --------------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class _Option:
    flag: str  # the table's key
    spec: Mapping[str, Any]
    negated: bool = False


class _Table:
    def __init__(self, args: Mapping[str, Mapping[str, Any]], version: str, positionals: Mapping[str, Any]) -> None:
        self.version = version
        self.positionals = positionals
        self.options: dict[str, _Option] = {}
        for flag, spec in args.items():
            for name in [flag, *spec.get("aliases", ())]:
                self.options[name] = _Option(flag, spec)
                if spec.get("type") == "bool" and spec.get("negatable") and name.startswith("--"):
                    self.options[f"--no-{name[2:]}"] = _Option(flag, spec, negated=True)

    @staticmethod
    def of(doc: Mapping[str, Any]) -> _Table:
        args = doc.get("args", doc)
        positionals = doc.get("positionals", {"model_tag": {"type": "str", "nargs": "?"}})
        return _Table(args, str(doc.get("vllm", "?")), positionals)

    def is_option(self, token: str) -> bool:
        """argparse's ``_parse_optional``: does ``token`` stand for an option rather than a value?"""
        if not token.startswith("-") or token == "-":
            return False
        if token in self.options or token.split("=", 1)[0] in self.options:
            return True
        if self.prefix_matches(token.split("=", 1)[0]):
            return True
        return not (_NEGATIVE_NUMBER.match(token) or " " in token)

    def prefix_matches(self, name: str) -> list[str]:
        if not name.startswith("--") or len(name) < 3:
            return []
        return sorted(option for option in self.options if option.startswith(name))

    def suggest(self, name: str) -> list[str]:
        return difflib.get_close_matches(name, list(self.options), n=3, cutoff=0.75)


# --------------------------------------------------------------------------------------------------
# FlexibleArgumentParser.parse_args's rewrites


def _flexible_rewrite(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for index, token in enumerate(tokens):
        if token.startswith("--help="):
            out.append("--help")
        elif token.startswith("--"):
            key, sep, value = token.partition("=")
            head, dot, rest = key[2:].partition(".")
            out.append(f"--{head.replace('_', '-')}{dot}{rest}{sep}{value}")
        elif token.startswith("-O") and token != "-O":
            out += ["--optimization-level", token[3:] if token[2] == "=" else token[2:]]
        elif token == "-O" and index + 1 < len(tokens) and tokens[index + 1] in {"0", "1", "2", "3"}:
            out.append("--optimization-level")
        else:
            out.append(token)
    return out


def _fold_dotted(tokens: list[str], table: _Table, problems: list[str]) -> tuple[list[str], list[str]]:
    """``--flag.key value`` -> ``--flag '{"key": value}'``, appended after the other arguments."""
    kept: list[str] = []
    folded: dict[str, dict[str, Any]] = {}
    skip = False
    for index, token in enumerate(tokens):
        if skip:
            skip = False
            continue
        if not (token.startswith("-") and "." in token):
            kept.append(token)
            continue
        if "=" in token:
            key, value = token.split("=", 1)
            if "." not in key:
                kept.append(token)
                continue
        else:
            key = token
            if index + 1 >= len(tokens):
                problems.append(f"{token}: expects a value")
                continue
            value = tokens[index + 1]
            skip = True
        if key.endswith("+"):
            key = key[:-1]
            value = json.dumps(value.split(","))
        flag, *path = key.split(".")
        known = table.options.get(flag)
        if known is not None and known.spec.get("type") in ("bool", "int", "float", "choice"):
            problems.append(f"{token}: {flag} takes no JSON, so it has no {'.'.join(path)} key (dotted keys are for JSON-valued flags)")
            continue
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            try:
                parsed = _human_readable_int(value)
            except ValueError:
                parsed = value
        nested: Any = parsed
        for part in reversed(path):
            nested = {part: nested}
        _merge(folded.setdefault(flag, {}), nested)
    tail: list[str] = []
    for flag, merged in folded.items():
        tail += [flag, json.dumps(merged)]
    return kept, tail


def _merge(original: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(original.get(key), dict):
            _merge(original[key], value)
        elif isinstance(value, list) and isinstance(original.get(key), list):
            original[key] += value
        else:
            original[key] = value


# --------------------------------------------------------------------------------------------------
# argparse


class _Parse:
    def __init__(self, table: _Table, tokens: list[str], problems: list[str]) -> None:
        self.table = table
        self.tokens = tokens
        self.problems = problems
        self.positionals: list[str] = []
        self.only_positionals_from: int | None = None

    def is_option(self, index: int) -> bool:
        if self.only_positionals_from is not None and index > self.only_positionals_from:
            return False
        return self.table.is_option(self.tokens[index])

    def run(self) -> None:
        index = 0
        while index < len(self.tokens):
            token = self.tokens[index]
            if token == "--" and self.only_positionals_from is None:
                self.only_positionals_from = index
                index += 1
            elif self.is_option(index):
                index = self.option(index)
            else:
                self.positionals.append(token)
                index += 1
        expected = 1 if self.table.positionals else 0
        for extra in self.positionals[expected:]:
            model = f" (the model is {self.positionals[0]!r})" if expected else ""
            self.problems.append(f"{extra!r}: unrecognized positional argument{model}")

    def option(self, index: int) -> int:
        token = self.tokens[index]
        name, explicit = token, None
        if name not in self.table.options and "=" in name:
            name, explicit = name.split("=", 1)
        option = self.table.options.get(name)
        if option is None and not name.startswith("--") and len(name) > 2 and name[:2] in self.table.options:
            name, explicit = name[:2], name[2:]  # -qfp8: a one-letter option with its value attached
            option = self.table.options[name]
        if option is None:
            matches = self.table.prefix_matches(name)
            if len({self.table.options[m].flag for m in matches}) == 1 and matches:
                option = self.table.options[matches[0]]
                self.problems.append(
                    f"{name}: abbreviation of {matches[0]}; argparse takes it, but a later vLLM release can make it ambiguous: spell it out"
                )
            elif matches:
                self.problems.append(f"{name}: ambiguous option, could be {', '.join(matches[:5])}")
                return self.skip_values(index + 1)
            else:
                suggestion = self.table.suggest(name)
                hint = f"; did you mean {' or '.join(suggestion)}?" if suggestion else ""
                self.problems.append(f"{name}: not a `vllm serve` option in vLLM {self.table.version}{hint}")
                return self.skip_values(index + 1)
        return self.consume(option, name, explicit, index + 1)

    def skip_values(self, index: int) -> int:
        """After an unknown option, its would-be values are not reported again as positionals."""
        while index < len(self.tokens) and not self.is_option(index):
            index += 1
        return index

    def consume(self, option: _Option, name: str, explicit: str | None, index: int) -> int:
        spec = option.spec
        if spec.get("type") == "bool":
            if explicit is not None:
                negation = f" or --no-{option.flag[2:]}" if spec.get("negatable") else ""
                self.problems.append(f"{name}: takes no value (got {explicit!r}); give {option.flag}{negation} alone")
            return index
        nargs = spec.get("nargs")
        if explicit is not None:
            if isinstance(nargs, int) and nargs != 1:
                self.problems.append(f"{name}: expects {nargs} values")
            else:
                self.value(option, name, explicit)
            return index
        values: list[str] = []
        limit = {None: 1, "?": 1}.get(nargs, nargs if isinstance(nargs, int) else len(self.tokens))
        while index < len(self.tokens) and len(values) < limit and not self.is_option(index):
            values.append(self.tokens[index])
            index += 1
        if nargs in (None, 1) and not values:
            self.problems.append(f"{name}: expects a value")
        elif nargs == "+" and not values:
            self.problems.append(f"{name}: expects at least one value")
        elif isinstance(nargs, int) and len(values) != nargs:
            self.problems.append(f"{name}: expects {nargs} values")
        for value in values:
            self.value(option, name, value)
        return index

    def value(self, option: _Option, name: str, value: str) -> None:
        problem = value_problem(option.spec, value)
        if problem:
            self.problems.append(f"{name}: {problem}")


def value_problem(spec: Mapping[str, Any], value: str) -> str | None:
    """Why the flag's ``type``/``choices`` would reject ``value``, or None."""
    kind = spec.get("type")
    if spec.get("nullable") and value in ("", "None"):
        return None  # vllm/engine/arg_utils.py optional_type
    if spec.get("normalize") == "lower_dash_to_underscore":
        value = value.lower().replace("-", "_")
    if kind == "choice":
        choices = list(spec.get("choices", ()))
        converted: Any = value
        if spec.get("value_type") in ("int", "float"):
            parse = int if spec["value_type"] == "int" else float
            try:
                converted = parse(value)
            except ValueError:
                return f"{value!r} is not {'an integer' if parse is int else 'a number'} (one of {_listing(choices)})"
        if converted in choices:
            return None
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{value!r} is not one of {_listing(choices)}{hint}"
    if kind == "int":
        return _int_problem(spec.get("format"), value)
    if kind == "float":
        try:
            float(value)
        except ValueError:
            return f"{value!r} is not a number"
        return None
    if kind == "json":
        text = _expand_json_numbers(value) if spec.get("schema") else value
        return _json_problem(text)
    if kind == "json_or_str":
        return _json_problem(value) if _JSON_OBJECT.match(value) else None
    return None  # str, unknown


def _int_problem(fmt: str | None, value: str) -> str | None:
    try:
        if fmt == "human_readable_or_auto" and (value.strip() == "-1" or value.strip().lower() == "auto"):
            return None
        if fmt in ("human_readable", "human_readable_or_auto"):
            _human_readable_int(value)
        else:
            int(value)
    except ValueError:
        extra = " (forms such as 8k, 1M or auto are accepted)" if fmt == "human_readable_or_auto" else ""
        extra = extra or (" (forms such as 8k or 1M are accepted)" if fmt == "human_readable" else "")
        return f"{value!r} is not an integer{extra}"
    return None


def _json_problem(text: str) -> str | None:
    try:
        json.loads(text)
    except ValueError as exc:
        return f"{text!r} is not valid JSON ({exc})"
    return None


def _listing(choices: Sequence[Any]) -> str:
    return ", ".join(str(c) for c in choices)


def _human_readable_int(value: str) -> int:
    """vllm/utils/argparse_utils.py human_readable_int: 1k = 1000, 1K = 1024, 25.6k = 25600."""
    value = value.strip()
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGtT])", value)
    if match:
        number, suffix = match.groups()
        if suffix in _DECIMAL:
            return int(float(number) * _DECIMAL[suffix])
        return int(number) * _BINARY[suffix]  # ValueError for decimals with a binary suffix, as upstream
    return int(value)


def _expand_json_numbers(value: str) -> str:
    """vllm/engine/arg_utils.py _expand_json_human_readable_numbers: bare 80m -> 80000000 outside strings."""
    parts = re.split(r'("(?:[^"\\]|\\.)*")', value)
    for index in range(0, len(parts), 2):
        parts[index] = re.sub(r"\b\d+(?:\.\d+)?[kKmMgGtT]\b", lambda m: str(_human_readable_int(m.group())), parts[index])
    return "".join(parts)
