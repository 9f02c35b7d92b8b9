"""ServiceTaskScriptEngine against real servicetask servers, run by real SpiffWorkflow."""

from __future__ import annotations

import re
import threading

import pytest
from SpiffWorkflow.util.task import TaskState

from servicetask_spiff import (
    UNAVAILABLE_CODE,
    ConnectorClient,
    ServiceTaskError,
    ServiceTaskScriptEngine,
    new_traceparent,
)
from servicetask_spiff.tracing import TRACEPARENT_RE, call_span

from conftest import Server, workflow


def test_the_command_list_describes_every_task_from_its_input_schema(server):
    commands = {c["id"]: c for c in ConnectorClient(server.url).commands()}
    check = commands["servicetask/quality_check"]
    params = {p["id"]: p for p in check["parameters"]}
    assert params["quality_score"]["required"] is True
    assert params["quality_score"]["type"] == "any"  # a number: the proxy's words are str/int/bool
    assert params["min_quality"]["required"] is False
    assert params["min_quality"]["default"] == 0.999
    assert params["outlier_count"]["type"] == "int"
    notify = {p["id"]: p for p in commands["servicetask/notify"]["parameters"]}
    assert notify["api_token"]["sensitive"] is True
    assert notify["message"]["type"] == "str"


def test_outputs_land_in_the_result_variable(server):
    wf = workflow("quality_gate.bpmn", "quality_gate", ServiceTaskScriptEngine(server.url), score=0.9)
    wf.do_engine_steps()
    assert wf.is_completed()
    assert wf.data["outcome"] == "passed"
    verdict = wf.data["verdict"]
    assert verdict["body"] == {"quality_ok": True}
    assert verdict["http_status"] == 200
    assert verdict["mimetype"] == "application/json"
    assert verdict["operator_identifier"] == "servicetask/quality_check"


def test_a_bpmn_error_is_caught_by_the_error_boundary(server):
    wf = workflow("quality_gate.bpmn", "quality_gate", ServiceTaskScriptEngine(server.url), score=0.1)
    wf.do_engine_steps()
    assert wf.is_completed()
    assert wf.data["outcome"] == "rejected"
    low = wf.data["low_error"]
    assert low["error_code"] == "QUALITY_LOW"
    assert low["error_class"] == "business"
    assert low["variables"] == {"rejected_quality": 0.1}
    assert "below" in low["message"]
    completed = [t.task_spec.bpmn_id for t in wf.get_tasks() if t.has_state(TaskState.COMPLETED) and t.task_spec.bpmn_id]
    assert "rejected" in completed and "passed" not in completed


def test_an_uncaught_bpmn_error_raises_with_its_code(server):
    wf = workflow("no_boundary.bpmn", "no_boundary", ServiceTaskScriptEngine(server.url), score=0.1)
    with pytest.raises(ServiceTaskError) as caught:
        wf.do_engine_steps()
    assert caught.value.error_code == "QUALITY_LOW"
    assert caught.value.error_class == "business"


def test_a_failure_carries_its_class_and_recovery_hint(server):
    # quality_score is required; a string does not fit the task's input
    wf = workflow("no_boundary.bpmn", "no_boundary", ServiceTaskScriptEngine(server.url), score="high")
    with pytest.raises(ServiceTaskError) as caught:
        wf.do_engine_steps()
    e = caught.value
    assert e.error_code == "ServiceTaskValidationError"
    assert e.error_class == "validation"
    assert "schema" in e.recovery_hint
    assert e.payload["status_code"] == 400
    assert e.payload["retryable"] is False
    assert "high" not in e.payload["message"]  # the input's value is never echoed


def test_calls_are_spread_over_the_servers(two_servers):
    a, b = two_servers
    client = ConnectorClient([a.url, b.url])
    seen = [client.call("servicetask/quality_check", {"quality_score": 1.0}).url for _ in range(10)]
    assert seen.count(a.url) == 5 and seen.count(b.url) == 5


def test_a_dead_server_is_skipped_and_no_call_is_lost(two_servers):
    a, b = two_servers
    engine = ServiceTaskScriptEngine([a.url, b.url], cooldown=30)
    outcomes = []
    for i in range(20):
        if i == 7:
            a.kill()
        wf = workflow("quality_gate.bpmn", "quality_gate", engine, score=0.9 if i % 2 else 0.1)
        wf.do_engine_steps()
        assert wf.is_completed()
        outcomes.append(wf.data["outcome"])
    assert outcomes == ["rejected", "passed"] * 10


