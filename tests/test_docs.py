"""Every ```python block in README.md and docs/*.md runs, standalone, against
the installed package (each in a fresh interpreter, outside the source tree).
So do the code examples of the docstrings that the documentation site's API page
renders as code (docs/api.md: the package docstring; pyatomics.sync's module
docstring, a sketch with undefined names, is not on the page)."""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
# A Markdown indented code block in a docstring: after a blank line, 4+ spaces.
INDENTED = re.compile(r"(?:^|\n)\n((?:(?: {4}.*)?\n)*(?: {4}.*))")
RENDERED_DOCSTRINGS = ["pyatomics/__init__.py"]


def blocks():
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for path in files:
        text = path.read_text()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            yield pytest.param(m.group(1), id=f"{path.relative_to(REPO)}:{line}")
    for name in RENDERED_DOCSTRINGS:
        doc = ast.get_docstring(ast.parse((REPO / name).read_text()), clean=True) or ""
        for i, m in enumerate(INDENTED.finditer(doc)):
            code = "\n".join(line[4:] for line in m.group(1).splitlines())
            yield pytest.param(code, id=f"{name}:docstring-example-{i}")


DOC_BLOCKS = list(blocks())


def test_docs_have_examples():
    assert len(DOC_BLOCKS) >= 10


@pytest.mark.parametrize("code", DOC_BLOCKS)
def test_example_runs(code, tmp_path):
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
