"""SpinLock and RWLock: uncontended acquire+release cost, read-mostly throughput.

    python -m pyatomics bench --only locks

Uncontended: each form in a tight loop with the lock created once, e.g.
``with lock: pass``; the bound ``acquire``/``release`` pairs are measured too.
Read-mostly: threads share one lock and one list cell; in every 20
operations a thread takes the write side once (``box[0] += 1``) and the read
side 19 times (``v = box[0]``): 95% reads, 5% writes, a tiny critical section.

Peers (each optional; a missing one is named in the output):
  readerwriterlock   rwlock.RWLockFair / RWLockRead / RWLockWrite with
                     gen_rlock() / gen_wlock()
  ft_utils           ft_utils.synchronization.RWLock: lock_read()/unlock_read(),
                     lock_write()/unlock_write(), RWReadContext(lock) /
                     RWWriteContext(lock) context managers  (3.12+)
  cereggii           has no lock types (AtomicEvent, CountDownLatch only), so none here
"""

from __future__ import annotations

import threading
from typing import Callable

from . import _harness as h

pyatomics = h.import_pyatomics()
RWLock = pyatomics.RWLock
SpinLock = pyatomics.SpinLock

_rwl = h.PEERS.load("readerwriterlock", "readerwriterlock.rwlock").module
_fts = h.PEERS.load("ft_utils", "ft_utils.synchronization", min_python=(3, 12)).module
_cereggii = h.PEERS.load("cereggii", "cereggii").module

RWL_CLASSES = ["RWLockFair", "RWLockRead", "RWLockWrite"] if _rwl else []

LOCK_NOTES = ["cereggii has no lock types, so it has no rows here"]


def _missing_notes() -> list[str]:
    return h.PEERS.missing_notes(["readerwriterlock", "ft_utils"])


WITH = "with {0}:\n    pass"
# The forms a lock is used in, compared form for form: a context-manager
# object made on each entry (``with rw.read():``), one made once and reused
# (``with rw.reader:``, ``with lock:``), and explicit acquire/release calls.
WITH_NEW = "with, object made per entry"
WITH_ONCE = "with, object made once"
PAIR_FORM = "acquire/release calls"
OPTIMISTIC = "optimistic read, validated"  # no peer has one
PAIR = "acq()\nrel()"


