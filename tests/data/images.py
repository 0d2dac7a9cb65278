"""Real encoded image files for the data tests, written with Pillow in every format the folder source accepts."""
import io

import numpy as np
from PIL import Image


def _encode(image, fmt, **kwargs):
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def good_images(seed=0, size=(24, 20)):
    """{file name: encoded bytes} covering JPEG (RGB, gray, CMYK), PNG (8/16 bit, RGBA, palette), GIF, BMP, WebP."""
    # smooth pictures (JPEG keeps them faithfully), different per seed
    yy, xx = np.meshgrid(np.linspace(0, 1, size[0]), np.linspace(0, 1, size[1]), indexing="ij")
    rgb = np.stack([yy, xx, 0.5 + 0.5 * np.sin(6 * (xx + yy) + seed)], axis=-1)
    rgb = np.round(255 * rgb).astype(np.uint8)
    gray = rgb[..., 0]
    return {
        "rgb.jpg": _encode(Image.fromarray(rgb), "JPEG"),
        "gray.jpeg": _encode(Image.fromarray(gray), "JPEG"),
        "cmyk.jpg": _encode(Image.fromarray(rgb).convert("CMYK"), "JPEG"),
        "rgb8.png": _encode(Image.fromarray(rgb), "PNG"),
        "gray16.png": _encode(Image.fromarray(gray.astype(np.uint16) * 257).convert("I;16"), "PNG"),
        "rgba.png": _encode(Image.fromarray(np.dstack([rgb, gray])), "PNG"),
        "palette.png": _encode(Image.fromarray(rgb).convert("P"), "PNG"),
        "anim.gif": _encode(Image.fromarray(rgb).convert("P"), "GIF"),
        "rgb.bmp": _encode(Image.fromarray(rgb), "BMP"),
        "lossy.webp": _encode(Image.fromarray(rgb), "WEBP", quality=95),
    }


def png_header(width, height):
    """A PNG that is only a header (and an end chunk) declaring width x height: a bomb's first bytes."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IEND", b"")


def bad_images():
    """{file name: bytes} that must be skipped: truncated JPEG and PNG, zero bytes, text named .jpg."""
    good = good_images(seed=1)
    return {"truncated.jpg": good["rgb.jpg"][: len(good["rgb.jpg"]) // 2],
            "truncated.png": good["rgb8.png"][:-20],
            "empty.jpg": b"",
            "notes.jpg": b"this is a text file, not an image\n"}


def write_folder(root, classes=("cat", "dog"), bad=True):
    """root/<class>/<file>: every good format in each class, the bad files in the first class."""
    for i, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True)
        for fname, data in good_images(seed=i).items():
            (folder / fname).write_bytes(data)
        if bad and i == 0:
            for fname, data in bad_images().items():
                (folder / fname).write_bytes(data)
    return root


def animated_gif(frames, side, colour=False):
    """An animated GIF whose every frame covers the whole picture (alternating black and white with a grey line
    moving down; `colour`: frames of random colours, each with its own palette), as an attacker's would be: tiny
    on disk, frames x side^2 pixels decoded."""
    rng = np.random.default_rng(0)
    images = []
    for i in range(frames):
        if colour:
            images.append(Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).convert("P"))
            continue
        frame = np.full((side, side), 255 * (i % 2), np.uint8)
        frame[(7 * i) % side] = 128
        images.append(Image.fromarray(frame, "L"))
    return _encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=10, loop=0)
