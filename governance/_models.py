"""Fast internal copies of the package's frozen pydantic models.

Public records are validated once, where they enter the package. Inside the runtime, new
snapshots are assembled only from parts that are already valid, so they are built without
validation and without ``model_copy``'s generic bookkeeping: ``evolve`` is a shallow copy with
changes, ``assemble`` builds a model from a complete set of field values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_new_instance = object.__new__
# BaseModel's own slots, written through their descriptors: a direct C call each, where
# object.__setattr__ first looks the name up on the class. The package's models define no
# ``__new__`` of their own, so object.__new__ is what ``cls.__new__`` would call.
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_FIELD_SETS: dict[type[BaseModel], set[str]] = {}


def _all_fields(cls: type[BaseModel]) -> set[str]:
    # Internal snapshots are complete, so every field counts as set. One set per class is shared
    # by its instances: pydantic never changes a frozen model's set in place (model_copy copies
    # it first), and nothing here does either.
    fields = _FIELD_SETS.get(cls)
    if fields is None:
        fields = _FIELD_SETS[cls] = set(cls.model_fields)
    return fields


def evolve(model: M, /, **changes: Any) -> M:
    """A shallow copy of ``model`` with ``changes`` applied, not validated.

    Equivalent to ``model.model_copy(update=changes)`` for the package's frozen models (no
    extra fields, no private attributes), at a fraction of its cost.
    """
    cls = model.__class__
    new = _new_instance(cls)
    # Replacing existing keys keeps the declaration order of the fields.
    _set_dict(new, {**model.__dict__, **changes})
    _set_fields_set(new, _FIELD_SETS.get(cls) or _all_fields(cls))
    _set_extra(new, None)
    _set_private(new, None)
    return new


def assemble(cls: type[M], values: dict[str, Any], /) -> M:
    """A ``cls`` holding ``values`` (every field, in declaration order), not validated.

    ``values`` is owned by the new model afterwards.
    """
    new = _new_instance(cls)
    _set_dict(new, values)
    _set_fields_set(new, _FIELD_SETS.get(cls) or _all_fields(cls))
    _set_extra(new, None)
    _set_private(new, None)
    return new


R = TypeVar("R")


def build_record(cls: type[R], values: dict[str, Any], /) -> R:
    """An instance of the frozen dataclass ``cls`` holding ``values`` (every field), built
    without its generated ``__init__``.

    A frozen dataclass's ``__init__`` stores each field through ``object.__setattr__``, which
    dominates the cost of the records the engine creates on every execution. The record stays
    frozen afterwards. ``cls`` must be a dataclass without ``slots`` and without
    ``__post_init__``.
    """
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


def frozen_constructor(cls: type[R], /) -> Callable[..., R]:
    """A positional constructor for the frozen, slotted dataclass ``cls`` (every field, in
    declaration order) that stores each field through its slot descriptor.

    A frozen dataclass's ``__init__`` goes through ``object.__setattr__`` once per field; this
    builds the same instance at a fraction of that cost. It applies no defaults and no
    ``__post_init__``: for the runtime's own result records, built from checked values.
    """
    names = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    for name in names:
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__
    body = "".join(f"    _set_{name}(instance, {name})\n" for name in names)
    source = (f"def construct({', '.join(names)}):\n    instance = _new(_cls)\n{body}"
              "    return instance\n")
    exec(source, namespace)  # the technique dataclasses itself uses to generate __init__
    constructor: Callable[..., R] = namespace["construct"]
    constructor.__qualname__ = f"{cls.__qualname__}.<fast constructor>"
    return constructor
