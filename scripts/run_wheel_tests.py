"""The test suite against the installed pyatomics, once for each backend it
carries: the C-API one and, where the wheel has it too, the cffi one
(PYATOMICS_BACKEND=...).  pyproject.toml's cibuildwheel test-command, also run
by scripts/check_release.sh on the wheels it builds:

    python scripts/run_wheel_tests.py PROJECT_DIR [PYTEST_ARG ...]

(an argument that names a test file or directory replaces PROJECT_DIR/tests;
scripts/check_release.sh passes the files it tests the wheels with)

It runs from a temporary directory, so the source tree's uncompiled
pyatomics/ cannot shadow the installed package.  Exit status 0 only if every
backend's run passed (and at least one backend was found).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    project = os.path.abspath(sys.argv[1])
    extra = sys.argv[2:]
    # A PYTEST_ARG naming a test file or directory replaces the whole tests/ directory.
    names_tests = any(not a.startswith("-") and os.path.exists(a) for a in extra)
    env = {k: v for k, v in os.environ.items() if k != "PYATOMICS_BACKEND"}
    with tempfile.TemporaryDirectory() as cwd:
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import pyatomics as p; print(p.BACKEND, *sorted(p.available_backends() - {p.BACKEND}))",
            ],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            print(f"cannot import the installed pyatomics:\n{probe.stdout}{probe.stderr}", file=sys.stderr)
            return 1
        backends = probe.stdout.split()
        results = []
        for backend in backends:
            print(f"=== pytest with the {backend} backend (of: {' '.join(backends)}) ===", flush=True)
            rc = subprocess.call(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-p",
                    "no:cacheprovider",
                    "--import-mode=importlib",
                    "-c",
                    os.path.join(project, "pyproject.toml"),
                    "--rootdir",
                    project,
                    *extra,
                    *([] if names_tests else [os.path.join(project, "tests")]),
                ],
                cwd=cwd,
                env=dict(env, PYATOMICS_BACKEND=backend),
            )
            results.append((backend, rc))
    for backend, rc in results:
        print(f"backend {backend}: {'passed' if rc == 0 else f'FAILED (pytest exit {rc})'}")
    return 0 if results and all(rc == 0 for _, rc in results) else 1


if __name__ == "__main__":
    sys.exit(main())
