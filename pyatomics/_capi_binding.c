/*
 * _capi_binding.c -- the CPython C-API binding of the pyatomics core.
 *
 * This is the only C file that includes Python.h.  It converts arguments and
 * results, maps core status codes to exceptions, releases the GIL (detaches
 * the thread state on free-threaded builds) around blocking calls and runs
 * signal handlers while blocked.  Every algorithm lives in csrc/.
 *
 * Multi-phase init, heap types, and Py_mod_gil = Py_MOD_GIL_NOT_USED: nothing
 * here relies on the GIL, because all shared state is in the core's atomics.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <structmember.h>

#include "pa_atomic.h"
#include "pa_atomic_int.h"
#include "pa_build_info.h"
#include "pa_contract.h"
#include "pa_counter.h"
#include "pa_ref.h"
#include "pa_rwlock.h"
#include "pa_spinlock.h"
#include "pa_wait.h"

#ifndef Py_TPFLAGS_IMMUTABLETYPE
#define Py_TPFLAGS_IMMUTABLETYPE 0
#endif

/* ===========================================================================
 * Module state and process globals: everything this file keeps outside an
 * object.  The types live in the module state (one per interpreter); the one
 * process global is the main thread's ident, which pa_blocking_begin needs:
 * only the main thread runs signal handlers, so only it waits in slices.
 * Set at module exec and in a child after fork (after_fork_in_child).
 * ========================================================================= */

typedef struct {
    PyTypeObject *AtomicInt_Type;
    PyTypeObject *AtomicCounter_Type;
    PyTypeObject *AtomicRef_Type;
    PyTypeObject *SpinLock_Type;
    PyTypeObject *RWLock_Type;
    PyTypeObject *RWLockView_Type;
    PyTypeObject *RWLockGuard_Type;
    PyTypeObject *AtomicIntHandle_Type; /* x.handle() (see AtomicIntObject) */
    PyTypeObject *AtomicCounterHandle_Type;
    PyTypeObject *AtomicRefHandle_Type;
    PyTypeObject *RWLockHandle_Type;
} module_state;

static unsigned long main_thread_ident;

/* ===========================================================================
 * Shared helpers: errors, integers, timeouts, blocking
 * ========================================================================= */

/* Raises the exception the core's contract names for `status`, with its
 * message (pa_contract.h; the variadic arguments fill its %s).  Returns NULL
 * so that `return raise_status(...)` ends a method. */
static void *raise_status(int status, ...) {
    PyObject *exc;
    switch (pa_status_exception(status)) {
        case PA_RAISES_TYPE_ERROR: exc = PyExc_TypeError; break;
        case PA_RAISES_VALUE_ERROR: exc = PyExc_ValueError; break;
        case PA_RAISES_OVERFLOW_ERROR: exc = PyExc_OverflowError; break;
        case PA_RAISES_TIMEOUT_ERROR: exc = PyExc_TimeoutError; break;
        default: exc = PyExc_RuntimeError; break;
    }
    va_list va;
    va_start(va, status);
    PyErr_FormatV(exc, pa_status_message(status), va);
    va_end(va);
    return NULL;
}
/* The RWLock views and guards are made only by an RWLock: one built by
 * type(x)() would have no lock (with on it dereferenced NULL).  3.10+ has a
 * flag for "no constructor"; on 3.9 a heap type without tp_new inherits
 * object's, so it gets one that refuses. */
#ifdef Py_TPFLAGS_DISALLOW_INSTANTIATION
#define PA_TPFLAGS_NOT_CONSTRUCTIBLE Py_TPFLAGS_DISALLOW_INSTANTIATION
#else
#define PA_TPFLAGS_NOT_CONSTRUCTIBLE 0
static PyObject *refuse_construction(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    return raise_status(PA_NOT_CONSTRUCTIBLE, type->tp_name);
}
#endif
#if PY_VERSION_HEX < 0x030D0000
static inline int PyUnicode_EqualToUTF8(PyObject *u, const char *s) {
    return PyUnicode_Check(u) && PyUnicode_CompareWithASCIIString(u, s) == 0;
}
#endif
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) {
    Py_INCREF(o);
    return o;
}
#endif

static void AtomicInt_dealloc(PyObject *self);

/* A helper type from the module state, or NULL with RuntimeError once
 * module_clear has run: during interpreter finalisation the cyclic GC may
 * clear this module while objects whose finalizers still make RWLocks (or
 * timed guards, or handles) are alive, and PyObject_New on a NULL type would
 * crash. */
static PyTypeObject *helper_type(PyTypeObject *tp) {
    if (tp == NULL) raise_status(PA_FINALIZED);
    return tp;
}

/* ---------------------------------------------------------------------------
 * Handles (x.handle(); the layout is described at AtomicIntObject).
 *
 * Why a subtype, not a proxy class: isinstance(h, AtomicInt) holds and every
 * method, property and operator of the type is the handle's with no code of
 * its own, because every one of them reaches the core through the pointer.
 * Made only by handle() (no constructor: TypeError), not subclassable.  What
 * a handle changes is which Python object the calling thread's bytecode
 * touches, never what the core sees: the core state is the root's, so every
 * rule keyed on it (an RWLock's misuse checks, its per-thread read-hold table,
 * fork reinitialisation) treats root and handles as one lock.
 *
 * handle() of a handle is another handle of the same root, so every handle
 * holds the root itself (one strong reference, taken at creation: creating
 * one from any thread is an incref of the root and plain stores to a new
 * object, safe with no lock).  The handle types are GC types although
 * AtomicInt and AtomicCounter are not: a root that is an instance of a Python
 * subclass has a __dict__ that may hold its own handle (a cycle the collector
 * must see).  A handle's tp_clear leaves the root reference alone (its
 * methods must keep working until it is freed); every cycle through a handle
 * also runs through a member that does clear (a subclass instance's __dict__,
 * an AtomicRef's slot, an RWLock's or handle's views).  A handle of an
 * instance of a Python subclass is of the plain handle type: it has the
 * base type's methods, not the subclass's. */

static int refuse_arguments(const char *name, Py_ssize_t nargs, PyObject *kwnames) {
    Py_ssize_t n = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    if (n == 0) return 0;
    PyErr_Format(PyExc_TypeError, "%s() takes no arguments (%zd given)", name, n);
    return -1;
}

/* The module state from the class that defines the method (METH_METHOD):
 * also right for a Python subclass, whose type has no module of its own. */
static PyTypeObject *handle_type(PyTypeObject *defining_class, size_t offset) {
    module_state *st = PyType_GetModuleState(defining_class);
    if (st == NULL) return NULL;
    return helper_type(*(PyTypeObject **)((char *)st + offset));
}

/* Deferred reference counting (3.14+, free-threaded builds): where the
 * interpreter puts the object on its stack as a new reference
 * (PyStackRef_FromPyObjectNew: a global's load, LOAD_ATTR of a slot such as
 * rw.reader), it then takes none, so threads sharing the object stop
 * contending on its count there (increfs in C code, Py_NewRef, still count);
 * the price is that only the cyclic collector frees it.  The runtime supports
 * it for GC types only (PyUnstable_Object_EnableDeferredRefcount returns 0
 * for others), and the documentation asks
 * for it soon after creation, by the creator.  Used for an RWLock and its
 * two views: each already lives in a reference cycle (the lock holds its
 * views, they hold it), so only the collector frees them anyway and nothing
 * is lost.  Not for AtomicInt and AtomicCounter (not GC types: they would
 * need a GC header and traversal, for every object, to be eligible), nor for
 * AtomicRef (its held object would be released only by a collection instead
 * of at the last reference): handles are what removes the contention there.
 * Not for handles either: one thread uses each, and they should go promptly. */
#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030E0000
#define PA_DEFER_REFCOUNT(o) ((void)PyUnstable_Object_EnableDeferredRefcount((PyObject *)(o)))
#else
#define PA_DEFER_REFCOUNT(o) ((void)(o))
#endif

/* tp_dealloc, tp_traverse, tp_clear and `_root` of the handle of a value type
 * (AtomicInt, AtomicCounter, AtomicRef): CAST is the object's macro. */
#define DEFINE_VALUE_HANDLE(Name, CAST)                                         \
    static void Name##Handle_dealloc(PyObject *self) {                          \
        PyTypeObject *tp = Py_TYPE(self);                                       \
        PyObject_GC_UnTrack(self);                                              \
        Py_CLEAR(CAST(self)->root); /* may free the root and its core state */ \
        tp->tp_free(self);                                                      \
        Py_DECREF(tp);                                                          \
    }                                                                           \
    static int Name##Handle_traverse(PyObject *self, visitproc visit, void *arg) { \
        Py_VISIT(Py_TYPE(self));                                                \
        Py_VISIT(CAST(self)->root);                                             \
        return 0;                                                               \
    }                                                                           \
    static int Name##Handle_clear(PyObject *self) { return 0; /* see above */ } \
    static PyObject *Name##Handle_get_root(PyObject *self, void *closure) {     \
        (void)closure;                                                          \
        return Py_NewRef(CAST(self)->root);                                     \
    }                                                                           \
    static PyGetSetDef Name##Handle_getset[] = {                                \
        {"_root", Name##Handle_get_root, NULL, "The object this is a handle of.", NULL}, \
        {NULL, NULL, NULL, NULL, NULL},                                         \
    };

