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

Build with componentize-py, with this folder on the module path:
``componentize-py -d wit -w task componentize app -p guest-sdk/python -o app.wasm``.
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


def _write(level, message):
    _log.log(level, str(message))


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
    raise Err(_types.TaskError(message=message, retryable=retryable))


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
            if _raw:
                return result.encode() if isinstance(result, str) else bytes(result)
            return json.dumps(result).encode()
        except Retryable as problem:
            _fail(str(problem), True)
        except Fatal as problem:
            _fail(str(problem), False)
        except Err:
            raise
        except Exception as problem:
            traceback.print_exc(file=sys.stderr)
            _fail(f"{type(problem).__name__}: {problem}", False)
