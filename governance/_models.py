"""Fast internal copies of the package's frozen pydantic models.

Public records are validated once, where they enter the package. Inside the runtime, new
snapshots are assembled only from parts that are already valid, so they are built without
validation and without ``model_copy``'s generic bookkeeping: ``record_builder`` makes, once per
class, a constructor that takes every field (and refuses a call that misses one); ``evolve`` and
``evolve_record`` are shallow copies with changes; ``assemble`` builds a model from the changed
copy of another instance's values.

How an instance is filled. A frozen record refuses ``setattr`` (pydantic's ``__setattr__``, the
frozen dataclass's), and writing its slots through their descriptors from Python costs a
method-wrapper call each, with an argument tuple (about 700 instructions). The builders fill an
instance of an open class instead, one that has the record's layout and the generic
``setattr`` (each write then a specialized slot store), and give it the record's class as the
last step (``__class__`` assignment, which CPython allows between classes of one layout and
checks every time). The open class of the pydantic models is ``_OpenModel``, shared by all
of them; a slotted dataclass gets its own (``_open_twin``). A class the open one cannot become
(a layout of its own) is filled through the descriptors, as before.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new_instance = object.__new__
# BaseModel's own slots, written through their descriptors: the path for a model class whose
# layout is not ``_OpenModel``'s.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class _OpenModel(BaseModel):
    """A fieldless model with the generic ``setattr`` and no ``__init__``: the instance every
    builder fills before giving it its model's class. Any subclass of ``BaseModel`` that does
    not declare ``__slots__`` has its layout. Never returned to a caller as itself."""

    __setattr__ = object.__setattr__
    __delattr__ = object.__delattr__
    __init__ = object.__init__


def _becomes(open_class: type[Any], cls: type[Any]) -> bool:
    """Whether an instance of ``open_class`` may be given the class ``cls``."""
    try:
        probe = open_class()
        probe.__class__ = cls
    except TypeError:
        return False
    return True


_FIELD_SETS: dict[type[BaseModel], set[str]] = {}
_OPEN_FIELD_SETS: dict[type[BaseModel], set[str]] = {}
"""The field set of each model class an ``_OpenModel`` may become (checked once per class):
one lookup tells ``assemble`` both."""
_OPEN_CLASSES = _OPEN_FIELD_SETS.keys()
"""The model classes an ``_OpenModel`` may become."""


def _all_fields(cls: type[BaseModel]) -> set[str]:
    # Internal snapshots are complete, so every field counts as set. One set per class is shared
    # by its instances: pydantic never changes a frozen model's set in place (model_copy copies
    # it first), and nothing here does either.
    fields = _FIELD_SETS.get(cls)
    if fields is None:
        fields = _FIELD_SETS[cls] = set(cls.model_fields)
        if _becomes(_OpenModel, cls):
            _OPEN_FIELD_SETS[cls] = fields
    return fields


def _filled(cls: type[M], values: dict[str, Any], fields: set[str]) -> M:
    """A ``cls`` holding ``values``, its slots written through their descriptors (a class
    whose layout is not ``_OpenModel``'s)."""
    new = _new_instance(cls)
    _set_dict(new, values)
    _set_fields_set(new, fields)
    _set_extra(new, None)
    _set_private(new, None)
    return new


def evolve(model: M, /, **changes: Any) -> M:
    """A shallow copy of ``model`` with ``changes`` applied, not validated.

    Equivalent to ``model.model_copy(update=changes)`` for the package's frozen models (no
    extra fields, no private attributes), at a fraction of its cost.
    """
    cls = type(model)  # not ``model.__class__``, a read through the model's __getattr__ hook
    # Replacing existing keys keeps the declaration order of the fields.
    return assemble(cls, {**model.__dict__, **changes})


def assemble(cls: type[M], values: dict[str, Any], /) -> M:
    """A ``cls`` holding ``values``, not validated: ``values`` is the ``__dict__`` of an
    instance of ``cls``, copied and changed (so it has every field, in declaration order).
    Records built from single values go through ``record_builder``, which cannot miss a field.

    ``values`` is owned by the new model afterwards.
    """
    fields = _OPEN_FIELD_SETS.get(cls)
    if fields is None:
        fields = _all_fields(cls)
        if cls not in _OPEN_CLASSES:
            return _filled(cls, values, fields)
    new: Any = _OpenModel()
    new.__dict__ = values
    new.__pydantic_fields_set__ = fields
    new.__pydantic_extra__ = None
    new.__pydantic_private__ = None
    new.__class__ = cls
    model: M = new
    return model


R = TypeVar("R")

BUILDERS: dict[type[Any], Callable[..., Any]] = {}
"""Every record builder made by ``record_builder``, by record class (what tests check)."""


def record_fields(cls: type[Any], /) -> tuple[str, ...]:
    """The field names of a pydantic model or a dataclass, in declaration order."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return tuple(cls.model_fields)
    return tuple(f.name for f in dataclasses.fields(cls))


def record_builder(cls: type[R], /, *, positional: bool = False) -> Callable[..., R]:
    """A constructor for the frozen record ``cls`` that takes every field, by keyword (or, with
    ``positional``, in declaration order), and builds the instance without validation.

    The runtime builds its records from values it has checked, on hot paths where a pydantic
    validator or a frozen dataclass's ``__init__`` (one ``object.__setattr__`` per field)
    dominates the cost. The builder is generated once, from the class's own field list, and
    has no defaults: a call that leaves out a field, or names one the class does not have,
    raises ``TypeError``, so a field added to a record cannot be silently missing from the
    instances the runtime builds. It applies no default and no ``__post_init__``.

    ``cls`` is a pydantic model, a dataclass with a ``__dict__``, or a slotted dataclass.
    """
    names = record_fields(cls)
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    values = "{" + ", ".join(f"{name!r}: {name}" for name in names) + "}"
    if issubclass(cls, BaseModel):
        namespace["_fields_set"] = _all_fields(cls)
        if cls in _OPEN_CLASSES:
            namespace["_open"] = _OpenModel
            body = _open_model_fill(values)
        else:
            namespace.update(_set_dict=_set_dict, _set_fields_set=_set_fields_set,
                             _set_extra=_set_extra, _set_private=_set_private)
            body = ("    instance = _new(_cls)\n"
                    f"    _set_dict(instance, {values})\n"
                    "    _set_fields_set(instance, _fields_set)\n"
                    "    _set_extra(instance, None)\n"
                    "    _set_private(instance, None)\n")
    elif "__slots__" in cls.__dict__:
        twin = _open_twin(cls)
        if twin is not None:
            namespace["_open"] = twin
            body = ("    instance = _open()\n"
                    + "".join(f"    instance.{name} = {name}\n" for name in names)
                    + "    instance.__class__ = _cls\n")
        else:
            for name in names:
                namespace[f"_set_{name}"] = cls.__dict__[name].__set__
            body = "    instance = _new(_cls)\n" + "".join(
                f"    _set_{name}(instance, {name})\n" for name in names)
    else:
        # The instance dict's own descriptor: it bypasses the frozen ``__setattr__``.
        owner = next(k for k in cls.__mro__ if "__dict__" in k.__dict__)
        namespace["_set_dict"] = owner.__dict__["__dict__"].__set__
        body = f"    instance = _new(_cls)\n    _set_dict(instance, {values})\n"
    parameters = ", ".join(names) if positional else "*, " + ", ".join(names)
    source = f"def build({parameters}):\n{body}    return instance\n"
    exec(source, namespace)  # the technique dataclasses itself uses to generate __init__
    builder: Callable[..., R] = namespace["build"]
    builder.__qualname__ = f"{cls.__qualname__}.<record builder>"
    BUILDERS[cls] = builder
    return builder


def _open_model_fill(values: str, instance: str = "instance", cls: str = "_cls",
                     fields_set: str = "_fields_set") -> str:
    """The generated lines that fill an ``_OpenModel`` named ``instance`` with the dict
    ``values`` (an expression) and make it a ``cls`` (a name in the namespace, as its
    ``fields_set``): the body of ``assemble``, without its per-class lookups."""
    return (f"    {instance} = _open()\n"
            f"    {instance}.__dict__ = {values}\n"
            f"    {instance}.__pydantic_fields_set__ = {fields_set}\n"
            f"    {instance}.__pydantic_extra__ = None\n"
            f"    {instance}.__pydantic_private__ = None\n"
            f"    {instance}.__class__ = {cls}\n")


def model_assembler(cls: type[M], /) -> Callable[[dict[str, Any]], M]:
    """``assemble`` for one model class, made once: ``model_assembler(cls)(values)`` is
    ``assemble(cls, values)`` without looking the class up on every call (for the snapshots
    every change of a request builds). A class an ``_OpenModel`` cannot become gets
    ``assemble`` itself, bound to it."""
    fields = _all_fields(cls)
    if cls not in _OPEN_CLASSES:
        return functools.partial(assemble, cls)
    namespace: dict[str, Any] = {"_open": _OpenModel, "_cls": cls, "_fields_set": fields}
    exec(f"def assemble_values(values):\n{_open_model_fill('values')}    return instance\n",
         namespace)
    assembler: Callable[[dict[str, Any]], M] = namespace["assemble_values"]
    assembler.__qualname__ = f"{cls.__qualname__}.<assembler>"
    return assembler


def nested_model_assembler(cls: type[M], field: str, part: type[BaseModel], /
                           ) -> Callable[[dict[str, Any], dict[str, Any]], M]:
    """``model_assembler(cls)`` that first assembles the ``field`` of the new model, a
    ``part``, from its own values: ``assembler(values, part_values)`` sets ``values[field]`` to
    the new part, whatever it held (both dicts are owned by the new models afterwards). One
    call for two models, for the change that builds both on every write (a request with a new
    lifecycle)."""
    fields, part_fields = _all_fields(cls), _all_fields(part)
    if cls not in _OPEN_CLASSES or part not in _OPEN_CLASSES:
        whole, inner = model_assembler(cls), model_assembler(part)

        def assemble_nested(values: dict[str, Any], part_values: dict[str, Any]) -> M:
            values[field] = inner(part_values)
            return whole(values)
        return assemble_nested
    namespace: dict[str, Any] = {"_open": _OpenModel, "_cls": cls, "_part": part,
                                 "_fields_set": fields, "_part_fields_set": part_fields}
    source = ("def assemble_nested(values, part_values):\n"
              + _open_model_fill("part_values", "part", "_part", "_part_fields_set")
              + f"    values[{field!r}] = part\n"
              + _open_model_fill("values")
              + "    return instance\n")
    exec(source, namespace)
    assembler: Callable[[dict[str, Any], dict[str, Any]], M] = namespace["assemble_nested"]
    assembler.__qualname__ = f"{cls.__qualname__}.<assembler with {field}>"
    return assembler


def _open_twin(cls: type[Any]) -> type[Any] | None:
    """An open class for the slotted record ``cls``: the same bases and slots, the generic
    ``setattr``, no ``__init__``; None when an instance of it cannot become a ``cls``."""
    bases = cls.__dict__.get("__orig_bases__", cls.__bases__)
    namespace = {"__slots__": cls.__dict__["__slots__"], "__setattr__": object.__setattr__,
                 "__delattr__": object.__delattr__, "__init__": object.__init__}
    twin = types.new_class(f"{cls.__name__}Filling", bases,
                           exec_body=lambda body: body.update(namespace))
    return twin if _becomes(twin, cls) else None


def evolve_record(record: R, /, **changes: Any) -> R:
    """A copy of the frozen dataclass ``record`` (with a ``__dict__``) with ``changes``
    applied: ``dataclasses.replace`` without ``__init__``, for the runtime's own records."""
    new = object.__new__(record.__class__)
    # One dict display handed over as the instance dict: updating the new instance's own
    # dict in place would grow it in steps and leave larger tables behind.
    _set_instance_dict(new, "__dict__", {**record.__dict__, **changes})
    return new


_set_instance_dict = object.__setattr__


def built_copy(kept: list[Any], build: Callable[[Any], Any]) -> list[Any]:
    """A copy of ``kept``, a list of records some of which are still kept as their values (a
    tuple), with every such entry built by ``build``, in the copy and in ``kept``. The copy is
    taken in one step, so an entry appended meanwhile by a writer that takes no lock is not in
    it (the next read builds it). Called by readers holding their store's lock."""
    built = kept[:]
    for index, entry in enumerate(built):
        if type(entry) is tuple:
            built[index] = kept[index] = build(entry)
    return built


class BuiltWhenRead:
    """A field of a frozen dataclass (one with a ``__dict__``) that an instance may leave out of
    its ``__dict__`` until it is read: a non-data descriptor, installed on the class after the
    dataclass is made, called only while the instance's ``__dict__`` lacks the field. It makes
    the value with ``make(instance)`` and keeps it in the instance's ``__dict__``, from where
    every later read takes it as any other field (two threads reading at once keep one value:
    ``dict.setdefault``). The dataclass's ``__init__`` still sets the field in the instance.
    """

    __slots__ = ("_make", "_name")

    def __init__(self, name: str, make: Callable[[Any], Any]) -> None:
        self._name = name
        self._make = make

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance.__dict__.setdefault(self._name, self._make(instance))


class SlotBuiltWhenRead:
    """A field of a slotted frozen dataclass whose slot may hold, until the field is first read,
    the tuple of parts the value is made of instead of the value (the field's own values are
    never tuples): a data descriptor, installed on the class after the dataclass is made, over
    the field's slot. A read that finds parts makes the value with ``make(instance, parts)``,
    stores it in the slot and returns it; every later read returns that object (two threads
    reading at once keep one value: the first build holds a lock). Writes (the dataclass's
    ``__init__``, ``replace``, unpickling) store the value as given. The runtime's builder,
    made by ``record_builder`` before the descriptor is installed, writes the parts through the
    slot itself.

    Every read costs a Python call instead of a slot read: for fields read by few callers.
    """

    __slots__ = ("_get", "_make", "_set")
    _lock = threading.Lock()

    def __init__(self, cls: type[Any], name: str, make: Callable[[Any, tuple[Any, ...]], Any]
                 ) -> None:
        slot = cls.__dict__[name]
        self._get = slot.__get__
        self._set = slot.__set__
        self._make = make

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        value = self._get(instance)
        if type(value) is tuple:
            with self._lock:
                value = self._get(instance)
                if type(value) is tuple:
                    value = self._make(instance, value)
                    self._set(instance, value)
        return value

    def __set__(self, instance: Any, value: Any) -> None:
        self._set(instance, value)
