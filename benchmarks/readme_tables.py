"""The README's benchmark tables, generated from the committed runs in benchmarks/results/.

    python benchmarks/readme_tables.py            # print the tables
    python benchmarks/readme_tables.py --write    # replace them in README.md
    python benchmarks/readme_tables.py --check    # exit 1 if README.md differs (the test suite runs this)

Each table comes from ONE run (``python -m pyatomics bench --json
benchmarks/results/NAME.json``) and sits in README.md between
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``.  Every figure in it is
in that file.  Ratios are computed round by round from the raw samples, with
the harness's own rules (pyatomics/bench/_harness.py, loaded by path so that
no built pyatomics is needed): a range that contains 1.00x is a tie.  The
curated rows come first; then every other row where pyatomics is slower than
a reference of its table, so the cases we lose are always shown.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
RUNS = ["cpython3.13t", "cpython3.11", "pypy3.9"]


def _harness():
    spec = importlib.util.spec_from_file_location("_pyatomics_bench_harness",
                                                  ROOT / "pyatomics" / "bench" / "_harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


h = _harness()


class Run:
    def __init__(self, data: dict) -> None:
        self.data = data
        self.env = data["environment"]
        self.suites = {s["name"]: s for s in data["suites"]}
        self.threads = sorted({c["threads"] for s in data["suites"] for c in s["cases"]
                               if c.get("multi", s["metric"] == "Mops/s")})

    def case(self, suite: str, key: str) -> dict | None:
        s = self.suites.get(suite)
        if s is None:
            return None
        return next((c for c in s["cases"] if c["key"] == key and not c["error"]), None)

    def fastest(self, suite: str, pred) -> dict | None:
        s = self.suites.get(suite)
        cands = [c for c in s["cases"] if pred(c) and c["best_s_per_op"] and not c["error"]] if s else []
        return min(cands, key=lambda c: c["best_s_per_op"]) if cands else None


def speed(mine: dict, ref: dict) -> tuple[float, float, float, str]:
    """pyatomics' speed relative to ref, round by round: ref time / our time (> 1: we are faster)."""
    rounds = h.per_round(ref["samples_s_per_op"], mine["samples_s_per_op"])
    value, lo, hi = h.ratio_range(rounds)
    verdict = "tie" if lo <= 1.0 <= hi else ("faster" if lo > 1.0 else "slower")
    return value, lo, hi, verdict


def fmt_value(case: dict, metric: str) -> str:
    v = case[metric]
    unit = "ns" if metric == "ns/op" else "Mops/s"
    num = f"{v:.1f}" if v < 1000 else f"{v:,.0f}"
    return f"{num} {unit}"


def who(case: dict) -> str:
    impl = case["impl"]
    return f"`{case['code']}`" if impl.startswith("pyatomics") else f"{impl} `{case['code']}`"


def rows_for(run: Run) -> list[tuple[str, str, dict, dict]]:
    """(section, suite, mine, ref) in table order."""
    out: list[tuple[str, str, dict, dict]] = []

    def add(section, suite, mine, ref):
        if mine is not None and ref is not None:
            out.append((section, suite, mine, ref))

    S = "atomicint.single"
    for group in ["inc", "inc, a.m() form", "+= 1", "fetch_add", "add", "load", "store", "exchange",
                  "compare_exchange"]:
        add("AtomicInt, 1 thread, vs fastest peer", S, run.case(S, f"{group}/pyatomics"),
            run.fastest(S, lambda c, g=group: c["group"] == g and c["role"] == "peer"))
    add("AtomicInt, 1 thread, vs stdlib", S, run.case(S, "inc/pyatomics"), run.case(S, "inc/count"))
    add("AtomicInt, 1 thread, vs stdlib", S, run.case(S, "inc/pyatomics"), run.case(S, "inc/lock"))
    F = "atomicint.forms"
    for t in run.threads:
        for place in ("local", "attribute", "global"):
            add(f"AtomicInt `+= 1` vs `.inc()` where it lives, {t} thread{'s' if t > 1 else ''}", F,
                run.case(F, f"{place}.iadd@{t}"), run.case(F, f"{place}.inc@{t}"))
    C = "atomicint.contended"
    for t in run.threads:
        sec = f"AtomicInt contended, {t} thread{'s' if t > 1 else ''}"
        best_peer = run.fastest(C, lambda c, t=t: c["threads"] == t and c["role"] == "peer")
        add(sec, C, run.case(C, f"pyatomics.inc@{t}"), best_peer)
        add(sec, C, run.case(C, f"pyatomics.iadd@{t}"), best_peer)
        add(sec, C, run.case(C, f"pyatomics.inc@{t}"), run.case(C, f"lock@{t}"))
    U = "locks.uncontended"

    def peer_same_form(key):
        mine = run.case(U, key)
        if mine is None:
            return None
        return run.fastest(U, lambda c: c["group"] == mine["group"] and c["role"] == "peer"
                           and c.get("form") == mine.get("form"))

    sec = "Locks, uncontended, 1 thread"
    add(sec, U, run.case(U, "mutex/spin"), run.case(U, "mutex/lock"))
    add(sec, U, run.case(U, "mutex/spin_pair"), run.case(U, "mutex/lock_pair"))
    for side in ("read", "write"):
        for form in ("guard", "view", "pair"):
            add(sec, U, run.case(U, f"{side}/{form}"), peer_same_form(f"{side}/{form}"))
        add(sec, U, run.case(U, f"{side}/view"), run.case(U, "mutex/lock"))
        add(sec, U, run.case(U, f"{side}/guard"), run.case(U, "mutex/lock"))
    R = "locks.readmostly"
    for t in run.threads:
        sec = f"Locks, read-mostly 95/5, {t} thread{'s' if t > 1 else ''}"
        lock = run.case(R, f"lock@{t}")
        for key in ("rw_view", "rw_guard", "rw_pair", "spin"):
            add(sec, R, run.case(R, f"{key}@{t}"), lock)
        for key in ("rw_view", "rw_pair"):
            mine = run.case(R, f"{key}@{t}")
            if mine is not None:
                add(sec, R, mine, run.fastest(R, lambda c, t=t, m=mine: c["threads"] == t and c["role"] == "peer"
                                              and c.get("form") == m.get("form")))
    # Every other loss: a pyatomics row slower than a reference its own table names.
    seen = {(s, m["key"], r["key"]) for _, s, m, r in out}
    for sname, suite in run.suites.items():
        for c in suite["cases"]:
            if c["role"] != "self" or c["error"]:
                continue
            for col in c["ratios"].values():
                ref = run.case(sname, col.get("ref") or "")
                # Losses to another library or the stdlib; pyatomics against itself
                # (one form against another) is in the curated rows above.
                if ref is None or ref["role"] == "self" or (sname, c["key"], ref["key"]) in seen:
                    continue
                if speed(c, ref)[3] == "slower":
                    seen.add((sname, c["key"], ref["key"]))
                    out.append((f"Other losses ({suite['title'].split(':')[0]})", sname, c, ref))
    return out


