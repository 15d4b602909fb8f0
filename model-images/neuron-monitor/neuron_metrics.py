#!/usr/bin/env python3
"""NeuronCore metrics of one ECS unit instance, as CloudWatch embedded metric format (EMF) lines.

Starts ``neuron-monitor`` (aws-neuronx-tools, part of the Neuron DLC this image builds on), reads
the JSON report it writes to stdout once per period, and prints one EMF record per report to
stdout. The task's ``awslogs`` driver ships stdout to CloudWatch Logs, which extracts the metrics,
so the container needs no network, no AWS credentials and no IAM permissions.

Metrics, namespace ``METRICS_NAMESPACE``, one dimension set ``{ClusterName, UnitPool}``: every
instance of a pool publishes under the same dimensions, so the pool's Average is the mean of its
instances and its Minimum the idlest instance.

- ``NeuronCoreUtilization`` (Percent): mean utilization over all the instance's NeuronCores in
  the period; cores no Neuron application holds count as 0, because they are paid for too. Not
  published while neuron-monitor cannot tell how many cores the instance has and none is in use
  (a broken monitor must not look like an idle instance).
- ``NeuronCoresInUse`` (Count): NeuronCores held by a Neuron application.
- ``NeuronDeviceMemoryUsed`` (Bytes): Neuron device memory the applications use.
- ``NeuronExecutionErrors`` (Count): executions that failed in the period, all kinds together.
- ``NeuronHardwareErrors`` (Count): uncorrectable ECC errors of the instance's Neuron devices
  (``neuron_hw_counters``: ``mem_ecc_uncorrected`` plus ``sram_ecc_uncorrected``) plus the
  executions that failed on a hardware error (``error_summary`` ``hardware``). The Neuron runtime
  troubleshooting guide says to replace an instance with uncorrectable SRAM or HBM errors. Also
  published per instance, under ``{ClusterName, UnitPool, ContainerInstance}`` (the container
  instance id, from the ECS container metadata file the agent mounts when
  ``ECS_ENABLE_CONTAINER_METADATA`` is on): the units' health function reads it to replace the
  instance with its unit. Whether neuron-monitor's ECC counts are per period or since the driver
  loaded is not documented; either way a count above 0 means an uncorrectable error happened.

Problems (a report that is not JSON, a metric group's ``error``) go to stderr as one JSON line
each. The exit status is neuron-monitor's, or 1 when it stopped on its own with 0: a daemon that
stops is a failure, and ECS starts a new one.

Environment: ``CLUSTER_NAME``, ``UNIT_POOL`` and ``METRICS_NAMESPACE`` (required);
``ECS_CONTAINER_METADATA_FILE`` (set by the ECS agent; without it nothing is published per instance);
``NEURON_MONITOR`` (default ``/opt/aws/neuron/bin/neuron-monitor``) and ``NEURON_MONITOR_CONFIG``
(default ``/etc/neuron-monitor/monitor.json``). ``--check`` validates the settings, the binary
and the configuration file, and exits (the image build runs it).

Only the standard library: the script runs on the DLC's own Python.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

DEFAULT_BINARY = "/opt/aws/neuron/bin/neuron-monitor"
DEFAULT_CONFIG = "/etc/neuron-monitor/monitor.json"

UTILIZATION = "NeuronCoreUtilization"
CORES_IN_USE = "NeuronCoresInUse"
DEVICE_MEMORY = "NeuronDeviceMemoryUsed"
EXECUTION_ERRORS = "NeuronExecutionErrors"
HARDWARE_ERRORS = "NeuronHardwareErrors"
UNITS = {UTILIZATION: "Percent", CORES_IN_USE: "Count", DEVICE_MEMORY: "Bytes", EXECUTION_ERRORS: "Count", HARDWARE_ERRORS: "Count"}
DIMENSIONS = ("ClusterName", "UnitPool")
INSTANCE_DIMENSION = "ContainerInstance"
UNCORRECTABLE = ("mem_ecc_uncorrected", "sram_ecc_uncorrected")


class SettingsError(Exception):
    """The environment or the files the script needs are not usable."""


@dataclass(frozen=True)
class Settings:
    cluster: str
    pool: str
    namespace: str
    binary: str
    config: str
    metadata_file: str | None = None

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        missing = [name for name in ("CLUSTER_NAME", "UNIT_POOL", "METRICS_NAMESPACE") if not environ.get(name)]
        if missing:
            raise SettingsError(f"{', '.join(missing)} not set; the task definition sets them")
        return cls(
            cluster=environ["CLUSTER_NAME"],
            pool=environ["UNIT_POOL"],
            namespace=environ["METRICS_NAMESPACE"],
            binary=environ.get("NEURON_MONITOR") or DEFAULT_BINARY,
            config=environ.get("NEURON_MONITOR_CONFIG") or DEFAULT_CONFIG,
            metadata_file=environ.get("ECS_CONTAINER_METADATA_FILE") or None,
        )

    def check(self) -> None:
        """Fails unless the binary is executable and the configuration is a JSON object with a period."""
        if not os.access(self.binary, os.X_OK):
            raise SettingsError(f"{self.binary} is not an executable neuron-monitor")
        try:
            with open(self.config, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as error:
            raise SettingsError(f"cannot read neuron-monitor configuration {self.config}: {error}") from error
        if not isinstance(config, dict) or not isinstance(config.get("period"), str):
            raise SettingsError(f'{self.config} is not a neuron-monitor configuration (no "period")')


@dataclass(frozen=True)
class Sample:
    """One neuron-monitor report, reduced to the instance's figures."""

    utilization: float | None  # percent over all cores; None when the core count is unknown and none is in use
    cores_in_use: int
    cores_total: int  # 0 when neuron-monitor could not read the hardware
    device_memory_bytes: int
    execution_errors: int
    runtimes: int
    problems: tuple[str, ...]
    hardware_errors: int = 0


