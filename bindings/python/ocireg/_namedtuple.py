"""``NamedTuple`` at run time without :mod:`typing` (importing it, and :mod:`re` with it, cost
about 9 ms of ``import ocireg``).

The modules write ``class Manifest(NamedTuple): ...`` as with :class:`typing.NamedTuple`, and
import it as::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from ._namedtuple import NamedTuple

so type checkers see :class:`typing.NamedTuple` and the program gets the same class made here:
a :func:`collections.namedtuple` (a plain tuple subclass: same fields, defaults, ``_asdict``,
``_replace``, ...) with the methods, properties and docstring of the class body. The field
annotations are kept as written (strings, with ``from __future__ import annotations``).
"""

from collections import namedtuple

# The names a class body may not define (as typing.NamedTuple refuses them).
_PROHIBITED = frozenset(
    (
        "__new__",
        "__init__",
        "__slots__",
        "__getnewargs__",
        "_fields",
        "_field_defaults",
        "_make",
        "_replace",
        "_asdict",
        "_source",
    )
)
_SPECIAL = frozenset(("__module__", "__name__", "__annotations__"))


class _NamedTupleMeta(type):
    def __new__(mcls, typename, bases, ns):
        annotations = ns.get("__annotations__", {})
        fields = list(annotations)
        defaults = []
        for name in fields:
            if name in ns:
                defaults.append(ns[name])
            elif defaults:
                raise TypeError("Non-default namedtuple field %s cannot follow a default field" % name)
        cls = namedtuple(typename, fields, defaults=defaults, module=ns["__module__"])
        cls.__annotations__ = cls.__new__.__annotations__ = dict(annotations)
        for key, value in ns.items():
            if key in _PROHIBITED:
                raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
            if key not in _SPECIAL and key not in cls._fields:
                setattr(cls, key, value)
        return cls


#: The base class: ``class T(NamedTuple): field: type = default``.
NamedTuple = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})
