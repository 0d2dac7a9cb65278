"""Export a trained run (its model.keras and the config.json beside it) to TF Serving's layout and TFLite."""
import json
import os


def load_trained(model_path):
    """(model, class names, variant name) of a .keras model; names come from the run's config.json when present."""
    import keras

    import keras_cls.train  # noqa: F401  registers the learning-rate schedule a trained model's optimizer carries

    if not os.path.isfile(model_path):
        raise ValueError(f"no model file at {model_path}")
    model = keras.models.load_model(model_path, compile=False)
    config_path = os.path.join(os.path.dirname(model_path), "config.json")
    class_names, name = None, model.name
    if os.path.isfile(config_path):
        with open(config_path) as f:
            config = json.load(f)
        class_names, name = config.get("class_names"), config.get("train", {}).get("model", name)
    return model, class_names, name


def export_trained(model_path, root="saved_models", name=None, class_names=None, top_k=5, tflite_path=None):
    """SavedModel version under root/<name>/, models.config refreshed, and a float32 TFLite file when asked.
    Returns {"saved_model": path, "models_config": path, "tflite": path or None}."""
    from keras_cls.export import saved_model, tflite, write_models_config

    model, found_names, found_name = load_trained(model_path)
    class_names = class_names or found_names
    path = saved_model(model, root=root, name=name or found_name, class_names=class_names, top_k=top_k)
    lite = tflite(model, tflite_path, class_names=class_names, top_k=top_k) if tflite_path else None
    return {"saved_model": path, "models_config": write_models_config(root), "tflite": lite}
