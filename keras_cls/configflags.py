"""absl flags made from the config dataclasses, so that scripts stay thin: flags -> config -> one call.

`--config FILE` (JSON: {"train": {...}, "data": {...}}) gives base values; flags given on the command line win.
"""
import dataclasses
import json
import typing

from absl import flags


def _base(field_type):
    args = [a for a in typing.get_args(field_type) if a is not type(None)]
    return args[0] if typing.get_origin(field_type) is typing.Union else field_type


def _kind(field_type):
    base = _base(field_type)
    return "list" if typing.get_origin(base) in (tuple, list) else getattr(base, "__name__", "str")


def define(*classes):
    """One flag per field of the given dataclasses (a name shared by two classes is one flag)."""
    flags.DEFINE_string("config", None, "JSON file with base values: {\"train\": {...}, \"data\": {...}}")
    seen = set()
    for cls in classes:
        for f in dataclasses.fields(cls):
            if f.name in seen:
                continue
            seen.add(f.name)
            kind, default = _kind(f.type), f.default
            help_text = f"{cls.__name__}.{f.name}"
            if kind == "bool":
                flags.DEFINE_boolean(f.name, default, help_text)
            elif kind == "list":
                flags.DEFINE_list(f.name, [str(v) for v in default], help_text)
            else:
                flags.DEFINE_string(f.name, None if default is None else str(default), help_text)


def _convert(field, value):
    kind = _kind(field.type)
    if value is None or kind == "bool":
        return value
    if isinstance(value, str) and value.lower() == "none" and field.default is None:
        return None
    if kind == "list":  # Tuple[float, float] or Tuple[str, ...]: the element type converts each item
        element = typing.get_args(_base(field.type))[0]
        return tuple(element(v) for v in value)
    return {"int": int, "float": float}.get(kind, str)(value)


def build(cls, section):
    """An instance of `cls` from --config's `section` and the flags given on the command line."""
    values = {}
    if flags.FLAGS.config:
        with open(flags.FLAGS.config) as fh:
            values.update(json.load(fh).get(section, {}))
    for f in dataclasses.fields(cls):
        flag = flags.FLAGS[f.name]
        if flag.present or f.name not in values:
            values[f.name] = _convert(f, flag.value)
        else:
            values[f.name] = _convert(f, values[f.name])
    return cls(**values)