/* The slots of a handle type; the rest is inherited from the base. */
#define HANDLE_SLOTS(Name, doc)                          \
    {Py_tp_doc, doc},                                    \
    {Py_tp_dealloc, Name##Handle_dealloc},               \
    {Py_tp_traverse, Name##Handle_traverse},             \
    {Py_tp_clear, Name##Handle_clear},                   \
    {Py_tp_getset, Name##Handle_getset},                 \
    {Py_tp_free, PyObject_GC_Del}
#ifndef Py_TPFLAGS_DISALLOW_INSTANTIATION
#define HANDLE_NEW_SLOT {Py_tp_new, refuse_construction},
#else
#define HANDLE_NEW_SLOT
#endif
#define HANDLE_FLAGS \
    (Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | PA_TPFLAGS_NOT_CONSTRUCTIBLE)
#define HANDLE_METHOD_DEF(Name, doc) \
    {"handle", (PyCFunction)(void (*)(void))Name##_handle, METH_METHOD | METH_FASTCALL | METH_KEYWORDS, doc}
#define HANDLE_DOC(what)                                                                                      \
    "handle($self, /)\n--\n\nA new object for the calling thread's own use, bound to the same " what         \
    ": the same methods, and using it touches only it (one object shared by threads has its reference count " \
    "contended on free-threaded builds). It keeps this object alive."

/* The root of `self`: itself, or the one a handle holds. */
#define ROOT_OF(self, CAST) (CAST(self)->root != NULL ? CAST(self)->root : (PyObject *)(self))

/* Whether `o` is an AtomicInt (or an instance of a subclass).  Recognised by
 * type: the AtomicInt type is the only one whose tp_dealloc is
 * AtomicInt_dealloc, and a subclass has it on its tp_base chain (a Python
 * subclass must have AtomicInt as its solid base to share its layout).  A slot
 * a subclass may override (tp_richcompare, the number slots) would not do:
 * `class C(AtomicInt): def __eq__` made C(5) + 1 recurse until the C stack
 * overflowed.  Walking tp_base instead of asking the module state keeps this a
 * pointer chase with no lookup, correct in every interpreter that loads us. */
static inline int IS_ATOMIC_INT(PyObject *o) {
    for (PyTypeObject *t = Py_TYPE(o); t != NULL; t = t->tp_base)
        if (t->tp_dealloc == AtomicInt_dealloc) return 1;
    return 0;
}

/* Converts an int-like object (int, bool, anything with __index__) to int64.
 * TypeError for non-integers, OverflowError outside the signed 64-bit range.
 * Returns 0, or -1 with an exception set. */
static int as_int64(PyObject *obj, int64_t *out) {
    int overflow;
    long long v;
    if (PyLong_Check(obj)) {
        v = PyLong_AsLongLongAndOverflow(obj, &overflow);
    } else {
        PyObject *index = PyNumber_Index(obj); /* TypeError for float, str, ... */
        if (index == NULL) return -1;
        v = PyLong_AsLongLongAndOverflow(index, &overflow);
        Py_DECREF(index);
    }
    if (overflow) {
        raise_status(PA_ARG_RANGE);
        return -1;
    }
    if (v == -1 && PyErr_Occurred()) return -1;
    *out = (int64_t)v;
    return 0;
}

static PyObject *overflow_result(void) { return raise_status(PA_RESULT_RANGE); }

/* A timeout argument (int, float or __index__ object) -> seconds as a double;
 * the rules about its value are the core's (pa_timeout_*).  Returns 0, or -1
 * with an exception set. */
static int timeout_seconds(PyObject *obj, double *out) {
    if (PyFloat_Check(obj)) {
        *out = PyFloat_AS_DOUBLE(obj);
        return 0;
    }
    if (!PyLong_Check(obj) && !PyIndex_Check(obj)) {
        raise_status(PA_TIMEOUT_NOT_NUMBER, Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *index = PyNumber_Index(obj);
    if (index == NULL) return -1;
    *out = PyLong_AsDouble(index); /* OverflowError for huge ints, as float() */
    Py_DECREF(index);
    return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
}

/* acquire(blocking=True, timeout=-1).  *timeout_ns: -1 forever, 0 a single
 * attempt, else the timeout. */
static int parse_acquire_args(PyObject *args, PyObject *kwds, int64_t *timeout_ns) {
    static char *kwlist[] = {"blocking", "timeout", NULL};
    int blocking = 1;
    PyObject *timeout_obj = NULL;
    double seconds = -1.0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|pO:acquire", kwlist, &blocking, &timeout_obj))
        return -1;
    if (timeout_obj != NULL && timeout_seconds(timeout_obj, &seconds) < 0) return -1;
    pa_lock_result st = pa_timeout_for_acquire(blocking, timeout_obj != NULL, seconds, timeout_ns);
    if (st != PA_ACQUIRED) raise_status(st);
    return st == PA_ACQUIRED ? 0 : -1;
}

/* The `timeout=None` forms (context managers, wait()). */
static int parse_optional_timeout(PyObject *obj, int64_t *timeout_ns) {
    double seconds = 0.0;
    int is_none = obj == NULL || obj == Py_None;
    if (!is_none && timeout_seconds(obj, &seconds) < 0) return -1;
    pa_lock_result st = pa_timeout_optional(is_none, seconds, timeout_ns);
    if (st != PA_ACQUIRED) raise_status(st);
    return st == PA_ACQUIRED ? 0 : -1;
}

/* A core blocking call: tries until deadline_ns; see pa_lock.h for results. */
typedef pa_lock_result (*blocking_call)(void *target, int64_t deadline_ns, void *ctx);

/* Runs `call` with the thread state detached, driven by the core's blocking
 * driver (pa_contract.h: deadline, main-thread slices), and runs signal
 * handlers between its rounds.  timeout_ns: -1 forever, 0 a single attempt
 * (which never sleeps, so it keeps the thread state).  Returns the core's
 * result; PA_INTERRUPTED means a signal handler raised and the exception is
 * set (nothing is held). */
static pa_lock_result block_on(blocking_call call, void *target, void *ctx, int64_t timeout_ns) {
    if (timeout_ns == 0) return call(target, 0, ctx);
    pa_blocking b;
    pa_lock_result r;
    pa_blocking_begin(&b, timeout_ns, PyThread_get_thread_ident() == main_thread_ident);
    do {
        Py_BEGIN_ALLOW_THREADS
        r = call(target, b.until_ns, ctx);
        Py_END_ALLOW_THREADS
        if (!pa_blocking_again(&b, r)) return r;
    } while (PyErr_CheckSignals() == 0);
    return PA_INTERRUPTED;
}

/* ===========================================================================
 * AtomicInt
 * ========================================================================= */

/* Every object of ours reaches its core state through a pointer (`a` here,
 * `c`, `r`, `lock` below): to its own storage (`own`) in an object made by
 * the type, to its root's in a handle (x.handle(), the *Handle types below).
 * A handle is a C subtype with the same layout, so every method and property
 * of the type is the handle's too, and using it touches only the handle: on
 * free-threaded builds one object shared by many threads has its reference
 * count bounced between them by every call, whatever the method does, and a
 * handle per thread is a second object over the same core.  The pointer is
 * written once, before the object is shared, and never changes; what it costs
 * is one load (from the object's own first cache line) before the core's
 * operation.  `root` is NULL in a root and the handle's strong reference to
 * its root otherwise (never another handle), so the root, which owns the
 * core state, lives as long as any handle.  A handle's `own` is unused. */
typedef struct {
    PyObject_HEAD
    pa_aint *a;     /* &own, or the root's (handles) */
    PyObject *root; /* NULL, or (handles) the root object */
    pa_aint own;    /* value and waiters (pa_atomic_int.h) */
} AtomicIntObject;

#define AI(o) ((AtomicIntObject *)(o))

/* __new__ makes a zero and __init__ stores the value, as for list: a
 * subclass whose __init__ takes other arguments needs no __new__ of its own
 * (it calls super().__init__(value), or leaves the value 0). */
static PyObject *AtomicInt_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    AtomicIntObject *self = (AtomicIntObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->a = &self->own;
    self->root = NULL;
    pa_aint_init(&self->own, 0);
    return (PyObject *)self;
}

static int AtomicInt_init(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"value", NULL};
    PyObject *value_obj = NULL;
    int64_t value = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:AtomicInt", kwlist, &value_obj)) return -1;
    if (value_obj != NULL && as_int64(value_obj, &value) < 0) return -1;
    pa_aint_store(AI(self)->a, value); /* a store like any other: waiters wake */
    return 0;
}

static void AtomicInt_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *AtomicInt_load(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLongLong(pa_aint_load(AI(self)->a));
}

static PyObject *AtomicInt_store(PyObject *self, PyObject *arg) {
    int64_t v;
    if (as_int64(arg, &v) < 0) return NULL;
    pa_aint_store(AI(self)->a, v);
    Py_RETURN_NONE;
}

static PyObject *AtomicInt_exchange(PyObject *self, PyObject *arg) {
    int64_t v;
    if (as_int64(arg, &v) < 0) return NULL;
    return PyLong_FromLongLong(pa_aint_exchange(AI(self)->a, v));
}

static PyObject *AtomicInt_compare_exchange(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    int64_t expected, desired;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "compare_exchange expected 2 arguments, got %zd", nargs);
        return NULL;
    }
    if (as_int64(args[0], &expected) < 0 || as_int64(args[1], &desired) < 0) return NULL;
    return PyBool_FromLong(pa_aint_compare_exchange(AI(self)->a, expected, desired, NULL));
}

/* Checked add of `delta`; returns the old value, or NULL with OverflowError. */
static inline PyObject *add_returning(PyObject *self, int64_t delta, int return_new) {
    int64_t old;
    if (PA_UNLIKELY(pa_aint_fetch_add_checked(AI(self)->a, delta, &old) != PA_OK))
        return overflow_result();
    return PyLong_FromLongLong(return_new ? old + delta : old);
}

static inline PyObject *sub_returning(PyObject *self, int64_t delta, int return_new) {
    int64_t old;
    if (PA_UNLIKELY(pa_aint_fetch_sub_checked(AI(self)->a, delta, &old) != PA_OK))
        return overflow_result();
    return PyLong_FromLongLong(return_new ? old - delta : old);
}

static PyObject *AtomicInt_fetch_add(PyObject *self, PyObject *arg) {
    int64_t v;
    if (as_int64(arg, &v) < 0) return NULL;
    return add_returning(self, v, 0);
}
static PyObject *AtomicInt_fetch_sub(PyObject *self, PyObject *arg) {
    int64_t v;
    if (as_int64(arg, &v) < 0) return NULL;
    return sub_returning(self, v, 0);
}
static PyObject *AtomicInt_add(PyObject *self, PyObject *arg) {
    int64_t v;
    if (as_int64(arg, &v) < 0) return NULL;
    return add_returning(self, v, 1);
}
static PyObject *AtomicInt_sub(PyObject *self, PyObject *arg) {
    int64_t v;
    if (as_int64(arg, &v) < 0) return NULL;
    return sub_returning(self, v, 1);
}
static PyObject *AtomicInt_inc(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return add_returning(self, 1, 1);
}
static PyObject *AtomicInt_dec(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return sub_returning(self, 1, 1);
}

/* fetch_and, fetch_or, fetch_xor, fetch_max, fetch_min: cannot overflow. */
#define DEFINE_FETCH_OP(name, core_fn)                                  \
    static PyObject *AtomicInt_##name(PyObject *self, PyObject *arg) {  \
        int64_t v;                                                      \
        if (as_int64(arg, &v) < 0) return NULL;                         \
        return PyLong_FromLongLong(core_fn(AI(self)->a, v));           \
    }
DEFINE_FETCH_OP(fetch_and, pa_aint_fetch_and)
DEFINE_FETCH_OP(fetch_or, pa_aint_fetch_or)
DEFINE_FETCH_OP(fetch_xor, pa_aint_fetch_xor)
DEFINE_FETCH_OP(fetch_max, pa_aint_fetch_max)
DEFINE_FETCH_OP(fetch_min, pa_aint_fetch_min)

/* update(func): the CAS loop with a Python function in it.  func may run
 * more than once under contention, so it must be pure. */
static PyObject *AtomicInt_update(PyObject *self, PyObject *func) {
    if (!PyCallable_Check(func)) return raise_status(PA_NOT_CALLABLE, Py_TYPE(func)->tp_name);
    int64_t old = pa_aint_load(AI(self)->a);
    for (;;) {
        PyObject *old_obj = PyLong_FromLongLong(old);
        if (old_obj == NULL) return NULL;
        PyObject *new_obj = PyObject_CallOneArg(func, old_obj);
        Py_DECREF(old_obj);
        if (new_obj == NULL) return NULL;
        int64_t new_value;
        int rc = as_int64(new_obj, &new_value);
        Py_DECREF(new_obj);
        if (rc < 0) return NULL;
        if (pa_aint_compare_exchange(AI(self)->a, old, new_value, &old))
            return PyLong_FromLongLong(new_value);
    }
}

/* --- wait / notify -------------------------------------------------------- */

static pa_lock_result atomic_int_wait_call(void *target, int64_t deadline, void *ctx) {
    AtomicIntObject *self = target;
    return pa_aint_wait(self->a, *(int64_t *)ctx, deadline);
}

static PyObject *AtomicInt_wait(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"expected", "timeout", NULL};
    PyObject *expected_obj, *timeout_obj = Py_None;
    int64_t expected, timeout_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:wait", kwlist, &expected_obj, &timeout_obj))
        return NULL;
    if (as_int64(expected_obj, &expected) < 0) return NULL;
    if (parse_optional_timeout(timeout_obj, &timeout_ns) < 0) return NULL;
    pa_lock_result r = block_on(atomic_int_wait_call, self, &expected, timeout_ns);
    if (r == PA_INTERRUPTED) return NULL;
    return PyBool_FromLong(r == PA_ACQUIRED);
}

static PyObject *AtomicInt_notify_one(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_aint_notify(AI(self)->a, false);
    Py_RETURN_NONE;
}

static PyObject *AtomicInt_notify_all(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_aint_notify(AI(self)->a, true);
    Py_RETURN_NONE;
}

/* --- the int methods, on a snapshot ----------------------------------------
 * The names are the core's (pa_contract.h); each asks int(a) for the same
 * method with the same arguments, so round(a, -1), a.bit_length(),
 * math.floor(a) answer for one instant exactly as int would. */
static PyObject *snapshot_call(PyObject *self, const char *name, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
    PyObject *v = PyLong_FromLongLong(pa_aint_load(AI(self)->a));
    if (v == NULL) return NULL;
    PyObject *method = PyObject_GetAttrString(v, name);
    Py_DECREF(v);
    if (method == NULL) return NULL;
    PyObject *res = PyObject_Vectorcall(method, args, (size_t)nargs, kwnames);
    Py_DECREF(method);
    return res;
}
#define DEFINE_SNAPSHOT_METHOD(name)                                                                  \
    static PyObject *AtomicInt_snapshot_##name(PyObject *self, PyObject *const *args, Py_ssize_t nargs, \
                                               PyObject *kwnames) {                                  \
        return snapshot_call(self, #name, args, nargs, kwnames);                                     \
    }
PA_INT_SNAPSHOT_METHODS(DEFINE_SNAPSHOT_METHOD)
#define SNAPSHOT_METHOD_DEF(name)                                                                   \
    {#name, (PyCFunction)(void (*)(void))AtomicInt_snapshot_##name, METH_FASTCALL | METH_KEYWORDS, \
     #name "($self, /, *args, **kwargs)\n--\n\nint." #name " of the current value (a snapshot)."},
/* Added to the type by add_snapshot_methods(): only those this
 * interpreter's int has (bit_count is 3.10+, is_integer 3.12+). */
static PyMethodDef AtomicInt_snapshot_methods[] = {PA_INT_SNAPSHOT_METHODS(SNAPSHOT_METHOD_DEF){NULL, NULL, 0, NULL}};

static PyObject *snapshot_attribute(PyObject *self, void *name) {
    PyObject *v = PyLong_FromLongLong(pa_aint_load(AI(self)->a));
    if (v == NULL) return NULL;
    PyObject *res = PyObject_GetAttrString(v, (const char *)name);
    Py_DECREF(v);
    return res;
}
#define SNAPSHOT_GETSET(name) {#name, snapshot_attribute, NULL, "int." #name " of the current value.", #name},
static PyGetSetDef AtomicInt_getset[] = {PA_INT_SNAPSHOT_ATTRIBUTES(SNAPSHOT_GETSET){NULL, NULL, NULL, NULL, NULL}};

/* Into tp_dict before any code sees the type (the immutable flag only stops
 * setattr from Python; CPython's docs point extensions at tp_dict for this). */
static int add_snapshot_methods(PyTypeObject *type) {
    PyObject *dict = type->tp_dict;
    for (PyMethodDef *def = AtomicInt_snapshot_methods; def->ml_name != NULL; def++) {
        int has = PyObject_HasAttrString((PyObject *)&PyLong_Type, def->ml_name);
        if (!has) continue;
        PyObject *descr = PyDescr_NewMethod(type, def);
        if (descr == NULL || PyDict_SetItemString(dict, def->ml_name, descr) < 0) {
            Py_XDECREF(descr);
            return -1;
        }
        Py_DECREF(descr);
    }
    PyType_Modified(type);
    return 0;
}

/* --- copying, pickling, formatting --------------------------------------- */

/* Copies and pickles are of the root's type (a handle's too: a copy is a new
 * value, not a handle of anything). */
static PyObject *new_like(PyObject *self) {
    return PyObject_CallFunction((PyObject *)Py_TYPE(ROOT_OF(self, AI)), "L",
                                 (long long)pa_aint_load(AI(self)->a));
}
static PyObject *AtomicInt_copy(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return new_like(self);
}
static PyObject *AtomicInt_deepcopy(PyObject *self, PyObject *Py_UNUSED(memo)) {
    return new_like(self);
}
static PyObject *AtomicInt_reduce(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("O(L)", (PyObject *)Py_TYPE(ROOT_OF(self, AI)), (long long)pa_aint_load(AI(self)->a));
}
static PyObject *AtomicInt_format(PyObject *self, PyObject *spec) {
    if (!PyUnicode_Check(spec)) /* as int.__format__ (PyObject_Format would raise SystemError) */
        return raise_status(PA_FORMAT_SPEC_NOT_STR, Py_TYPE(spec)->tp_name);
    PyObject *v = PyLong_FromLongLong(pa_aint_load(AI(self)->a));
    if (v == NULL) return NULL;
    PyObject *res = PyObject_Format(v, spec);
    Py_DECREF(v);
    return res;
}
static PyObject *AtomicInt_repr(PyObject *self) {
    const char *name = Py_TYPE(self)->tp_name, *dot = strrchr(name, '.');
    return PyUnicode_FromFormat("%s(%lld)", dot ? dot + 1 : name, (long long)pa_aint_load(AI(self)->a));
}

static PyObject *AtomicInt_str(PyObject *self) {
    PyObject *v = PyLong_FromLongLong(pa_aint_load(AI(self)->a));
    if (v == NULL) return NULL;
    PyObject *res = PyObject_Str(v);
    Py_DECREF(v);
    return res;
}

/* --- number protocol ----------------------------------------------------- */

static PyObject *AtomicInt_int(PyObject *self) { return AtomicInt_load(self, NULL); }
static PyObject *AtomicInt_float(PyObject *self) {
    return PyFloat_FromDouble((double)pa_aint_load(AI(self)->a));
}
static int AtomicInt_bool(PyObject *self) { return pa_aint_load(AI(self)->a) != 0; }

/* An operand as a plain int: AtomicInts are read (one load), others as is. */
static PyObject *operand(PyObject *o) {
    if (IS_ATOMIC_INT(o)) return PyLong_FromLongLong(pa_aint_load(AI(o)->a));
    return Py_NewRef(o);
}

/* Binary arithmetic (a + 1, 1 + a, ...) returns a plain int computed from a
 * snapshot of the value, exactly as int(a) + 1 would. */
static PyObject *binary_op(PyObject *a, PyObject *b, binaryfunc op) {
    PyObject *x = operand(a), *y = NULL, *res = NULL;
    if (x == NULL) return NULL;
    y = operand(b);
    if (y != NULL) res = op(x, y);
    Py_DECREF(x);
    Py_XDECREF(y);
    return res;
}
#define DEFINE_BINARY(name, fn) \
    static PyObject *AtomicInt_##name(PyObject *a, PyObject *b) { return binary_op(a, b, fn); }
DEFINE_BINARY(nb_add, PyNumber_Add)
DEFINE_BINARY(nb_sub, PyNumber_Subtract)
DEFINE_BINARY(nb_mul, PyNumber_Multiply)
DEFINE_BINARY(nb_floordiv, PyNumber_FloorDivide)
DEFINE_BINARY(nb_truediv, PyNumber_TrueDivide)
DEFINE_BINARY(nb_mod, PyNumber_Remainder)
DEFINE_BINARY(nb_divmod, PyNumber_Divmod)
DEFINE_BINARY(nb_and, PyNumber_And)
DEFINE_BINARY(nb_or, PyNumber_Or)
DEFINE_BINARY(nb_xor, PyNumber_Xor)
DEFINE_BINARY(nb_lshift, PyNumber_Lshift)
DEFINE_BINARY(nb_rshift, PyNumber_Rshift)

/* Ternary pow takes part exactly where a Python class's __pow__/__rpow__
 * would, so both backends agree (the cffi binding's class gets this from the
 * interpreter): as the base always; as the exponent in pow(x, a) and, from
 * 3.14 (which calls __rpow__ for three-argument pow), in pow(x, a, m); as the
 * modulus alone never (CPython never asks a Python class there). */
static PyObject *AtomicInt_nb_pow(PyObject *a, PyObject *b, PyObject *mod) {
    if (!IS_ATOMIC_INT(a)) {
        int exponent_form = IS_ATOMIC_INT(b) && (mod == Py_None || PY_VERSION_HEX >= 0x030E0000);
        if (!exponent_form) Py_RETURN_NOTIMPLEMENTED;
    }
    PyObject *x = operand(a), *y = NULL, *m = NULL, *res = NULL;
    if (x == NULL) return NULL;
    if ((y = operand(b)) != NULL && (m = operand(mod)) != NULL) res = PyNumber_Power(x, y, m);
    Py_DECREF(x);
    Py_XDECREF(y);
    Py_XDECREF(m);
    return res;
}

#define DEFINE_UNARY(name, fn)                               \
    static PyObject *AtomicInt_##name(PyObject *a) {         \
        PyObject *x = operand(a), *res;                      \
        if (x == NULL) return NULL;                          \
        res = fn(x);                                         \
        Py_DECREF(x);                                        \
        return res;                                          \
    }
DEFINE_UNARY(nb_neg, PyNumber_Negative)
DEFINE_UNARY(nb_pos, PyNumber_Positive)
DEFINE_UNARY(nb_abs, PyNumber_Absolute)
DEFINE_UNARY(nb_invert, PyNumber_Invert)

/* In-place operators that are one atomic operation on the object itself:
 * `a += n` is a.fetch_add(n), and the name stays bound to the same AtomicInt. */
static PyObject *AtomicInt_iadd(PyObject *self, PyObject *arg) {
    int64_t v, old;
    if (as_int64(arg, &v) < 0) return NULL;
    if (pa_aint_fetch_add_checked(AI(self)->a, v, &old) != PA_OK) return overflow_result();
    return Py_NewRef(self);
}
static PyObject *AtomicInt_isub(PyObject *self, PyObject *arg) {
    int64_t v, old;
    if (as_int64(arg, &v) < 0) return NULL;
    if (pa_aint_fetch_sub_checked(AI(self)->a, v, &old) != PA_OK) return overflow_result();
    return Py_NewRef(self);
}
#define DEFINE_INPLACE_BITWISE(name, core_fn)                          \
    static PyObject *AtomicInt_##name(PyObject *self, PyObject *arg) { \
        int64_t v;                                                     \
        if (as_int64(arg, &v) < 0) return NULL;                        \
        (void)core_fn(AI(self)->a, v);                                \
        return Py_NewRef(self);                                        \
    }
DEFINE_INPLACE_BITWISE(iand, pa_aint_fetch_and)
DEFINE_INPLACE_BITWISE(ior, pa_aint_fetch_or)
DEFINE_INPLACE_BITWISE(ixor, pa_aint_fetch_xor)

/* Without these, `a *= 2` would fall back to `a = a * 2` and silently rebind
 * the name to a plain int: refuse instead, and say what to do. */
static PyObject *not_atomic(const char *op) { return raise_status(PA_NOT_ATOMIC, op); }
#define DEFINE_REFUSED_INPLACE(name, op) \
    static PyObject *AtomicInt_##name(PyObject *a, PyObject *b) { return not_atomic(op); }
DEFINE_REFUSED_INPLACE(imul, "*=")
DEFINE_REFUSED_INPLACE(ifloordiv, "//=")
DEFINE_REFUSED_INPLACE(itruediv, "/=")
DEFINE_REFUSED_INPLACE(imod, "%=")
DEFINE_REFUSED_INPLACE(ilshift, "<<=")
DEFINE_REFUSED_INPLACE(irshift, ">>=")
static PyObject *AtomicInt_ipow(PyObject *a, PyObject *b, PyObject *m) { return not_atomic("**="); }

static PyObject *AtomicInt_richcompare(PyObject *self, PyObject *other, int op) {
    /* Compare a snapshot as a plain int, so every type int compares with
     * (float, Fraction, Decimal, other AtomicInts) works as for int. */
    PyObject *x = operand(self), *y, *res;
    if (x == NULL) return NULL;
    y = operand(other);
    if (y == NULL) {
        Py_DECREF(x);
        return NULL;
    }
    res = PyObject_RichCompare(x, y, op);
    Py_DECREF(x);
    Py_DECREF(y);
    return res;
}

static PyObject *AtomicInt_handle(PyObject *self, PyTypeObject *cls, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames) {
    (void)args;
    if (refuse_arguments("handle", nargs, kwnames) < 0) return NULL;
    PyTypeObject *tp = handle_type(cls, offsetof(module_state, AtomicIntHandle_Type));
    if (tp == NULL) return NULL;
    PyObject *root = ROOT_OF(self, AI);
    AtomicIntObject *h = PyObject_GC_New(AtomicIntObject, tp);
    if (h == NULL) return NULL;
    h->a = AI(root)->a;
    h->root = Py_NewRef(root);
    memset(&h->own, 0, sizeof h->own);
    PyObject_GC_Track(h);
    return (PyObject *)h;
}

static PyMethodDef AtomicInt_methods[] = {
    {"load", AtomicInt_load, METH_NOARGS, "load($self, /)\n--\n\nThe current value."},
    {"store", AtomicInt_store, METH_O, "store($self, value, /)\n--\n\nReplace the value."},
    {"exchange", AtomicInt_exchange, METH_O, "exchange($self, value, /)\n--\n\nStore value, return the previous one."},
    {"compare_exchange", (PyCFunction)(void (*)(void))AtomicInt_compare_exchange, METH_FASTCALL,
     "compare_exchange($self, expected, desired, /)\n--\n\nIf the value equals expected, store desired and return True; "
     "otherwise change nothing and return False."},
    {"fetch_add", AtomicInt_fetch_add, METH_O, "fetch_add($self, n, /)\n--\n\nAdd n, return the previous value."},
    {"fetch_sub", AtomicInt_fetch_sub, METH_O, "fetch_sub($self, n, /)\n--\n\nSubtract n, return the previous value."},
    {"fetch_and", AtomicInt_fetch_and, METH_O, "fetch_and($self, n, /)\n--\n\nBitwise and, return the previous value."},
    {"fetch_or", AtomicInt_fetch_or, METH_O, "fetch_or($self, n, /)\n--\n\nBitwise or, return the previous value."},
    {"fetch_xor", AtomicInt_fetch_xor, METH_O, "fetch_xor($self, n, /)\n--\n\nBitwise xor, return the previous value."},
    {"fetch_max", AtomicInt_fetch_max, METH_O, "fetch_max($self, n, /)\n--\n\nStore max(value, n), return the previous value."},
    {"fetch_min", AtomicInt_fetch_min, METH_O, "fetch_min($self, n, /)\n--\n\nStore min(value, n), return the previous value."},
    {"add", AtomicInt_add, METH_O, "add($self, n, /)\n--\n\nAdd n, return the new value."},
    {"sub", AtomicInt_sub, METH_O, "sub($self, n, /)\n--\n\nSubtract n, return the new value."},
    {"inc", AtomicInt_inc, METH_NOARGS, "inc($self, /)\n--\n\nAdd 1, return the new value."},
    {"dec", AtomicInt_dec, METH_NOARGS, "dec($self, /)\n--\n\nSubtract 1, return the new value."},
    {"update", AtomicInt_update, METH_O,
     "update($self, func, /)\n--\n\nStore func(old) atomically (retrying if another thread got in first) and return it. "
     "func may be called more than once."},
    {"wait", (PyCFunction)(void (*)(void))AtomicInt_wait, METH_VARARGS | METH_KEYWORDS,
     "wait($self, /, expected, timeout=None)\n--\n\nBlock while the value equals expected. True once it differs, "
     "False if the timeout expired."},
    {"notify_one", AtomicInt_notify_one, METH_NOARGS, "notify_one($self, /)\n--\n\nWake one thread blocked in wait()."},
    {"notify_all", AtomicInt_notify_all, METH_NOARGS, "notify_all($self, /)\n--\n\nWake every thread blocked in wait()."},
    {"__copy__", AtomicInt_copy, METH_NOARGS, NULL},
    {"__deepcopy__", AtomicInt_deepcopy, METH_O, NULL},
    {"__reduce__", AtomicInt_reduce, METH_NOARGS, NULL},
    {"__format__", AtomicInt_format, METH_O, NULL},
    HANDLE_METHOD_DEF(AtomicInt, HANDLE_DOC("value")),
    {NULL, NULL, 0, NULL},
};

static PyType_Slot AtomicInt_slots[] = {
    {Py_tp_doc, "AtomicInt(value=0)\n--\n\nA lock-free signed 64-bit integer. Every operation is atomic and "
                "sequentially consistent."},
    {Py_tp_new, AtomicInt_new},
    {Py_tp_init, AtomicInt_init},
    {Py_tp_dealloc, AtomicInt_dealloc},
    {Py_tp_getset, AtomicInt_getset},
    {Py_tp_repr, AtomicInt_repr},
    {Py_tp_str, AtomicInt_str},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_richcompare, AtomicInt_richcompare},
    {Py_tp_methods, AtomicInt_methods},
    {Py_nb_int, AtomicInt_int},
    {Py_nb_index, AtomicInt_int},
    {Py_nb_float, AtomicInt_float},
    {Py_nb_bool, AtomicInt_bool},
    {Py_nb_add, AtomicInt_nb_add},
    {Py_nb_subtract, AtomicInt_nb_sub},
    {Py_nb_multiply, AtomicInt_nb_mul},
    {Py_nb_floor_divide, AtomicInt_nb_floordiv},
    {Py_nb_true_divide, AtomicInt_nb_truediv},
    {Py_nb_remainder, AtomicInt_nb_mod},
    {Py_nb_divmod, AtomicInt_nb_divmod},
    {Py_nb_power, AtomicInt_nb_pow},
    {Py_nb_and, AtomicInt_nb_and},
    {Py_nb_or, AtomicInt_nb_or},
    {Py_nb_xor, AtomicInt_nb_xor},
    {Py_nb_lshift, AtomicInt_nb_lshift},
    {Py_nb_rshift, AtomicInt_nb_rshift},
    {Py_nb_negative, AtomicInt_nb_neg},
    {Py_nb_positive, AtomicInt_nb_pos},
    {Py_nb_absolute, AtomicInt_nb_abs},
    {Py_nb_invert, AtomicInt_nb_invert},
    {Py_nb_inplace_add, AtomicInt_iadd},
    {Py_nb_inplace_subtract, AtomicInt_isub},
    {Py_nb_inplace_and, AtomicInt_iand},
    {Py_nb_inplace_or, AtomicInt_ior},
    {Py_nb_inplace_xor, AtomicInt_ixor},
    {Py_nb_inplace_multiply, AtomicInt_imul},
    {Py_nb_inplace_floor_divide, AtomicInt_ifloordiv},
    {Py_nb_inplace_true_divide, AtomicInt_itruediv},
    {Py_nb_inplace_remainder, AtomicInt_imod},
    {Py_nb_inplace_lshift, AtomicInt_ilshift},
    {Py_nb_inplace_rshift, AtomicInt_irshift},
    {Py_nb_inplace_power, AtomicInt_ipow},
    {0, NULL},
};

