"""Runs the quality gate in SpiffWorkflow against servicetask servers, for the end-to-end test
(crates/cli/tests/connector_spiff.rs, run by scripts/connector-e2e.sh).

Each run is one workflow under a root span ``workflow quality_gate`` (OpenTelemetry SDK,
exported over OTLP/gRPC to ``--otlp``); its service task's call is a client span whose context
goes to the server as ``traceparent``. Prints ``progress N`` after each run (the test kills a
server when it sees one), then one JSON line ``result {...}`` with every run's outcome, the
server that answered each call and the trace id of each run.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from servicetask_spiff import ConnectorClient, ServiceTaskScriptEngine

DATA = pathlib.Path(__file__).resolve().parent / "data"


class RecordingClient(ConnectorClient):
    """Remembers which server answered each call (per thread: one workflow at a time)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last = threading.local()

    def call(self, operator, payload, **kwargs):
        resp = super().call(operator, payload, **kwargs)
        self.last.url = resp.url
        return resp


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", required=True, help="comma-separated server URLs")
    ap.add_argument("--otlp", required=True, help="OTLP/gRPC endpoint")
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()

    provider = TracerProvider(resource=Resource.create({"service.name": "spiffworkflow-e2e"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=args.otlp, insecure=True)))
    trace.set_tracer_provider(provider)
    tracer = trace.get_tracer("e2e_driver")

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(DATA / "quality_gate.bpmn"))
    spec = parser.get_spec("quality_gate")
    client = RecordingClient(args.urls.split(","), cooldown=60, timeout=10)
    engine = ServiceTaskScriptEngine(client=client)
    lock = threading.Lock()
    done = [0]

    def run(i: int) -> dict:
        score = 0.9 if i % 2 else 0.1
        with tracer.start_as_current_span("workflow quality_gate") as root:
            wf = BpmnWorkflow(spec, script_engine=engine)
            for t in wf.get_tasks():
                t.data["score"] = score
            error = None
            try:
                wf.do_engine_steps()
            except Exception as e:  # reported, and the test fails on it
                error = f"{type(e).__name__}: {e}"
            out = {
                "i": i,
                "score": score,
                "completed": wf.is_completed(),
                "error": error,
                "outcome": wf.data.get("outcome"),
                "verdict": wf.data.get("verdict"),
                "low_error": wf.data.get("low_error"),
                "server": getattr(client.last, "url", None),
                "trace_id": format(root.get_span_context().trace_id, "032x"),
            }
        with lock:
            done[0] += 1
            print(f"progress {done[0]}", flush=True)
        return out

    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        runs = list(pool.map(run, range(args.runs)))
    provider.force_flush(10_000)
    provider.shutdown()
    print("result " + json.dumps({"runs": runs}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
