"""The library's own code on a notebook's page: a function's source as a Markdown code block, so the notebook shows
exactly what it runs."""

from __future__ import annotations

import inspect
from collections.abc import Callable


def source_markdown(*functions: Callable) -> str:
    """The source of each function as a highlighted Python block, each headed by the module it lives in."""
    blocks = []
    for function in functions:
        where = f"`{function.__module__}.{function.__qualname__}`"
        blocks.append(f"{where}\n```python\n{inspect.getsource(function).rstrip()}\n```")
    return "\n\n".join(blocks)