static PyType_Spec AtomicInt_spec = {
    .name = "pyatomics.AtomicInt",
    .basicsize = sizeof(AtomicIntObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = AtomicInt_slots,
};

DEFINE_VALUE_HANDLE(AtomicInt, AI)
static PyType_Slot AtomicIntHandle_slots[] = {
    HANDLE_NEW_SLOT
    HANDLE_SLOTS(AtomicInt, "What AtomicInt.handle() returns: an AtomicInt bound to the same value, for one thread."),
    {0, NULL},
};
static PyType_Spec AtomicIntHandle_spec = {
    .name = "pyatomics.AtomicIntHandle",
    .basicsize = sizeof(AtomicIntObject),
    .flags = HANDLE_FLAGS,
    .slots = AtomicIntHandle_slots,
};

/* ===========================================================================
 * AtomicCounter (csrc/pa_counter.h: striped cells, exact 128-bit totals)
 * ========================================================================= */

typedef struct {
    PyObject_HEAD
    pa_counter *c;  /* &own, or the root's (handles; see AtomicIntObject) */
    PyObject *root; /* NULL, or (handles) the root object */
    pa_counter own;
} AtomicCounterObject;

#define AC(o) ((AtomicCounterObject *)(o))

static PyObject *AtomicCounter_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    AtomicCounterObject *self = (AtomicCounterObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->c = &self->own;
    self->root = NULL;
    pa_counter_init(&self->own, 0);
    return (PyObject *)self;
}

/* As AtomicInt: the value is __init__'s, so subclasses may take their own
 * arguments.  A second __init__ starts again from value (pa_counter_restart). */
static int AtomicCounter_init(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"value", NULL};
    PyObject *value_obj = NULL;
    int64_t value = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:AtomicCounter", kwlist, &value_obj)) return -1;
    if (value_obj != NULL && as_int64(value_obj, &value) < 0) return -1;
    if (pa_counter_restart(AC(self)->c, value) != PA_OK) {
        raise_status(PA_COUNTER_RANGE);
        return -1;
    }
    return 0;
}

