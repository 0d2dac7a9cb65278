"""Clients for exported classifiers: TF Serving over REST and gRPC, a local SavedModel, a TFLite file.

Each has `classify(encoded)`: a list of encoded images (JPEG, PNG, GIF, BMP bytes) -> dict of arrays with classes,
class_names (str), probabilities (top-k) and scores (all classes), one row per image. `open_classifier(target)`
picks the client from the target: http://host:port/<model>, grpc://host:port/<model>, a .tflite file, or a
SavedModel folder (a version folder, or a model folder whose newest version is used).
REST and gRPC clients also take image arrays: `predict(images, signature="serve_images")`. Every client's
errors are ServingError (the server's or the signature's message); `classify_each(client, encoded)` classifies
the good images of a batch and names the bad ones. The images are preprocessed by the model's own contract, in the
signature or the TFLite file, so every client gets the scores evaluation measured.
"""
import base64
import json
import os
import urllib.error
import urllib.request

import numpy as np


def _check_range(images):
    from keras_cls.data.contract import warn_unit_range

    warn_unit_range(images, "serving client")


class ServingError(RuntimeError):
    """The model server refused a request; the message is the server's."""


def _as_numpy(outputs):
    result = {key: np.asarray(value) for key, value in outputs.items()}
    if "class_names" in result:
        names = result["class_names"]
        result["class_names"] = np.vectorize(lambda n: n.decode() if isinstance(n, bytes) else n, otypes=[str])(names)
    return result


def _split_address(address):
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"server address {address!r} must be host:port")
    return host, int(port)