def test_no_server_at_all_is_an_error_a_boundary_could_catch():
    dead = Server()
    url = dead.url
    dead.kill()
    engine = ServiceTaskScriptEngine([url], connect_timeout=1, rounds=1)
    wf = workflow("no_boundary.bpmn", "no_boundary", engine, score=0.9)
    with pytest.raises(ServiceTaskError) as caught:
        wf.do_engine_steps()
    assert caught.value.error_code == UNAVAILABLE_CODE
    assert url in caught.value.payload["message"]


def test_the_token_is_required_when_the_server_has_one():
    s = Server("--api-token", "s3cret-token")
    try:
        bare = ConnectorClient(s.url).call("servicetask/quality_check", {"quality_score": 1.0})
        assert bare.status == 401 and bare.error["error_code"] == "unauthorized"
        assert "s3cret-token" not in str(bare.body)
        ok = ConnectorClient(s.url, api_token="s3cret-token").call("servicetask/quality_check", {"quality_score": 1.0})
        assert ok.status == 200 and ok.body["command_response"]["body"] == {"quality_ok": True}
    finally:
        s.stop()


def test_an_unknown_command_is_not_found(server):
    resp = ConnectorClient(server.url).call("servicetask/nope", {})
    assert resp.status == 404
    assert resp.error["error_code"] == "command_not_found"


def test_generated_traceparents_share_the_workflows_trace():
    class Wf:  # stands for a top workflow (weak-referenceable)
        pass

    wf = Wf()
    # without an OpenTelemetry SDK configured the API records nothing: a generated context
    with call_span("op", wf) as one, call_span("op", wf) as two:
        a, b = TRACEPARENT_RE.match(one.traceparent), TRACEPARENT_RE.match(two.traceparent)
    assert a and b
    assert a.group(1) == b.group(1) and a.group(2) != b.group(2)
    assert re.match(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", new_traceparent())


def test_a_server_killed_during_a_call_has_the_call_sent_again_with_the_same_key(two_servers, tmp_path):
    a, b = two_servers
    ledger = tmp_path / "ledger.txt"
    client = ConnectorClient([a.url, b.url], cooldown=30)
    engine = ServiceTaskScriptEngine(client=client)
    wf = workflow("ledger.bpmn", "ledger", engine, ledger_path=str(ledger), delay_ms=800)
    # the first call of a fresh client goes to the first server; kill it while the task sleeps
    killer = threading.Timer(0.3, a.kill)
    killer.start()
    wf.do_engine_steps()
    killer.join()
    assert a.proc.returncode is not None, "the first server was killed during the call"
    assert wf.is_completed()
    key = wf.data["entry"]["body"]["key"]
    wf_id = str(wf.task_tree.id)
    assert key.startswith(wf_id + "/"), key  # spiff__process_instance_id / spiff__task_id
    # the killed server died before appending; the other appended the same key once
    assert ledger.read_text() == key + "\n"


def test_at_most_once_raises_instead_of_sending_again(two_servers, tmp_path):
    a, b = two_servers
    ledger = tmp_path / "ledger.txt"
    client = ConnectorClient([a.url, b.url], resend_after_send=False)
    engine = ServiceTaskScriptEngine(client=client)
    wf = workflow("ledger.bpmn", "ledger", engine, ledger_path=str(ledger), delay_ms=800)
    killer = threading.Timer(0.3, a.kill)
    killer.start()
    with pytest.raises(ServiceTaskError) as caught:
        wf.do_engine_steps()
    killer.join()
    assert caught.value.error_code == UNAVAILABLE_CODE
    assert "not sent again" in caught.value.payload["message"]
    assert not ledger.exists()


def test_bad_configuration_is_refused_naming_what_is_wrong():
    with pytest.raises(ValueError, match="not an http"):
        ConnectorClient("ftp://127.0.0.1:1")
    with pytest.raises(ValueError, match="at least one"):
        ConnectorClient([])
    with pytest.raises(ValueError, match="timeouts"):
        ConnectorClient("http://127.0.0.1:1", timeout=0)
    with pytest.raises(ValueError, match="rounds"):
        ConnectorClient("http://127.0.0.1:1", rounds=0)
    with pytest.raises(ValueError, match="urls or a client"):
        ServiceTaskScriptEngine()