def uncontended_suite(settings: h.Settings) -> h.Suite:
    env = {"threading": threading, "RWLock": RWLock, "SpinLock": SpinLock, "rwlock": _rwl, "fts": _fts}
    cases: list[h.Case] = []

    def add(key, group, impl, role, code, stmt, setup):
        if "acq()" in stmt:
            form = PAIR_FORM
        elif "()" in stmt.split(":")[0]:
            form = WITH_NEW
        else:
            form = WITH_ONCE
        cases.append(h.st_case(key, group, impl, role, code, stmt, setup, env, form=form))

    add("loop/empty", "loop", "python", h.BASE, "for _ in range(n): pass", "pass", "pass")

    # --- plain mutexes
    add(
        "mutex/lock",
        "mutex",
        "threading.Lock",
        h.BASE,
        "with lock: pass",
        WITH.format("lock"),
        "lock = threading.Lock()",
    )
    add(
        "mutex/lock_pair",
        "mutex",
        "threading.Lock",
        h.BASE,
        "lock.acquire(); lock.release()",
        PAIR,
        "lock = threading.Lock()\nacq = lock.acquire\nrel = lock.release",
    )
    add(
        "mutex/rlock",
        "mutex",
        "threading.RLock",
        h.BASE,
        "with lock: pass",
        WITH.format("lock"),
        "lock = threading.RLock()",
    )
    add(
        "mutex/spin",
        "mutex",
        "pyatomics.SpinLock",
        h.SELF,
        "with s: pass",
        WITH.format("s"),
        "s = SpinLock()",
    )
    add(
        "mutex/spin_pair",
        "mutex",
        "pyatomics.SpinLock",
        h.SELF,
        "s.acquire(); s.release()",
        PAIR,
        "s = SpinLock()\nacq = s.acquire\nrel = s.release",
    )

    # --- both sides of the reader-writer locks
    for side, view, meth, gen, ftctx, ftacq in (
        ("read", "reader", "read", "gen_rlock", "RWReadContext", "read"),
        ("write", "writer", "write", "gen_wlock", "RWWriteContext", "write"),
    ):
        impl = "pyatomics.RWLock"
        add(
            f"{side}/guard",
            side,
            impl,
            h.SELF,
            f"with rw.{meth}(): pass",
            WITH.format(f"rw.{meth}()"),
            "rw = RWLock()",
        )
        add(
            f"{side}/view",
            side,
            impl,
            h.SELF,
            f"with rw.{view}: pass",
            WITH.format("v"),
            f"rw = RWLock()\nv = rw.{view}",
        )
        add(
            f"{side}/pair",
            side,
            impl,
            h.SELF,
            f"rw.acquire_{side}(); rw.release_{side}()",
            PAIR,
            f"rw = RWLock()\nacq = rw.acquire_{side}\nrel = rw.release_{side}",
        )
        for cls in RWL_CLASSES:
            add(
                f"{side}/rwl_{cls}",
                side,
                f"readerwriterlock.{cls}",
                h.PEER,
                f"with rw.{gen}(): pass",
                WITH.format(f"rw.{gen}()"),
                f"rw = rwlock.{cls}()",
            )
            add(
                f"{side}/rwl_{cls}_hoisted",
                side,
                f"readerwriterlock.{cls}",
                h.PEER,
                f"l = rw.{gen}() once; with l: pass",
                WITH.format("l"),
                f"rw = rwlock.{cls}()\nl = rw.{gen}()",
            )
        if _fts is not None:
            add(
                f"{side}/ft_ctx",
                side,
                "ft_utils.RWLock",
                h.PEER,
                f"ctx = {ftctx}(rw) once; with ctx: pass",
                WITH.format("ctx"),
                f"rw = fts.RWLock()\nctx = fts.{ftctx}(rw)",
            )
            add(
                f"{side}/ft_pair",
                side,
                "ft_utils.RWLock",
                h.PEER,
                f"rw.lock_{ftacq}(); rw.unlock_{ftacq}()",
                PAIR,
                f"rw = fts.RWLock()\nacq = rw.lock_{ftacq}\nrel = rw.unlock_{ftacq}",
            )

    def targets(suite: h.Suite) -> list[h.Target]:
        lock = suite.case("mutex/lock")
        out = []
        rwl_read = h.fastest(
            [c for c in suite.cases if c.group == "read" and c.impl.startswith("readerwriterlock")]
        )
        for key, code in (("read/guard", "with rw.read()"), ("read/view", "with rw.reader")):
            mine = suite.case(key)
            out.append(
                h.le_target(f"`{code}` time / `with threading.Lock()` time", h.time_ratio(mine, lock), 1.5)
            )
            out.append(
                h.ge_target(
                    f"`{code}` speed-up over readerwriterlock's fastest read form",
                    h.speedup(rwl_read, mine),
                    10.0,
                    f"{rwl_read.impl} `{rwl_read.code}`" if rwl_read else "readerwriterlock not measured",
                )
            )
        out.append(
            h.le_target(
                "`with SpinLock()` time / `with threading.Lock()` time",
                h.time_ratio(suite.case("mutex/spin"), lock),
                1.0,
            )
        )
        return out

    return h.Suite(
        name="locks.uncontended",
        title="Locks, uncontended acquire + release (single thread): ns per pair",
        metric=h.TIME,
        cases=cases,
        ratios=[
            h.RatioColumn("vs `with threading.Lock()`", h.ref_key("mutex/lock")),
            h.RatioColumn("vs fastest peer, same side and form", h.ref_in_group(h.PEER, same_form=True)),
        ],
        notes=_missing_notes()
        + LOCK_NOTES
        + [
            "forms: `with rw.read():` makes a guard object per entry, `with rw.reader:` reuses one, "
            "`acquire_read(); release_read()` calls the methods; each is compared with the peer's same form "
            "(ft_utils' RWReadContext is made once, so its `with` is compared with `with rw.reader:`)"
        ],
        targets=targets,
    )


