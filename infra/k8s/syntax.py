"""What Kubernetes and Karpenter accept for values a user's configuration puts in a manifest.

Each function returns a problem (a phrase) or None. They run at synth through ``infra.config``, so a
value the API server or controller would reject fails ``cdk synth`` with one ``error:`` line instead
of a deploy. ``tests/unit/test_crd_parity.py`` renders configurations through the real builders
and checks that nothing the vendored CRDs reject gets past these rules.

- Label keys and values: Kubernetes "Labels and Selectors" syntax (apimachinery
  ``validation.IsQualifiedName`` and ``IsValidLabelValue``): an optional DNS-subdomain prefix of at
  most 253 characters and ``/``, then a name of at most 63 characters; values at most 63.
- Disruption budget schedules: Karpenter v1.14.1 parses them with robfig/cron v3's standard parser
  (``cron.ParseStandard``: five fields, or a ``@yearly``-style descriptor); the CRD's own pattern
  only counts fields, so a bad field is caught here.
"""

from __future__ import annotations

import re

_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names for values from `lowest`) per field, as robfig/cron's standard parser.
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 6, _DAYS),
)


def label_key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and not (prefix and len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)):
        return f"label key '{key}' has a prefix that is not a DNS subdomain (lowercase, at most 253 characters)"
    if not (len(name) <= 63 and _LABEL_NAME.match(name)):
        return f"label key '{key}' is not a label name (1-63 of A-Z, a-z, 0-9, -, _ and ., alphanumeric at both ends)"
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) <= 63 and _LABEL_VALUE.match(value):
        return None
    return f"label value '{value}' is not a label value (at most 63 of A-Z, a-z, 0-9, -, _ and ., alphanumeric at both ends)"


def _cron_value(text: str, low: int, names: tuple[str, ...]) -> int | None:
    if text.isdigit():
        return int(text)
    if text.upper() in names:
        return low + names.index(text.upper())
    return None


def _cron_field_problem(text: str, name: str, low: int, high: int, names: tuple[str, ...]) -> str | None:
    for part in text.split(","):
        span, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return f"the {name} step '{step}' is not a positive number"
        if span in ("*", "?"):
            if span == "?" and name not in ("day of month", "day of week"):
                return f"'?' is not allowed in the {name} field"
            continue
        start_text, dash, end_text = span.partition("-")
        start = _cron_value(start_text, low, names)
        end = _cron_value(end_text, low, names) if dash else start
        if start is None or end is None:
            return f"'{span}' is not a {name}"
        if not (low <= start <= end <= high):
            return f"'{span}' is outside the {name} range {low}-{high}"
    return None


def cron_problem(schedule: str) -> str | None:
    """Why robfig/cron's standard parser would reject ``schedule``, or None."""
    if schedule.startswith("@"):
        return None if schedule in CRON_DESCRIPTORS else f"'{schedule}' is not one of {', '.join(CRON_DESCRIPTORS)}"
    fields = schedule.split()
    if len(fields) != len(_CRON_FIELDS):
        return f"'{schedule}' has {len(fields)} fields; a cron schedule has 5 (minute hour day-of-month month day-of-week)"
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        problem = _cron_field_problem(text, name, low, high, names)
        if problem:
            return f"schedule '{schedule}': {problem}"
    return None