static void AtomicCounter_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    pa_counter_destroy(AC(self)->c);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* A 128-bit total as an int. */
static PyObject *total_to_int(pa_counter_total t) {
    if (t.fits_i64) return PyLong_FromLongLong(t.small);
    PyObject *hi = PyLong_FromLongLong(t.hi), *lo = PyLong_FromUnsignedLongLong(t.lo), *shift = NULL,
             *high = NULL, *res = NULL;
    if (hi && lo && (shift = PyLong_FromLong(64)) && (high = PyNumber_Lshift(hi, shift)))
        res = PyNumber_Add(high, lo);
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(shift);
    Py_XDECREF(high);
    return res;
}

/* add(n=1) / sub(n=1): None, so the caller never waits for a total. */
static PyObject *counter_add(PyObject *self, PyObject *const *args, Py_ssize_t nargs, int subtract,
                             const char *name) {
    int64_t n = 1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", name, nargs);
        return NULL;
    }
    if (nargs == 1 && as_int64(args[0], &n) < 0) return NULL;
    pa_status st = subtract ? pa_counter_sub(AC(self)->c, n) : pa_counter_add(AC(self)->c, n);
    if (PA_UNLIKELY(st != PA_OK)) return raise_status(PA_COUNTER_RANGE);
    Py_RETURN_NONE;
}
static PyObject *AtomicCounter_add(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return counter_add(self, args, nargs, 0, "add");
}
static PyObject *AtomicCounter_sub(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    return counter_add(self, args, nargs, 1, "sub");
}
static PyObject *AtomicCounter_inc(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    if (PA_UNLIKELY(pa_counter_add(AC(self)->c, 1) != PA_OK)) return raise_status(PA_COUNTER_RANGE);
    Py_RETURN_NONE;
}
static PyObject *AtomicCounter_dec(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    if (PA_UNLIKELY(pa_counter_add(AC(self)->c, -1) != PA_OK)) return raise_status(PA_COUNTER_RANGE);
    Py_RETURN_NONE;
}
static PyObject *AtomicCounter_value(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return total_to_int(pa_counter_sum(AC(self)->c));
}
static PyObject *AtomicCounter_reset(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return total_to_int(pa_counter_reset(AC(self)->c));
}
static PyObject *AtomicCounter_int(PyObject *self) { return AtomicCounter_value(self, NULL); }

/* c += n, c -= n: one add, the name stays bound to the counter. */
static PyObject *counter_inplace(PyObject *self, PyObject *arg, int subtract) {
    if (!PyIndex_Check(arg)) Py_RETURN_NOTIMPLEMENTED; /* Python then raises TypeError */
    PyObject *r = counter_add(self, &arg, 1, subtract, subtract ? "sub" : "add");
    if (r == NULL) return NULL;
    Py_DECREF(r);
    return Py_NewRef(self);
}
static PyObject *AtomicCounter_iadd(PyObject *self, PyObject *arg) { return counter_inplace(self, arg, 0); }
static PyObject *AtomicCounter_isub(PyObject *self, PyObject *arg) { return counter_inplace(self, arg, 1); }

static PyObject *AtomicCounter_repr(PyObject *self) {
    PyObject *v = AtomicCounter_value(self, NULL);
    if (v == NULL) return NULL;
    const char *name = Py_TYPE(self)->tp_name, *dot = strrchr(name, '.');
    PyObject *res = PyUnicode_FromFormat("%s(%R)", dot ? dot + 1 : name, v);
    Py_DECREF(v);
    return res;
}
/* copy, deepcopy and pickle: a new counter holding the total at that moment. */
static PyObject *AtomicCounter_reduce(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *v = AtomicCounter_value(self, NULL);
    if (v == NULL) return NULL;
    PyObject *res = Py_BuildValue("O(N)", (PyObject *)Py_TYPE(ROOT_OF(self, AC)), v); /* as AtomicInt's */
    return res;
}
static PyObject *AtomicCounter_get_cells(PyObject *self, void *Py_UNUSED(closure)) {
    return PyLong_FromUnsignedLong(pa_counter_cell_count(AC(self)->c));
}

static PyObject *AtomicCounter_handle(PyObject *self, PyTypeObject *cls, PyObject *const *args, Py_ssize_t nargs,
                                      PyObject *kwnames) {
    (void)args;
    if (refuse_arguments("handle", nargs, kwnames) < 0) return NULL;
    PyTypeObject *tp = handle_type(cls, offsetof(module_state, AtomicCounterHandle_Type));
    if (tp == NULL) return NULL;
    PyObject *root = ROOT_OF(self, AC);
    AtomicCounterObject *h = PyObject_GC_New(AtomicCounterObject, tp);
    if (h == NULL) return NULL;
    h->c = AC(root)->c;
    h->root = Py_NewRef(root);
    memset(&h->own, 0, sizeof h->own);
    PyObject_GC_Track(h);
    return (PyObject *)h;
}

static PyMethodDef AtomicCounter_methods[] = {
    {"add", (PyCFunction)(void (*)(void))AtomicCounter_add, METH_FASTCALL,
     "add($self, n=1, /)\n--\n\nAdd n (returns nothing: not reading the total is what makes it cheap)."},
    {"sub", (PyCFunction)(void (*)(void))AtomicCounter_sub, METH_FASTCALL, "sub($self, n=1, /)\n--\n\nSubtract n."},
    {"inc", AtomicCounter_inc, METH_NOARGS, "inc($self, /)\n--\n\nAdd 1."},
    {"dec", AtomicCounter_dec, METH_NOARGS, "dec($self, /)\n--\n\nSubtract 1."},
    {"value", AtomicCounter_value, METH_NOARGS,
     "value($self, /)\n--\n\nThe sum of the cells: exact when no update runs concurrently; while updates run, "
     "each cell is read once, so the sum may miss updates still running."},
    {"reset", AtomicCounter_reset, METH_NOARGS,
     "reset($self, /)\n--\n\nTake the sum and zero the counter: an update running meanwhile is either in the "
     "returned sum or left in the counter, never lost."},
    {"__reduce__", AtomicCounter_reduce, METH_NOARGS, NULL},
    HANDLE_METHOD_DEF(AtomicCounter, HANDLE_DOC("counter")),
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef AtomicCounter_getset[] = {
    {"_cells", AtomicCounter_get_cells, NULL, "Cells in use (0 until threads contend).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot AtomicCounter_slots[] = {
    {Py_tp_doc, "AtomicCounter(value=0)\n--\n\nA counter for many threads that add and few that read: "
                "adds go to per-thread cells (each on its own 128-byte block), value() sums them."},
    {Py_tp_new, AtomicCounter_new},
    {Py_tp_init, AtomicCounter_init},
    {Py_tp_dealloc, AtomicCounter_dealloc},
    {Py_tp_repr, AtomicCounter_repr},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_methods, AtomicCounter_methods},
    {Py_tp_getset, AtomicCounter_getset},
    {Py_nb_int, AtomicCounter_int},
    {Py_nb_index, AtomicCounter_int},
    {Py_nb_inplace_add, AtomicCounter_iadd},
    {Py_nb_inplace_subtract, AtomicCounter_isub},
    {0, NULL},
};

static PyType_Spec AtomicCounter_spec = {
    .name = "pyatomics.AtomicCounter",
    .basicsize = sizeof(AtomicCounterObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = AtomicCounter_slots,
};

/* A counter handle's adds go to the same cells (the thread picks its cell
 * from its own identity, pa_counter.c, whichever object it calls through). */
DEFINE_VALUE_HANDLE(AtomicCounter, AC)
static PyType_Slot AtomicCounterHandle_slots[] = {
    HANDLE_NEW_SLOT
    HANDLE_SLOTS(AtomicCounter,
                 "What AtomicCounter.handle() returns: an AtomicCounter bound to the same total, for one thread."),
    {0, NULL},
};
static PyType_Spec AtomicCounterHandle_spec = {
    .name = "pyatomics.AtomicCounterHandle",
    .basicsize = sizeof(AtomicCounterObject),
    .flags = HANDLE_FLAGS,
    .slots = AtomicCounterHandle_slots,
};

/* ===========================================================================
 * AtomicRef (csrc/pa_ref.h: the slot, and the protocol that keeps a load's
 * incref from racing a store's decref on free-threaded builds)
 * ========================================================================= */

typedef struct {
    PyObject_HEAD
    pa_ref *r;      /* &own, or the root's (handles; see AtomicIntObject) */
    PyObject *root; /* NULL, or (handles) the root object */
    pa_ref own;     /* holds one strong reference; never NULL (None when cleared) */
} AtomicRefObject;

#define AR(o) ((AtomicRefObject *)(o))

/* A new reference to the object in the slot.  Nothing between begin and end
 * can run Python code or detach the thread state, so a writer waiting in
 * pa_ref_drain waits for an incref only. */
static inline PyObject *ref_load(AtomicRefObject *self) {
    PyObject *p = pa_ref_load_begin(self->r);
    Py_INCREF(p);
    pa_ref_load_end(self->r);
    return p;
}

/* Gives the slot a reference to v; returns the slot's old reference (owned). */
static inline PyObject *ref_exchange(AtomicRefObject *self, PyObject *v) {
    return pa_ref_exchange(self->r, Py_NewRef(v));
}

/* As AtomicInt: __new__ makes one holding None, __init__ stores the value, so
 * a subclass whose __init__ takes other arguments needs no __new__. */
static PyObject *AtomicRef_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    AtomicRefObject *self = (AtomicRefObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->r = &self->own;
    self->root = NULL;
    pa_ref_init(&self->own, Py_NewRef(Py_None));
    return (PyObject *)self;
}

static int AtomicRef_init(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"value", NULL};
    PyObject *value = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:AtomicRef", kwlist, &value)) return -1;
    Py_DECREF(ref_exchange(AR(self), value));
    return 0;
}

static int AtomicRef_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    /* The collector runs with no writer in between (the GIL; the stopped world
     * on free-threaded builds), so the pointer cannot be dropped meanwhile. */
    Py_VISIT((PyObject *)pa_ref_peek(AR(self)->r));
    return 0;
}

/* Breaks a cycle through the slot: the slot holds None afterwards (through the
 * protocol: tp_clear may run while the world runs on free-threaded builds). */
static int AtomicRef_clear(PyObject *self) {
    Py_DECREF(ref_exchange(AR(self), Py_None));
    return 0;
}

static void AtomicRef_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    /* A long chain of refs holding refs must not recurse once per link. */
    Py_TRASHCAN_BEGIN(self, AtomicRef_dealloc)
    /* The last reference is gone: no load or store can be running. */
    Py_DECREF((PyObject *)pa_ref_peek(AR(self)->r));
    tp->tp_free(self);
    Py_DECREF(tp);
    Py_TRASHCAN_END
}

static PyObject *AtomicRef_load(PyObject *self, PyObject *Py_UNUSED(ignored)) { return ref_load(AR(self)); }

static PyObject *AtomicRef_store(PyObject *self, PyObject *value) {
    Py_DECREF(ref_exchange(AR(self), value)); /* after the drain: may run __del__ */
    Py_RETURN_NONE;
}

static PyObject *AtomicRef_exchange(PyObject *self, PyObject *value) { return ref_exchange(AR(self), value); }