class RestClient:
    """TF Serving's REST API: POST /v1/models/<model>[/versions/<v>]:predict in the columnar ("inputs") format."""

    def __init__(self, address, model, version=None, timeout=60):
        self.host, self.port = _split_address(address)
        self.model, self.version, self.timeout = model, version, timeout

    def model_url(self):
        version = f"/versions/{self.version}" if self.version is not None else ""
        return f"http://{self.host}:{self.port}/v1/models/{self.model}{version}"

    def _request(self, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            answer = e.read().decode(errors="replace")
            try:
                answer = json.loads(answer).get("error", answer)
            except ValueError:
                pass
            raise ServingError(f"{url}: HTTP {e.code}: {answer}") from None

    def status(self):
        """The server's model status (GET /v1/models/<model>)."""
        return self._request(self.model_url())

    def predict(self, images, signature="serving_default"):
        """`images`: a list of encoded images (bytes) for serving_default, or an image array for serve_images."""
        if isinstance(images, (list, tuple)):
            inputs = [{"b64": base64.b64encode(data).decode()} for data in images]
        else:
            _check_range(images)
            inputs = np.asarray(images).tolist()
        body = {"signature_name": signature, "inputs": {"images": inputs}}
        answer = self._request(f"{self.model_url()}:predict", body)
        return _as_numpy(answer["outputs"])

    def classify(self, encoded):
        return self.predict(list(encoded))


class GrpcClient:
    """TF Serving's gRPC PredictionService/Predict with tensorflow-serving-api's PredictRequest."""

    MAX_MESSAGE = 256 << 20  # a batch of 32 float images at 600 px is ~140 MB; gRPC's default cap is 4 MB

    def __init__(self, address, model, version=None, timeout=60):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        _split_address(address)
        options = [("grpc.max_send_message_length", self.MAX_MESSAGE),
                   ("grpc.max_receive_message_length", self.MAX_MESSAGE)]
        self.channel = grpc.insecure_channel(address, options=options)
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self.model, self.version, self.timeout = model, version, timeout

    def request(self, images, signature="serving_default"):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.model
        request.model_spec.signature_name = signature
        if self.version is not None:
            request.model_spec.version.value = int(self.version)
        if isinstance(images, (list, tuple)):
            tensor = tf.make_tensor_proto(list(images), dtype=tf.string, shape=[len(images)])
        else:
            _check_range(images)
            tensor = tf.make_tensor_proto(np.asarray(images))
        request.inputs["images"].CopyFrom(tensor)
        return request

    def predict(self, images, signature="serving_default"):
        import grpc
        import tensorflow as tf

        try:
            response = self.stub.Predict(self.request(images, signature), timeout=self.timeout)
        except grpc.RpcError as e:
            raise ServingError(f"gRPC {e.code().name}: {e.details()}") from None
        return _as_numpy({key: tf.make_ndarray(value) for key, value in response.outputs.items()})

    def classify(self, encoded):
        return self.predict(list(encoded))

    def close(self):
        self.channel.close()


def newest_version(path):
    """A SavedModel folder as given, or the newest integer version under a model folder."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = sorted((int(d) for d in os.listdir(path) if d.isdigit()), reverse=True) if os.path.isdir(path) else []
    for version in versions:
        candidate = os.path.join(path, str(version))
        if os.path.exists(os.path.join(candidate, "saved_model.pb")):
            return candidate
    raise ValueError(f"{path} is neither a SavedModel folder nor a model folder with version folders in it")


class SavedModelClassifier:
    """A local SavedModel exported by keras_cls, called through its serving_default signature."""

    def __init__(self, path):
        import tensorflow as tf

        self.path = newest_version(path)
        self.signature = tf.saved_model.load(self.path).signatures["serving_default"]

    def classify(self, encoded):
        import tensorflow as tf

        from keras_cls.export.saved_model import error_message

        try:
            return _as_numpy({k: v.numpy() for k, v in self.signature(images=tf.constant(list(encoded))).items()})
        except tf.errors.InvalidArgumentError as e:  # what TF Serving would answer: INVALID_ARGUMENT
            raise ServingError(error_message(e.message)) from e


class TFLiteClassifier:
    def __init__(self, path, num_threads=2):
        from keras_cls.export.lite import TFLiteModel

        self.model = TFLiteModel(path, num_threads)

    def classify(self, encoded):
        import tensorflow as tf

        try:
            return _as_numpy(self.model.classify_bytes(list(encoded)))
        except tf.errors.InvalidArgumentError as e:
            raise ServingError(e.message) from e


def classify_each(client, encoded):
    """Per-image mode. TF Serving refuses a whole batch when one image in it is bad, without saying which: send
    the batch, and when it is refused, each image alone. Returns (outputs of the good images with their
    positions under "index", {position: error message} of the bad ones)."""
    encoded = list(encoded)
    try:
        return {**client.classify(encoded), "index": np.arange(len(encoded))}, {}
    except (ServingError, ValueError):
        pass
    good, bad = [], {}
    for i, data in enumerate(encoded):
        try:
            good.append((i, client.classify([data])))
        except (ServingError, ValueError) as e:
            bad[i] = str(e)
    if not good:
        return {"index": np.zeros(0, np.int64)}, bad
    outputs = {key: np.concatenate([o[key] for _, o in good]) for key in good[0][1]}
    return {**outputs, "index": np.array([i for i, _ in good])}, bad


def open_classifier(target, timeout=60):
    """The client for `target`: http://host:port/<model>, grpc://host:port/<model>, a .tflite file, a SavedModel."""
    for scheme, client in (("http://", RestClient), ("grpc://", GrpcClient)):
        if target.startswith(scheme):
            address, _, model = target[len(scheme):].partition("/")
            if not model or "/" in model:
                raise ValueError(f"server target {target!r} must be {scheme}host:port/<model name>")
            return client(address, model, timeout=timeout)
    if target.endswith(".tflite"):
        return TFLiteClassifier(target)
    if os.path.isdir(target):
        return SavedModelClassifier(target)
    raise ValueError(f"model {target!r} is not http://host:port/<model>, grpc://host:port/<model>, "
                     "a .tflite file or a SavedModel folder")
