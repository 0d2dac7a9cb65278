"""Export a trained run (its model.keras and the config.json beside it) to TF Serving's layout and TFLite."""
import os
from typing import List, NamedTuple, Optional


class Trained(NamedTuple):
    model: object
    class_names: Optional[List[str]]
    name: str
    preprocessing: object  # the run's contract (keras_cls.data.contract.Preprocessing); the default without a run


def load_trained(model_path):
    """A .keras model with what its run's config.json says about it (class names, variant, preprocessing)."""
    import keras

    from keras_cls import files
    from keras_cls.data.contract import Preprocessing
    from keras_cls.export.saved_model import model_contract

    if not os.path.isfile(model_path):
        raise ValueError(f"no model file at {model_path}")
    model = keras.models.load_model(model_path, compile=False)
    config = files.read_json(os.path.join(os.path.dirname(model_path), "config.json"))
    if config is None:
        return Trained(model, None, model.name, model_contract(model))
    return Trained(model, config.get("class_names"), config.get("train", {}).get("model", model.name),
                   model_contract(model, Preprocessing.of_run(config)))


def export_trained(model_path, root="saved_models", name=None, class_names=None, top_k=5, tflite_path=None):
    """SavedModel version under root/<name>/, models.config refreshed, and a float32 TFLite file when asked, all
    applying the run's preprocessing contract. Returns {"saved_model": path, "models_config": path, "tflite": path
    or None}."""
    from keras_cls.export import saved_model, tflite, write_models_config

    trained = load_trained(model_path)
    class_names = class_names or trained.class_names
    path = saved_model(trained.model, root=root, name=name or trained.name, class_names=class_names, top_k=top_k,
                       preprocessing=trained.preprocessing)
    lite = tflite(trained.model, tflite_path, class_names=class_names, top_k=top_k,
                  preprocessing=trained.preprocessing) if tflite_path else None
    return {"saved_model": path, "models_config": write_models_config(root), "tflite": lite}