/* By identity: the slot's pointer against expected's, one CAS. */
static int ref_compare_exchange(AtomicRefObject *self, PyObject *expected, PyObject *desired) {
    Py_INCREF(desired); /* the slot's, if the CAS succeeds */
    if (pa_ref_compare_exchange(self->r, expected, desired)) {
        Py_DECREF(expected); /* the slot's old reference (the caller still has its own) */
        return 1;
    }
    Py_DECREF(desired);
    return 0;
}

static PyObject *AtomicRef_compare_exchange(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "compare_exchange expected 2 arguments, got %zd", nargs);
        return NULL;
    }
    return PyBool_FromLong(ref_compare_exchange(AR(self), args[0], args[1]));
}

/* A compare-exchange loop.  `old` is held throughout, so its address cannot
 * be reused by another object while the CAS compares it (no ABA by identity). */
static PyObject *AtomicRef_update(PyObject *self, PyObject *func) {
    if (!PyCallable_Check(func)) return raise_status(PA_NOT_CALLABLE, Py_TYPE(func)->tp_name);
    PyObject *old = ref_load(AR(self));
    for (;;) {
        PyObject *new_obj = PyObject_CallOneArg(func, old);
        if (new_obj == NULL) break;
        int stored = ref_compare_exchange(AR(self), old, new_obj);
        Py_DECREF(old);
        if (stored) return new_obj;
        Py_DECREF(new_obj);
        old = ref_load(AR(self));
    }
    Py_DECREF(old);
    return NULL;
}

static PyObject *AtomicRef_repr(PyObject *self) {
    const char *name = Py_TYPE(self)->tp_name, *dot = strrchr(name, '.');
    /* A ref that holds itself (directly or through containers) shows "..."
     * where it recurs, as reprlib.recursive_repr in the cffi binding. */
    int rc = Py_ReprEnter(self);
    if (rc != 0) return rc > 0 ? PyUnicode_FromString("...") : NULL;
    PyObject *v = ref_load(AR(self));
    PyObject *res = PyUnicode_FromFormat("%s(%R)", dot ? dot + 1 : name, v);
    Py_DECREF(v);
    Py_ReprLeave(self);
    return res;
}

/* Not copied nor pickled, as a lock: what other threads share is the slot. */
static PyObject *AtomicRef_reduce_ex(PyObject *self, PyObject *Py_UNUSED(protocol)) {
    return raise_status(PA_NOT_PICKLABLE, Py_TYPE(self)->tp_name);
}
static PyObject *AtomicRef_reduce(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return raise_status(PA_NOT_PICKLABLE, Py_TYPE(self)->tp_name);
}

static PyObject *AtomicRef_handle(PyObject *self, PyTypeObject *cls, PyObject *const *args, Py_ssize_t nargs,
                                  PyObject *kwnames) {
    (void)args;
    if (refuse_arguments("handle", nargs, kwnames) < 0) return NULL;
    PyTypeObject *tp = handle_type(cls, offsetof(module_state, AtomicRefHandle_Type));
    if (tp == NULL) return NULL;
    PyObject *root = ROOT_OF(self, AR);
    AtomicRefObject *h = PyObject_GC_New(AtomicRefObject, tp);
    if (h == NULL) return NULL;
    h->r = AR(root)->r;
    h->root = Py_NewRef(root);
    memset(&h->own, 0, sizeof h->own);
    PyObject_GC_Track(h);
    return (PyObject *)h;
}

static PyMethodDef AtomicRef_methods[] = {
    {"load", AtomicRef_load, METH_NOARGS, "load($self, /)\n--\n\nThe object held now."},
    {"store", AtomicRef_store, METH_O, "store($self, value, /)\n--\n\nHold value instead."},
    {"exchange", AtomicRef_exchange, METH_O, "exchange($self, value, /)\n--\n\nHold value, return the previous object."},
    {"compare_exchange", (PyCFunction)(void (*)(void))AtomicRef_compare_exchange, METH_FASTCALL,
     "compare_exchange($self, expected, desired, /)\n--\n\nIf the object held is expected (identity, `is`), hold "
     "desired and return True; else change nothing, return False."},
    {"update", AtomicRef_update, METH_O,
     "update($self, func, /)\n--\n\nHold func(old) atomically (retrying if another thread got in first) and return "
     "it. func may be called more than once."},
    {"__reduce_ex__", AtomicRef_reduce_ex, METH_O, NULL},
    /* AtomicRef[Node] in annotations at run time, as the stub makes it generic */
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS, "See PEP 585"},
    {"__reduce__", AtomicRef_reduce, METH_NOARGS, NULL},
    HANDLE_METHOD_DEF(AtomicRef, HANDLE_DOC("slot")),
    {NULL, NULL, 0, NULL},
};

static PyType_Slot AtomicRef_slots[] = {
    {Py_tp_doc, "AtomicRef(value=None)\n--\n\nAn atomic reference to an object: load, store, exchange, and "
                "compare_exchange by identity."},
    {Py_tp_new, AtomicRef_new},
    {Py_tp_init, AtomicRef_init},
    {Py_tp_dealloc, AtomicRef_dealloc},
    {Py_tp_traverse, AtomicRef_traverse},
    {Py_tp_clear, AtomicRef_clear},
    {Py_tp_repr, AtomicRef_repr},
    {Py_tp_hash, PyObject_HashNotImplemented},
    {Py_tp_methods, AtomicRef_methods},
    {0, NULL},
};

static PyType_Spec AtomicRef_spec = {
    .name = "pyatomics.AtomicRef",
    .basicsize = sizeof(AtomicRefObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = AtomicRef_slots,
};

/* A ref handle traverses its root, not the slot (the root visits that), and
 * its tp_clear leaves the slot alone: it is the root's, and other handles'.
 * Not copied nor pickled, as the root (its __reduce_ex__ is inherited). */
DEFINE_VALUE_HANDLE(AtomicRef, AR)
static PyType_Slot AtomicRefHandle_slots[] = {
    HANDLE_NEW_SLOT
    HANDLE_SLOTS(AtomicRef, "What AtomicRef.handle() returns: an AtomicRef bound to the same slot, for one thread."),
    {0, NULL},
};
static PyType_Spec AtomicRefHandle_spec = {
    .name = "pyatomics.AtomicRefHandle",
    .basicsize = sizeof(AtomicRefObject),
    .flags = HANDLE_FLAGS,
    .slots = AtomicRefHandle_slots,
};

/* ===========================================================================
 * Lock helpers shared by SpinLock and RWLock
 * ========================================================================= */

/* An acquisition's result -> True/False, or NULL with the exception the
 * contract names (PA_INTERRUPTED: a signal handler's, already set). */
static PyObject *acquire_result(pa_lock_result r) {
    switch (r) {
        case PA_ACQUIRED: Py_RETURN_TRUE;
        case PA_TIMEDOUT: Py_RETURN_FALSE;
        case PA_INTERRUPTED: return NULL;
        default: return raise_status(r);
    }
}

static PyObject *lock_repr(PyObject *self, int locked, const char *extra) {
    return PyUnicode_FromFormat("<%s %s object%s at %p>", locked ? "locked" : "unlocked",
                                Py_TYPE(self)->tp_name, extra, self);
}

/* ===========================================================================
 * SpinLock
 * ========================================================================= */

typedef struct {
    PyObject_HEAD
    pa_spinlock lock;
    PyObject *weakreflist;
} SpinLockObject;

#define SL(o) ((SpinLockObject *)(o))

static PyObject *SpinLock_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if ((args && PyTuple_GET_SIZE(args)) || (kwds && PyDict_GET_SIZE(kwds))) {
        return raise_status(PA_NO_ARGUMENTS, "SpinLock");
    }
    SpinLockObject *self = (SpinLockObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    pa_spinlock_init(&self->lock);
    self->weakreflist = NULL;
    return (PyObject *)self;
}

static void SpinLock_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    if (SL(self)->weakreflist != NULL) PyObject_ClearWeakRefs(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static pa_lock_result spinlock_call(void *target, int64_t deadline, void *ctx) {
    (void)ctx;
    return pa_spinlock_acquire_slow(&((SpinLockObject *)target)->lock, deadline);
}

static PyObject *spinlock_acquire_timeout(PyObject *self, int64_t timeout_ns) {
    if (PA_LIKELY(pa_spinlock_try_acquire(&SL(self)->lock))) Py_RETURN_TRUE;
    return acquire_result(block_on(spinlock_call, self, NULL, timeout_ns));
}

static PyObject *SpinLock_acquire(PyObject *self, PyObject *args, PyObject *kwds) {
    int64_t timeout_ns;
    /* No arguments: the common case, without parsing. */
    if ((args == NULL || PyTuple_GET_SIZE(args) == 0) && kwds == NULL)
        return spinlock_acquire_timeout(self, -1);
    if (parse_acquire_args(args, kwds, &timeout_ns) < 0) return NULL;
    return spinlock_acquire_timeout(self, timeout_ns);
}

static PyObject *SpinLock_enter(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return spinlock_acquire_timeout(self, -1);
}

static PyObject *SpinLock_release(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_lock_result r = pa_spinlock_release(&SL(self)->lock);
    if (r != PA_ACQUIRED) return raise_status(r);
    Py_RETURN_NONE;
}

static PyObject *SpinLock_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)args;
    (void)nargs;
    return SpinLock_release(self, NULL);
}

static PyObject *SpinLock_locked(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyBool_FromLong(pa_spinlock_locked(&SL(self)->lock));
}

static PyObject *SpinLock_at_fork_reinit(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_spinlock_init(&SL(self)->lock);
    Py_RETURN_NONE;
}

static PyObject *SpinLock_repr(PyObject *self) {
    return lock_repr(self, pa_spinlock_locked(&SL(self)->lock), "");
}

