"""``python -m pyatomics bench --compare A.json B.json``: the change from run A to run B.

Cases are matched by suite and key.  Each row gives A's and B's value (the
best round, as in the tables), the change, and whether the change is larger
than the noise of the two runs: ``changed`` only when B's best is outside A's
whole range of rounds and A's best outside B's (two separate runs cannot be
compared round by round, so this is deliberately stricter than the ties
within one run).
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _load(path: str) -> dict[str, Any]:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or "suites" not in data:
        raise SystemExit(f"error: {path} is not a `python -m pyatomics bench --json` file")
    return data


def _describe(env: dict[str, Any]) -> str:
    gil = "GIL enabled" if env.get("gil_enabled_now") else "GIL disabled"
    return "{} {}{} ({}), backend {}, {}".format(
        env.get("implementation", "?"), env.get("version", "?"),
        "t" if env.get("free_threaded_build") else "", gil, env.get("pyatomics_backend"),
        env.get("date", "?"))


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    out = [f"A: {_describe(a.get('environment', {}))}", f"B: {_describe(b.get('environment', {}))}", ""]
    b_suites = {s["name"]: s for s in b["suites"]}
    for sa in a["suites"]:
        sb = b_suites.get(sa["name"])
        if sb is None:
            out += [f"### {sa['title']}: not in B", ""]
            continue
        metric = sa["metric"]
        higher_better = metric == "Mops/s"
        cases_b = {c["key"]: c for c in sb["cases"]}
        out += [f"### {sa['title']}", "", f"| case | code | A {metric} | B {metric} | change | |",
                "|---|---|---:|---:|---:|---|"]
        for ca in sa["cases"]:
            cb = cases_b.get(ca["key"])
            va, vb = ca.get(metric), cb.get(metric) if cb else None
            if va is None or vb is None:
                out.append(f"| {ca['key']} | `{ca['code']}` | {_fmt(va)} | {_fmt(vb)} | n/a | |")
                continue
            change = vb / va - 1.0
            sa_s, sb_s = ca["samples_s_per_op"], cb["samples_s_per_op"]
            # Separate only when neither best lies within the other run's rounds.
            separate = (min(sb_s) > max(sa_s) or max(sb_s) < min(sa_s)) if sa_s and sb_s else False
            if not separate:
                verdict = "within noise"
            else:
                verdict = "better" if (change > 0) == higher_better else "worse"
            out.append(f"| {ca['key']} | `{ca['code']}` | {_fmt(va)} | {_fmt(vb)} | {100 * change:+.1f}% | "
                       f"{verdict} |")
        missing = [k for k in cases_b if k not in {c["key"] for c in sa["cases"]}]
        if missing:
            out.append("")
            out.append("only in B: " + ", ".join(missing))
        out.append("")
    for sb in b["suites"]:
        if sb["name"] not in {s["name"] for s in a["suites"]}:
            out += [f"### {sb['title']}: only in B", ""]
    return out


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def main(path_a: str, path_b: str) -> int:
    print("\n".join(compare(_load(path_a), _load(path_b))))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
