"""Clients: REST and gRPC against protocol stand-ins of TF Serving, a local SavedModel, a TFLite file."""
import shutil

import pytest

from keras_cls.export.client import (GrpcClient, RestClient, SavedModelClassifier, ServingError, TFLiteClassifier,
                                     newest_version, open_classifier)
from tests.export import serving_double
from tests.export.checks import assert_same, check_client, local_outputs
from tests.export.conftest import jpeg


def test_rest_client(exported):
    server = serving_double.rest_server("b0", exported[0])
    try:
        client = open_classifier(f"http://127.0.0.1:{server.server_address[1]}/b0")
        assert isinstance(client, RestClient)
        assert client.status()["model_version_status"][0]["state"] == "AVAILABLE"
        check_client(client, exported[0])
        with pytest.raises(ServingError, match="HTTP 404.*Servable not found"):
            RestClient(f"127.0.0.1:{server.server_address[1]}", "nope").classify([jpeg(1)])
    finally:
        server.shutdown()


def test_grpc_client(exported):
    server, port = serving_double.grpc_server("b0", exported[0])
    try:
        client = open_classifier(f"grpc://127.0.0.1:{port}/b0")
        assert isinstance(client, GrpcClient)
        check_client(client, exported[0])
        with pytest.raises(ServingError, match="NOT_FOUND"):
            GrpcClient(f"127.0.0.1:{port}", "nope").classify([jpeg(1)])
        client.close()
    finally:
        server.stop(None)


def test_local_saved_model_and_newest_version(model, exported, tmp_path):
    path, root = exported
    model_dir = tmp_path / "b0"
    shutil.copytree(path, model_dir / "1")
    shutil.copytree(path, model_dir / "7")
    (model_dir / "9").mkdir()  # a folder without saved_model.pb is not a version
    assert newest_version(str(model_dir)) == str(model_dir / "7")
    assert newest_version(path) == path
    client = open_classifier(str(model_dir))
    assert isinstance(client, SavedModelClassifier) and client.path == str(model_dir / "7")
    encoded = [jpeg(3)]
    assert_same(client.classify(encoded), local_outputs(path, "serving_default", encoded))
    with pytest.raises(ValueError, match="neither a SavedModel folder nor a model folder"):
        newest_version(str(tmp_path))


def test_tflite_classifier(exported, tflite_file):
    client = open_classifier(tflite_file)
    assert isinstance(client, TFLiteClassifier)
    encoded = [jpeg(4), jpeg(5, (20, 200))]
    got, expected = client.classify(encoded), local_outputs(exported[0], "serving_default", encoded)
    assert_same(got, expected, atol=1e-4)
    assert got["class_names"].dtype.kind == "U"


@pytest.mark.parametrize("target, message", [
    ("http://127.0.0.1:8501", "must be http://host:port/<model name>"),
    ("grpc://127.0.0.1:8500/a/b", "must be grpc://host:port/<model name>"),
    ("http://localhost/b0", "must be host:port"),
    ("no/such/thing", "is not http://host:port/<model>"),
])
def test_bad_targets(target, message):
    with pytest.raises(ValueError, match=message):
        open_classifier(target)

