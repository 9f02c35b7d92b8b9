"""servicetask tasks as SpiffWorkflow service tasks, over the SpiffArena connector protocol.

``ServiceTaskScriptEngine`` is a SpiffWorkflow ``PythonScriptEngine`` whose service tasks
(``spiffworkflow:serviceTaskOperator``) are answered by ``servicetask serve`` (or ``servicetask
serve --connector``) servers: calls spread over several servers and fail over when one dies,
carry the W3C trace context, and a BPMN error from a task reaches the process's error boundary.
"""

from .client import ConnectorClient, ConnectorResponse, ConnectorUnavailable
from .engine import UNAVAILABLE_CODE, ServiceTaskError, ServiceTaskScriptEngine
from .tracing import new_traceparent

__all__ = [
    "ConnectorClient",
    "ConnectorResponse",
    "ConnectorUnavailable",
    "ServiceTaskError",
    "ServiceTaskScriptEngine",
    "UNAVAILABLE_CODE",
    "new_traceparent",
]
