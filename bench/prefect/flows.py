"""The benchmark shapes in Prefect 3, with the same compute as wflow's fib
task: a chain of N tasks, each taking the previous one's output, and one
task mapped over N inputs.

Usage: python flows.py chain|fan-out N
"""

import sys

from prefect import flow, task


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@task
def step(state):
    return {"n": state["n"], "step": state.get("step", 0) + 1, "fib": fib(state["n"])}


@flow
def chain(length):
    state = {"n": 10}
    for _ in range(length):
        state = step(state)
    return state


@flow
def fan_out(count):
    futures = step.map([{"n": 10, "step": index} for index in range(count)])
    return [future.result() for future in futures]


if __name__ == "__main__":
    shape, size = sys.argv[1], int(sys.argv[2])
    if shape == "chain":
        result = chain(size)
        assert result["step"] == size, result
        assert result["fib"] == 55, result
    elif shape == "fan-out":
        results = fan_out(size)
        assert len(results) == size and all(result["fib"] == 55 for result in results)
    else:
        sys.exit(f"unknown shape `{shape}`; choose chain or fan-out")
