"""Delay percentiles of a list of flights, as a wflow task in Python.

Input: a JSON array of rows with an integer `delay` in minutes.
Output: `{"flights": N, "p50": ..., "p90": ..., "p99": ...}`, nearest-rank
percentiles.
"""

import wflow
from wflow import WitWorld  # noqa: F401 - the export componentize-py looks for


def percentile(sorted_values, fraction):
    rank = max(1, -(-int(fraction * 100) * len(sorted_values) // 100))
    return sorted_values[rank - 1]


@wflow.task
def run(ctx, rows):
    if not isinstance(rows, list):
        raise wflow.Fatal(f"input must be a JSON array of rows, got {type(rows).__name__}")
    delays = sorted(row["delay"] for row in rows if isinstance(row, dict) and isinstance(row.get("delay"), int))
    if not delays:
        raise wflow.Fatal("input has no row with an integer `delay`")
    wflow.info(f"{ctx.task}: {len(delays)} delays")
    return {
        "flights": len(delays),
        "p50": percentile(delays, 0.50),
        "p90": percentile(delays, 0.90),
        "p99": percentile(delays, 0.99),
    }
