"""Every ```python block in README.md and docs/*.md runs, standalone, against
the installed package (each in a fresh interpreter, outside the source tree)."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks():
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for path in files:
        text = path.read_text()
        for m in FENCE.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            yield pytest.param(m.group(1), id=f"{path.relative_to(REPO)}:{line}")


DOC_BLOCKS = list(blocks())


def test_docs_have_examples():
    assert len(DOC_BLOCKS) >= 10


@pytest.mark.parametrize("code", DOC_BLOCKS)
def test_example_runs(code, tmp_path):
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
