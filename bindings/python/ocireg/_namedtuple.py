"""``NamedTuple`` at run time without :mod:`typing` (importing it, and :mod:`re` with it, cost
about 9 ms of ``import ocireg``) nor :mod:`collections` (about 1.5 ms).

The modules write ``class Manifest(NamedTuple): ...`` as with :class:`typing.NamedTuple`, and
import it as::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from ._namedtuple import NamedTuple

so type checkers see :class:`typing.NamedTuple` and the program gets the same class made here:
the class :func:`collections.namedtuple` would make (a plain tuple subclass: same fields,
defaults, ``__new__`` signature, ``_make``, ``_replace``, ``_asdict``, ``__repr__``,
``__getnewargs__``, ``__match_args__``, ...; the code below follows CPython's
``collections.namedtuple``) with the methods, properties and docstring of the class body. The
field annotations are kept as written (strings, with ``from __future__ import annotations``).
"""

try:
    from _collections import _tuplegetter  # what collections.namedtuple uses (C, 3.8+)
except ImportError:  # pragma: no cover (not CPython)
    from operator import itemgetter

    def _tuplegetter(index, doc):
        return property(itemgetter(index), doc=doc)


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


def _namedtuple_namespace(typename, field_names, defaults):
    """The class namespace ``collections.namedtuple(typename, field_names, defaults=defaults)``
    makes (field names already checked)."""
    field_names = tuple(field_names)
    num_fields = len(field_names)
    arg_list = ", ".join(field_names)
    if num_fields == 1:
        arg_list += ","
    repr_fmt = "(" + ", ".join("%s=%%r" % name for name in field_names) + ")"
    tuple_new = tuple.__new__
    _dict, _tuple, _len, _map, _zip = dict, tuple, len, map, zip

    namespace = {"_tuple_new": tuple_new, "__builtins__": {}, "__name__": "namedtuple_" + typename}
    code = "lambda _cls, %s: _tuple_new(_cls, (%s))" % (arg_list, arg_list)
    __new__ = eval(code, namespace)
    __new__.__name__ = "__new__"
    __new__.__doc__ = "Create new instance of %s(%s)" % (typename, arg_list)
    if defaults:
        __new__.__defaults__ = tuple(defaults)
    field_defaults = dict(reversed(list(zip(reversed(field_names), reversed(defaults)))))

    @classmethod
    def _make(cls, iterable):
        result = tuple_new(cls, iterable)
        if _len(result) != num_fields:
            raise TypeError("Expected %d arguments, got %d" % (num_fields, len(result)))
        return result

    _make.__func__.__doc__ = "Make a new %s object from a sequence or iterable" % typename

    def _replace(self, /, **kwds):
        result = self._make(_map(kwds.pop, field_names, self))
        if kwds:
            raise ValueError("Got unexpected field names: %r" % list(kwds))
        return result

    _replace.__doc__ = "Return a new %s object replacing specified fields with new values" % typename

    def __repr__(self):
        "Return a nicely formatted representation string"
        return self.__class__.__name__ + repr_fmt % self

    def _asdict(self):
        "Return a new dict which maps field names to their values."
        return _dict(_zip(self._fields, self))

    def __getnewargs__(self):
        "Return self as a plain tuple.  Used by copy and pickle."
        return _tuple(self)

    for method in (__new__, _make.__func__, _replace, __repr__, _asdict, __getnewargs__):
        method.__qualname__ = "%s.%s" % (typename, method.__name__)

    class_namespace = {
        "__doc__": "%s(%s)" % (typename, arg_list),
        "__slots__": (),
        "_fields": field_names,
        "_field_defaults": field_defaults,
        "__new__": __new__,
        "_make": _make,
        "_replace": _replace,
        "__repr__": __repr__,
        "_asdict": _asdict,
        "__getnewargs__": __getnewargs__,
        "__match_args__": field_names,
    }
    for index, name in enumerate(field_names):
        class_namespace[name] = _tuplegetter(index, "Alias for field number %d" % index)
    return class_namespace


class _NamedTupleMeta(type):
    def __new__(mcls, typename, bases, ns):
        annotations = ns.get("__annotations__", {})
        fields = list(annotations)
        defaults = []
        for name in fields:
            if name.startswith("_"):
                raise ValueError("Field names cannot start with an underscore: %r" % name)
            if name in ns:
                defaults.append(ns[name])
            elif defaults:
                raise TypeError("Non-default namedtuple field %s cannot follow a default field" % name)
        class_ns = _namedtuple_namespace(typename, fields, defaults)
        class_ns["__module__"] = ns["__module__"]
        for key, value in ns.items():
            if key in _PROHIBITED:
                raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
            if key not in _SPECIAL and key not in fields:
                class_ns[key] = value
        cls = type(typename, (tuple,), class_ns)
        cls.__annotations__ = cls.__new__.__annotations__ = dict(annotations)
        return cls


#: The base class: ``class T(NamedTuple): field: type = default``.
NamedTuple = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})