static PyMethodDef SpinLock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))SpinLock_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire($self, /, blocking=True, timeout=-1)\n--\n\nAs threading.Lock.acquire."},
    {"release", SpinLock_release, METH_NOARGS,
     "release($self, /)\n--\n\nRelease the lock (any thread may). RuntimeError if it is not locked."},
    {"locked", SpinLock_locked, METH_NOARGS, "locked($self, /)\n--\n\nWhether the lock is held (a snapshot)."},
    {"_at_fork_reinit", SpinLock_at_fork_reinit, METH_NOARGS, NULL},
    {"__enter__", SpinLock_enter, METH_NOARGS, "__enter__($self, /)\n--\n\n"},
    {"__exit__", (PyCFunction)(void (*)(void))SpinLock_exit, METH_FASTCALL, "__exit__($self, /, *exc_info)\n--\n\n"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef SpinLock_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(SpinLockObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot SpinLock_slots[] = {
    {Py_tp_doc, "SpinLock()\n--\n\nA threading.Lock-compatible lock that spins briefly before sleeping: "
                "for tiny critical sections."},
    {Py_tp_new, SpinLock_new},
    {Py_tp_dealloc, SpinLock_dealloc},
    {Py_tp_repr, SpinLock_repr},
    {Py_tp_methods, SpinLock_methods},
    {Py_tp_members, SpinLock_members},
    {0, NULL},
};

static PyType_Spec SpinLock_spec = {
    .name = "pyatomics.SpinLock",
    .basicsize = sizeof(SpinLockObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = SpinLock_slots,
};

/* ===========================================================================
 * RWLock, its reader/writer views and its timed guards
 * ========================================================================= */

/* Free-threaded builds: the views other threads get from rw.reader and
 * rw.writer (see rw_side).  One entry per thread, published once. */
#ifdef Py_GIL_DISABLED
#define RW_THREAD_VIEWS 16 /* a power of two */
typedef struct {
    uintptr_t tid; /* _Py_ThreadId() of the thread that made it */
    PyObject *reader;
    PyObject *writer;
} RWLockThreadViews;
#endif

typedef struct {
    PyObject_HEAD
    pa_rwlock *lock;  /* &own, or the root's (handles; see AtomicIntObject) */
    PyObject *reader; /* RWLockViewObject, created with the lock (a handle's are its own) */
    PyObject *writer;
    PyObject *weakreflist;
    PyObject *root; /* NULL, or (handles) the root RWLock */
#ifdef Py_GIL_DISABLED
    _Atomic(RWLockThreadViews *) thread_views[RW_THREAD_VIEWS]; /* all NULL in a handle */
#endif
    pa_rwlock own;
} RWLockObject;

/* rw.reader / rw.writer: the two sides as threading.Lock-like objects. */
typedef struct {
    PyObject_HEAD
    RWLockObject *rw; /* the RWLock or handle whose view this is (owned) */
    pa_rwlock *lock;  /* rw->lock, so that `with v:` loads one pointer; NULL once cleared */
    int write;
    PyObject *weakreflist; /* threading.Lock is weak-referenceable; so are the views */
} RWLockViewObject;

/* What rw.read(timeout) / rw.write(timeout) return: a one-shot context
 * manager that raises TimeoutError if the lock is not had in time. */
typedef struct {
    PyObject_HEAD
    RWLockObject *rw;
    int write; /* RW_SIDE_READ, RW_SIDE_WRITE or RW_SIDE_UPGRADABLE */
    int64_t timeout_ns;
} RWLockGuardObject;

/* The guards' sides: read and write as the views' `write` flag, and the
 * upgradable read (rw.upgradable(), which has no view). */
enum { RW_SIDE_READ = 0, RW_SIDE_WRITE = 1, RW_SIDE_UPGRADABLE = 2 };

#define RWL(o) ((RWLockObject *)(o))

static pa_lock_result rw_read_call(void *target, int64_t deadline, void *ctx) {
    (void)ctx;
    return pa_rwlock_acquire_read((pa_rwlock *)target, deadline);
}
static pa_lock_result rw_write_call(void *target, int64_t deadline, void *ctx) {
    (void)ctx;
    return pa_rwlock_acquire_write((pa_rwlock *)target, deadline);
}

/* The core's read-table-full policy (pa_status_wants_reclaim): collect here,
 * so the deallocations of dead read-held locks run on this thread and drop
 * its entries; say whether anything was freed (then try once more). */
static int collect_dead_read_holds(void) { return PyGC_Collect() > 0; }

/* Acquire one side; returns True/False or NULL with an exception.  The
 * single attempt runs with the thread state attached: it never sleeps. */
static PyObject *rw_acquire(pa_rwlock *l, int write, int64_t timeout_ns) {
    pa_lock_result r = write ? pa_rwlock_acquire_write(l, 0) : pa_rwlock_acquire_read(l, 0);
    if (pa_status_wants_reclaim(r) && collect_dead_read_holds())
        r = pa_rwlock_acquire_read(l, 0);
    if (r == PA_TIMEDOUT && timeout_ns != 0)
        r = block_on(write ? rw_write_call : rw_read_call, l, NULL, timeout_ns);
    return acquire_result(r);
}

static pa_lock_result rw_upgradable_call(void *target, int64_t deadline, void *ctx) {
    (void)ctx;
    return pa_rwlock_acquire_upgradable((pa_rwlock *)target, deadline);
}
static pa_lock_result rw_upgrade_call(void *target, int64_t deadline, void *ctx) {
    (void)ctx;
    return pa_rwlock_upgrade((pa_rwlock *)target, deadline);
}

/* acquire_upgradable / upgrade: one attempt attached, then the driver.  An
 * upgrade that times out or is interrupted leaves the upgradable read held
 * (the core changes nothing). */
static PyObject *rw_acquire_upgradable(pa_rwlock *l, int64_t timeout_ns) {
    pa_lock_result r = pa_rwlock_acquire_upgradable(l, 0);
    if (r == PA_TIMEDOUT && timeout_ns != 0) r = block_on(rw_upgradable_call, l, NULL, timeout_ns);
    return acquire_result(r);
}
static PyObject *rw_upgrade(pa_rwlock *l, int64_t timeout_ns) {
    pa_lock_result r = pa_rwlock_upgrade(l, 0);
    if (r == PA_TIMEDOUT && timeout_ns != 0) r = block_on(rw_upgrade_call, l, NULL, timeout_ns);
    return acquire_result(r);
}

/* Leaving a `with rw.write():` block releases what the block holds: the write
 * lock, or the read lock it became if the body called downgrade()
 * (pa_rwlock_exit has the rule). */
static PyObject *rw_exit(pa_rwlock *l, int write) {
    pa_lock_result r = pa_rwlock_exit(l, write);
    if (r != PA_ACQUIRED) return raise_status(r);
    Py_RETURN_NONE;
}

static PyObject *rw_release(pa_rwlock *l, int write) {
    pa_lock_result r = write ? pa_rwlock_release_write(l) : pa_rwlock_release_read(l);
    if (r != PA_ACQUIRED) return raise_status(r);
    Py_RETURN_NONE;
}

/* acquire_*(blocking=True, timeout=-1) argument handling, shared. */
static PyObject *rw_acquire_args(pa_rwlock *l, int write, PyObject *args, PyObject *kwds) {
    int64_t timeout_ns = -1;
    if (((args != NULL && PyTuple_GET_SIZE(args) != 0) || kwds != NULL) &&
        parse_acquire_args(args, kwds, &timeout_ns) < 0)
        return NULL;
    return rw_acquire(l, write, timeout_ns);
}

static PyObject *new_view(module_state *st, RWLockObject *rw, int write) {
    if (helper_type(st->RWLockView_Type) == NULL) return NULL;
    RWLockViewObject *v = PyObject_GC_New(RWLockViewObject, st->RWLockView_Type);
    if (v == NULL) return NULL;
    v->rw = (RWLockObject *)Py_NewRef((PyObject *)rw);
    v->lock = rw->lock;
    v->write = write;
    v->weakreflist = NULL;
    PyObject_GC_Track(v);
    return (PyObject *)v;
}

/* rw.reader / rw.writer (and rw.read() / rw.write() without a timeout).
 *
 * On a free-threaded build every thread that touches one object updates its
 * reference count, and threads other than the object's creator do it with
 * atomic read-modify-writes on one shared word: `with r:` alone increfs and
 * decrefs the view three times (the load, and the bound __enter__ and
 * __exit__), so two threads reading through one view contend on that line
 * on every read, whatever the lock does (3.13t, 2 cores: a shared view's
 * readers ran no faster than one thread; each thread's own view, twice
 * that).  So the creator of the lock gets the views made with it, and any
 * other thread views of its own, made on its first access and owned by it
 * (its reference-count updates are plain stores): the same lock, the same
 * methods, only another object.  A handle's views are already its thread's.
 *
 * The table: RW_THREAD_VIEWS slots, probed from a hash of the thread id.  An
 * entry is built completely (both views) before a compare-exchange
 * publishes it into an empty slot (release; readers load with acquire, so
 * they see its fields); a slot is never emptied or changed while the lock
 * lives, so a thread that found its entry keeps finding it, and two threads
 * can never publish for one id (only the thread itself publishes its id).
 * A slot taken by a thread that has since exited stays taken; a new thread
 * that reuses the id (CPython's id is its thread-local block's address, which
 * the C library reuses) takes that entry over, which is correct: a view has
 * no per-thread state (the core tracks holders by pa_thread_id) and the new
 * thread is the views' owner by id.  With every slot taken, a thread gets
 * the creator's views: correct, only shared again.  The entries' views hold
 * the lock, so they live in the cycle the creator's views already form
 * (tp_traverse, tp_clear), and the collector frees all of them together.
 * Model: csrc/model/views.pml (a thread gets its own entry or none, the same
 * one every time; at most one entry per id; none leaks). */
#ifdef Py_GIL_DISABLED
static void free_thread_views(RWLockThreadViews *e) {
    Py_XDECREF(e->reader);
    Py_XDECREF(e->writer);
    PyMem_Free(e);
}

static PyObject *own_thread_view(RWLockObject *rw, int write) {
    uintptr_t tid = _Py_ThreadId();
    uintptr_t h = (tid >> 4) * (uintptr_t)0x9E3779B97F4A7C15ull; /* the id is an aligned address */
    unsigned start = (unsigned)(h >> (sizeof h * 8 - 4));
    RWLockThreadViews *mine = NULL;
    for (unsigned i = 0; i < RW_THREAD_VIEWS; i++) {
        _Atomic(RWLockThreadViews *) *slot = &rw->thread_views[(start + i) & (RW_THREAD_VIEWS - 1)];
        RWLockThreadViews *e = atomic_load_explicit(slot, memory_order_acquire);
        if (e == NULL) {
            if (mine == NULL) {
                module_state *st = PyType_GetModuleState(Py_TYPE(rw));
                if (st == NULL || (mine = PyMem_Calloc(1, sizeof *mine)) == NULL) return NULL;
                mine->tid = tid;
                if ((mine->reader = new_view(st, rw, 0)) == NULL || (mine->writer = new_view(st, rw, 1)) == NULL) {
                    free_thread_views(mine);
                    return NULL;
                }
            }
            if (atomic_compare_exchange_strong_explicit(slot, &e, mine, memory_order_acq_rel,
                                                        memory_order_acquire))
                return Py_NewRef(write ? mine->writer : mine->reader);
            /* Another thread's entry went in first: e is it; go on probing. */
        }
        if (e->tid == tid) {
            /* mine is NULL here: this thread's entry lies before any slot it
             * ever found empty on its path (csrc/model/views.pml checks it);
             * freed all the same if a change ever breaks that. */
            if (mine != NULL) free_thread_views(mine);
            return Py_NewRef(write ? e->writer : e->reader);
        }
    }
    if (mine != NULL) free_thread_views(mine);
    return NULL; /* every slot taken: the creator's views */
}
#endif

static PA_COLD PyObject *rw_side_slow(PyObject *self, int write) {
    PyObject *shared = write ? RWL(self)->writer : RWL(self)->reader;
    if (shared == NULL) { /* cleared by the collector (a cycle a finalizer reached) */
        PyErr_SetString(PyExc_AttributeError, write ? "writer" : "reader");
        return NULL;
    }
#ifdef Py_GIL_DISABLED
    if (RWL(self)->root == NULL) {
        PyObject *mine = own_thread_view(RWL(self), write);
        if (mine != NULL) return mine;
        PyErr_Clear(); /* no memory for views of its own: the shared ones still work */
    }
#endif
    return Py_NewRef(shared);
}

/* The fast case first: the creator's thread (every thread on a GIL build),
 * or a handle, whose views are its thread's already. */
PA_INLINE PyObject *rw_side(PyObject *self, int write) {
    PyObject *shared = write ? RWL(self)->writer : RWL(self)->reader;
#ifdef Py_GIL_DISABLED
    if (PA_LIKELY(shared != NULL) && (_Py_IsOwnedByCurrentThread(shared) || RWL(self)->root != NULL))
        return Py_NewRef(shared);
#else
    if (PA_LIKELY(shared != NULL)) return Py_NewRef(shared);
#endif
    return rw_side_slow(self, write);
}

static PyObject *RWLock_get_reader(PyObject *self, void *Py_UNUSED(closure)) { return rw_side(self, 0); }
static PyObject *RWLock_get_writer(PyObject *self, void *Py_UNUSED(closure)) { return rw_side(self, 1); }

static PyObject *RWLock_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if ((args && PyTuple_GET_SIZE(args)) || (kwds && PyDict_GET_SIZE(kwds))) {
        return raise_status(PA_NO_ARGUMENTS, "RWLock");
    }
    module_state *st = PyType_GetModuleState(type);
    if (st == NULL || helper_type(st->RWLockView_Type) == NULL) return NULL;
    RWLockObject *self = (RWLockObject *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->lock = &self->own;
    self->root = NULL; /* tp_alloc zeroed the rest, thread_views included */
    pa_rwlock_init(&self->own);
    self->weakreflist = NULL;
    self->reader = new_view(st, self, 0);
    self->writer = self->reader ? new_view(st, self, 1) : NULL;
    if (self->writer == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    PA_DEFER_REFCOUNT(self); /* see PA_DEFER_REFCOUNT: already freed by the collector only */
    PA_DEFER_REFCOUNT(self->reader);
    PA_DEFER_REFCOUNT(self->writer);
    return (PyObject *)self;
}

/* rw.handle(): an RWLockHandle with views of its own (their `rw` is the
 * handle), so that `with h.reader:` touches the handle's objects only. */
static PyObject *RWLock_handle(PyObject *self, PyTypeObject *cls, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames) {
    (void)args;
    if (refuse_arguments("handle", nargs, kwnames) < 0) return NULL;
    module_state *st = PyType_GetModuleState(cls);
    if (st == NULL || helper_type(st->RWLockHandle_Type) == NULL || helper_type(st->RWLockView_Type) == NULL)
        return NULL;
    PyObject *root = ROOT_OF(self, RWL);
    RWLockObject *h = PyObject_GC_New(RWLockObject, st->RWLockHandle_Type);
    if (h == NULL) return NULL;
    h->lock = RWL(root)->lock;
    h->root = Py_NewRef(root);
    h->reader = h->writer = h->weakreflist = NULL;
#ifdef Py_GIL_DISABLED
    for (unsigned i = 0; i < RW_THREAD_VIEWS; i++) atomic_init(&h->thread_views[i], NULL);
#endif
    memset(&h->own, 0, sizeof h->own);
    PyObject_GC_Track(h);
    h->reader = new_view(st, h, 0);
    h->writer = h->reader ? new_view(st, h, 1) : NULL;
    if (h->writer == NULL) {
        Py_DECREF(h);
        return NULL;
    }
    return (PyObject *)h;
}

static int RWLock_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(RWL(self)->reader);
    Py_VISIT(RWL(self)->writer);
    Py_VISIT(RWL(self)->root); /* NULL but in a handle */
#ifdef Py_GIL_DISABLED
    for (unsigned i = 0; i < RW_THREAD_VIEWS; i++) {
        RWLockThreadViews *e = atomic_load_explicit(&RWL(self)->thread_views[i], memory_order_acquire);
        if (e != NULL) {
            Py_VISIT(e->reader);
            Py_VISIT(e->writer);
        }
    }
#endif
    return 0;
}

/* The collector runs this with the other threads stopped, or dealloc with
 * no other reference: nobody is probing the table. */
static int RWLock_clear(PyObject *self) {
    Py_CLEAR(RWL(self)->reader);
    Py_CLEAR(RWL(self)->writer);
#ifdef Py_GIL_DISABLED
    for (unsigned i = 0; i < RW_THREAD_VIEWS; i++) {
        RWLockThreadViews *e = atomic_exchange_explicit(&RWL(self)->thread_views[i], NULL, memory_order_acq_rel);
        if (e != NULL) free_thread_views(e);
    }
#endif
    return 0;
}

static void RWLock_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (RWL(self)->weakreflist != NULL) PyObject_ClearWeakRefs(self);
    pa_rwlock_destroy(RWL(self)->lock);
    RWLock_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static PyObject *RWLock_acquire_read(PyObject *self, PyObject *args, PyObject *kwds) {
    return rw_acquire_args(RWL(self)->lock, 0, args, kwds);
}
static PyObject *RWLock_acquire_write(PyObject *self, PyObject *args, PyObject *kwds) {
    return rw_acquire_args(RWL(self)->lock, 1, args, kwds);
}
static PyObject *RWLock_release_read(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return rw_release(RWL(self)->lock, 0);
}
static PyObject *RWLock_release_write(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return rw_release(RWL(self)->lock, 1);
}

static PyObject *RWLock_acquire_upgradable(PyObject *self, PyObject *args, PyObject *kwds) {
    int64_t timeout_ns = -1;
    if (((args != NULL && PyTuple_GET_SIZE(args) != 0) || kwds != NULL) &&
        parse_acquire_args(args, kwds, &timeout_ns) < 0)
        return NULL;
    return rw_acquire_upgradable(RWL(self)->lock, timeout_ns);
}
static PyObject *RWLock_release_upgradable(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_lock_result r = pa_rwlock_release_upgradable(RWL(self)->lock);
    if (r != PA_ACQUIRED) return raise_status(r);
    Py_RETURN_NONE;
}
/* upgrade(timeout=-1): acquire's timeout rule, always blocking. */
static PyObject *RWLock_upgrade(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout_obj = NULL;
    double seconds = -1.0;
    int64_t timeout_ns = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:upgrade", kwlist, &timeout_obj)) return NULL;
    if (timeout_obj != NULL && timeout_seconds(timeout_obj, &seconds) < 0) return NULL;
    pa_lock_result st = pa_timeout_for_acquire(1, timeout_obj != NULL, seconds, &timeout_ns);
    if (st != PA_ACQUIRED) return raise_status(st);
    return rw_upgrade(RWL(self)->lock, timeout_ns);
}

static PyObject *RWLock_downgrade(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_lock_result r = pa_rwlock_downgrade(RWL(self)->lock);
    if (pa_status_wants_reclaim(r) && collect_dead_read_holds()) r = pa_rwlock_downgrade(RWL(self)->lock);
    if (r != PA_ACQUIRED) return raise_status(r);
    Py_RETURN_NONE;
}

/* read(timeout=None) / write(timeout=None) */
/* read(timeout=None) / write(timeout=None).  Vectorcall, because `with
 * rw.read():` is a hot path: with no argument it is one pointer load (the
 * view is the context manager), no argument parsing at all. */
static PyObject *rw_guard(PyObject *self, int write, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames) {
    const char *name = write ? "write" : "read";
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    PyObject *timeout_obj = Py_None;
    int64_t timeout_ns;
    if (PA_LIKELY(nargs == 0 && nkw == 0)) return rw_side(self, write);
    if (nargs + nkw > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", name, nargs + nkw);
        return NULL;
    }
    if (nkw == 1 && !PyUnicode_EqualToUTF8(PyTuple_GET_ITEM(kwnames, 0), "timeout")) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", name,
                     PyTuple_GET_ITEM(kwnames, 0));
        return NULL;
    }
    timeout_obj = args[0];
    if (parse_optional_timeout(timeout_obj, &timeout_ns) < 0) return NULL;
    if (timeout_ns < 0) return rw_side(self, write); /* timeout=None: the view is the context manager */
    module_state *st = PyType_GetModuleState(Py_TYPE(self));
    if (st == NULL || helper_type(st->RWLockGuard_Type) == NULL) return NULL;
    RWLockGuardObject *g = PyObject_New(RWLockGuardObject, st->RWLockGuard_Type);
    if (g == NULL) return NULL;
    g->rw = (RWLockObject *)Py_NewRef(self);
    g->write = write;
    g->timeout_ns = timeout_ns;
    return (PyObject *)g;
}
/* upgradable(timeout=None): always a guard (there is no upgradable view). */
static PyObject *RWLock_upgradable(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"timeout", NULL};
    PyObject *timeout_obj = Py_None;
    int64_t timeout_ns;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:upgradable", kwlist, &timeout_obj)) return NULL;
    if (parse_optional_timeout(timeout_obj, &timeout_ns) < 0) return NULL;
    module_state *st = PyType_GetModuleState(Py_TYPE(self));
    if (st == NULL || helper_type(st->RWLockGuard_Type) == NULL) return NULL;
    RWLockGuardObject *g = PyObject_New(RWLockGuardObject, st->RWLockGuard_Type);
    if (g == NULL) return NULL;
    g->rw = (RWLockObject *)Py_NewRef(self);
    g->write = RW_SIDE_UPGRADABLE;
    g->timeout_ns = timeout_ns;
    return (PyObject *)g;
}
static PyObject *RWLock_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    return rw_guard(self, 0, args, nargs, kwnames);
}
static PyObject *RWLock_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames) {
    return rw_guard(self, 1, args, nargs, kwnames);
}