def _number(value: Any) -> float | None:
    """``value`` if it is a real number (JSON booleans are not), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _count(value: Any) -> int:
    """``value`` as a non-negative whole count; anything else counts 0."""
    number = _number(value)
    return int(number) if number is not None and number > 0 else 0


def _group(report: Mapping[str, Any], name: str, problems: list[str], where: str) -> Mapping[str, Any]:
    """The metric group ``name`` of a report (empty when absent), noting its ``error`` if any."""
    group = report.get(name)
    if not isinstance(group, dict):
        return {}
    if group.get("error"):
        problems.append(f"{where} {name}: {group['error']}")
    return group


def total_cores(hardware: Any, problems: list[str]) -> int:
    """The instance's NeuronCores as neuron-monitor counts them (logical cores), 0 if unknown."""
    if not isinstance(hardware, dict):
        return 0
    if hardware.get("error"):
        problems.append(f"neuron_hardware_info: {hardware['error']}")
        return 0
    devices = _number(hardware.get("neuron_device_count"))
    per_device = _number(hardware.get("neuroncore_per_device_count"))
    if devices is None or per_device is None or devices <= 0 or per_device <= 0:
        return 0
    return int(devices * per_device)


def summarize(report: Mapping[str, Any]) -> Sample:
    """Reduce one neuron-monitor report to the instance's utilization, cores, memory and errors."""
    problems: list[str] = []
    runtimes = report.get("neuron_runtime_data")
    if not isinstance(runtimes, list):
        runtimes = []
    busy: dict[str, float] = {}
    memory = 0
    errors = 0
    hardware = 0
    for runtime in runtimes:
        if not isinstance(runtime, dict):
            continue
        where = f"runtime {runtime.get('neuron_runtime_tag') or runtime.get('pid', '?')}"
        if runtime.get("error"):
            problems.append(f"{where}: {runtime['error']}")
        data = runtime.get("report")
        if not isinstance(data, dict):
            continue
        in_use = _group(data, "neuroncore_counters", problems, where).get("neuroncores_in_use")
        for index, core in (in_use if isinstance(in_use, dict) else {}).items():
            value = _number(core.get("neuroncore_utilization")) if isinstance(core, dict) else None
            if value is not None:
                # A core belongs to one application; should two report it, the busier one counts.
                busy[str(index)] = max(busy.get(str(index), 0.0), min(max(value, 0.0), 100.0))
        used = _group(data, "memory_used", problems, where).get("neuron_runtime_used_bytes")
        memory += _count(used.get("neuron_device")) if isinstance(used, dict) else 0
        summary = _group(data, "execution_stats", problems, where).get("error_summary")
        errors += sum(_count(count) for count in (summary if isinstance(summary, dict) else {}).values())
        hardware += _count(summary.get("hardware")) if isinstance(summary, dict) else 0
    system = report.get("system_data")
    counters = _group(system if isinstance(system, dict) else {}, "neuron_hw_counters", problems, "system_data")
    devices = counters.get("neuron_devices")
    for device in devices if isinstance(devices, list) else []:
        if isinstance(device, dict):
            hardware += sum(_count(device.get(name)) for name in UNCORRECTABLE)
    cores = total_cores(report.get("neuron_hardware_info"), problems)
    denominator = max(cores, len(busy))
    utilization = sum(busy.values()) / denominator if denominator else None
    return Sample(
        utilization=utilization,
        cores_in_use=len(busy),
        cores_total=cores,
        device_memory_bytes=memory,
        execution_errors=errors,
        runtimes=sum(1 for r in runtimes if isinstance(r, dict)),
        problems=tuple(problems),
        hardware_errors=hardware,
    )


