"""``--plot FILE.png``: the ratios with their spread, and the scaling curves.

Drawn from the same data as ``--json`` (so ``python -m pyatomics.bench.plot
run.json out.png`` redraws a saved run).  Left: for every pyatomics row, its
first peer ratio column (or the first ratio column there is) as a bar at the
median of the per-round ratios with the range as an error bar, on a log
scale, 1.00x marked: a bar whose error bar crosses the line is a tie.  Right:
each throughput suite against the thread count.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _ratio_rows(data: dict[str, Any]) -> list[tuple[str, float, float, float, bool]]:
    rows = []
    for suite in data["suites"]:
        for case in suite["cases"]:
            if case["role"] != "self":
                continue
            cols = case.get("ratios", {})
            header = next((k for k in cols if "peer" in k and cols[k].get("value")), None)
            header = header or next(
                (k for k in cols if cols[k].get("value") and cols[k].get("verdict") != "same row"), None)
            if header is None:
                continue
            r = cols[header]
            # Drawn as "times faster than the reference": > 1 is a win, whatever the metric.
            if suite["metric"] == "ns/op":
                v, lo, hi = 1 / r["value"], 1 / r["hi"], 1 / r["lo"]
            else:
                v, lo, hi = r["value"], r["lo"], r["hi"]
            label = f"{suite['name'].split('.')[-1]}: {case['code']} @{case['threads']} {header}"
            rows.append((label, v, lo, hi, r["verdict"] == "tie"))
    return rows


def plot(data: dict[str, Any], png_path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _ratio_rows(data)
    scaling = [s for s in data["suites"] if any(c.get("multi") for c in s["cases"])]
    ncols = 1 + max(1, len(scaling))
    height = max(4.5, 0.22 * len(rows) + 1.5)
    fig, axes = plt.subplots(1, ncols, figsize=(7 + 5 * (ncols - 1), height), squeeze=False)
    ax = axes[0][0]
    if rows:
        ys = range(len(rows))
        vals = [r[1] for r in rows]
        err = [[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]]
        colors = ["0.6" if r[4] else ("tab:green" if r[1] > 1 else "tab:red") for r in rows]
        ax.barh(list(ys), vals, xerr=err, color=colors, capsize=2)
        ax.set_yticks(list(ys))
        ax.set_yticklabels([r[0] for r in rows], fontsize=5)
        ax.axvline(1.0, color="k", linewidth=0.8)
        ax.set_xscale("log")
        ax.invert_yaxis()
    ax.set_xlabel("times faster than the reference (grey: tie; bars: range over rounds)", fontsize=7)
    for ax, suite in zip(axes[0][1:], scaling):
        series: dict[str, list[tuple[int, float]]] = {}
        metric = suite["metric"]
        for case in suite["cases"]:
            if case.get(metric) is not None:
                label = f"{case['impl']}: {case['code']}"
                series.setdefault(label, []).append((case["threads"], case[metric]))
        for label, points in sorted(series.items()):
            points.sort()
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        ax.set_title(suite["title"], fontsize=7)
        ax.set_xlabel("threads")
        ax.set_ylabel(metric)
        ax.legend(fontsize=5)
    env = data.get("environment", {})
    fig.suptitle("{} {}{} (GIL {}), backend {}, {}".format(
        env.get("implementation"), env.get("version"), "t" if env.get("free_threaded_build") else "",
        "enabled" if env.get("gil_enabled_now") else "disabled", env.get("pyatomics_backend"),
        env.get("date")),
        fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        plot(json.load(f), sys.argv[2])
