"""One tuner trial in its own process: `python -m keras_cls.tune.trial <trial_config.json> <tuner pid>` runs the
Trainer on the configs the tuner wrote ({"train": TrainConfig fields, "data": DataConfig fields})."""
import ctypes
import json
import os
import signal
import sys


def die_with(parent_pid):
    """Linux: be killed when the tuner process dies, so a killed search leaves no orphan training in its trial
    folder. Set here, not in a preexec_fn: forking a tuner that runs gRPC threads must not run Python code."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the tuner died before the line above ran
        sys.exit("the tuner process is gone")


def main(path, parent_pid):
    die_with(parent_pid)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from keras_cls.data import DataConfig
    from keras_cls.train import TrainConfig, Trainer

    with open(path) as f:
        config = json.load(f)
    data = config["data"]
    data["crop_scale"] = tuple(data["crop_scale"])
    try:
        Trainer(TrainConfig(**config["train"]), DataConfig(**data)).run()
    except ValueError as e:  # a trial that cannot train (the Trainer's checks): one line, not a traceback
        sys.exit(f"trial {path}: error: {e}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
