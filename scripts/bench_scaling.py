"""Data-parallel scaling on this machine: 1, 2 and 4 local MultiWorkerMirroredStrategy workers at the same global
batch (step time, images/s, the all-reduce share of the step), then a projection to 8 and 64 GPUs beside NVIDIA
DeepLearningExamples' published A100 figures (method and assumptions: keras_cls/bench/scaling.py)."""
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from absl import app, flags  # noqa: E402

flags.DEFINE_string("model", "resnet-18", "keras_cls variant")
flags.DEFINE_list("workers", ["1", "2", "4"], "worker counts")
flags.DEFINE_integer("global_batch", 16, "images per step, all workers together", lower_bound=1)
flags.DEFINE_integer("image_size", 64, "pixels", lower_bound=32)
flags.DEFINE_integer("repeats", 5, "timed steps (median)", lower_bound=1)
flags.DEFINE_string("json", None, "write the rows as JSON here")
FLAGS = flags.FLAGS
flags.register_validator("workers", lambda v: bool(v) and all(n.isdigit() and int(n) >= 1 for n in v),
                         message="--workers must be a list of worker counts >= 1, e.g. 1,2,4")


def _start(n, out):
    from keras_cls.bench.scaling import free_ports

    cluster = [f"127.0.0.1:{p}" for p in free_ports(n)]
    procs = []
    for i in range(n):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": cluster},
                                                     "task": {"type": "worker", "index": i}})}
        args = {"model": FLAGS.model, "global_batch": FLAGS.global_batch, "image_size": FLAGS.image_size,
                "repeats": FLAGS.repeats, "out": out, "index": i}
        log = open(os.path.join(out, f"worker-{i}.log"), "w")
        procs.append(subprocess.Popen([sys.executable, "-m", "keras_cls.bench.scaling", json.dumps(args)], env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
        log.close()
    return procs


def run_workers(n, out, attempts=3):
    """Worker 0's figures; the cluster is started again on other ports when one was taken meanwhile."""
    for attempt in range(attempts):
        procs = _start(n, out)
        if not any(p.wait(timeout=1800) for p in procs):
            with open(os.path.join(out, "worker-0.json")) as f:
                return json.load(f)
        logs = "".join(open(os.path.join(out, f"worker-{i}.log")).read() for i in range(n))
        if "ddress already in use" not in logs or attempt == attempts - 1:
            raise SystemExit(f"a worker of the {n}-worker run failed:\n{logs[-3000:]}")


def main(argv):
    del argv
    from keras_cls.bench.scaling import PUBLISHED, project

    counts = [int(n) for n in FLAGS.workers]
    if any(FLAGS.global_batch % n for n in counts):
        raise app.UsageError(f"--workers must divide --global_batch={FLAGS.global_batch}, got {counts}")
    rows = []
    print(f"{FLAGS.model}, {FLAGS.image_size} px, global batch {FLAGS.global_batch}, {os.cpu_count()} CPUs\n")
    print("| workers | step ms | images/s | all-reduce ms | all-reduce share |")
    print("|---:|---:|---:|---:|---:|")
    for n in counts:
        with tempfile.TemporaryDirectory() as out:
            r = run_workers(n, out)
        rows.append({"measured": "local MultiWorkerMirroredStrategy CPU workers, one train step (fit's "
                                 "Model.train_step) and the gradients' all-reduce alone, medians",
                     "model": FLAGS.model, "image_size": FLAGS.image_size, "global_batch": FLAGS.global_batch,
                     "workers": n, "per_worker_batch": FLAGS.global_batch // n, "cpus": os.cpu_count(),
                     "repeats": FLAGS.repeats, "step_ms": 1000 * r["step_s"],
                     "img_s": FLAGS.global_batch / r["step_s"],
                     "allreduce_ms": 1000 * r["allreduce_s"], "allreduce_share": r["allreduce_s"] / r["step_s"],
                     "params": r["params"]})
        row = rows[-1]
        print(f"| {n} | {row['step_ms']:.1f} | {row['img_s']:.1f} | {row['allreduce_ms']:.2f} | "
              f"{100 * row['allreduce_share']:.1f}% |", flush=True)
    print("\nProjection: the published 1-GPU compute, plus the ring all-reduce of float16 gradients (2(N-1)/N x bytes "
          "per GPU; NVLink 300 GB/s within a node of 8, InfiniBand 25 GB/s between nodes; half hidden behind the "
          "backward pass), plus a fixed multi-GPU overhead calibrated so that 8 GPUs match the published figure; "
          f"batch 256 per GPU. The local CPU workers above share {os.cpu_count()} cores: they show the "
          "all-reduce's cost on this machine, not GPU scaling.\n")
    print("| model | GPUs | projected img/s | efficiency | published img/s (DeepLearningExamples, AMP A100) |")
    print("|---|---:|---:|---:|---:|")
    params = {"efficientnet-b0": 5_288_548, "resnet-50": 25_557_032}
    for model, published in PUBLISHED.items():
        for gpus in (1, 8, 64):  # 1 and 8 reproduce the published figures by construction; 64 is the projection
            img_s, eff = project(model, params[model], gpus)
            rows.append({"measured": "projection from published figures (not measured here)", "model": model,
                         "gpus": gpus, "projected_img_s": img_s, "efficiency": eff,
                         "published_img_s": published.get(gpus)})
            print(f"| {model} | {gpus} | {img_s:,.0f} | {100 * eff:.0f}% | "
                  f"{published[gpus]:,} |" if gpus in published else
                  f"| {model} | {gpus} | {img_s:,.0f} | {100 * eff:.0f}% | not published |")
    if FLAGS.json:
        from keras_cls.bench import write_rows

        write_rows(FLAGS.json, "scaling", rows)


if __name__ == "__main__":
    app.run(main)
