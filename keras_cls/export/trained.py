"""A trained run's model with its preprocessing contract (its config.json beside model.keras), the data settings
that evaluate it under that contract, and its export to TF Serving's layout and TFLite.

The contract of a trained model has one owner: its run (ARCHITECTURE.md, decision 9). Every job that evaluates,
compresses, compares or exports a trained model takes it from there; a data setting that contradicts it is an error
naming both values. A model without a run config gets the default contract at its input size, and says so.
"""
import logging
import os
from typing import List, NamedTuple, Optional

CONTRACT_FIELDS = ("image_size", "eval_crop", "max_pixels")  # the contract's settings a DataConfig also has


class Trained(NamedTuple):
    model: object
    class_names: Optional[List[str]]
    name: str
    preprocessing: object  # the contract (keras_cls.data.contract.Preprocessing) of its run, or the assumed one
    contract_from: str     # where the contract came from, in words


def load_trained(model_path):
    """A .keras model with what its run's config.json says about it (class names, variant, preprocessing)."""
    import keras

    from keras_cls import files
    from keras_cls.data.contract import Preprocessing
    from keras_cls.export.saved_model import model_contract

    if not os.path.isfile(model_path):
        raise ValueError(f"no model file at {model_path}")
    model = keras.models.load_model(model_path, compile=False)
    config = files.read_json(os.path.join(os.path.dirname(model_path), "config.json")) or {}
    run_contract = Preprocessing.of_run(config)
    contract = model_contract(model, run_contract)
    source = f"the run's config.json ({_described(contract)})" if run_contract else (
        f"assumed: no run config.json with a preprocessing contract beside {model_path}, so the default at the "
        f"model's input size ({_described(contract)})")
    if run_contract is None:
        logging.getLogger("keras_cls").warning("preprocessing contract %s", source)
    return Trained(model, config.get("class_names"), config.get("train", {}).get("model", model.name), contract,
                   source)


def _described(contract):
    return ", ".join(f"{f} {getattr(contract, f)}" for f in CONTRACT_FIELDS)


def data_for(trained, data_config):
    """(DataConfig, contract) to evaluate `trained` with: the data settings at the model's input size and under its
    contract. Settings that contradict a run's contract are an error naming both values; without a run, the data
    settings are the contract (and the assumption is said)."""
    from keras_cls.data.contract import Preprocessing

    data_config = data_config.for_model(trained.preprocessing.image_size)
    if trained.contract_from.startswith("assumed"):
        return data_config, Preprocessing.of_data(data_config)
    clashes = [f"{f} {getattr(data_config, f)} (given) vs {getattr(trained.preprocessing, f)} (the run's)"
               for f in CONTRACT_FIELDS if getattr(data_config, f) != getattr(trained.preprocessing, f)]
    if clashes:
        raise ValueError(f"{'; '.join(clashes)}: the data settings contradict the preprocessing contract the model "
                         "was trained and evaluated with (its run's config.json); leave them out and the run's apply")
    return data_config, trained.preprocessing


def export_trained(model_path, root="saved_models", name=None, class_names=None, top_k=5, tflite_path=None,
                   batching=False):
    """SavedModel version under root/<name>/, models.config refreshed, and a float32 TFLite file when asked, all
    applying the run's preprocessing contract; with `batching`, root/batching_parameters.txt from the version's
    measured throughput curve (keras_cls/export/batching.py). Returns {"saved_model": path, "models_config": path,
    "tflite": path or None, "contract": where the contract came from, "batching_parameters": path or None}."""
    from keras_cls.export import saved_model, tflite, write_models_config

    trained = load_trained(model_path)
    class_names = class_names or trained.class_names
    path = saved_model(trained.model, root=root, name=name or trained.name, class_names=class_names, top_k=top_k,
                       preprocessing=trained.preprocessing)
    lite = tflite(trained.model, tflite_path, class_names=class_names, top_k=top_k,
                  preprocessing=trained.preprocessing) if tflite_path else None
    parameters = None
    if batching:
        from keras_cls.export.batching import write_batching_parameters

        parameters = write_batching_parameters(path, root)
    return {"saved_model": path, "models_config": write_models_config(root), "tflite": lite,
            "contract": trained.contract_from, "batching_parameters": parameters}
