"""Griffe extension for the API page (docs/api.md): what static analysis misses.

1. The C-API classes' docstrings.  Griffe reads pyatomics._capi_binding from
   its stub (pyatomics/_capi_binding.pyi), which has the signatures but few
   docstrings; the docstrings live in the C source, on the runtime objects.
   Every class of that module, and every member the stub leaves without a
   docstring, takes the runtime one.  A C method's docstring starts with its
   signature ("fetch_add(n) -> int", a blank line, then the text: CPython's form
   when there is no __text_signature__); that line is dropped, because the
   stub's signature, with annotations, is already rendered above it.  The stub's
   own docstrings, where it has them, win.
2. The stub's private type aliases (`_IntLike = SupportsIndex`) are replaced by
   what they stand for in the signatures: a reader cannot look `_IntLike` up.
3. A class whose stub declares only `__new__` (AtomicInt) gets an `__init__`
   with the same parameters, because the handler merges only `__init__` into
   the class signature: the page then shows `AtomicInt(value=0)`.
4. Sphinx roles in pyatomics.sync's docstrings (":func:`hold`") become code
   spans, since the pages are Markdown.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|exc|data|obj):`~?([^`]+)`")


def _strip_signature(name: str, doc: str) -> str:
    first, _, rest = doc.partition("\n\n")
    if re.fullmatch(rf"\s*{re.escape(name)}\(.*\)(\s*->\s*.+)?\s*", first, re.S):
        return rest
    return doc


def _substitute(expr, aliases: dict):
    """expr with every name in aliases replaced, at any depth."""
    if isinstance(expr, griffe.ExprName) and expr.name in aliases:
        return aliases[expr.name]
    if isinstance(expr, griffe.Expr) and dataclasses.is_dataclass(expr):
        for field in dataclasses.fields(expr):
            value = getattr(expr, field.name)
            if isinstance(value, list):
                value[:] = [_substitute(v, aliases) for v in value]
            elif isinstance(value, griffe.Expr):
                object.__setattr__(expr, field.name, _substitute(value, aliases))
    return expr


def _fill_docstrings(module: griffe.Module) -> None:
    runtime = importlib.import_module(module.path)
    for cls in module.classes.values():
        rt_cls = getattr(runtime, cls.name, None)
        if rt_cls is None:
            continue
        if cls.docstring is None and rt_cls.__doc__:
            cls.docstring = griffe.Docstring(inspect.cleandoc(rt_cls.__doc__), parent=cls)
        for name, member in cls.members.items():
            if member.is_alias or member.docstring is not None:
                continue
            doc = getattr(rt_cls.__dict__.get(name), "__doc__", None)
            if not doc:
                continue
            doc = _strip_signature(name, inspect.cleandoc(doc)).strip()
            if doc:
                member.docstring = griffe.Docstring(doc, parent=member)


def _expand_private_aliases(module: griffe.Module) -> None:
    aliases = {name: attr.value for name, attr in module.attributes.items()
               if name.startswith("_") and not attr.is_alias and attr.value is not None
               and isinstance(attr.value, griffe.Expr)}
    if not aliases:
        return
    for cls in module.classes.values():
        for member in cls.members.values():
            if member.is_alias:
                continue
            if member.is_function:
                for param in member.parameters:
                    if isinstance(param.annotation, griffe.Expr):
                        param.annotation = _substitute(param.annotation, aliases)
                if isinstance(member.returns, griffe.Expr):
                    member.returns = _substitute(member.returns, aliases)
            elif member.is_attribute and isinstance(member.annotation, griffe.Expr):
                member.annotation = _substitute(member.annotation, aliases)


def _constructor_signatures(module: griffe.Module) -> None:
    for cls in module.classes.values():
        new = cls.members.get("__new__")
        if new is None or new.is_alias or "__init__" in cls.members:
            continue
        params = list(new.parameters)
        self_param = griffe.Parameter("self", kind=griffe.ParameterKind.positional_or_keyword)
        init = griffe.Function("__init__", lineno=new.lineno, endlineno=new.endlineno,
                               parameters=griffe.Parameters(self_param, *params[1:]), returns="None")
        cls.set_member("__init__", init)


def _rewrite_roles(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = _ROLE.sub(r"`\1`", obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias and member.parent is obj:
            _rewrite_roles(member)


class RuntimeDocstrings(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        if pkg.name != "pyatomics":
            return
        capi = pkg.modules.get("_capi_binding")
        if capi is not None:
            _fill_docstrings(capi)
            _expand_private_aliases(capi)
            _constructor_signatures(capi)
        sync = pkg.modules.get("sync")
        if sync is not None:
            _rewrite_roles(sync)
