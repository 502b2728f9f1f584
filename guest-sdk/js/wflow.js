// Write wflow tasks in JavaScript.
//
// A task is one function from its input to its output. The app module
// exports the function that `task` builds as `run`:
//
//     import * as wflow from './wflow.js';
//
//     export const run = wflow.task((ctx, rows) => {
//       wflow.info(`${ctx.task}: ${rows.length} rows`);
//       return { rows: rows.length };
//     });
//
// The input is parsed as JSON and the return value is encoded as JSON, unless
// the task is built with `wflow.task(fn, { raw: true })`: then `fn` takes a
// `Uint8Array` and returns a `Uint8Array` or a string. `fn` may be async; a
// promise that never settles ends the attempt as a trap, which this module
// cannot catch.
// Throw `wflow.Retryable` for a failure that a retry could help, and
// `wflow.Fatal` for one it cannot. Any other exception is fatal, and its stack
// goes to stderr.
//
// Build with componentize-js 0.23.0 (scripts/guest-tools/js installs it), from
// a folder that contains both the app and this module:
//
//     componentize-js app.js --wit wit -n task -d http -d fetch-event -o app.wasm
//
// `-d http -d fetch-event` leave out wasi:http, which the wflow host does not
// provide. componentize-js resolves relative imports such as './wflow.js' at
// build time, but only to files under the current directory, or under the
// app's folder when the app lies outside the current directory.

import { log } from 'wflow:task/log@0.1.0';

// A failure that running the task again cannot help, such as invalid input.
export class Fatal extends Error {
  constructor(message) {
    super(message);
    this.name = 'Fatal';
  }
}

// A failure that running the task again could help.
export class Retryable extends Error {
  constructor(message) {
    super(message);
    this.name = 'Retryable';
  }
}

// The run a task is part of: flow name, task id, run id, attempt number and
// the parameters that the manifest passes to the task, by name.
//
// An integer parameter is a Number when it is a safe integer (within
// ±(2^53 - 1)), else a BigInt, because the host sends it as a 64-bit integer.
export class Context {
  constructor(raw) {
    this.flow = raw.flow;
    this.task = raw.task;
    this.runId = raw.runId;
    this.attempt = raw.attempt;
    this.params = {};
    for (const param of raw.params) {
      this.params[param.name] = paramValue(param.value);
    }
  }

  // Returns parameter `name`, or throws `Fatal` when the manifest does not
  // pass it to this task.
  param(name) {
    if (!Object.hasOwn(this.params, name)) {
      const passed = Object.keys(this.params).sort().join(', ') || 'none';
      throw new Fatal(
        `parameter \`${name}\` is not passed to task \`${this.task}\` (passed: ${passed}); ` +
          "add it to the task's `params` list in the manifest",
      );
    }
    return this.params[name];
  }
}

function paramValue(value) {
  if (value.tag === 'integer') {
    const number = Number(value.val);
    return Number.isSafeInteger(number) ? number : value.val;
  }
  return value.val;
}

export function trace(message) {
  log('trace', String(message));
}

export function debug(message) {
  log('debug', String(message));
}

export function info(message) {
  log('info', String(message));
}

export function warn(message) {
  log('warn', String(message));
}

export function error(message) {
  log('error', String(message));
}

const encoder = new TextEncoder();
// `fatal: true` makes invalid UTF-8 in JSON input an error instead of U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true });

// Builds the component's `run` export around `fn(ctx, input)`.
//
// The export returns the `result` shape that componentize-js expects,
// `{ tag: 'ok' | 'err', val }`. It never lets an exception escape, because
// componentize-js 0.23.0 turns a thrown `Error` into a trap instead of a task
// error, and the host retries a trap.
export function task(fn, { raw = false } = {}) {
  if (typeof fn !== 'function') {
    throw new TypeError(`wflow.task expects a function (ctx, input), got ${typeof fn}`);
  }
  return async function run(context, input) {
    try {
      const ctx = new Context(context);
      const data = raw ? input : parseJson(input);
      const result = await fn(ctx, data);
      return { tag: 'ok', val: raw ? rawOutput(result) : jsonOutput(result) };
    } catch (problem) {
      return { tag: 'err', val: taskError(problem) };
    }
  };
}

function parseJson(input) {
  let text;
  try {
    text = decoder.decode(input);
  } catch (problem) {
    throw new Fatal(`input is not valid UTF-8, so it cannot be JSON: ${problem.message}`);
  }
  try {
    return JSON.parse(text);
  } catch (problem) {
    throw new Fatal(`input is not JSON: ${problem.message}`);
  }
}

function jsonOutput(result) {
  const text = JSON.stringify(result);
  if (text === undefined) {
    throw new Fatal(
      `the task returned ${typeof result}, which has no JSON form. ` +
        'Return a JSON value, or build the task with { raw: true }.',
    );
  }
  return encoder.encode(text);
}

// The checks avoid `instanceof`, because the input array comes from the
// componentize-js bindings, whose `Uint8Array` is another realm's constructor.
function rawOutput(result) {
  if (typeof result === 'string') {
    return encoder.encode(result);
  }
  if (ArrayBuffer.isView(result)) {
    return new Uint8Array(result.buffer, result.byteOffset, result.byteLength);
  }
  if (Object.prototype.toString.call(result) === '[object ArrayBuffer]') {
    return new Uint8Array(result);
  }
  throw new Fatal(
    `a raw task must return a Uint8Array, an ArrayBuffer or a string, but it returned ${describeValue(result)}`,
  );
}

function describeValue(value) {
  if (value === null) {
    return 'null';
  }
  if (typeof value === 'object') {
    return `an object (${value.constructor?.name ?? 'no constructor'})`;
  }
  return typeof value;
}

function taskError(problem) {
  if (problem instanceof Retryable) {
    return { message: problem.message, retryable: true };
  }
  if (problem instanceof Fatal) {
    return { message: problem.message, retryable: false };
  }
  // An error thrown by the bindings, such as an invalid log level, comes
  // from another realm, where `instanceof Error` is false.
  if (Object.prototype.toString.call(problem) === '[object Error]') {
    // SpiderMonkey's `stack` lists the frames only, without the error itself.
    const frames = (problem.stack ?? '').trimEnd();
    console.error(frames ? `${problem.name}: ${problem.message}\n${frames}` : `${problem.name}: ${problem.message}`);
    return { message: `${problem.name}: ${problem.message}`, retryable: false };
  }
  // A thrown non-Error value, such as a string, has no stack to print.
  return { message: `the task threw ${describeValue(problem)} instead of an Error: ${showValue(problem)}`, retryable: false };
}

function showValue(value) {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
