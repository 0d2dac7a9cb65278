"""model_info: a variant's published and counted figures (counting builds the model: flops.py)."""
from keras_cls.models import flops
from keras_cls.models.registry import family_module, get_spec, reference


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
        "imagenet_weights": bool(getattr(spec, "weights_file", None)) or spec.family == "resnet",
    }
