"""Write wflow tasks in Python.

A task is one function from its input to its output, marked with
``@wflow.task``::

    import wflow
    from wflow import WitWorld  # the export that componentize-py looks for

    @wflow.task
    def run(ctx, data):
        wflow.info(f"{ctx.task}: {len(data)} rows")
        return {"rows": len(data)}

The input is parsed as JSON and the return value is encoded as JSON, unless
the task is marked ``@wflow.task(raw=True)``: then it takes ``bytes`` and
returns ``bytes`` or ``str``. Raise ``wflow.Retryable`` for a failure that
a retry could help, and ``wflow.Fatal`` for one it cannot. Any other
exception is fatal, and its traceback goes to stderr.

Build with componentize-py, with the app's folder and this module's folder
on the module path:
``componentize-py -d WIT_FOLDER -w task componentize app -p . -p WFLOW_FOLDER -o app.wasm``.
"""

import json
import sys
import traceback

import wit_world
from componentize_py_types import Err
from wit_world.imports import log as _log
from wit_world.imports import types as _types

__all__ = ["Context", "Fatal", "Retryable", "WitWorld", "task", "debug", "error", "info", "trace", "warn"]

_task = None
_raw = False


class Fatal(Exception):
    """A failure that running the task again cannot help, such as bad input."""


class Retryable(Exception):
    """A failure that running the task again could help."""


class Context:
    """The run a task is part of: flow, task id, run id, attempt, parameters."""

    def __init__(self, raw):
        self.flow = raw.flow
        self.task = raw.task
        self.run_id = raw.run_id
        self.attempt = raw.attempt
        self.params = {param.name: param.value.value for param in raw.params}

    def param(self, name):
        """Returns parameter ``name``, or raises ``Fatal`` when the manifest
        does not pass it to this task."""
        if name not in self.params:
            passed = ", ".join(sorted(self.params)) or "none"
            raise Fatal(
                f"parameter `{name}` is not passed to task `{self.task}` (passed: {passed}); "
                "add it to the task's `params` list in the manifest"
            )
        return self.params[name]


def task(function=None, *, raw=False):
    """Marks ``function(ctx, input)`` as this component's task."""

    def register(function):
        global _task, _raw
        _task = function
        _raw = raw
        return function

    return register(function) if function is not None else register


def _text(value):
    """Returns ``str(value)`` as text the host accepts: a lone surrogate,
    which UTF-8 cannot encode, becomes ``?`` instead of crashing the
    interpreter's conversion."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _write(level, message):
    _log.log(level, _text(message))


def trace(message):
    _write(_log.Level.TRACE, message)


def debug(message):
    _write(_log.Level.DEBUG, message)


def info(message):
    _write(_log.Level.INFO, message)


def warn(message):
    _write(_log.Level.WARN, message)


def error(message):
    _write(_log.Level.ERROR, message)


def _fail(message, retryable):
    raise Err(_types.TaskError(message=_text(message), retryable=retryable))


def _raw_output(result):
    if isinstance(result, str):
        return result.encode("utf-8", "replace")
    if isinstance(result, (bytes, bytearray, memoryview)):
        return bytes(result)
    raise Fatal(f"a raw task must return bytes, bytearray, memoryview or str, but it returned {type(result).__name__}")


def _json_output(result):
    try:
        return json.dumps(result, allow_nan=False).encode()
    except (TypeError, ValueError) as problem:
        raise Fatal(f"the task's return value cannot be written as JSON: {problem}") from None


class WitWorld(wit_world.WitWorld):
    """The component export; it calls the function marked ``@wflow.task``."""

    def run(self, context, input):
        if _task is None:
            _fail("no function is marked @wflow.task in this component", False)
        try:
            if _raw:
                data = bytes(input)
            else:
                try:
                    data = json.loads(input)
                except ValueError as problem:
                    raise Fatal(f"input is not JSON: {problem}") from None
            result = _task(Context(context), data)
            return _raw_output(result) if _raw else _json_output(result)
        except Retryable as problem:
            _fail(str(problem), True)
        except Fatal as problem:
            _fail(str(problem), False)
        except Err:
            raise
        except SystemExit as problem:
            _fail(f"the task called sys.exit({problem.code!r}) instead of returning; raise wflow.Fatal instead", False)
        except BaseException as problem:
            # Includes KeyboardInterrupt and other exceptions that do not
            # derive from Exception; none of them may escape as a trap.
            traceback.print_exc(file=sys.stderr)
            _fail(f"{type(problem).__name__}: {problem}", False)
