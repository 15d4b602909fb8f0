"""model-images/neuron-monitor: neuron-monitor reports in, CloudWatch EMF records out."""

from __future__ import annotations

import importlib.util
import io
import json
import re
import stat
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from infra.catalog.versions import default_serving_image
from infra.config import MODEL_IMAGES
from infra.metrics import KNOWN_METRICS, UNITS

FOLDER = MODEL_IMAGES / "neuron-monitor"
_spec = importlib.util.spec_from_file_location("neuron_metrics", FOLDER / "neuron_metrics.py")
assert _spec is not None and _spec.loader is not None
nm = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = nm  # dataclasses look their module up while the class is built
_spec.loader.exec_module(nm)

SETTINGS = nm.Settings(cluster="inference-prod-units", pool="trainium2", namespace=UNITS, binary="/bin/true", config="/dev/null")
ENVIRONMENT = {"CLUSTER_NAME": "inference-prod-units", "UNIT_POOL": "trainium2", "METRICS_NAMESPACE": UNITS}
# Every unit CloudWatch accepts for a metric: PutMetricData's StandardUnit, from botocore's service model.
CLOUDWATCH_UNITS = set(botocore.session.get_session().get_service_model("cloudwatch").shape_for("StandardUnit").enum)


def trn2_hardware(**changes: Any) -> dict[str, Any]:
    """neuron_hardware_info of a trn2.48xlarge at logical NeuronCore config 2: 16 devices x 4 cores."""
    return {
        "neuron_device_type": "trainium2",
        "neuron_device_count": 16,
        "neuroncore_per_device_count": 4,
        "logical_neuroncore_config": 2,
        "error": "",
        **changes,
    }


def runtime(cores: dict[int, float], *, device_bytes: int = 0, errors: dict[str, Any] | None = None, tag: str = "4242") -> dict[str, Any]:
    """One neuron_runtime_data entry in neuron-monitor's output shape."""
    return {
        "pid": 4242,
        "neuron_runtime_tag": tag,
        "error": "",
        "report": {
            "neuroncore_counters": {
                "period": 60.0,
                "neuroncores_in_use": {str(i): {"neuroncore_utilization": u, "flops": 0} for i, u in cores.items()},
                "error": "",
            },
            "memory_used": {"period": 60.0, "neuron_runtime_used_bytes": {"host": 1, "neuron_device": device_bytes}, "error": ""},
            "execution_stats": {"period": 60.0, "error_summary": errors or {"generic": 0, "hardware": 0}, "error": ""},
        },
    }


def hw_counters(*devices: dict[str, int], error: str = "") -> dict[str, Any]:
    """system_data.neuron_hw_counters in the neuron-monitor user guide's shape: per device ECC counts."""
    zero = {"mem_ecc_corrected": 0, "mem_ecc_uncorrected": 0, "sram_ecc_uncorrected": 0, "sram_ecc_corrected": 0}
    return {
        "period": 60.0,
        "neuron_devices": [{"neuron_device_index": i, **zero, **d} for i, d in enumerate(devices)],
        "error": error,
    }


def report(*runtimes: dict[str, Any], hardware: dict[str, Any] | None = None, counters: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "neuron_runtime_data": list(runtimes),
        "system_data": {} if counters is None else {"neuron_hw_counters": counters},
        "instance_info": {"instance_id": "", "error": "no IMDS"},
        "neuron_hardware_info": trn2_hardware() if hardware is None else hardware,
    }


# -- summarize ---------------------------------------------------------------------------------


def test_a_model_on_every_core_averages_its_cores() -> None:
    sample = nm.summarize(report(runtime({i: 50.0 + (i % 2) * 20 for i in range(64)}, device_bytes=7 * 2**30)))
    assert sample.cores_total == 64 and sample.cores_in_use == 64
    assert sample.utilization == pytest.approx(60.0)
    assert sample.device_memory_bytes == 7 * 2**30
    assert sample.problems == ()


def test_cores_nobody_holds_count_as_idle() -> None:
    sample = nm.summarize(report(runtime({i: 80.0 for i in range(32)})))
    assert (sample.cores_in_use, sample.cores_total) == (32, 64)
    assert sample.utilization == pytest.approx(40.0), "half the paid-for cores at 80 % is 40 % of the instance"


def test_an_instance_without_a_neuron_application_is_idle_not_unknown() -> None:
    sample = nm.summarize(report())
    assert (sample.utilization, sample.cores_in_use, sample.runtimes) == (0.0, 0, 0)


