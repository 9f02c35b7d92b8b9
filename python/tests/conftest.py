"""Real ``servicetask serve --connector`` processes for the tests.

The binary is ``$SERVICETASK_BIN`` (scripts/connector-e2e.sh builds it and sets it), else
``target/debug/servicetask`` in the repository; a missing binary fails the tests, naming it.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(__file__).resolve().parent / "data"


def servicetask_bin() -> str:
    path = os.environ.get("SERVICETASK_BIN") or str(REPO / "target" / "debug" / "servicetask")
    if not os.access(path, os.X_OK):
        raise RuntimeError(
            f"no servicetask binary at {path}: build it (cargo build -p servicetask-cli) or set SERVICETASK_BIN"
        )
    return path


class Server:
    """One ``servicetask serve --connector`` process on a free port."""

    def __init__(self, *extra: str, env: dict | None = None):
        full_env = dict(os.environ)
        for k in list(full_env):
            if k.startswith("OTEL_"):
                del full_env[k]
        full_env["OTEL_SDK_DISABLED"] = "true"
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [servicetask_bin(), "serve", "--connector", "--bind", "127.0.0.1:0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            text=True,
        )
        self.url = self._wait_for_address()
        # keep draining stderr so a chatty server never blocks on a full pipe
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()

    def _wait_for_address(self) -> str:
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("listening on "):
                return line.split("listening on ", 1)[1].strip()
            if not line and self.proc.poll() is not None:
                break
        self.proc.kill()
        raise RuntimeError(f"servicetask serve --connector did not start: {line!r} {self.proc.stderr.read()}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture
def two_servers():
    a, b = Server(), Server()
    yield a, b
    a.stop()
    b.stop()


def workflow(file_name: str, process_id: str, engine, **data) -> BpmnWorkflow:
    """A workflow of ``process_id`` in ``tests/data/file_name`` with start data."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(DATA / file_name))
    wf = BpmnWorkflow(parser.get_spec(process_id), script_engine=engine)
    wf.task_tree.data.update(data)
    for t in wf.get_tasks():
        t.data.update(data)
    return wf
