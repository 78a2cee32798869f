"""Code the README prints, run by the tests exactly as printed (a README example that stops working fails)."""

from __future__ import annotations

from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_worker() -> dict:
    """The namespace of the example worker in the README's "External service tasks" section."""
    section = README.read_text().split("### External service tasks", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {"__name__": "readme_worker"}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README's code
    return namespace