def test_an_unreadable_instance_reports_no_utilization() -> None:
    sample = nm.summarize(report(hardware={"error": "neuron driver not loaded"}))
    assert sample.utilization is None and sample.cores_total == 0
    assert sample.problems == ("neuron_hardware_info: neuron driver not loaded",)
    record = nm.emf_record(sample, SETTINGS, 0)
    assert "NeuronCoreUtilization" not in record
    assert "NeuronCoreUtilization" not in {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}


def test_busy_cores_still_count_when_the_hardware_is_unknown() -> None:
    sample = nm.summarize(report(runtime({0: 30.0, 1: 50.0}), hardware={}))
    assert (sample.cores_total, sample.utilization) == (0, pytest.approx(40.0))


def test_runtimes_add_up_memory_and_errors_and_share_no_core() -> None:
    first = runtime({0: 100.0, 1: 100.0}, device_bytes=10, errors={"generic": 1, "hardware": 2, "numerical": 0}, tag="a")
    second = runtime({2: 40.0, 3: 0.0}, device_bytes=5, errors={"transient": 3}, tag="b")
    sample = nm.summarize(report(first, second))
    assert (sample.cores_in_use, sample.runtimes, sample.device_memory_bytes, sample.execution_errors) == (4, 2, 15, 6)
    assert sample.utilization == pytest.approx(240.0 / 64)


def test_odd_values_are_ignored_or_clamped() -> None:
    odd = runtime({0: 250.0, 1: -3.0}, device_bytes=-1, errors={"generic": True, "model": "7", "runtime": -2, "hardware": 1})
    odd["report"]["neuroncore_counters"]["neuroncores_in_use"]["2"] = {"neuroncore_utilization": "busy"}
    odd["report"]["neuroncore_counters"]["neuroncores_in_use"]["3"] = None
    sample = nm.summarize(report(odd, "not a runtime"))  # type: ignore[arg-type]
    assert sample.cores_in_use == 2 and sample.utilization == pytest.approx(100.0 / 64)
    assert (sample.device_memory_bytes, sample.execution_errors, sample.runtimes) == (0, 1, 1)


def test_metric_group_and_runtime_errors_are_reported() -> None:
    broken = runtime({0: 10.0}, tag="vllm")
    broken["error"] = "runtime went away"
    broken["report"]["memory_used"]["error"] = "cannot read memory"
    sample = nm.summarize(report(broken))
    assert sample.problems == ("runtime vllm: runtime went away", "runtime vllm memory_used: cannot read memory")
    assert sample.cores_in_use == 1, "what the report still holds is used"


# -- EMF -----------------------------------------------------------------------------------------


def _check_emf(record: dict[str, Any]) -> set[str]:
    """The rules CloudWatch applies to an EMF record; returns the metric names it carries."""
    directive = record["_aws"]
    assert isinstance(directive["Timestamp"], int)
    names = set()
    for metrics_directive in directive["CloudWatchMetrics"]:
        assert metrics_directive["Namespace"] == UNITS
        for dimension_set in metrics_directive["Dimensions"]:
            assert all(isinstance(record[key], str) and record[key] for key in dimension_set)
        for metric in metrics_directive["Metrics"]:
            assert metric["Unit"] in CLOUDWATCH_UNITS
            value = record[metric["Name"]]
            assert isinstance(value, (int, float)) and not isinstance(value, bool)
            names.add(metric["Name"])
    return names


def test_records_are_valid_emf_with_the_pinned_names_and_dimensions() -> None:
    record = nm.emf_record(nm.summarize(report(runtime({0: 12.3456}))), SETTINGS, 1_795_000_000_000)
    names = _check_emf(record)
    assert (
        names
        == set(nm.UNITS)
        == {"NeuronCoreUtilization", "NeuronCoresInUse", "NeuronDeviceMemoryUsed", "NeuronExecutionErrors", "NeuronHardwareErrors"}
    )
    assert names <= KNOWN_METRICS[UNITS], "the dashboard may only draw what the daemon publishes"
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["ClusterName", "UnitPool"]]
    assert (record["ClusterName"], record["UnitPool"]) == ("inference-prod-units", "trainium2")
    assert record["NeuronCoreUtilization"] == 0.193
    assert (record["NeuronCoresTotal"], record["NeuronRuntimes"]) == (64, 1)