# --- read-mostly throughput -----------------------------------------------

READS_PER_WRITE = 19  # 19 reads + 1 write = 20 operations: 95% reads


def _work(r, w, box) -> Callable[[int], None]:
    def work(n: int, r=r, w=w, box=box, reads=range(READS_PER_WRITE)) -> None:
        for _ in range(n):
            with w:
                box[0] += 1
            for _ in reads:
                with r:
                    v = box[0]  # noqa: F841 (the read is the work)

    return work


def _work_guard(rw, box) -> Callable[[int], None]:
    def work(n: int, rw=rw, box=box, reads=range(READS_PER_WRITE)) -> None:
        for _ in range(n):
            with rw.write():
                box[0] += 1
            for _ in reads:
                with rw.read():
                    v = box[0]  # noqa: F841 (the read is the work)

    return work


def _work_pair(racq, rrel, wacq, wrel, box) -> Callable[[int], None]:
    def work(n: int, racq=racq, rrel=rrel, wacq=wacq, wrel=wrel, box=box,
             reads=range(READS_PER_WRITE)) -> None:
        for _ in range(n):
            wacq()
            box[0] += 1
            wrel()
            for _ in reads:
                racq()
                v = box[0]  # noqa: F841 (the read is the work)
                rrel()

    return work


def _work_optimistic(rw, box) -> Callable[[int], None]:
    # The read-retry pattern of docs/api.md: read under a stamp, and only if a
    # writer came in meanwhile, again under the read lock.
    def work(n: int, opt=rw.optimistic_read, valid=rw.validate, r=rw.reader, w=rw.writer, box=box,
             reads=range(READS_PER_WRITE)) -> None:
        for _ in range(n):
            with w:
                box[0] += 1
            for _ in reads:
                stamp = opt()
                v = box[0]  # noqa: F841 (the read is the work)
                if not valid(stamp):
                    with r:
                        v = box[0]  # noqa: F841

    return work


def _work_unlocked_reads(lock, box) -> Callable[[int], None]:
    def work(n: int, w=lock, box=box, reads=range(READS_PER_WRITE)) -> None:
        for _ in range(n):
            with w:
                box[0] += 1
            for _ in reads:
                v = box[0]  # noqa: F841 (the read is the work)

    return work


def _check(shared, writes: int) -> str | None:
    got = shared[-1][0]
    if got != writes:
        return f"LOST UPDATES under the write side: {writes} writes, counter {got}"
    return None


