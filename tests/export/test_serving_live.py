"""The real TF Serving model server over an exported folder, answering REST and gRPC like the local SavedModel.

Runs where `tensorflow_model_server` is on PATH (TF Serving's binary, or its Docker image's entry point).
"""
import os
import shutil
import subprocess
import time

import pytest

from keras_cls.bench.scaling import free_ports
from keras_cls.export import write_models_config
from keras_cls.export.client import GrpcClient, RestClient, ServingError
from tests.export.checks import check_client

SERVER = shutil.which("tensorflow_model_server")
pytestmark = pytest.mark.skipif(SERVER is None, reason="needs TF Serving's tensorflow_model_server on PATH "
                                                       "(not installable on this machine)")


def _wait_until_available(client, process, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tensorflow_model_server exited with {process.returncode}")
        try:
            if client.status()["model_version_status"][0]["state"] == "AVAILABLE":
                return
        except (ServingError, OSError, KeyError, IndexError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the model was not AVAILABLE within {seconds} s")


def test_model_server_answers_like_the_local_saved_model(exported, tmp_path):
    path, root = exported
    grpc_port, rest_port = free_ports(2)  # below the ephemeral range: no other process is handed them meanwhile
    config = write_models_config(str(root), path=str(tmp_path / "models.config"))
    log = open(tmp_path / "server.log", "w")
    process = subprocess.Popen([SERVER, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
                                f"--model_config_file={config}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        name = os.path.basename(os.path.dirname(path))
        rest = RestClient(f"127.0.0.1:{rest_port}", name)
        _wait_until_available(rest, process)
        check_client(rest, path)
        grpc_client = GrpcClient(f"127.0.0.1:{grpc_port}", name)
        check_client(grpc_client, path)
        grpc_client.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
