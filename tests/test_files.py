"""Files written whole or not at all, and the leftovers of killed writers."""
import os

import pytest

from keras_cls import files


def test_a_file_is_replaced_whole_or_kept(tmp_path, monkeypatch):
    target = tmp_path / "table.json"
    files.write_json(str(target), {"v": 1})
    with pytest.raises(RuntimeError):
        with files.atomic_path(str(target)) as tmp:
            assert os.path.basename(tmp).endswith("-table.json")  # the extension stays: writers check it
            open(tmp, "w").write('{"v": ')  # half written, then the writer dies
            raise RuntimeError("killed")
    assert files.read_json(str(target)) == {"v": 1} and os.listdir(tmp_path) == ["table.json"]
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("rename refused (injected)")))
    with pytest.raises(OSError, match="injected"):
        files.write_text(str(target), "new")
    assert files.read_json(str(target)) == {"v": 1} and os.listdir(tmp_path) == ["table.json"]
    assert files.read_json(str(tmp_path / "absent.json")) is None


def test_leftovers_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / f"{files.TMP_PREFIX}999999999-abcd1234-best.keras"
    dead.write_bytes(b"half")
    (tmp_path / f"{files.TMP_PREFIX}999999999-abcd1234-7").mkdir()  # a half-written SavedModel version
    live = tmp_path / files.temporary_name("log.csv")  # this process is still writing it
    live.write_text("epoch\n")
    (tmp_path / "log.csv").write_text("epoch\n0\n")
    assert files.remove_leftovers(str(tmp_path)) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "log.csv"])
