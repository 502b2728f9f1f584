"""The wflow task `{{name}}`: greets the name in its input.

Input: ``{"name": "..."}``. Output: ``{"greeting": "..."}``. The greeting
word comes from the flow parameter ``greeting``.
"""

import wflow
from wflow import WitWorld  # noqa: F401 - the export componentize-py looks for


@wflow.task
def run(ctx, data):
    name = data.get("name", "") if isinstance(data, dict) else ""
    if not name.strip():
        # Fatal: the same input would fail again. Raise wflow.Retryable for
        # a failure that a retry could help.
        raise wflow.Fatal("input field `name` is empty; give a name to greet")
    word = ctx.param("greeting")
    wflow.info(f"{ctx.task}: greeting {name}")
    return {"greeting": f"{word}, {name}!"}