/* Optimistic reads: loads only, no GIL release (nothing blocks). */
static PyObject *RWLock_optimistic_read(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyLong_FromLongLong(pa_rwlock_optimistic_read(RWL(self)->lock));
}
/* validate(stamp): the rule for the argument is pa_contract.h's ("stamps"). */
static PyObject *RWLock_validate(PyObject *self, PyObject *stamp) {
    long long v;
    int overflow = 0;
    if (PyLong_Check(stamp)) {
        v = PyLong_AsLongLongAndOverflow(stamp, &overflow);
    } else {
        if (!PyIndex_Check(stamp)) return raise_status(PA_STAMP_NOT_INT, Py_TYPE(stamp)->tp_name);
        PyObject *i = PyNumber_Index(stamp);
        if (i == NULL) return NULL;
        v = PyLong_AsLongLongAndOverflow(i, &overflow);
        Py_DECREF(i);
    }
    if (v == -1 && PyErr_Occurred()) return NULL;
    if (overflow) Py_RETURN_FALSE; /* beyond int64: never issued */
    return PyBool_FromLong(pa_rwlock_validate(RWL(self)->lock, (int64_t)v));
}

static PyObject *RWLock_at_fork_reinit(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_rwlock_reinit_after_fork(RWL(self)->lock);
    Py_RETURN_NONE;
}

static PyObject *RWLock_get_readers(PyObject *self, void *Py_UNUSED(closure)) {
    return PyLong_FromUnsignedLong(pa_rwlock_reader_count(RWL(self)->lock));
}
static PyObject *RWLock_get_write_locked(PyObject *self, void *Py_UNUSED(closure)) {
    return PyBool_FromLong(pa_rwlock_is_write_locked(RWL(self)->lock));
}

static PyObject *RWLock_repr(PyObject *self) {
    pa_rwlock *l = RWL(self)->lock;
    /* A handle names its root too: which lock it is. */
    PyObject *of = RWL(self)->root ? PyUnicode_FromFormat(", handle of %p", RWL(self)->root) : PyUnicode_FromString("");
    if (of == NULL) return NULL;
    PyObject *res;
    if (pa_rwlock_is_write_locked(l))
        res = PyUnicode_FromFormat("<%s object at %p%U, write-locked>", Py_TYPE(self)->tp_name, self, of);
    else
        res = PyUnicode_FromFormat("<%s object at %p%U, readers=%u>", Py_TYPE(self)->tp_name, self, of,
                                   (unsigned)pa_rwlock_reader_count(l));
    Py_DECREF(of);
    return res;
}

static PyMethodDef RWLock_methods[] = {
    {"acquire_read", (PyCFunction)(void (*)(void))RWLock_acquire_read, METH_VARARGS | METH_KEYWORDS,
     "acquire_read($self, /, blocking=True, timeout=-1)\n--\n\nTake a read lock, as threading.Lock.acquire takes its lock: True if had, False on timeout."},
    {"release_read", RWLock_release_read, METH_NOARGS, "release_read($self, /)\n--\n\nRelease this thread's read lock; RuntimeError if it holds none."},
    {"acquire_write", (PyCFunction)(void (*)(void))RWLock_acquire_write, METH_VARARGS | METH_KEYWORDS,
     "acquire_write($self, /, blocking=True, timeout=-1)\n--\n\nTake the write lock, as threading.Lock.acquire: True if had, False on timeout."},
    {"release_write", RWLock_release_write, METH_NOARGS, "release_write($self, /)\n--\n\nRelease the write lock; RuntimeError if this thread does not hold it."},
    {"read", (PyCFunction)(void (*)(void))RWLock_read, METH_FASTCALL | METH_KEYWORDS,
     "read($self, /, timeout=None)\n--\n\nContext manager holding a read lock; TimeoutError if not had in time."},
    {"write", (PyCFunction)(void (*)(void))RWLock_write, METH_FASTCALL | METH_KEYWORDS,
     "write($self, /, timeout=None)\n--\n\nContext manager holding the write lock; TimeoutError if not had in time."},
    {"acquire_upgradable", (PyCFunction)(void (*)(void))RWLock_acquire_upgradable, METH_VARARGS | METH_KEYWORDS,
     "acquire_upgradable($self, /, blocking=True, timeout=-1)\n--\n\nTake the upgradable read lock (one holder at a "
     "time; excludes writers, not readers): True if had, False on timeout."},
    {"release_upgradable", RWLock_release_upgradable, METH_NOARGS,
     "release_upgradable($self, /)\n--\n\nRelease this thread's upgradable read lock; RuntimeError if it holds none."},
    {"upgrade", (PyCFunction)(void (*)(void))RWLock_upgrade, METH_VARARGS | METH_KEYWORDS,
     "upgrade($self, /, timeout=-1)\n--\n\nTurn the held upgradable read lock into the write lock once the other "
     "readers have left (no writer can get in between): True if upgraded, False on timeout (still upgradable)."},
    {"upgradable", (PyCFunction)(void (*)(void))RWLock_upgradable, METH_VARARGS | METH_KEYWORDS,
     "upgradable($self, /, timeout=None)\n--\n\nContext manager holding the upgradable read lock; TimeoutError if "
     "not had in time. On leaving: the write lock if the block upgraded, else the upgradable read."},
    {"downgrade", RWLock_downgrade, METH_NOARGS,
     "downgrade($self, /)\n--\n\nTurn the held write lock into a read lock; no writer can get in between."},
    {"optimistic_read", RWLock_optimistic_read, METH_NOARGS,
     "optimistic_read($self, /)\n--\n\nA stamp for validate(), taking no lock; 0 while a writer holds the lock."},
    {"validate", RWLock_validate, METH_O,
     "validate($self, stamp, /)\n--\n\nTrue if stamp is not 0 and no writer has acquired the lock since it was taken."},
    {"_at_fork_reinit", RWLock_at_fork_reinit, METH_NOARGS, NULL},
    HANDLE_METHOD_DEF(RWLock, HANDLE_DOC("lock") " Its reader and writer are its own views of the lock."),
    {NULL, NULL, 0, NULL},
};

static PyMemberDef RWLock_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(RWLockObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef RWLock_getset[] = {
    {"reader", RWLock_get_reader, NULL,
     "The read side as a threading.Lock-like object (on a free-threaded build, one of the calling thread's own).",
     NULL},
    {"writer", RWLock_get_writer, NULL,
     "The write side as a threading.Lock-like object (on a free-threaded build, one of the calling thread's own).",
     NULL},
    {"readers", RWLock_get_readers, NULL, "Number of read holds right now (a snapshot).", NULL},
    {"write_locked", RWLock_get_write_locked, NULL, "Whether a writer holds the lock (a snapshot).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot RWLock_slots[] = {
    {Py_tp_doc, "RWLock()\n--\n\nA writer-preferring reader-writer lock: many readers or one writer."},
    {Py_tp_new, RWLock_new},
    {Py_tp_dealloc, RWLock_dealloc},
    {Py_tp_traverse, RWLock_traverse},
    {Py_tp_clear, RWLock_clear},
    {Py_tp_repr, RWLock_repr},
    {Py_tp_methods, RWLock_methods},
    {Py_tp_members, RWLock_members},
    {Py_tp_getset, RWLock_getset},
    {0, NULL},
};

static PyType_Spec RWLock_spec = {
    .name = "pyatomics.RWLock",
    .basicsize = sizeof(RWLockObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = RWLock_slots,
};

/* The handle's dealloc: its views and weak references as an RWLock's, then
 * the root (last: it may free the lock).  tp_clear is RWLock's (the views
 * only: the root stays, see "Handles" at the top). */
static void RWLockHandle_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (RWL(self)->weakreflist != NULL) PyObject_ClearWeakRefs(self);
    RWLock_clear(self);
    Py_CLEAR(RWL(self)->root);
    tp->tp_free(self);
    Py_DECREF(tp);
}
static PyObject *RWLockHandle_get_root(PyObject *self, void *Py_UNUSED(closure)) {
    return Py_NewRef(RWL(self)->root);
}
static PyGetSetDef RWLockHandle_getset[] = {
    {"_root", RWLockHandle_get_root, NULL, "The RWLock this is a handle of.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static PyType_Slot RWLockHandle_slots[] = {
    HANDLE_NEW_SLOT
    {Py_tp_doc, "What RWLock.handle() returns: an RWLock bound to the same lock, with its own views, for one thread."},
    {Py_tp_dealloc, RWLockHandle_dealloc},
    {Py_tp_traverse, RWLock_traverse},
    {Py_tp_clear, RWLock_clear},
    {Py_tp_getset, RWLockHandle_getset},
    {Py_tp_free, PyObject_GC_Del},
    {0, NULL},
};
static PyType_Spec RWLockHandle_spec = {
    .name = "pyatomics.RWLockHandle",
    .basicsize = sizeof(RWLockObject),
    .flags = HANDLE_FLAGS,
    .slots = RWLockHandle_slots,
};

/* --- views ---------------------------------------------------------------- */

#define VIEW(o) ((RWLockViewObject *)(o))

static int View_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(VIEW(self)->rw);
    return 0;
}
static int View_clear(PyObject *self) {
    VIEW(self)->lock = NULL; /* before the reference that keeps it alive goes */
    Py_CLEAR(VIEW(self)->rw);
    return 0;
}
static void View_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    if (VIEW(self)->weakreflist != NULL) PyObject_ClearWeakRefs(self);
    View_clear(self);
    tp->tp_free(self);
    Py_DECREF(tp);
}

/* The lock a view works on, or NULL with RuntimeError once the GC cleared the
 * view (it was part of a cycle that a finalizer reached).  The view's `rw`
 * keeps the RWLock (or handle, which keeps its root) and so the lock alive. */
static pa_rwlock *view_lock(PyObject *self) {
    pa_rwlock *l = VIEW(self)->lock;
    if (l == NULL) raise_status(PA_VIEW_CLEARED);
    return l;
}

static PyObject *View_acquire(PyObject *self, PyObject *args, PyObject *kwds) {
    pa_rwlock *l = view_lock(self);
    return l ? rw_acquire_args(l, VIEW(self)->write, args, kwds) : NULL;
}
static PyObject *View_enter(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_rwlock *l = view_lock(self);
    return l ? rw_acquire(l, VIEW(self)->write, -1) : NULL;
}
static PyObject *View_release(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_rwlock *l = view_lock(self);
    return l ? rw_release(l, VIEW(self)->write) : NULL;
}
static PyObject *View_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)args;
    (void)nargs;
    pa_rwlock *l = view_lock(self);
    return l ? rw_exit(l, VIEW(self)->write) : NULL;
}
static int view_locked(PyObject *self) {
    pa_rwlock *l = VIEW(self)->lock;
    return l != NULL && pa_rwlock_side_locked(l, VIEW(self)->write);
}
static PyObject *View_locked(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    return PyBool_FromLong(view_locked(self));
}
/* For threading.Condition: whether the *calling thread* holds this side. */
static PyObject *View_is_owned(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_rwlock *l = VIEW(self)->lock;
    if (l == NULL) Py_RETURN_FALSE;
    if (VIEW(self)->write) return PyBool_FromLong(pa_rwlock_write_held_by_me(l));
    return PyBool_FromLong(pa_rwlock_read_holds_by_me(l) > 0);
}
/* threading.Condition._at_fork_reinit (and concurrent.futures through it)
 * calls this on the lock it was given: reset the whole RWLock, as
 * RWLock._at_fork_reinit does. */
