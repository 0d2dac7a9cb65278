"""The comparison report: Markdown, CSV, JSON, PNG plots and one self-contained HTML page, from the Comparison
(keras_cls.bench.rows) that keras_cls.bench.compare.run makes. Tables are column specs (header, function of a row)
shared by all formats.
"""
import base64
import csv
import html
import io
import os

from keras_cls import files


def _f(fmt, key):
    return lambda r: "" if getattr(r, key) is None else format(getattr(r, key), fmt)


def _pct(key):
    return lambda r: "" if getattr(r, key) is None else f"{100 * getattr(r, key):.2f}%"


def _text(key):
    return lambda r: getattr(r, key)


def _lat(runtime, batch=1):
    return lambda r, rows: next((f"{x.p50_ms:.1f}" for x in rows if x.model == r.model and x.role == r.role and
                                 x.runtime == runtime and x.batch == batch), "")


def model_columns(result):
    latency = result.latency
    return [("model", _text("model")), ("role", _text("role")),
            ("start", lambda r: f"{r.start} ({r.recipe})" if r.start else "random weights"),
            ("px", _f("d", "size")),
            ("params (M)", lambda r: f"{r.params / 1e6:.2f}"), ("GMACs", _f(".3f", "gmacs")),
            *[(f"{fmt} MB", lambda r, fmt=fmt: f"{r.mb[fmt]:.2f}" if fmt in r.mb else "")
              for fmt in result.formats()],
            ("TF b1 ms", lambda r: _lat("tf")(r, latency)),
            ("TFLite int8 b1 ms", lambda r: _lat("tflite_int8")(r, latency)),
            ("train img/s", _f(".1f", "train_img_s")), ("train MFU", _pct("train_mfu")),
            ("activations MB/img", _f(".1f", "activation_mb")),
            ("peak MB infer / train", lambda r: " / ".join("" if mb is None else f"{mb:.1f}"
                                                           for mb in (r.infer_peak_mb, r.train_peak_mb))),
            ("top-1", _pct("top1")), ("int8 top-1", _pct("top1_tflite_int8")),
            ("to target: epochs / s", lambda r: "" if r.seconds_to_target is None else
             f"{r.epochs_to_target} / {r.seconds_to_target:.0f}")]


LATENCY = [("model", _text("model")), ("role", _text("role")), ("runtime", _text("runtime")),
           ("batch", _f("d", "batch")), ("p50 ms", _f(".2f", "p50_ms")), ("p90 ms", _f(".2f", "p90_ms")),
           ("img/s", _f(".1f", "img_s")), ("MFU", _pct("mfu")),
           ("x float32 TFLite", lambda r: "" if r.vs_tflite_float32 is None else f"{r.vs_tflite_float32:.2f}x")]
SWEEP = [("model", _text("model")), ("px", _f("d", "size")), ("params (M)", lambda r: f"{r.params / 1e6:.1f}"),
         ("GMACs", _f(".2f", "gmacs")), ("batch-1 ms", _f(".1f", "p50_ms")), ("img/s", _f(".1f", "img_s")),
         ("MFU", _pct("mfu")), ("ImageNet top-1 (published)", _f(".1f", "top1_published"))]
CLAIMS = [("claim", _text("claim")), ("measured here", _text("measured")), ("verdict", _text("verdict")),
          ("why", _text("why"))]


def markdown(rows, columns):
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(fn(r)).replace("|", "/") for _, fn in columns) + " |" for r in rows]
    return "\n".join(lines)


def html_table(rows, columns):
    head = "".join(f"<th>{html.escape(h)}</th>" for h, _ in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(fn(r)))}</td>" for _, fn in columns) + "</tr>"
                   for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def write_csv(path, rows, columns):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([h for h, _ in columns])
    writer.writerows([[fn(r) for _, fn in columns] for r in rows])
    return files.write_text(path, text.getvalue())


def sections(result):
    """(title, rows, columns, csv name) of every table, in report order."""
    return [("Models", result.models, model_columns(result), "models.csv"),
            ("Latency per runtime and batch", result.latency, LATENCY, "latency.csv"),
            ("Latency sweep (TF graph, batch 1, random weights)", result.sweep, SWEEP, "sweep.csv"),
            ("The article's claims, checked", result.claims, CLAIMS, "claims.csv")]


HEADLINE = ("model", "role", "start", "px", "params (M)", "GMACs", "keras MB", "tflite_int8 MB", "TF b1 ms",
            "TFLite int8 b1 ms", "train img/s", "top-1", "int8 top-1", "to target: epochs / s")


def headline(result):
    return markdown(result.models, [c for c in model_columns(result) if c[0] in HEADLINE])


def _intro(result):
    m, d = result.machine, result.data
    return (f"Measured on {m['cpu']} ({m['cpus']} CPUs), TensorFlow {m['tensorflow']}, Keras {m['keras']}; "
            f"float32 peak {m['matmul_peak_gflops']:.1f} GFLOP/s: the best of TensorFlow's and numpy's matmul at "
            f"several sizes and TensorFlow's 3x3 convolution, measured at the start and the end of the run (used: "
            f"{m.get('peak_source', 'start')}). MFU = GMACs x 2 x img/s / peak (training counts x 3); int8 runtimes "
            f"get their speed-up over float32 TFLite instead of an MFU. Data: {d.note}. Target accuracy for "
            f"time-to-target: {100 * result.target_accuracy:.0f}% on validation. Peak memory is the resident memory a phase "
            "added to what the process held (0 when it fit in memory TensorFlow had already taken). Trained rows "
            "are trained here on this data; reference rows have random weights (speed and size do not depend on "
            "weights).")


def write(out_dir, result):
    """Write report.md, report.html, result.json, one CSV per table and the plots; returns {kind: path}."""
    from keras_cls.bench import plots

    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "result.json")}
    files.write_json(paths["json"], result.as_dict())
    paths.update(plots.write_all(out_dir, result))
    tables = sections(result)
    for _, rows, columns, name in tables:
        paths[name] = write_csv(os.path.join(out_dir, name), rows, columns)
    images = [(name, os.path.basename(path)) for name, path in paths.items() if path.endswith(".png")]
    md = [f"# EfficientNet vs ResNet on this machine\n\n{_intro(result)}"]
    md += [f"## {title}\n\n{markdown(rows, columns)}" for title, rows, columns, _ in tables]
    md += ["## Plots\n"] + [f"![{name}]({file})" for name, file in images]
    paths["md"] = os.path.join(out_dir, "report.md")
    files.write_text(paths["md"], "\n\n".join(md) + "\n")
    paths["html"] = os.path.join(out_dir, "report.html")
    files.write_text(paths["html"], _html(result, tables, [(name, os.path.join(out_dir, file)) for name, file in images]))
    return paths


_STYLE = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}table{border-collapse:"
          "collapse;font-size:13px;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:3px 6px;text-align:"
          "left}th{background:#f3f3f3}img{max-width:100%;margin:1em 0}")


def _html(result, tables, images):
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>EfficientNet vs ResNet</title>"
             f"<style>{_STYLE}</style></head><body><h1>EfficientNet vs ResNet on this machine</h1>"
             f"<p>{html.escape(_intro(result))}</p>"]
    parts += [f"<h2>{html.escape(title)}</h2>{html_table(rows, columns)}" for title, rows, columns, _ in tables]
    parts.append("<h2>Plots</h2>")
    for name, path in images:
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode()
        parts.append(f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    return "".join(parts) + "</body></html>\n"
