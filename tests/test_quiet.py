"""Native log lines (file descriptor 2) are held back, and shown when the block fails."""
import os

import pytest

from keras_cls.quiet import native_logs_held


def test_native_log_lines_are_held_back_unless_the_block_fails(capfd, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with native_logs_held():
        os.write(2, b"fully_quantize: 0, inference_type: 6\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"
    with pytest.raises(RuntimeError):
        with native_logs_held():
            os.write(2, b"the converter's context\n")
            raise RuntimeError("conversion failed")
    assert capfd.readouterr().err == "the converter's context\n"
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")  # the user asked for TensorFlow's logs
    with native_logs_held():
        os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"