static PyObject *View_at_fork_reinit(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    pa_rwlock *l = view_lock(self);
    if (l == NULL) return NULL;
    pa_rwlock_reinit_after_fork(l);
    Py_RETURN_NONE;
}
static PyObject *View_repr(PyObject *self) {
    return lock_repr(self, view_locked(self), VIEW(self)->write ? " (write side)" : " (read side)");
}
/* The RWLock this is a side of: for a handle's view, the handle. */
static PyObject *View_get_lock(PyObject *self, void *Py_UNUSED(closure)) {
    if (view_lock(self) == NULL) return NULL;
    return Py_NewRef((PyObject *)VIEW(self)->rw);
}

static PyMethodDef View_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))View_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire($self, /, blocking=True, timeout=-1)\n--\n\nTake this side of the RWLock, as threading.Lock.acquire."},
    {"release", View_release, METH_NOARGS, "release($self, /)\n--\n\nRelease this side; RuntimeError if this thread does not hold it."},
    {"locked", View_locked, METH_NOARGS,
     "locked($self, /)\n--\n\nWhether this side is held, or acquire(blocking=False) on it would fail now for a "
     "thread that holds nothing (a snapshot). Writer side: a reader or a writer holds the lock. Reader side: "
     "a reader or a writer holds it, or a writer waits for it."},
    {"_at_fork_reinit", View_at_fork_reinit, METH_NOARGS, NULL},
    {"_is_owned", View_is_owned, METH_NOARGS, NULL},
    {"__enter__", View_enter, METH_NOARGS, "__enter__($self, /)\n--\n\n"},
    {"__exit__", (PyCFunction)(void (*)(void))View_exit, METH_FASTCALL, "__exit__($self, /, *exc_info)\n--\n\n"},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef View_members[] = {
    {"__weaklistoffset__", T_PYSSIZET, offsetof(RWLockViewObject, weakreflist), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef View_getset[] = {
    {"rwlock", View_get_lock, NULL, "The RWLock this is a side of.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot View_slots[] = {
#ifndef Py_TPFLAGS_DISALLOW_INSTANTIATION
    {Py_tp_new, refuse_construction},
#endif
    {Py_tp_doc, "One side of an RWLock, usable wherever a threading.Lock-like object is expected."},
    {Py_tp_dealloc, View_dealloc},
    {Py_tp_traverse, View_traverse},
    {Py_tp_clear, View_clear},
    {Py_tp_repr, View_repr},
    {Py_tp_methods, View_methods},
    {Py_tp_members, View_members},
    {Py_tp_getset, View_getset},
    {0, NULL},
};

static PyType_Spec View_spec = {
    .name = "pyatomics.RWLockView",
    .basicsize = sizeof(RWLockViewObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | PA_TPFLAGS_NOT_CONSTRUCTIBLE,
    .slots = View_slots,
};

/* --- timed guards ---------------------------------------------------------- */

#define GUARD(o) ((RWLockGuardObject *)(o))

static void Guard_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    Py_CLEAR(GUARD(self)->rw);
    tp->tp_free(self);
    Py_DECREF(tp);
}
static PyObject *Guard_enter(PyObject *self, PyObject *Py_UNUSED(ignored)) {
    RWLockGuardObject *g = GUARD(self);
    PyObject *r = g->write == RW_SIDE_UPGRADABLE ? rw_acquire_upgradable(g->rw->lock, g->timeout_ns)
                                                 : rw_acquire(g->rw->lock, g->write, g->timeout_ns);
    if (r == Py_False) {
        Py_DECREF(r);
        /* PyErr_Format has no %f (3.13 raises SystemError for it, older
         * versions print it literally): format the seconds first. */
        char *secs = PyOS_double_to_string((double)g->timeout_ns / 1e9, 'f', 3, 0, NULL);
        if (secs == NULL) return NULL;
        raise_status(PA_NOT_ACQUIRED_IN_TIME,
                     g->write == RW_SIDE_UPGRADABLE ? "upgradable read" : g->write ? "write" : "read", secs);
        PyMem_Free(secs);
        return NULL;
    }
    return r; /* True, as `with lock as x` binds for every lock here */
}
static PyObject *Guard_exit(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)args;
    (void)nargs;
    if (GUARD(self)->write == RW_SIDE_UPGRADABLE) {
        pa_lock_result r = pa_rwlock_exit_upgradable(GUARD(self)->rw->lock);
        if (r != PA_ACQUIRED) return raise_status(r);
        Py_RETURN_NONE;
    }
    return rw_exit(GUARD(self)->rw->lock, GUARD(self)->write);
}

static PyMethodDef Guard_methods[] = {
    {"__enter__", Guard_enter, METH_NOARGS, "__enter__($self, /)\n--\n\n"},
    {"__exit__", (PyCFunction)(void (*)(void))Guard_exit, METH_FASTCALL, "__exit__($self, /, *exc_info)\n--\n\n"},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Guard_slots[] = {
#ifndef Py_TPFLAGS_DISALLOW_INSTANTIATION
    {Py_tp_new, refuse_construction},
#endif
    {Py_tp_doc, "Context manager returned by RWLock.read(timeout), RWLock.write(timeout) and RWLock.upgradable(timeout)."},
    {Py_tp_dealloc, Guard_dealloc},
    {Py_tp_methods, Guard_methods},
    {0, NULL},
};

static PyType_Spec Guard_spec = {
    .name = "pyatomics.RWLockGuard",
    .basicsize = sizeof(RWLockGuardObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | PA_TPFLAGS_NOT_CONSTRUCTIBLE,
    .slots = Guard_slots,
};

/* ===========================================================================
 * Module
 * ========================================================================= */

static PyObject *build_info(PyObject *module, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("{s:s,s:s,s:s,s:i}", "atomics", pa_atomics_description(), "wait",
                         pa_wait_mechanism(), "compiler", pa_compiler_description(), "lock_free_64",
                         pa_lock_free_64());
}

/* os.register_at_fork(after_in_child=...) hook (pyatomics/__init__.py): the
 * forking thread is the child's main thread, also after a fork from another
 * thread, and only the main thread needs the signal-checking wait slices. */
static PyObject *after_fork_in_child(PyObject *module, PyObject *Py_UNUSED(ignored)) {
    (void)module;
    main_thread_ident = PyThread_get_thread_ident();
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"build_info", build_info, METH_NOARGS, "What the C core was built with."},
    {"_after_fork_in_child", after_fork_in_child, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static int add_type(PyObject *module, PyType_Spec *spec, PyTypeObject **slot) {
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, NULL);
    if (*slot == NULL) return -1;
    /* Internal types (views, guards) are reachable but not exported. */
    return PyModule_AddType(module, *slot);
}

/* A handle type, subtype of `base`.  RWLock is final (no Python subclass), and
 * the type machinery refuses any subtype of a type without
 * Py_TPFLAGS_BASETYPE, so the flag is set for the one call and taken away
 * again: no code has seen the type yet (module exec), and nothing keeps the
 * flag's value from the moment a subtype is made. */
static int add_handle_type(PyObject *module, PyType_Spec *spec, PyTypeObject *base, PyTypeObject **slot) {
    PyObject *bases = PyTuple_Pack(1, (PyObject *)base); /* 3.9 takes a tuple only */
    if (bases == NULL) return -1;
    unsigned long had = base->tp_flags & Py_TPFLAGS_BASETYPE;
    base->tp_flags |= Py_TPFLAGS_BASETYPE;
    *slot = (PyTypeObject *)PyType_FromModuleAndSpec(module, spec, bases);
    base->tp_flags = (base->tp_flags & ~Py_TPFLAGS_BASETYPE) | had;
    Py_DECREF(bases);
    if (*slot == NULL) return -1;
    return PyModule_AddType(module, *slot); /* exported: pyatomics.RWLockHandle, ... */
}

static int module_exec(PyObject *module) {
    module_state *st = PyModule_GetState(module);
    if (add_type(module, &AtomicInt_spec, &st->AtomicInt_Type) < 0 ||
        add_snapshot_methods(st->AtomicInt_Type) < 0 ||
        add_type(module, &AtomicCounter_spec, &st->AtomicCounter_Type) < 0 ||
        add_type(module, &AtomicRef_spec, &st->AtomicRef_Type) < 0 ||
        add_type(module, &SpinLock_spec, &st->SpinLock_Type) < 0 ||
        add_type(module, &RWLock_spec, &st->RWLock_Type) < 0 ||
        add_type(module, &View_spec, &st->RWLockView_Type) < 0 ||
        add_type(module, &Guard_spec, &st->RWLockGuard_Type) < 0 ||
        add_handle_type(module, &AtomicIntHandle_spec, st->AtomicInt_Type, &st->AtomicIntHandle_Type) < 0 ||
        add_handle_type(module, &AtomicCounterHandle_spec, st->AtomicCounter_Type, &st->AtomicCounterHandle_Type) < 0 ||
        add_handle_type(module, &AtomicRefHandle_spec, st->AtomicRef_Type, &st->AtomicRefHandle_Type) < 0 ||
        add_handle_type(module, &RWLockHandle_spec, st->RWLock_Type, &st->RWLockHandle_Type) < 0)
        return -1;

    PyObject *thread_mod = PyImport_ImportModule("_thread");
    if (thread_mod == NULL) return -1;
    PyObject *tmax = PyObject_GetAttrString(thread_mod, "TIMEOUT_MAX");
    Py_DECREF(thread_mod);
    if (tmax == NULL) return -1;
    double timeout_max_seconds = PyFloat_AsDouble(tmax);
    Py_DECREF(tmax);
    if (timeout_max_seconds == -1.0 && PyErr_Occurred()) return -1;
    pa_set_timeout_max(timeout_max_seconds);

    PyObject *threading = PyImport_ImportModule("threading");
    if (threading == NULL) return -1;
    PyObject *main = PyObject_CallMethod(threading, "main_thread", NULL);
    Py_DECREF(threading);
    if (main == NULL) return -1;
    PyObject *ident = PyObject_GetAttrString(main, "ident");
    Py_DECREF(main);
    if (ident == NULL) return -1;
    main_thread_ident = PyLong_AsUnsignedLong(ident);
    Py_DECREF(ident);
    if (PyErr_Occurred()) return -1;
    return 0;
}

static int module_traverse(PyObject *module, visitproc visit, void *arg) {
    module_state *st = PyModule_GetState(module);
    Py_VISIT(st->AtomicInt_Type);
    Py_VISIT(st->AtomicCounter_Type);
    Py_VISIT(st->AtomicRef_Type);
    Py_VISIT(st->SpinLock_Type);
    Py_VISIT(st->RWLock_Type);
    Py_VISIT(st->RWLockView_Type);
    Py_VISIT(st->RWLockGuard_Type);
    Py_VISIT(st->AtomicIntHandle_Type);
    Py_VISIT(st->AtomicCounterHandle_Type);
    Py_VISIT(st->AtomicRefHandle_Type);
    Py_VISIT(st->RWLockHandle_Type);
    return 0;
}

static int module_clear(PyObject *module) {
    module_state *st = PyModule_GetState(module);
    Py_CLEAR(st->AtomicInt_Type);
    Py_CLEAR(st->AtomicCounter_Type);
    Py_CLEAR(st->AtomicRef_Type);
    Py_CLEAR(st->SpinLock_Type);
    Py_CLEAR(st->RWLock_Type);
    Py_CLEAR(st->RWLockView_Type);
    Py_CLEAR(st->RWLockGuard_Type);
    Py_CLEAR(st->AtomicIntHandle_Type);
    Py_CLEAR(st->AtomicCounterHandle_Type);
    Py_CLEAR(st->AtomicRefHandle_Type);
    Py_CLEAR(st->RWLockHandle_Type);
    return 0;
}

static void module_free(void *module) { module_clear((PyObject *)module); }

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, module_exec},
#ifdef Py_mod_gil
    /* All shared state lives in C11 atomics: importing us must not turn the
     * GIL back on in a free-threaded interpreter. */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pyatomics._capi_binding",
    .m_doc = "CPython binding of the pyatomics C core.",
    .m_size = sizeof(module_state),
    .m_methods = module_methods,
    .m_slots = module_slots,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__capi_binding(void) { return PyModuleDef_Init(&module_def); }
