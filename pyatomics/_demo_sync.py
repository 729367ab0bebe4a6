"""Parts 3 and 4 of `python -m pyatomics demo`: a deadlock reported by
lock-order checking instead of hanging, and Ctrl-C during a long join."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Callable

from . import sync


def demo_lock_order(banner: Callable[[str], None]) -> None:
    banner("3. A deadlock caught before it happens")
    was_enabled = sync.lock_order_checking_enabled()
    sync.enable_lock_order_checking()
    try:
        accounts = sync.new_lock("accounts")
        audit = sync.new_lock("audit")

        def transfer() -> None:  # takes accounts, then audit
            with accounts, audit:
                pass

        def report() -> None:  # takes audit, then accounts: the opposite order
            with audit, accounts:
                pass

        caught: list[BaseException] = []

        def run(fn: Callable[[], None]) -> None:
            try:
                fn()
            except sync.LockOrderError as exc:
                caught.append(exc)

        # Run one after the other: this time nothing would deadlock, but the
        # two orders together can, and the checker says so on the first run.
        for fn in (transfer, report):
            t = threading.Thread(target=run, args=(fn,))
            t.start()
            t.join(5)
        if caught:
            print("LockOrderError raised in the second thread, before it could block:")
            for line in str(caught[0]).splitlines():
                print("  " + line)
        else:
            print("unexpected: no LockOrderError")
        print("  (off by default; PYATOMICS_LOCK_ORDER_CHECK=1 or sync.enable_lock_order_checking())")
    finally:
        if not was_enabled:
            sync.disable_lock_order_checking()


def demo_ctrl_c(banner: Callable[[str], None]) -> None:
    banner("4. Ctrl-C during a long join")
    worker = sync.StoppableThread(target=lambda ev: ev.wait(), name="long-worker")
    worker.start()
    # Simulate the user pressing Ctrl-C 0.3 s into the join.
    timer = threading.Timer(0.3, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    try:
        sync.join_all([worker], timeout=30)
        print("unexpected: join_all returned without the interrupt")
    except KeyboardInterrupt:
        print(f"KeyboardInterrupt surfaced {time.monotonic() - t0:.2f} s into a 30 s join_all")
    finally:
        timer.cancel()
        ended = worker.shutdown(timeout=5)
        print(f"the worker was asked to stop and joined cleanly: {ended}")


def run(banner: Callable[[str], None]) -> None:
    demo_lock_order(banner)
    if threading.current_thread() is threading.main_thread():
        demo_ctrl_c(banner)
