"""absl flags made from the config dataclasses, so that scripts stay thin: flags -> config -> one call.

`--config FILE` (JSON: {"train": {...}, "data": {...}}) gives base values; flags given on the command line win.
"""
import dataclasses
import inspect
import json
import re
import typing

from absl import flags


def _base(field_type):
    args = [a for a in typing.get_args(field_type) if a is not type(None)]
    return args[0] if typing.get_origin(field_type) is typing.Union else field_type


def _kind(field_type):
    base = _base(field_type)
    return "list" if typing.get_origin(base) in (tuple, list) else getattr(base, "__name__", "str")


def field_help(cls):
    """{field: its comment in the class source} (`name: type = default   # what it means`)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return dict(re.findall(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", source, re.MULTILINE))


def define(*classes, flag_values=flags.FLAGS):
    """One flag per field of the given dataclasses, its help the field's comment (a name two classes share is one
    flag, setting both: its help says so)."""
    flags.DEFINE_string("config", None, "JSON file with base values: {\"train\": {...}, \"data\": {...}}",
                        flag_values=flag_values)
    owners = {}
    for cls in classes:
        for f in dataclasses.fields(cls):
            owners.setdefault(f.name, []).append(cls.__name__)
    seen = set()
    for cls in classes:
        notes = field_help(cls)
        for f in dataclasses.fields(cls):
            if f.name in seen:
                continue
            seen.add(f.name)
            kind, default = _kind(f.type), f.default
            shared = f" (sets {' and '.join(owners[f.name])})" if len(owners[f.name]) > 1 else ""
            help_text = f"{notes.get(f.name, f.name.replace('_', ' '))}{shared}"
            if kind == "bool":
                flags.DEFINE_boolean(f.name, default, help_text, flag_values=flag_values)
            elif kind == "list":
                flags.DEFINE_list(f.name, [str(v) for v in default], help_text, flag_values=flag_values)
            else:
                flags.DEFINE_string(f.name, None if default is None else str(default), help_text,
                                    flag_values=flag_values)


_KINDS = {"int": "a whole number", "float": "a number", "str": "a string", "bool": "true or false",
          "list": "a comma-separated list"}


def _convert(field, value):
    kind = _kind(field.type)
    if value is None or kind == "bool":
        return value
    if isinstance(value, str) and value.lower() == "none" and field.default is None:
        return None
    if kind == "list":  # Tuple[float, float] or Tuple[str, ...]: the element type converts each item
        args = typing.get_args(_base(field.type))
        items = value.split(",") if isinstance(value, str) else list(value)
        if Ellipsis not in args and len(items) != len(args):
            raise ValueError(f"needs {len(args)} comma-separated values, got {len(items)}")
        return tuple(args[0](v) for v in items)
    return {"int": int, "float": float}.get(kind, str)(value)


def _checked(field, value, origin):
    """The field's value from a flag or the --config file; a bad one is a ValueError naming the flag."""
    try:
        return _convert(field, value)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{origin}{field.name}={value!r}: expected {_KINDS[_kind(field.type)]} ({e})") from None


def _config_file(path, section):
    try:
        with open(path) as fh:
            values = json.load(fh)
    except OSError as e:
        raise ValueError(f"--config {path!r}: cannot read it ({e.strerror})") from None
    except ValueError as e:
        raise ValueError(f"--config {path!r} is not JSON ({e})") from None
    if not isinstance(values, dict) or not isinstance(values.get(section, {}), dict):
        raise ValueError(f"--config {path!r}: expected {{\"{section}\": {{field: value, ...}}, ...}}")
    return values.get(section, {})


def config_from_flags(cls, section, flag_values=flags.FLAGS):
    """An instance of `cls` from --config's `section` and the flags given on the command line."""
    config = flag_values.config
    values = _config_file(config, section) if config else {}
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"--config {config!r}: unknown {section} field(s) {unknown}")
    for f in dataclasses.fields(cls):
        flag = flag_values[f.name]
        if flag.present or f.name not in values:
            values[f.name] = _checked(f, flag.value, "--")
        else:
            values[f.name] = _checked(f, values[f.name], f"--config {section}.")
    return cls(**values)