def table(name: str) -> str:
    run = Run(json.loads((RESULTS / f"{name}.json").read_text()))
    env = run.env
    gil = "GIL enabled" if env["gil_enabled_now"] else "GIL disabled"
    load = env.get("loadavg_before", ["?"])[0], env.get("loadavg", ["?"])[0]
    lines = [
        f"{env['implementation']} {env['version']}{'t' if env['free_threaded_build'] else ''} ({gil}), "
        f"backend {env['pyatomics_backend']}, {env['date']}, {env['machine']} {env['cpu_model']}, "
        f"{env.get('cpus_usable') or env['cpu_count']} cores, 1-min load {load[0]} before / {load[1]} after, "
        f"{env['repeats']} interleaved rounds; run [`benchmarks/results/{name}.json`]"
        f"(benchmarks/results/{name}.json), full tables [`{name}.md`](benchmarks/results/{name}.md).",
        "",
        "| case | pyatomics | reference | pyatomics speed vs reference [range] | |",
        "|---|---:|---:|---:|---|",
    ]
    section = None
    for sec, sname, mine, ref in rows_for(run):
        metric = run.suites[sname]["metric"]
        value, lo, hi, verdict = speed(mine, ref)
        if sec != section:
            lines.append(f"| **{sec}** | | | | |")
            section = sec
        noise = f" ±{100 * mine['spread']:.0f}%" if mine.get("spread") is not None else ""
        rnoise = f" ±{100 * ref['spread']:.0f}%" if ref.get("spread") is not None else ""
        mark = {"faster": "faster", "slower": "**slower**", "tie": "tie"}[verdict]
        lines.append(f"| {who(mine)} | {fmt_value(mine, metric)}{noise} | {who(ref)} {fmt_value(ref, metric)}"
                     f"{rnoise} | {value:.2f}x [{lo:.2f}-{hi:.2f}] | {mark} |")
    return "\n".join(lines)


def render_readme(text: str) -> str:
    for name in RUNS:
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        if start not in text:
            continue
        if not (RESULTS / f"{name}.json").exists():
            raise SystemExit(f"README.md has {start} but benchmarks/results/{name}.json is missing")
        a = text.index(start) + len(start)
        b = text.index(end)
        text = text[:a] + "\n" + table(name) + "\n" + text[b:]
    return text


def main(argv: list[str]) -> int:
    current = README.read_text()
    if "--write" in argv:
        README.write_text(render_readme(current))
        return 0
    if "--check" in argv:
        if render_readme(current) != current:
            print("README.md's benchmark tables differ from benchmarks/results/*.json: "
                  "run python benchmarks/readme_tables.py --write", file=sys.stderr)
            return 1
        return 0
    for name in RUNS:
        if (RESULTS / f"{name}.json").exists():
            print(f"<!-- bench:{name} -->\n{table(name)}\n<!-- /bench:{name} -->\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
