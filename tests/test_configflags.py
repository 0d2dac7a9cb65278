"""Flags made from the config dataclasses: help from the field comments, one-line errors naming the flag."""
import json

import pytest
from absl import flags

from keras_cls import configflags
from keras_cls.data import DataConfig
from keras_cls.train import TrainConfig


def _parse(*argv):
    values = flags.FlagValues()
    configflags.define(TrainConfig, DataConfig, flag_values=values)
    values(["prog", *argv])
    return values


def test_help_comes_from_the_field_comments_and_shared_names_say_so():
    values = _parse()
    assert values["epochs"].help != "epochs" and "phase 1 (head only)" in values["head_epochs"].help
    assert values["seed"].help.endswith("(sets TrainConfig and DataConfig)")


@pytest.mark.parametrize("argv,message", [
    (["--epochs=abc"], r"--epochs='abc': expected a whole number"),
    (["--crop_scale=0.5"], r"--crop_scale=\['0.5'\]: expected a comma-separated list \(needs 2 comma-separated"),
    (["--learning_rate=fast"], r"--learning_rate='fast': expected a number"),
    (["--config=/no/such/file.json"], r"--config '/no/such/file.json': cannot read it"),
])
def test_bad_flag_values_are_one_line_naming_the_flag(argv, message):
    values = _parse(*argv)
    with pytest.raises(ValueError, match=message):
        configflags.config_from_flags(TrainConfig, "train", flag_values=values)
        configflags.config_from_flags(DataConfig, "data", flag_values=values)


def test_config_file_values_are_checked_and_flags_win(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"train": {"epochs": 7, "model": "resnet-18"}, "data": {"image_size": "big"}}))
    values = _parse(f"--config={path}", "--epochs=3")
    assert configflags.config_from_flags(TrainConfig, "train", flag_values=values).epochs == 3
    with pytest.raises(ValueError, match=r"--config data.image_size='big': expected a whole number"):
        configflags.config_from_flags(DataConfig, "data", flag_values=values)
    path.write_text(json.dumps({"train": {"epoch": 7}}))
    with pytest.raises(ValueError, match=r"unknown train field\(s\) \['epoch'\]"):
        configflags.config_from_flags(TrainConfig, "train", flag_values=_parse(f"--config={path}"))
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"is not JSON"):
        configflags.config_from_flags(TrainConfig, "train", flag_values=_parse(f"--config={path}"))