def container_instance(path: str | None) -> str | None:
    """The container instance id (the last part of ``ContainerInstanceARN``) in the ECS container
    metadata file at ``path``, or None while it cannot be read (the agent writes it as the container
    starts, first with ``MetadataFileStatus`` INITIAL, which already names the container instance)."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            arn = json.load(f).get("ContainerInstanceARN")
    except (OSError, ValueError, AttributeError):
        return None
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) and "/" in arn else None


def emf_record(sample: Sample, settings: Settings, timestamp_ms: int, instance: str | None = None) -> dict[str, Any]:
    """The EMF record of one sample: the metrics under ``{ClusterName, UnitPool}``, and with
    ``instance`` (a container instance id) the hardware errors under ``{ClusterName, UnitPool,
    ContainerInstance}`` too."""
    values: dict[str, float | int] = {
        CORES_IN_USE: sample.cores_in_use,
        DEVICE_MEMORY: sample.device_memory_bytes,
        EXECUTION_ERRORS: sample.execution_errors,
        HARDWARE_ERRORS: sample.hardware_errors,
    }
    if sample.utilization is not None:
        values[UTILIZATION] = round(sample.utilization, 3)
    directives: list[dict[str, Any]] = [
        {
            "Namespace": settings.namespace,
            "Dimensions": [list(DIMENSIONS)],
            "Metrics": [{"Name": name, "Unit": UNITS[name]} for name in sorted(values)],
        }
    ]
    if instance:
        directives.append(
            {
                "Namespace": settings.namespace,
                "Dimensions": [[*DIMENSIONS, INSTANCE_DIMENSION]],
                "Metrics": [{"Name": HARDWARE_ERRORS, "Unit": UNITS[HARDWARE_ERRORS]}],
            }
        )
    return {
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": directives},
        "ClusterName": settings.cluster,
        "UnitPool": settings.pool,
        **({INSTANCE_DIMENSION: instance} if instance else {}),
        **values,
        # Properties, not metrics: searchable in CloudWatch Logs Insights.
        "NeuronCoresTotal": sample.cores_total,
        "NeuronRuntimes": sample.runtimes,
    }


def _problem(err: TextIO, message: str) -> None:
    err.write(json.dumps({"level": "warning", "message": message}) + "\n")
    err.flush()


def publish(lines: Iterable[str], settings: Settings, out: TextIO, err: TextIO, clock: Callable[[], float] = time.time) -> int:
    """Print an EMF record for every report in ``lines``; returns how many were printed."""
    printed = 0
    instance: str | None = None
    warned = False
    for line in lines:
        text = line.strip()
        if not text:
            continue
        try:
            report = json.loads(text)
        except ValueError:
            _problem(err, f"neuron-monitor wrote a line that is not JSON: {text[:200]}")
            continue
        if not isinstance(report, dict):
            _problem(err, "neuron-monitor wrote JSON that is not a report object")
            continue
        sample = summarize(report)
        for message in sample.problems:
            _problem(err, message)
        instance = instance or container_instance(settings.metadata_file)
        if instance is None and not warned:
            _problem(err, "no container instance in ECS_CONTAINER_METADATA_FILE: hardware errors are published for the pool only")
            warned = True
        out.write(json.dumps(emf_record(sample, settings, int(clock() * 1000), instance), separators=(",", ":")) + "\n")
        out.flush()
        printed += 1
    return printed


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        settings = Settings.from_environment(os.environ if environ is None else environ)
        settings.check()
    except SettingsError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    if args == ["--check"]:
        return 0
    if args:
        sys.stderr.write(f"error: unexpected arguments {args}; the only one is --check\n")
        return 2

    monitor = subprocess.Popen([settings.binary, "-c", settings.config], stdout=subprocess.PIPE, text=True, bufsize=1)
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        monitor.terminate()

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        assert monitor.stdout is not None
        publish(monitor.stdout, settings, sys.stdout, sys.stderr)
        code = monitor.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stopping:
        return 0
    _problem(sys.stderr, f"neuron-monitor exited with status {code}")
    return code if code > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
