"""Files written whole or not at all (ARCHITECTURE.md, decision 10), for every part of the package that writes one.

A writer gets a temporary name beside the target (hidden, `.tmp-<pid>-<id>-<name>`, so it keeps the target's extension
for writers that check it, like Keras' `.keras` / `.weights.h5` and matplotlib's format by suffix); when the block
ends without error the file is flushed to disk and renamed onto the target, otherwise it is removed. A SIGKILL at
any instant leaves the previous complete file or none, plus at worst a `.tmp-*` leftover that `remove_leftovers`
clears. Standard library only: it sits below every other module.
"""
import contextlib
import json
import os
import shutil
import uuid

TMP_PREFIX = ".tmp-"


def _fsync(path, directory=False):
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    except OSError:  # a folder written by a library (SavedModel) or a file system without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_name(name):
    """A hidden name for `name` while it is written, carrying the writer's pid (see remove_leftovers)."""
    return f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}-{name}"


def _writer_alive(name):
    try:
        os.kill(int(name[len(TMP_PREFIX):].split("-", 1)[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside `path`; whatever is written there replaces `path` when the block ends."""
    directory, name = os.path.split(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, temporary_name(name))
    try:
        yield tmp
        if os.path.isfile(tmp):
            _fsync(tmp)
        os.replace(tmp, path)
        _fsync(directory, directory=True)
    finally:
        if os.path.isdir(tmp) and not os.path.islink(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            os.remove(tmp)


def write_bytes(path, data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"write_bytes needs bytes, got {type(data).__name__}")
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return path


def write_text(path, text):
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, payload):
    return write_text(path, json.dumps(payload, indent=1, default=str) + "\n")


def read_json(path):
    """The JSON object in `path`, or None when the file is absent (never half-written: see atomic_path)."""
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def remove_leftovers(directory):
    """Remove the temporary files and folders that killed writers left in `directory` (not below it); their count.
    A temporary name whose writer is still running (another process exporting or training beside us) is kept."""
    if not os.path.isdir(directory):
        return 0
    removed = 0
    for name in os.listdir(directory):
        if name.startswith(TMP_PREFIX) and not _writer_alive(name):
            path = os.path.join(directory, name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else os.remove(path)
            removed += 1
    return removed