def test_uncorrectable_ecc_errors_and_hardware_execution_errors_count_as_hardware_errors() -> None:
    """neuron-monitor user guide: neuron_hw_counters per device (mem_/sram_ecc_corrected and
    _uncorrected); error_summary's ``hardware`` kind. The Neuron runtime troubleshooting guide asks
    to replace an instance with uncorrectable SRAM or HBM errors; corrected ones are routine."""
    counters = hw_counters({"mem_ecc_corrected": 40, "sram_ecc_corrected": 7}, {"mem_ecc_uncorrected": 1}, {"sram_ecc_uncorrected": 2})
    sample = nm.summarize(report(runtime({0: 10.0}, errors={"hardware": 1, "transient": 5}), counters=counters))
    assert (sample.hardware_errors, sample.execution_errors) == (4, 6)
    assert nm.summarize(report(counters=hw_counters({"mem_ecc_corrected": 40}))).hardware_errors == 0
    broken = nm.summarize(report(counters=hw_counters(error="cannot read the device counters")))
    assert broken.problems == ("system_data neuron_hw_counters: cannot read the device counters",)


def test_hardware_errors_are_published_per_container_instance_when_it_is_known() -> None:
    sample = nm.summarize(report(counters=hw_counters({"sram_ecc_uncorrected": 1})))
    record = nm.emf_record(sample, SETTINGS, 0, "0123456789abcdef0123456789abcdef")
    assert _check_emf(record) >= {"NeuronHardwareErrors"}
    pool, instance = record["_aws"]["CloudWatchMetrics"]
    assert "NeuronHardwareErrors" in {m["Name"] for m in pool["Metrics"]}
    assert instance["Dimensions"] == [["ClusterName", "UnitPool", "ContainerInstance"]]
    assert instance["Metrics"] == [{"Name": "NeuronHardwareErrors", "Unit": "Count"}], "only this metric per instance"
    assert record["ContainerInstance"] == "0123456789abcdef0123456789abcdef" and record["NeuronHardwareErrors"] == 1
    assert len(nm.emf_record(sample, SETTINGS, 0)["_aws"]["CloudWatchMetrics"]) == 1


def test_the_container_instance_comes_from_the_ecs_metadata_file(tmp_path: Path) -> None:
    """Amazon ECS Developer Guide, "Amazon ECS container metadata file format": ContainerInstanceARN,
    written from the container's creation on (MetadataFileStatus INITIAL, then READY)."""
    path = tmp_path / "ecs-container-metadata.json"
    arn = "arn:aws:ecs:us-east-2:123456789012:container-instance/inference-prod-units/0123456789abcdef0123456789abcdef"
    path.write_text(json.dumps({"Cluster": "inference-prod-units", "ContainerInstanceARN": arn, "MetadataFileStatus": "INITIAL"}))
    assert nm.container_instance(str(path)) == "0123456789abcdef0123456789abcdef"
    assert nm.container_instance(str(tmp_path / "missing.json")) is None
    path.write_text("{not json")
    assert nm.container_instance(str(path)) is None
    assert nm.container_instance(None) is None


# -- publish and main ----------------------------------------------------------------------------


def test_publish_writes_one_line_per_report_and_skips_what_is_not_a_report() -> None:
    out, err = io.StringIO(), io.StringIO()
    lines = [json.dumps(report()) + "\n", "\n", "neuron-monitor: starting\n", "[1, 2]\n", json.dumps(report(runtime({0: 5.0})))]
    printed = nm.publish(lines, SETTINGS, out, err, clock=lambda: 1_795_000_000.5)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert printed == len(records) == 2
    assert [r["NeuronCoresInUse"] for r in records] == [0, 1]
    assert {r["_aws"]["Timestamp"] for r in records} == {1_795_000_000_500}
    problems = [json.loads(line)["message"] for line in err.getvalue().splitlines()]
    assert problems == [
        "no container instance in ECS_CONTAINER_METADATA_FILE: hardware errors are published for the pool only",
        "neuron-monitor wrote a line that is not JSON: neuron-monitor: starting",
        "neuron-monitor wrote JSON that is not a report object",
    ]


def test_publish_names_the_container_instance_once_the_metadata_file_has_it(tmp_path: Path) -> None:
    path = tmp_path / "ecs-container-metadata.json"
    settings = nm.Settings(**{**SETTINGS.__dict__, "metadata_file": str(path)})
    out, err = io.StringIO(), io.StringIO()

    def lines() -> Any:
        yield json.dumps(report())
        path.write_text(json.dumps({"ContainerInstanceARN": "arn:aws:ecs:us-east-2:123456789012:container-instance/c/abc"}))
        yield json.dumps(report())

    assert nm.publish(lines(), settings, out, err) == 2
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r.get("ContainerInstance") for r in records] == [None, "abc"]


