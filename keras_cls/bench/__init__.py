"""Measurements: the machine, latency and throughput, training speed and scaling, the side-by-side comparison."""


def write_rows(path, name, rows):
    """Every benchmark script's --json file, written whole: {"benchmark", "machine", "rows"}."""
    from keras_cls import files
    from keras_cls.bench.hardware import machine

    return files.write_json(path, {"benchmark": name, "machine": machine(), "rows": rows})
