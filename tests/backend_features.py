"""The differences between the two backends that are unavoidable: the one place
that names them.

tests/test_differential.py applies every public operation to a C-API object
(pyatomics._capi_binding) and a cffi object (pyatomics._cffi_binding) built the
same way, and requires the same result, the same exception type and the same
message.  An outcome pair that differs passes only if an entry here (or, for a
defect still to be fixed, in KNOWN_DIFFERENCES in that file) claims it, and
each entry carries a reproducer that test_differential.py runs on both
backends to show the difference is still real, so this list cannot go stale.

What is compared, and what is normalised before comparing (not differences):
object addresses in reprs and messages (0x...), and results that are our own
objects, compared by kind ("an AtomicInt holding 5", "the read view") since
the two backends' objects are of different classes by construction.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class Outcome:
    """What one call did: returned `value` (normalised, see test_differential.py),
    or raised an exception of type `exc` with message `message`."""

    value: object = None
    exc: Optional[type] = None
    message: str = ""

    @property
    def raised(self) -> bool:
        return self.exc is not None

    def __str__(self) -> str:
        if self.raised:
            return f"raises {self.exc.__name__}({self.message!r})"
        return f"returns {self.value!r}"


@dataclass(frozen=True)
class Difference:
    """One named difference between the backends.

    matches(label, capi, cffi) says whether a differing pair of Outcomes from the
    operation `label` is this difference; reproducer(backend_module) is a call
    whose outcomes on the two backends must differ in exactly this way."""

    reason: str
    matches: Callable[[str, Outcome, Outcome], bool]
    reproducer: Callable[[types.ModuleType], object]
    reproducer_label: str  # the operation's label, as test_differential.py writes it


# The words CPython's argument parsers use for a wrong number of arguments or
# an unknown keyword.  A C function's parser (PyArg_Parse*, METH_NOARGS, METH_O)
# and a Python function's binding of its signature word these differently, and
# each differently again across CPython versions (3.10 added qualified names,
# 3.13 rewrote the keyword message).
_ARG_PARSER_WORDS = re.compile(
    r"takes (no arguments|no keyword arguments|at most \d+ arguments?|exactly (one|\d+) arguments?"
    r"|from \d+ to \d+ positional arguments?|\d+ positional arguments?|at least \d+ arguments?)"
    r"|missing \d+ required (positional|keyword-only) arguments?"
    r"|got an unexpected keyword argument|is an invalid keyword argument"
    r"|got multiple values for argument|got some positional-only arguments passed as keyword"
    r"|expected (at most |at least )?\d+ arguments?, got \d+"
)


def _both_argument_parser_errors(label: str, capi: Outcome, cffi: Outcome) -> bool:
    return (capi.exc is TypeError and cffi.exc is TypeError
            and bool(_ARG_PARSER_WORDS.search(capi.message)) and bool(_ARG_PARSER_WORDS.search(cffi.message)))


_NOT_THE_SAME_OBJECT = re.compile(
    r"Can't pickle <class 'pyatomics\.\w+'>: it's not the same object as pyatomics\.\w+")


def _pickle_by_name(label: str, capi: Outcome, cffi: Outcome) -> bool:
    # Exactly one side pickles (the backend `pyatomics` selected); the other
    # is refused by pickle's by-name lookup.
    import pyatomics

    good, refused = (capi, cffi) if pyatomics.BACKEND == "capi" else (cffi, capi)
    return (label.startswith("pickle") and not good.raised and refused.exc is not None
            and refused.exc.__name__ == "PicklingError"
            and bool(_NOT_THE_SAME_OBJECT.search(refused.message)))


def _pickle_the_other_backends_atomic(mod):
    import pickle

    return pickle.loads(pickle.dumps(mod.AtomicInt(3))).load()


def _type_name_qualified_by_capi(label: str, capi: Outcome, cffi: Outcome) -> bool:
    # "pyatomics.AtomicInt" for the C type, "AtomicInt" for the Python class
    # (stripped from both: an operand of the other backend is named in the cffi message).
    def strip(message: str) -> str:
        return re.sub(r"\bpyatomics\.(?=AtomicInt|AtomicCounter|AtomicRef|SpinLock|RWLock)", "", message)

    return (capi.exc is not None and capi.exc is cffi.exc and capi.message != cffi.message
            and strip(capi.message) == strip(cffi.message))


def _method_object_kind(label: str, capi: Outcome, cffi: Outcome) -> bool:
    return label.startswith("type(method)") and capi.value == ("str", "method_descriptor") and \
        cffi.value == ("str", "function")


BACKEND_FEATURES: dict[str, Difference] = {
    "method-objects": Difference(
        reason=(
            "The C-API classes are C types, their methods method descriptors; the cffi classes are "
            "Python classes, their methods functions (the point of cffi on PyPy: its JIT sees through "
            "them).  What introspection shows of that (types.FunctionType, __code__, __slots__, "
            "__dict__ of the class) differs; behaviour is compared everywhere else"
        ),
        matches=_method_object_kind,
        reproducer=lambda m: type(m.AtomicInt.load).__name__,
        reproducer_label="type(method)",
    ),
    "argument-parser-wording": Difference(
        reason=(
            "A wrong number of arguments or an unknown keyword is reported by the interpreter's argument "
            "parser: the C-API methods' (METH_NOARGS/METH_O/PyArg_ParseTupleAndKeywords) and a Python "
            "function's signature binding word it differently, and each changes across CPython versions. "
            "Both raise TypeError, which is compared; the words are not."
        ),
        matches=_both_argument_parser_errors,
        reproducer=lambda m: m.AtomicInt(1).load(1),
        reproducer_label="a.load(1)",
    ),
    "type-name-in-interpreter-messages": Difference(
        reason=(
            "Messages the interpreter words from a type's tp_name (unhashable type, unsupported operand "
            "type(s), object has no len(), cannot create instances) say 'pyatomics.AtomicInt' on the "
            "C-API backend and 'AtomicInt' on cffi.  A C type's tp_name is the dotted name its spec "
            "gives (that is how it gets its __module__, which pickling needs), and a Python class's "
            "tp_name is its __name__ (renaming it would change type(a).__name__ instead).  Only the "
            "qualification differs"
        ),
        matches=_type_name_qualified_by_capi,
        reproducer=lambda m: hash(m.AtomicInt(1)),
        reproducer_label="hash(a)",
    ),
    "pickle-by-name": Difference(
        reason=(
            "Both backends name their classes pyatomics.AtomicInt, so that a pickle made with one backend "
            "loads with the other (tests/test_package.py::test_backends_interoperate); pickle therefore "
            "looks the class up by that name and finds the backend `pyatomics` selected.  In a process that "
            "holds both, only the selected backend's objects pickle; copy/deepcopy and __reduce_ex__ "
            "are compared as usual."
        ),
        matches=_pickle_by_name,
        reproducer=_pickle_the_other_backends_atomic,
        reproducer_label="pickle round trip",
    ),
}
