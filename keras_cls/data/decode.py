"""Encoded images: a cheap in-graph health check, decoding to RGB, and the scan that reports bad inputs.

The check reads only bytes already in memory (signature, end marker, BMP's declared size), so the input pipeline
can filter on it at no cost. The scan is one streaming pass: inputs the check flags as truncated get one decode
attempt in the same pass (an image with trailing bytes after its end marker is kept, not lost), and
verify="full" decodes every image in it.
"""
from dataclasses import dataclass, field
from typing import List, Tuple

import tensorflow as tf

from keras_cls.data.contract import MAX_PIXELS

OK, EMPTY, NOT_IMAGE, TRUNCATED, UNDECODABLE, TOO_LARGE = range(6)
REASONS = {EMPTY: "empty (zero bytes)", NOT_IMAGE: "not an image (no JPEG/PNG/GIF/BMP/WebP signature)",
           TRUNCATED: "truncated (no end marker)", UNDECODABLE: "undecodable image data",
           TOO_LARGE: "too many pixels for max_pixels (a decompression bomb?)"}
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")

_JPEG, _PNG, _GIF87, _GIF89, _BMP = b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM"
_PNG_END = b"IEND\xaeB`\x82"
_JPEG_SOF = (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)
_JPEG_STANDALONE = (0x01, 0xD0, 0xD1, 0xD2, 0xD3, 0xD4, 0xD5, 0xD6, 0xD7, 0xD8)


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


def _webp(data):
    padded = tf.strings.join([data, b"\x00" * 12])
    return tf.logical_and(_starts(data, b"RIFF"), tf.equal(tf.strings.substr(padded, 8, 4), b"WEBP"))


def _webp_complete(data):
    return tf.cast(_uint(tf.strings.join([data, b"\x00" * 8]), 4, 4, little=True), tf.int32) + 8 <= \
        tf.strings.length(data)


def _uint(padded, pos, size, little=False):
    """The unsigned integer in bytes pos..pos+size of `padded` (int64)."""
    raw = tf.cast(tf.io.decode_raw(tf.strings.substr(padded, pos, size), tf.uint8), tf.int64)
    weights = tf.constant([256 ** i for i in (range(size) if little else reversed(range(size)))], tf.int64)
    return tf.reduce_sum(raw * weights)


def _signed32(value):
    """|x| of a little-endian int32 read as unsigned (BMP stores bottom-up images with a negative height)."""
    return tf.abs(tf.where(value >= 2 ** 31, value - 2 ** 32, value))


def _jpeg_pixels(padded, n):
    """Width x height from the first start-of-frame segment, walking the segments from the start (header only)."""
    def body(pos, pixels, steps):
        marker = _uint(padded, pos + 1, 1)
        sof = tf.reduce_any(tf.equal(marker, _JPEG_SOF))
        standalone = tf.reduce_any(tf.equal(marker, _JPEG_STANDALONE))
        valid = tf.equal(_uint(padded, pos, 1), 0xFF)
        size = _uint(padded, pos + 5, 2) * _uint(padded, pos + 7, 2)
        step = tf.where(tf.equal(marker, 0xFF), tf.constant(1, tf.int64),
                        tf.where(standalone, tf.constant(2, tf.int64), 2 + _uint(padded, pos + 2, 2)))
        return (pos + step, tf.where(tf.logical_and(valid, sof), size, pixels),
                tf.where(valid, steps + 1, tf.constant(10_000, tf.int64)))

    _, pixels, _ = tf.while_loop(lambda pos, pixels, steps: tf.logical_and(
        tf.logical_and(pixels < 0, pos + 9 <= n), steps < 10_000), body,
        (tf.constant(2, tf.int64), tf.constant(-1, tf.int64), tf.constant(0, tf.int64)))
    return pixels


