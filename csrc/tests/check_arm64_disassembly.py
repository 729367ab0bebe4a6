"""Check which atomic instructions an arm64 build of the C core compiled to.

The arm64 counterpart of scripts/check_disassembly.py (which checks the x86_64
extension): disassembles an aarch64 build of csrc/tests/test_core.c, whose
op_* functions each wrap one operation of pa_atomic.h / pa_spinlock.h, and
checks each of them, plus the core's own functions, for the instructions that
the build's -march must produce:

  llsc     -march=armv8-a -mno-outline-atomics: ARMv8.0 exclusive-access loops
           (ldaxr/stlxr); not one LSE instruction and no outline-atomics call
  lse      -march=armv8.1-a: ARMv8.1 LSE atomics (casal, swpal, ldaddal,
           ldclral, ldsetal, ldeoral); not one exclusive-access instruction
  outline  GCC's default (-moutline-atomics, as GCC 10+ on aarch64 Linux):
           calls to libgcc's __aarch64_*_acq_rel helpers, which pick LSE or
           LL/SC when the program runs

    python3 check_arm64_disassembly.py MODE BINARY [--objdump aarch64-linux-gnu-objdump] [-v]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys

EXCLUSIVE = re.compile(r"^(ldaxr|stlxr|ldxr|stxr|ldaxp|stlxp)b?h?$")
LSE = re.compile(r"^(cas|casp|swp|ldadd|ldclr|ldeor|ldset|ldsmax|ldsmin|ldumax|ldumin|st(add|clr|eor|set))(a|al|l)?(b|h)?$")
OUTLINE = re.compile(r"__aarch64_(cas|swp|ldadd|ldclr|ldeor|ldset)\d+_\w+")

# function -> instruction each build must contain (a mnemonic, or for
# "outline" the libgcc helper called).  The 64-bit value is in an x register.
EXPECTED = {
    "llsc": {
        "op_fetch_add_checked": ["ldaxr", "stlxr"],  # checked: a CAS loop, never publishes a wrapped value
        "op_fetch_sub_checked": ["ldaxr", "stlxr"],
        "op_compare_exchange": ["ldaxr", "stlxr"],
        "op_exchange": ["ldaxr", "stlxr"],
        "op_fetch_and": ["ldaxr", "stlxr"],
        "op_fetch_or": ["ldaxr", "stlxr"],
        "op_fetch_xor": ["ldaxr", "stlxr"],
        "op_fetch_max": ["ldaxr", "stlxr"],
        "op_fetch_min": ["ldaxr", "stlxr"],
        "op_store": ["stlr"],  # a seq_cst store is a store-release on arm64
        "op_load": ["ldar"],
        "op_spinlock_try_acquire": ["ldaxr", "stlxr"],
        "op_spinlock_release": ["ldaxr", "stlxr"],
        "pa_int_notify": ["ldaxr", "stlxr"],
        "pa_rwlock_release_read": ["ldaxr", "stlxr"],
        "pa_rwlock_release_write": ["ldaxr", "stlxr"],
        "pa_spinlock_acquire_slow": ["ldaxr", "stlxr"],
    },
    "lse": {
        "op_fetch_add_checked": ["casal"],
        "op_fetch_sub_checked": ["casal"],
        "op_compare_exchange": ["casal"],
        "op_exchange": ["swpal"],
        "op_fetch_and": ["ldclral"],  # and(x, v) == clear(x, ~v)
        "op_fetch_or": ["ldsetal"],
        "op_fetch_xor": ["ldeoral"],
        "op_fetch_max": ["casal"],
        "op_fetch_min": ["casal"],
        "op_store": ["stlr"],
        "op_load": ["ldar"],
        "op_spinlock_try_acquire": ["casal"],
        "op_spinlock_release": ["swpal"],
        "pa_int_notify": ["ldaddal"],
        "pa_rwlock_release_read": ["ldaddal"],
        "pa_rwlock_release_write": ["ldaddal"],
        "pa_spinlock_acquire_slow": ["swpal", "casal"],
    },
    "outline": {
        "op_fetch_add_checked": ["__aarch64_cas8_acq_rel"],
        "op_fetch_sub_checked": ["__aarch64_cas8_acq_rel"],
        "op_compare_exchange": ["__aarch64_cas8_acq_rel"],
        "op_exchange": ["__aarch64_swp8_acq_rel"],
        "op_fetch_and": ["__aarch64_ldclr8_acq_rel"],
        "op_fetch_or": ["__aarch64_ldset8_acq_rel"],
        "op_fetch_xor": ["__aarch64_ldeor8_acq_rel"],
        "op_fetch_max": ["__aarch64_cas8_acq_rel"],
        "op_fetch_min": ["__aarch64_cas8_acq_rel"],
        "op_store": ["stlr"],
        "op_load": ["ldar"],
        "op_spinlock_try_acquire": ["__aarch64_cas4_acq_rel"],
        "op_spinlock_release": ["__aarch64_swp4_acq_rel"],
        "pa_int_notify": ["__aarch64_ldadd4_acq_rel"],
        "pa_rwlock_release_read": ["__aarch64_ldadd4_acq_rel"],
        "pa_rwlock_release_write": ["__aarch64_ldadd4_acq_rel"],
        "pa_spinlock_acquire_slow": ["__aarch64_swp4_acq_rel", "__aarch64_cas4_acq_rel"],
    },
}


def functions(disassembly: str) -> dict[str, list[tuple[str, str]]]:
    """name -> [(mnemonic, operands)] for each function in objdump -d output."""
    out: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in disassembly.splitlines():
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            current = m.group(1).split(".")[0]  # strip .isra.0 / .part.0 / .constprop.0
            out.setdefault(current, [])
            continue
        parts = line.split("\t")
        if current and len(parts) >= 2 and re.match(r"^\s*[0-9a-f]+:$", parts[0]):
            out[current].append((parts[1].strip(), parts[2].strip() if len(parts) > 2 else ""))
    return out


def ours(name: str) -> bool:
    return name.startswith(("op_", "pa_"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=sorted(EXPECTED))
    ap.add_argument("binary")
    ap.add_argument("--objdump", default="aarch64-linux-gnu-objdump")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    text = subprocess.run([args.objdump, "-d", "--no-show-raw-insn", args.binary], check=True,
                          capture_output=True, text=True).stdout
    funcs = functions(text)
    failures = func_failures = 0

    for name, wanted in EXPECTED[args.mode].items():
        body = funcs.get(name)
        if body is None:
            print(f"MISSING  {name}: no such symbol in {args.binary}")
            failures += 1
            continue
        found = []
        for want in wanted:
            if want.startswith("__aarch64_"):
                hit = any(m == "bl" and f"<{want}>" in ops for m, ops in body)
            else:
                hit = any(m == want for m, _ in body)
            found.append((want, hit))
        ok = all(hit for _, hit in found)
        failures += not ok
        func_failures += not ok
        shown = ", ".join(want if hit else f"no {want}" for want, hit in found)
        print(f"{'ok' if ok else 'FAIL':8} {name:28} {shown}")
        if args.verbose:
            print("\n".join(f"           {m} {ops}" for m, ops in body))

    # The whole of our code (op_* and pa_* functions) must be of one kind.
    exclusive = sorted({f"{n}: {m}" for n, b in funcs.items() if ours(n) for m, _ in b if EXCLUSIVE.match(m)})
    lse = sorted({f"{n}: {m}" for n, b in funcs.items() if ours(n) for m, _ in b if LSE.match(m)})
    outline = sorted({f"{n}: {o.group(0)}" for n, b in funcs.items() if ours(n) for m, ops in b
                      if m == "bl" for o in OUTLINE.finditer(ops)})
    outline_calls = sum(1 for n, b in funcs.items() if ours(n) for m, ops in b if m == "bl" and OUTLINE.search(ops))
    forbidden = {
        "llsc": [("LSE instruction", lse), ("outline-atomics call", outline)],
        "lse": [("exclusive-access instruction", exclusive), ("outline-atomics call", outline)],
        "outline": [("inline LSE instruction", lse), ("inline exclusive-access instruction", exclusive)],
    }[args.mode]
    for what, hits in forbidden:
        if hits:
            failures += 1
            print(f"FAIL     {len(hits)} {what}(s) in a build that should have none: {', '.join(hits[:8])}")
    n_excl = sum(1 for n, b in funcs.items() if ours(n) for m, _ in b if EXCLUSIVE.match(m))
    n_lse = sum(1 for n, b in funcs.items() if ours(n) for m, _ in b if LSE.match(m))
    print(f"{args.binary} ({args.mode}): {len(EXPECTED[args.mode]) - func_failures}"
          f"/{len(EXPECTED[args.mode])} functions as expected; in all op_*/pa_* code: "
          f"{n_excl} exclusive-access, {n_lse} LSE instructions, {outline_calls} outline-atomics calls"
          f"{'' if not failures else f'; {failures} FAILURE(S)'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
