"""model_info: a variant's published and counted figures (counting builds the model: flops.py)."""
from keras_cls.models import flops
from keras_cls.models.registry import family_module, get_spec, list_models, reference


def model_info(name):
    """Resolution, dropout, parameter counts, GMACs, feature channels and stage table of a variant."""
    spec = get_spec(name)
    module = family_module(spec)
    full = flops.count(spec.name)
    ref = reference(spec.name)
    return {
        "name": spec.name,
        "family": spec.family,
        "resolution": spec.resolution,
        "dropout": spec.dropout,
        "drop_connect": spec.drop_connect,
        "params": full.params,
        "trainable_params": full.trainable,
        "non_trainable_params": full.non_trainable,
        "params_without_top": flops.count(spec.name, include_top=False).params,
        "gmacs": full.macs / 1e9,
        "activation_mb": full.activation_bytes / 2**20,
        "feature_channels": module.feature_channels(spec),
        "stages": module.scaled_stages(spec),
        "imagenet_top1_published": ref.get("imagenet_top1_published"),
        "imagenet_weights": spec.imagenet_weights,
    }


def variant_table(family=None):
    """Markdown table of every variant (params, GMACs, resolution) computed from `model_info`."""
    rows = ["| model | family | resolution | params | trainable | without top | GMACs | dropout | ImageNet top-1 (published) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in list_models(family):
        i = model_info(name)
        top1 = "" if i["imagenet_top1_published"] is None else f"{i['imagenet_top1_published']:.1f}"
        rows.append(f"| {name} | {i['family']} | {i['resolution']} | {i['params']:,} | {i['trainable_params']:,} "
                    f"| {i['params_without_top']:,} | {i['gmacs']:.3f} | {i['dropout']} | {top1} |")
    return "\n".join(rows)
