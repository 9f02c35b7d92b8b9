"""SpiffWorkflow's throughput on the same process as our engine benchmark.

Usage: python spiff_bench.py ten_tasks.bpmn [seconds]
Prints one line: `spiffworkflow <version> instances_per_second=<n> instances=<n>`.
"""
import sys
import time
from importlib import metadata

from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState


def run_instance(spec):
    """One instance: SpiffWorkflow starts each service task and waits; answering it (the no-op
    service call) is completing the started task, as a worker would."""
    wf = BpmnWorkflow(spec)
    wf.do_engine_steps()
    while not wf.is_completed():
        started = wf.get_tasks(state=TaskState.STARTED)
        if not started:
            raise RuntimeError("the workflow is stuck")
        for t in started:
            t.complete()
        wf.do_engine_steps()
    return wf


def main():
    path = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    parser = BpmnParser()
    parser.add_bpmn_file(path)
    spec = parser.get_spec("ten_tasks")
    # Warm up, and check that the process really completes with 10 tasks done.
    wf = run_instance(spec)
    done = [t.task_spec.name for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.name.startswith("task_")]
    assert len(done) == 10, done
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        run_instance(spec)
        n += 1
    elapsed = time.perf_counter() - start
    print(f"spiffworkflow {metadata.version('SpiffWorkflow')} instances_per_second={n / elapsed:.1f} instances={n}")


if __name__ == "__main__":
    main()
