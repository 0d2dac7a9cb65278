"""In-process stand-ins for TF Serving's REST and gRPC front ends, answering from a loaded SavedModel.

They follow the server's documented wire formats (REST columnar "inputs" with {"b64": ...} strings and an
{"error": ...} body on failure; gRPC PredictionService/Predict with TensorProtos and INVALID_ARGUMENT status), so the
clients' request building and answer parsing are tested here; test_serving_live.py checks the real server.
"""
import base64
import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import tensorflow as tf

_PREDICT = re.compile(r"/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")


class _Servable:
    def __init__(self, name, path):
        self.name, self.loaded = name, tf.saved_model.load(path)

    def run(self, signature, images):
        fn = self.loaded.signatures[signature]
        return {k: v.numpy() for k, v in fn(images=tf.constant(images, dtype=fn.structured_input_signature[1]
                                                                ["images"].dtype)).items()}


def _jsonable(value):
    return np.vectorize(lambda x: x.decode(), otypes=[object])(value).tolist() if value.dtype == object \
        else value.tolist()


def rest_server(name, path, port=0):
    """A started HTTP server on 127.0.0.1; its port is server.server_address[1]. Call shutdown() after."""
    servable = _Servable(name, path)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == f"/v1/models/{name}":
                return self._answer(200, {"model_version_status": [{"version": "1", "state": "AVAILABLE"}]})
            self._answer(404, {"error": f"Could not find any versions of model {self.path.split('/')[-1]}"})

        def do_POST(self):
            match = _PREDICT.match(self.path)
            if not match or match.group(1) != name:
                return self._answer(404, {"error": f"Servable not found for request: {self.path}"})
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            images = body["inputs"]["images"]
            images = [base64.b64decode(x["b64"]) for x in images] if images and isinstance(images[0], dict) \
                else images
            try:
                outputs = servable.run(body.get("signature_name", "serving_default"), images)
            except tf.errors.InvalidArgumentError as e:
                return self._answer(400, {"error": e.message})
            self._answer(200, {"outputs": {k: _jsonable(v) for k, v in outputs.items()}})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def grpc_server(name, path, port=0):
    """A started gRPC server on 127.0.0.1; returns (server, port). Call server.stop(None) after."""
    import grpc
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    servable = _Servable(name, path)

    class Service(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            if request.model_spec.name != name:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: {request.model_spec.name}")
            try:
                outputs = servable.run(request.model_spec.signature_name or "serving_default",
                                       tf.make_ndarray(request.inputs["images"]))
            except tf.errors.InvalidArgumentError as e:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, e.message)
            response = predict_pb2.PredictResponse()
            for key, value in outputs.items():
                response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
            return response

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return server, port
