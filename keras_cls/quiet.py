"""Native libraries' log lines kept off the user's terminal: TensorFlow's C++ start-up lines ("oneDNN custom
operations are on", "Could not find cuda drivers") and the TFLite converter's ("fully_quantize: 0, inference_type:
6 ..."), which go to file descriptor 2 whatever TF_CPP_MIN_LOG_LEVEL says. What was held back is printed when the
block fails, so an error keeps its context; TF_CPP_MIN_LOG_LEVEL=0 or 1 lets everything through.
Standard library only (it runs before TensorFlow is imported)."""
import contextlib
import os
import sys
import tempfile


@contextlib.contextmanager
def native_logs_held():
    """Hold back what is written to file descriptor 2 inside the block; print it only if the block raises."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") in ("0", "1"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as held:
            os.dup2(held.fileno(), 2)
            try:
                yield
            except BaseException:
                os.dup2(saved, 2)
                held.seek(0)
                sys.stderr.write(held.read().decode(errors="replace"))
                sys.stderr.flush()
                raise
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)
