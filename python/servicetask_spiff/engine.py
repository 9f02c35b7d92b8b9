"""A SpiffWorkflow script engine whose service tasks run on servicetask servers.

``spiffworkflow:serviceTaskOperator`` tasks (parsed by ``SpiffBpmnParser``) call
``call_service``; here that is one call of the connector protocol, as the SpiffArena backend
makes it, so a process written for SpiffArena runs unchanged:

- the task's result variable gets the answer's ``command_response`` (``body``, ``mimetype``,
  ``http_status``) plus ``operator_identifier``;
- an answer carrying an ``error`` is thrown as a BPMN error (then an escalation) with its
  ``error_code``, so the boundary event that catches that code takes over, with the error as
  its payload (``spiffworkflow:variableName`` on the ``bpmn:error`` names the variable);
  nothing catching it, ``ServiceTaskError`` (a ``WorkflowTaskException``) is raised, with the
  code, the error class and the recovery hint.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Sequence

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition as BpmnErrorEventDefinition,
    EscalationEventDefinition as BpmnEscalationEventDefinition,
)
from SpiffWorkflow.spiff.specs.event_definitions import (
    ErrorEventDefinition as SpiffErrorEventDefinition,
    EscalationEventDefinition as SpiffEscalationEventDefinition,
)
from SpiffWorkflow.util.task import TaskState

from .client import ConnectorClient, ConnectorUnavailable
from .tracing import call_span

try:
    from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry
except ImportError:  # pragma: no cover - older SpiffWorkflow
    DefaultRegistry = None

__all__ = ["ServiceTaskScriptEngine", "ServiceTaskError", "UNAVAILABLE_CODE"]

#: The error code of a call no server could answer (catchable like any other).
UNAVAILABLE_CODE = "ServiceTaskUnavailableError"

# the event definitions a boundary may use, Spiff's and plain BPMN's (event definitions match
# by class), errors before escalations, as the SpiffArena backend tries them
_CATCHABLE = (
    SpiffErrorEventDefinition,
    BpmnErrorEventDefinition,
    SpiffEscalationEventDefinition,
    BpmnEscalationEventDefinition,
)


class ServiceTaskError(WorkflowTaskException):
    """A service call's error that no boundary event caught.

    ``error_code`` is what a boundary would have matched; ``error_class`` and
    ``recovery_hint`` say what kind of failure it was and what to do (servicetask's classes:
    ``timeout``, ``validation``, ``business`` for a BPMN error, ...); ``payload`` is the whole
    error as the server sent it.
    """

    def __init__(self, task: Any, error: Dict[str, Any]):
        self.error_code = str(error.get("error_code"))
        self.error_class = error.get("error_class")
        self.recovery_hint = error.get("recovery_hint")
        self.payload = error
        message = (
            f"Received error code '{self.error_code}' from service "
            f"'{error.get('operator_identifier')}': {error.get('message')}"
        )
        super().__init__(message, task=task)
        if self.recovery_hint:
            self.add_note(f"Recovery hint: {self.recovery_hint}")


class ServiceTaskScriptEngine(PythonScriptEngine):
    """``PythonScriptEngine`` calling servicetask servers for service tasks.

    :param urls: the servers' base URLs (calls are spread over them; one that dies is skipped)
    :param client: a ready ``ConnectorClient`` instead of ``urls`` and ``client_options``
    :param environment: the script environment, as for ``PythonScriptEngine``
    :param send_task_data: send the task's data as ``spiff__task_data`` (the task sees them as
        its process variables); ``False`` sends only the parameters
    :param client_options: passed to ``ConnectorClient`` (``timeout``, ``api_token``, ...)

    Switching a SpiffWorkflow program over is one line::

        workflow = BpmnWorkflow(spec, script_engine=ServiceTaskScriptEngine(["http://127.0.0.1:8080"]))
    """

    def __init__(
        self,
        urls: Optional[Sequence[str] | str] = None,
        *,
        client: Optional[ConnectorClient] = None,
        environment: Any = None,
        send_task_data: bool = True,
        **client_options: Any,
    ):
        super().__init__(environment=environment)
        if client is None:
            if urls is None:
                raise ValueError("ServiceTaskScriptEngine needs server urls or a client")
            client = ConnectorClient(urls, **client_options)
        self.client = client
        self.send_task_data = send_task_data
        self._registry = DefaultRegistry() if DefaultRegistry is not None else None

    def call_service(self, task: Any, operation_name: str = "", operation_params: Optional[Dict[str, Any]] = None, **kwargs: Any) -> str:
        params = {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in (operation_params or {}).items()}
        payload = self._json_safe(params)
        top = task.workflow.top_workflow
        payload["spiff__task_id"] = str(task.id)
        payload["spiff__process_instance_id"] = str(top.task_tree.id)
        payload["spiff__process_id"] = task.workflow.spec.name
        payload["spiff__element_id"] = task.task_spec.bpmn_id
        if self.send_task_data:
            payload["spiff__task_data"] = self._json_safe(task.data)
        attributes = {"spiff.operator": operation_name, "bpmn.element.id": task.task_spec.bpmn_id or ""}
        with call_span(operation_name, top, attributes) as span:
            try:
                resp = self.client.call(
                    operation_name,
                    payload,
                    traceparent=span.traceparent,
                    tracestate=span.headers.get("tracestate"),
                )
            except ConnectorUnavailable as e:
                error = {
                    "error_code": UNAVAILABLE_CODE,
                    "message": str(e),
                    "error_class": "network",
                    "recovery_hint": "start a servicetask server at one of the URLs given, or give the engine more URLs",
                    "status_code": 503,
                }
                span.record_error(UNAVAILABLE_CODE, str(e))
                return self._throw(task, operation_name, error, {})
            command_response = resp.body.get("command_response")
            if not isinstance(command_response, dict):
                command_response = {}
            result = dict(command_response)
            result["operator_identifier"] = operation_name
            if resp.error is not None:
                span.record_error(str(resp.error["error_code"]), str(resp.error.get("message")))
                error = dict(resp.error)
                error["status_code"] = resp.status
                return self._throw(task, operation_name, error, result)
            if resp.status >= 300 or "body" not in command_response:
                error = {
                    "error_code": "ServiceTaskOperatorReturnedBadStatusError",
                    "message": f"{resp.url} answered HTTP {resp.status} without a command response",
                    "status_code": resp.status,
                }
                span.record_error(error["error_code"], error["message"])
                return self._throw(task, operation_name, error, result)
            return json.dumps(result)

    def _throw(self, task: Any, operator: str, error: Dict[str, Any], result: Dict[str, Any]) -> str:
        """Throws ``error`` to the boundary catching its code; raises when none does."""
        error["operator_identifier"] = operator
        code = str(error["error_code"])
        workflow = task.workflow
        top = workflow.top_workflow
        for cls in _CATCHABLE:
            definition = cls(name=code, code=code)
            event = BpmnEvent(definition, payload=error, target=workflow)
            catchers = workflow.get_tasks(catches_event=event, state=TaskState.NOT_FINISHED_MASK)
            if not catchers:
                event = BpmnEvent(definition, payload=error)
                catchers = top.get_tasks(catches_event=event, state=TaskState.NOT_FINISHED_MASK)
            if catchers:
                top.catch(event)
                # the service task itself completes (its result variable holds the answer);
                # the boundary's path is the one that goes on
                return json.dumps(result or {"error": error})
        raise ServiceTaskError(task, error)

    def _json_safe(self, value: Any) -> Any:
        if self._registry is not None:
            value = self._registry.convert(value)
        return json.loads(json.dumps(value, default=str))
