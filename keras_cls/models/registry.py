"""Names -> spec rows of the registered families: `list_models`, `get_spec`, `family_module`, `registered`.

The registry knows names and rows only; what a family is lives in its module (family.py), and building a model
(checks, head, weights) in building.py.
"""
import contextlib
import difflib
import json
import os
import re

from keras_cls.models import efficientnet, resnet
from keras_cls.models.family import check as check_family, check_row

FAMILY_MODULES = (efficientnet, resnet)  # a new family: its module, one line here
REFERENCE_FILE = os.path.join(os.path.dirname(__file__), "reference.json")  # published figures, a row each


def _canonical(name):
    return re.sub(r"[\s_\-]", "", str(name).lower())


def _register(specs, table=None, replace=False):
    table = {} if table is None else table
    for spec in specs:
        key = _canonical(spec.name)
        if key in table and not replace:
            raise ValueError(f"duplicate model name {spec.name!r} (clashes with {table[key].name!r})")
        table[key] = spec
    return table


FAMILIES = {module.FAMILY: check_family(module) for module in FAMILY_MODULES}
_SPECS = _register(spec for module in FAMILY_MODULES for spec in module.SPECS)


@contextlib.contextmanager
def registered(*items, replace=False):
    """Within the block, `items` are known by name: family modules (with all their rows) and spec rows of known
    families (a variant of your own, e.g. `dataclasses.replace(get_spec("efficientnet-b0"), name="my-b0",
    depth=0.5)`). `replace=True` lets a row take the place of the variant of the same name (a test's stand-in)."""
    families, specs = dict(FAMILIES), dict(_SPECS)
    try:
        for item in items:
            if isinstance(item, type(efficientnet)):
                FAMILIES[check_family(item).FAMILY] = item
                _register(item.SPECS, _SPECS, replace)
            else:
                check_row(family_module(item), item)
                _register([item], _SPECS, replace)
        yield
    finally:
        FAMILIES.clear(), FAMILIES.update(families)
        _SPECS.clear(), _SPECS.update(specs)


def list_models(family=None):
    """All variant names, optionally of one family ('efficientnet' or 'resnet')."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; allowed: {sorted(FAMILIES)}")
    return [s.name for s in _SPECS.values() if family in (None, s.family)]


def get_spec(name):
    """The spec row of a variant; names match case-insensitively, with '-', '_' or no separator."""
    spec = _SPECS.get(_canonical(name))
    if spec is None:
        names = list_models()
        by_key = {_canonical(n): n for n in names}
        near = [by_key[k] for k in difflib.get_close_matches(_canonical(name), by_key, n=3, cutoff=0.5)]
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise ValueError(f"unknown model name {name!r}{hint} Allowed: {', '.join(names)}")
    return spec


def family_module(spec):
    """The module of a spec row's family (family.Family)."""
    module = FAMILIES.get(getattr(spec, "family", None))
    if module is None:
        raise ValueError(f"{spec!r} is not a spec row of a registered family; families: {sorted(FAMILIES)}")
    return module


def reference(name):
    """Published figures for a variant (models.json): parameter counts, GMACs, ImageNet top-1; {} if none."""
    with open(REFERENCE_FILE) as f:
        return json.load(f)["models"].get(get_spec(name).name, {})