def _webp_pixels(padded):
    kind = tf.strings.substr(padded, 12, 4)
    lossy = (_uint(padded, 26, 2, True) % 16384) * (_uint(padded, 28, 2, True) % 16384)
    bits = _uint(padded, 21, 4, True)
    lossless = (bits % 16384 + 1) * ((bits // 16384) % 16384 + 1)
    extended = (_uint(padded, 24, 3, True) + 1) * (_uint(padded, 27, 3, True) + 1)
    return tf.case([(tf.equal(kind, b"VP8 "), lambda: lossy), (tf.equal(kind, b"VP8L"), lambda: lossless),
                    (tf.equal(kind, b"VP8X"), lambda: extended)], default=lambda: tf.constant(-1, tf.int64))


def header_pixels(data):
    """Width x height that an encoded image's header declares, read without decoding (int64; -1 when the format
    is unknown or the header incomplete). This is what the pixel limit checks before any decoder runs."""
    n = tf.cast(tf.strings.length(data), tf.int64)
    padded = tf.strings.join([data, b"\x00" * 32])
    return tf.case([
        (_starts(data, _JPEG), lambda: _jpeg_pixels(padded, n)),
        (_starts(data, _PNG), lambda: _uint(padded, 16, 4) * _uint(padded, 20, 4)),
        (tf.logical_or(_starts(data, _GIF87), _starts(data, _GIF89)),
         lambda: _uint(padded, 6, 2, True) * _uint(padded, 8, 2, True)),
        (_starts(data, _BMP), lambda: _signed32(_uint(padded, 18, 4, True)) * _signed32(_uint(padded, 22, 4, True))),
        (_webp(data), lambda: _webp_pixels(padded))], default=lambda: tf.constant(-1, tf.int64))


def check_pixels(data, max_pixels=MAX_PIXELS):
    """`data` (encoded image) unchanged, after checking the pixel count its header declares against the limit:
    InvalidArgumentError naming the limit for a bomb, before any decoder allocates its pixels."""
    pixels = header_pixels(data)
    with tf.control_dependencies([tf.debugging.assert_less_equal(
            pixels, tf.constant(max_pixels, tf.int64),
            message=f"image refused: its header declares more pixels than the limit max_pixels={max_pixels:,}")]):
        return tf.identity(data)


def problem(data, max_pixels=MAX_PIXELS):
    """0 when `data` looks like a whole JPEG/PNG/GIF/BMP/WebP image of at most max_pixels pixels (from its
    header), else one of the REASONS codes (scalar int32)."""
    jpeg, png, webp = _starts(data, _JPEG), _starts(data, _PNG), _webp(data)
    gif, bmp = tf.logical_or(_starts(data, _GIF87), _starts(data, _GIF89)), _starts(data, _BMP)
    complete = tf.reduce_any(tf.stack([
        tf.logical_and(jpeg, _ends(data, b"\xff\xd9")), tf.logical_and(png, _ends(data, _PNG_END)),
        tf.logical_and(gif, _ends(data, b";")), tf.logical_and(bmp, _bmp_complete(data)),
        tf.logical_and(webp, _webp_complete(data))]))
    known = tf.reduce_any(tf.stack([jpeg, png, gif, bmp, webp]))
    return tf.case([(tf.equal(tf.strings.length(data), 0), lambda: EMPTY),
                    (tf.logical_not(known), lambda: NOT_IMAGE),
                    (tf.logical_not(complete), lambda: TRUNCATED),
                    (header_pixels(data) > max_pixels, lambda: TOO_LARGE)], default=lambda: OK)


def _gif_step(padded, n):
    """One move of the walk over a GIF's blocks: state (pos, mode, cut); mode 0 at a block's start, 1 in an
    extension's sub-blocks, 2 in the first image's; cut: where the first image ends (-1: not yet, -2: malformed)."""
    def step(pos, mode, cut):
        byte = _uint(padded, pos, 1)
        table = tf.where(_uint(padded, pos + 9, 1) >= 128, 3 * 2 ** (_uint(padded, pos + 9, 1) % 8 + 1), 0)
        at_block = tf.case([(tf.equal(byte, 0x21), lambda: (pos + 2, tf.constant(1, tf.int64), cut)),
                            (tf.equal(byte, 0x2C), lambda: (pos + 11 + table, tf.constant(2, tf.int64), cut))],
                           default=lambda: (pos, mode, tf.constant(-2, tf.int64)))
        in_blocks = tf.cond(tf.equal(byte, 0), lambda: (pos + 1, tf.constant(0, tf.int64),
                                                        tf.where(tf.equal(mode, 2), pos + 1, cut)),
                            lambda: (pos + byte + 1, mode, cut))
        pos, mode, cut = tf.cond(tf.equal(mode, 0), lambda: at_block, lambda: in_blocks)
        return pos, mode, tf.where(tf.logical_and(tf.equal(cut, -1), pos >= n), tf.constant(-2, tf.int64), cut)
    return step


def gif_first_frame(data):
    """A GIF cut after its first image, with the trailer added: the decoder then holds one frame, not all of an
    animation's (3,000 frames of 1000x1000 px: 9 GB of pixels from 5.5 MB). Unchanged where the walk over the
    blocks fails (the decoder names the fault)."""
    n = tf.cast(tf.strings.length(data), tf.int64)
    padded = tf.strings.join([data, b"\x00" * 16])
    flags = _uint(padded, 10, 1)
    start = 13 + tf.where(flags >= 128, 3 * 2 ** (flags % 8 + 1), 0)
    _, _, cut = tf.while_loop(lambda pos, mode, cut: tf.logical_and(tf.equal(cut, -1), pos < n), _gif_step(padded, n),
                              (start, tf.constant(0, tf.int64), tf.constant(-1, tf.int64)))
    return tf.cond(cut > 0, lambda: tf.strings.join([tf.strings.substr(data, tf.zeros_like(cut), cut), b";"]),
                   lambda: data)


def decode_rgb(data):
    """Any JPEG/PNG (8 or 16 bit, gray, RGBA, palette)/GIF (first frame, and only it decoded)/BMP/WebP, CMYK JPEG
    included -> uint8 RGB. Check the pixel count first (check_pixels): the decoders allocate whatever the header
    declares."""
    gif = tf.logical_or(_starts(data, _GIF87), _starts(data, _GIF89))
    data = tf.cond(gif, lambda: gif_first_frame(data), lambda: data)
    image = tf.io.decode_image(data, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def _decodes(data):
    """1 when TensorFlow decodes `data`, else 0 (in the graph: a failed decode is caught, not raised)."""
    attempt = tf.data.Dataset.from_tensors(data).map(lambda d: tf.shape(decode_rgb(d))).ignore_errors()
    return attempt.reduce(tf.constant(0), lambda count, _: count + 1)


def verdict(data, max_pixels=MAX_PIXELS, full=False):
    """The scan's code for one encoded image (OK or a REASONS key), in the graph: the header check, then one
    decode attempt where the header cannot tell (an image flagged truncated may only carry bytes after its end
    marker) or, with `full`, for every image the header passes. Bombs are never decoded."""
    code = problem(data, max_pixels)
    fits = header_pixels(data) <= max_pixels
    attempt = tf.logical_or(tf.logical_and(tf.equal(code, TRUNCATED), fits),
                            tf.logical_and(tf.constant(full), tf.equal(code, OK)))
    failed = tf.where(tf.equal(code, OK), UNDECODABLE, code)
    return tf.cond(attempt, lambda: tf.where(_decodes(data) > 0, OK, failed), lambda: code)


def scan(dataset, max_pixels=MAX_PIXELS, full=False):
    """One streaming pass over a dataset of (name, encoded image, label): returns (names, labels, codes) as lists,
    in the dataset's order. `full` decodes every image (verify="full"); otherwise only the header is read."""
    names, labels, codes = [], [], []
    checked = dataset.map(lambda n, d, y: (n, y, verdict(d, max_pixels, full)), num_parallel_calls=tf.data.AUTOTUNE)
    for n, y, c in checked.batch(4096).as_numpy_iterator():
        names += [x.decode(errors="replace") for x in n]
        labels += y.tolist()
        codes += c.tolist()
    return names, labels, codes


def report_of(names, codes):
    """(keep mask, DataReport) of a scan's codes."""
    keep = [c == OK for c in codes]
    return keep, DataReport(seen=len(codes), skipped=[(n, REASONS[c]) for n, c in zip(names, codes) if c != OK])
