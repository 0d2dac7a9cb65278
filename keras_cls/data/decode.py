"""Encoded images: a cheap in-graph health check, decoding to RGB, and the scan that reports bad inputs.

The check reads only bytes already in memory (signature, end marker, BMP's declared size), so the input pipeline
can filter on it at no cost. Inputs it flags as truncated get one decode attempt in the scan before they are
dropped, so an image with trailing bytes after its end marker is kept, not lost.
"""
from dataclasses import dataclass, field
from typing import List, Tuple

import tensorflow as tf

OK, EMPTY, NOT_IMAGE, TRUNCATED, UNDECODABLE = range(5)
REASONS = {EMPTY: "empty (zero bytes)", NOT_IMAGE: "not an image (no JPEG/PNG/GIF/BMP signature)",
           TRUNCATED: "truncated (no end marker)", UNDECODABLE: "undecodable image data"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp")

_JPEG, _PNG, _GIF87, _GIF89, _BMP = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM"
_PNG_END = b"IEND\xaeB`\x82"


@dataclass
class DataReport:
    """What the scan found: how many inputs were seen and which were skipped, and why."""
    seen: int = 0
    skipped: List[Tuple[str, str]] = field(default_factory=list)  # (path or shard:record, reason)

    @property
    def kept(self):
        return self.seen - len(self.skipped)

    def merge(self, other):
        self.seen += other.seen
        self.skipped += other.skipped
        return self

    def as_dict(self):
        return {"seen": self.seen, "kept": self.kept, "skipped": len(self.skipped),
                "files": [{"item": item, "reason": reason} for item, reason in self.skipped]}


def _starts(data, magic):
    return tf.equal(tf.strings.substr(data, 0, len(magic)), magic)


def _ends(data, marker):
    n = tf.strings.length(data)
    return tf.logical_and(n >= len(marker), tf.equal(tf.strings.substr(data, tf.maximum(n - len(marker), 0),
                                                                         len(marker)), marker))


def _bmp_complete(data):
    n = tf.strings.length(data)
    header = tf.strings.substr(tf.strings.join([data, b"\x00" * 6]), 2, 4)
    declared = tf.io.decode_raw(header, tf.int32, little_endian=True)[0]
    return declared <= n


def problem(data):
    """0 when `data` looks like a whole JPEG/PNG/GIF/BMP image, else one of the REASONS codes (scalar int32)."""
    jpeg, png = _starts(data, _JPEG), _starts(data, _PNG)
    gif, bmp = tf.logical_or(_starts(data, _GIF87), _starts(data, _GIF89)), _starts(data, _BMP)
    complete = tf.reduce_any(tf.stack([
        tf.logical_and(jpeg, _ends(data, b"\xff\xd9")), tf.logical_and(png, _ends(data, _PNG_END)),
        tf.logical_and(gif, _ends(data, b";")), tf.logical_and(bmp, _bmp_complete(data))]))
    known = tf.reduce_any(tf.stack([jpeg, png, gif, bmp]))
    return tf.case([(tf.equal(tf.strings.length(data), 0), lambda: EMPTY),
                    (tf.logical_not(known), lambda: NOT_IMAGE),
                    (tf.logical_not(complete), lambda: TRUNCATED)], default=lambda: OK)


def decode_rgb(data):
    """Any JPEG/PNG (8 or 16 bit, gray, RGBA, palette)/GIF (first frame)/BMP, CMYK JPEG included -> uint8 RGB."""
    image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _decodes(data):
    """True when TensorFlow can decode `data` (used on suspicious inputs only)."""
    ds = tf.data.Dataset.from_tensors(data).map(lambda d: tf.shape(decode_rgb(d))).ignore_errors()
    return any(True for _ in ds)


def scan_encoded(dataset, names):
    """Check every element of a dataset of encoded images; returns (keep mask, DataReport).

    `names` labels each element in the report (file paths, or shard:record for TFRecords).
    """
    codes = []
    for batch in dataset.map(problem, num_parallel_calls=tf.data.AUTOTUNE).batch(4096):
        codes.extend(int(c) for c in batch.numpy())
    report, keep = DataReport(seen=len(codes)), []
    suspicious = {i for i, c in enumerate(codes) if c == TRUNCATED}
    for i, data in enumerate(dataset.take(max(suspicious) + 1) if suspicious else []):
        if i in suspicious and _decodes(data):
            codes[i] = OK
    for i, code in enumerate(codes):
        keep.append(code == OK)
        if code != OK:
            report.skipped.append((names[i], REASONS[code]))
    return keep, report


def full_decode_scan(dataset, names):
    """Decode every element once (verify='full'): catches corruption inside otherwise well-formed files."""
    indexed = tf.data.Dataset.zip((tf.data.Dataset.range(len(names)), dataset))
    decoded = indexed.map(lambda i, d: (i, tf.shape(decode_rgb(d))), num_parallel_calls=tf.data.AUTOTUNE)
    good = {int(i) for i, _ in decoded.ignore_errors()}
    keep = [i in good for i in range(len(names))]
    return keep, DataReport(seen=len(names), skipped=[(n, REASONS[UNDECODABLE]) for n, k in zip(names, keep) if not k])