def _fake_monitor(tmp_path: Path, reports: list[dict[str, Any]], exit_code: int) -> dict[str, str]:
    """An executable standing in for neuron-monitor: prints ``reports`` and exits with ``exit_code``."""
    data = tmp_path / "reports.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in reports))
    binary = tmp_path / "neuron-monitor"
    binary.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "assert sys.argv[1:3] == ['-c', " + repr(str(FOLDER / "monitor.json")) + "], sys.argv\n"
        f"sys.stdout.write(open({str(data)!r}).read())\n"
        f"sys.exit({exit_code})\n"
    )
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return {**ENVIRONMENT, "NEURON_MONITOR": str(binary), "NEURON_MONITOR_CONFIG": str(FOLDER / "monitor.json")}


@pytest.mark.parametrize(("monitor_exit", "expected"), [(0, 1), (3, 3)])
def test_main_runs_neuron_monitor_and_fails_when_it_stops(tmp_path: Path, capsys, monitor_exit: int, expected: int) -> None:
    environ = _fake_monitor(tmp_path, [report(runtime({0: 90.0})), report()], monitor_exit)
    assert nm.main([], environ) == expected
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["NeuronCoresInUse"] for r in records] == [1, 0]
    assert f"neuron-monitor exited with status {monitor_exit}" in err


def test_main_refuses_missing_settings_with_one_error_line(capsys) -> None:
    assert nm.main([], {"CLUSTER_NAME": "c"}) == 2
    assert capsys.readouterr().err == "error: UNIT_POOL, METRICS_NAMESPACE not set; the task definition sets them\n"


def test_check_accepts_the_shipped_configuration_and_refuses_a_broken_one(tmp_path: Path, capsys) -> None:
    environ = _fake_monitor(tmp_path, [], 0)
    assert nm.main(["--check"], environ) == 0
    broken = tmp_path / "broken.json"
    broken.write_text('{"neuron_runtimes": []}')
    assert nm.main(["--check"], {**environ, "NEURON_MONITOR_CONFIG": str(broken)}) == 2
    assert nm.main(["--check"], {**environ, "NEURON_MONITOR": str(tmp_path / "missing")}) == 2
    assert nm.main(["--verbose"], environ) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)


# -- the image -----------------------------------------------------------------------------------


def test_the_shipped_configuration_collects_what_the_script_reads() -> None:
    config = json.loads((FOLDER / "monitor.json").read_text())
    assert config["period"] == "60s", "one record a minute: CloudWatch's standard resolution"
    (runtimes,) = config["neuron_runtimes"]
    assert runtimes["tag_filter"] == ".*"
    assert {m["type"] for m in runtimes["metrics"]} == {"neuroncore_counters", "memory_used", "execution_stats"}
    assert {"type": "neuron_hw_counters"} in config["system_metrics"], "the ECC counts hardware errors come from"


def _arg(dockerfile: Path, name: str) -> str:
    match = re.search(rf"^ARG {name}=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    assert match, (dockerfile, name)
    return match.group(1)


def test_the_image_shares_the_members_base_and_installs_where_the_script_looks() -> None:
    dockerfile = FOLDER / "Dockerfile"
    tag = _arg(dockerfile, "NEURON_DLC_TAG")
    assert (
        tag
        == _arg(MODEL_IMAGES / "neuron-unit" / "Dockerfile", "NEURON_DLC_TAG")
        == _arg(MODEL_IMAGES / "vllm-neuron" / "Dockerfile", "NEURON_DLC_TAG")
    )
    assert default_serving_image("neuron", "trn2", multi_node=False).endswith(f":{tag}")
    text = dockerfile.read_text()
    assert f"COPY monitor.json {nm.DEFAULT_CONFIG}" in text
    assert "COPY --chmod=0755 neuron_metrics.py /usr/local/bin/neuron_metrics.py" in text
    assert f"NEURON_MONITOR={nm.DEFAULT_BINARY}" in text
    assert 'ENTRYPOINT ["python3", "/usr/local/bin/neuron_metrics.py"]' in text
    assert "neuron_metrics.py --check" in text, "the build fails when the DLC lacks neuron-monitor"
