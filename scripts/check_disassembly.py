"""Show that AtomicInt's read-modify-write operations are LOCK-prefixed on x86_64.

Disassembles the installed extension (objdump -d) and checks, function by
function, that each binding method that performs a read-modify-write contains
the expected atomic instruction.  Run with the interpreter whose pyatomics is
to be checked:

    python scripts/check_disassembly.py [-v]
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
import sys

# method symbol -> instructions of which at least one must appear.
# Static functions keep their names in the symbol table (setuptools does not strip).
EXPECTED = {
    "AtomicInt_fetch_add": ["lock cmpxchg"],  # checked add: CAS loop, never publishes a wrapped value
    "AtomicInt_fetch_sub": ["lock cmpxchg"],
    "AtomicInt_inc": ["lock cmpxchg"],
    "AtomicInt_dec": ["lock cmpxchg"],
    "AtomicInt_iadd": ["lock cmpxchg"],
    "AtomicInt_compare_exchange": ["lock cmpxchg"],
    "AtomicInt_fetch_and": ["lock cmpxchg"],  # old value needed: CAS loop
    "AtomicInt_fetch_or": ["lock cmpxchg"],
    "AtomicInt_fetch_xor": ["lock cmpxchg"],
    "AtomicInt_iand": ["lock and"],  # old value unused: a single lock and
    "AtomicInt_ior": ["lock or"],
    "AtomicInt_ixor": ["lock xor"],
    "AtomicInt_fetch_max": ["lock cmpxchg"],
    "AtomicInt_fetch_min": ["lock cmpxchg"],
    "AtomicInt_exchange": ["xchg"],  # xchg with memory is implicitly locked
    "AtomicInt_store": ["xchg", "mfence"],  # seq_cst store: xchg (or mov + mfence)
}


def functions(disassembly: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in disassembly.splitlines():
        m = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if m:
            current = m.group(1).split(".")[0]  # strip .isra.0 / .part.0 / .cold suffixes
            out.setdefault(current, [])
        elif current and "\t" in line:
            out[current].append(line.split("\t")[-1].strip())
    return out


def main() -> int:
    verbose = "-v" in sys.argv
    if platform.machine() not in ("x86_64", "AMD64"):
        print(f"disassembly check is for x86_64; this is {platform.machine()}: skipped")
        return 0
    objdump = shutil.which("objdump")
    if objdump is None:
        print("objdump not found (binutils)", file=sys.stderr)
        return 1
    import pyatomics._capi_binding as ext

    text = subprocess.run([objdump, "-d", "--no-show-raw-insn", ext.__file__], check=True,
                          capture_output=True, text=True).stdout
    funcs = functions(text)
    failures = 0
    for name, wanted in EXPECTED.items():
        body = funcs.get(name)
        if body is None:
            print(f"MISSING  {name}: symbol not found in {ext.__file__}")
            failures += 1
            continue
        hits = [insn for insn in body if any(insn.startswith(w) for w in wanted)]
        status = "ok" if hits else "FAIL"
        if not hits:
            failures += 1
        print(f"{status:8} {name:28} {hits[0] if hits else 'no ' + ' / '.join(wanted)}")
        if verbose:
            print("\n".join("           " + insn for insn in body))
    print(f"{ext.__file__}: {len(EXPECTED) - failures}/{len(EXPECTED)} methods use the expected atomic instructions")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
