"""The connector benchmark, all in one run (scripts/connector-bench.sh builds and runs it).

Starts a release ``servicetask serve --connector``, runs the Rust side (``connector_bench``
example: ``quality_check`` in process through the runner, and over HTTP from Rust with one and
several clients), then from SpiffWorkflow 3.2.0 runs the same service task (the
``quality_gate`` process, ``servicetask/quality_check``):

- with SpiffWorkflow's own in-process service call (a ``PythonScriptEngine`` whose
  ``call_service`` computes the verdict in Python: no network), and
- with ``ServiceTaskScriptEngine`` over HTTP to the server.

Prints the measurements as JSON and as the Markdown table of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from servicetask_spiff import ServiceTaskScriptEngine

DATA = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data"


class InProcessEngine(PythonScriptEngine):
    """SpiffWorkflow's own way: the service call is a Python function in the process."""

    def call_service(self, task, operation_name="", operation_params=None, **kwargs):
        params = {k: v["value"] for k, v in (operation_params or {}).items()}
        ok = params["quality_score"] >= params.get("min_quality", 0.999)
        return json.dumps({"body": {"quality_ok": ok}, "mimetype": "application/json", "http_status": 200})


class Timed:
    """Wraps an engine's call_service, keeping each call's latency."""

    def __init__(self, engine):
        self.engine = engine
        self.lat = []
        inner = engine.call_service

        def timed(task, **kwargs):
            t = time.perf_counter()
            try:
                return inner(task, **kwargs)
            finally:
                self.lat.append(time.perf_counter() - t)

        engine.call_service = timed


def summary(lat, wall=None):
    """p50/p99 in µs; calls/s over ``wall`` (default: the calls' own time, back to back)."""
    wall = wall if wall is not None else sum(lat)
    lat = sorted(lat)
    pick = lambda q: lat[round((len(lat) - 1) * q)] * 1e6  # noqa: E731
    return {"calls": len(lat), "p50_us": pick(0.5), "p99_us": pick(0.99), "calls_per_s": len(lat) / wall}


def run_workflows(spec, engine, n):
    timed = Timed(engine)
    wf_lat = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        wf = BpmnWorkflow(spec, script_engine=engine)
        for task in wf.get_tasks():
            task.data["score"] = 0.9
        wf.do_engine_steps()
        assert wf.is_completed() and wf.data["verdict"]["body"] == {"quality_ok": True}, wf.data
        wf_lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - start
    return {"call_service": summary(timed.lat), "workflow": summary(wf_lat, wall)}


def start_server(binary):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc = subprocess.Popen(
        [binary, "serve", "--connector", "--bind", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return proc, line.split("listening on ", 1)[1].strip()


def machine():
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server-bin", required=True)
    ap.add_argument("--rust-bench", required=True, help="the connector_bench example binary")
    ap.add_argument("--calls", type=int, default=20000, help="calls per Rust measurement")
    ap.add_argument("--workflows", type=int, default=5000, help="workflows per SpiffWorkflow measurement")
    args = ap.parse_args()

    proc, url = start_server(args.server_bin)
    try:
        rust = json.loads(
            subprocess.run(
                [args.rust_bench, "--calls", str(args.calls), "--url", url, "--concurrency", "8"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(DATA / "quality_gate.bpmn"))
        spec = parser.get_spec("quality_gate")
        run_workflows(spec, InProcessEngine(), 200)  # warm up
        spiff_local = run_workflows(spec, InProcessEngine(), args.workflows)
        http_engine = ServiceTaskScriptEngine([url], send_task_data=True)
        run_workflows(spec, http_engine, 200)
        spiff_http = run_workflows(spec, http_engine, args.workflows)
    finally:
        proc.terminate()
        proc.wait(10)

    result = {
        "machine": machine(),
        "rust_inprocess": rust["inprocess_sequential"],
        "rust_http_sequential": rust["http_sequential"],
        "rust_http_concurrent": rust["http_concurrent"],
        "spiff_inprocess_call": spiff_local["call_service"],
        "spiff_inprocess_workflow": spiff_local["workflow"],
        "spiff_http_call": spiff_http["call_service"],
        "spiff_http_workflow": spiff_http["workflow"],
    }
    print(json.dumps(result, indent=2))
    rows = [
        ("quality_check in process (Rust runner)", result["rust_inprocess"]),
        ("SpiffWorkflow's own in-process call_service", result["spiff_inprocess_call"]),
        ("HTTP from Rust, 1 client", result["rust_http_sequential"]),
        ("HTTP from Rust, 8 clients", result["rust_http_concurrent"]),
        ("ServiceTaskScriptEngine.call_service over HTTP", result["spiff_http_call"]),
        ("whole workflow, in-process call", result["spiff_inprocess_workflow"]),
        ("whole workflow, call over HTTP", result["spiff_http_workflow"]),
    ]
    print("\n| path | calls/s | p50 | p99 |\n| --- | ---: | ---: | ---: |")
    for name, s in rows:
        print(f"| {name} | {s['calls_per_s']:,.0f} | {s['p50_us']:.1f} µs | {s['p99_us']:.1f} µs |")
    added50 = result["spiff_http_call"]["p50_us"] - result["spiff_inprocess_call"]["p50_us"]
    added99 = result["spiff_http_call"]["p99_us"] - result["spiff_inprocess_call"]["p99_us"]
    print(
        f"\nadded per call by HTTP, from SpiffWorkflow: p50 {added50:.1f} µs, p99 {added99:.1f} µs; "
        f"the HTTP call_service costs {result['spiff_http_call']['p50_us'] / result['spiff_inprocess_call']['p50_us']:.1f}x "
        f"SpiffWorkflow's in-process call and {result['spiff_http_call']['p50_us'] / result['rust_inprocess']['p50_us']:.1f}x "
        f"the task in process (p50)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