# impl, role, code, make_shared() -> (lock-ish, box), make_worker(shared)
def _variants() -> list[tuple]:
    v: list[tuple] = [
        (
            "pyatomics.RWLock",
            h.SELF,
            "with rw.reader / with rw.writer",
            "rw_view",
            lambda: (RWLock(), [0]),
            lambda s: _work(s[0].reader, s[0].writer, s[1]),
        ),
        (
            "pyatomics.RWLock",
            h.SELF,
            "with rw.read() / with rw.write()",
            "rw_guard",
            lambda: (RWLock(), [0]),
            lambda s: _work_guard(s[0], s[1]),
        ),
        (
            "pyatomics.RWLock",
            h.SELF,
            "rw.acquire_read(); rw.release_read() (and _write)",
            "rw_pair",
            lambda: (RWLock(), [0]),
            lambda s: _work_pair(s[0].acquire_read, s[0].release_read, s[0].acquire_write, s[0].release_write,
                                 s[1]),
        ),
        (
            "pyatomics.RWLock",
            h.SELF,
            "s = rw.optimistic_read(); read; rw.validate(s) (else again under rw.reader); writes with rw.writer",
            "rw_opt",
            lambda: (RWLock(), [0]),
            lambda s: _work_optimistic(s[0], s[1]),
        ),
        (
            "pyatomics.SpinLock",
            h.SELF,
            "with s (both sides)",
            "spin",
            lambda: (SpinLock(), [0]),
            lambda s: _work(s[0], s[0], s[1]),
        ),
        (
            "python",
            h.BASE,
            "reads take no lock (the ceiling, not a correct reader), writes with threading.Lock",
            "nolock",
            lambda: (threading.Lock(), [0]),
            lambda s: _work_unlocked_reads(s[0], s[1]),
        ),
        (
            "threading.Lock",
            h.BASE,
            "with lock (both sides)",
            "lock",
            lambda: (threading.Lock(), [0]),
            lambda s: _work(s[0], s[0], s[1]),
        ),
    ]
    for cls in RWL_CLASSES:
        v.append(
            (
                f"readerwriterlock.{cls}",
                h.PEER,
                "per thread: with rw.gen_rlock() / gen_wlock() objects",
                f"rwl_{cls}",
                (lambda cls=cls: (getattr(_rwl, cls)(), [0])),
                lambda s: _work(s[0].gen_rlock(), s[0].gen_wlock(), s[1]),
            )
        )
    if _fts is not None:
        v.append(
            (
                "ft_utils.RWLock",
                h.PEER,
                "with RWReadContext(rw) / RWWriteContext(rw)",
                "ft",
                lambda: (_fts.RWLock(), [0]),
                lambda s: _work(_fts.RWReadContext(s[0]), _fts.RWWriteContext(s[0]), s[1]),
            )
        )
        v.append(
            (
                "ft_utils.RWLock",
                h.PEER,
                "rw.lock_read(); rw.unlock_read() (and _write)",
                "ft_pair",
                lambda: (_fts.RWLock(), [0]),
                lambda s: _work_pair(s[0].lock_read, s[0].unlock_read, s[0].lock_write, s[0].unlock_write,
                                     s[1]),
            )
        )
    return v


def readmostly_suite(settings: h.Settings) -> h.Suite:
    cases: list[h.Case] = []
    for t in settings.threads:
        group = f"{t} thread{'' if t == 1 else 's'}"
        for impl, role, code, key, make, worker in _variants():
            cases.append(
                h.mt_case(
                    f"{key}@{t}",
                    group,
                    impl,
                    role,
                    code,
                    t,
                    make,
                    worker,
                    _check,
                    ops_per_n=READS_PER_WRITE + 1,
                    form=(PAIR_FORM if key.endswith("_pair") else WITH_NEW if key == "rw_guard"
                          else OPTIMISTIC if key == "rw_opt" else WITH_ONCE),
                )
            )
    return h.Suite(
        name="locks.readmostly",
        title="Locks, read-mostly (95% reads / 5% writes, tiny critical section): throughput",
        metric=h.RATE,
        cases=cases,
        ratios=[
            h.RatioColumn(
                "vs pyatomics rw.reader (same threads)", lambda s, c: s.case(f"rw_view@{c.threads}")
            ),
            h.RatioColumn("vs threading.Lock (same threads)", lambda s, c: s.case(f"lock@{c.threads}")),
            h.RatioColumn("vs best peer, same form (same threads)", h.ref_in_group(h.PEER, same_form=True)),
        ],
        notes=_missing_notes()
        + LOCK_NOTES
        + [
            "one operation = one acquire + critical section + release",
            "threads beyond the usable cores: a SpinLock waiter spins on a core the holder needs",
        ],
    )


def build(settings: h.Settings) -> list[h.Suite]:
    return [uncontended_suite(settings), readmostly_suite(settings)]

