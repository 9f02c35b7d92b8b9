"""W3C trace context for outgoing calls.

With the OpenTelemetry API installed and an SDK configured, each call is a client span
(``call_service <operator>``) in the caller's current trace, and its context goes out as
``traceparent``/``tracestate``: the server's task span is its child. Without them, every call
of one workflow carries the same generated trace id (a new span id per call), so a workflow's
calls still form one trace on the server side.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import weakref
from typing import Any, Dict, Iterator, Optional

try:  # optional: the API only (an SDK, when configured, makes the spans real)
    from opentelemetry import propagate as _propagate
    from opentelemetry import trace as _trace
except ImportError:  # pragma: no cover - exercised where opentelemetry is absent
    _trace = None
    _propagate = None

__all__ = ["call_span", "new_traceparent", "TRACEPARENT_RE"]

#: A version-00 traceparent (lower-case hex, non-zero ids).
TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

_workflow_traces: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()


def _nonzero_hex(nbytes: int) -> str:
    while True:
        value = secrets.token_hex(nbytes)
        if value.strip("0"):
            return value


def new_traceparent(trace_id: Optional[str] = None) -> str:
    """A sampled traceparent in ``trace_id`` (a new one when ``None``) with a new span id."""
    return f"00-{trace_id or _nonzero_hex(16)}-{_nonzero_hex(8)}-01"


def _workflow_trace_id(workflow: Any) -> str:
    """One generated trace id per top-level workflow."""
    try:
        trace_id = _workflow_traces.get(workflow)
        if trace_id is None:
            trace_id = _workflow_traces[workflow] = _nonzero_hex(16)
        return trace_id
    except TypeError:  # not weak-referenceable: a trace per call
        return _nonzero_hex(16)


class CallSpan:
    """The trace context of one outgoing call: its headers, and a place to record the result."""

    def __init__(self, headers: Dict[str, str], span: Any = None):
        self.headers = headers
        self._span = span

    @property
    def traceparent(self) -> str:
        return self.headers["traceparent"]

    def record_error(self, code: str, message: str) -> None:
        if self._span is not None and _trace is not None:
            self._span.set_attribute("error.type", code)
            self._span.set_status(_trace.Status(_trace.StatusCode.ERROR, message))


def _recording_provider() -> bool:
    """Whether an SDK (or any real provider) is set: the API's own defaults record nothing."""
    provider = _trace.get_tracer_provider()
    return not isinstance(provider, (_trace.ProxyTracerProvider, _trace.NoOpTracerProvider))


@contextlib.contextmanager
def call_span(operator: str, workflow: Any = None, attributes: Optional[Dict[str, Any]] = None) -> Iterator[CallSpan]:
    """The trace context for calling ``operator``: a client span when OpenTelemetry records,
    else a generated traceparent in the workflow's trace."""
    if _trace is not None and _recording_provider():
        tracer = _trace.get_tracer("servicetask_spiff")
        with tracer.start_as_current_span(
            f"call_service {operator}", kind=_trace.SpanKind.CLIENT, attributes=attributes or {}
        ) as span:
            headers: Dict[str, str] = {}
            _propagate.inject(headers)
            if TRACEPARENT_RE.match(headers.get("traceparent", "")):
                yield CallSpan(headers, span)
                return
    yield CallSpan({"traceparent": new_traceparent(_workflow_trace_id(workflow))})
