"""The compiled cffi module pyatomics._cffi_binding_lib (built by
pyatomics/_cffi_binding_build.py), used only by pyatomics._cffi_binding: cffi's
objects, untyped."""

from typing import Any

ffi: Any
lib: Any
