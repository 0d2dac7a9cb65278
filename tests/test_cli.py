import json

import pytest

from keras_cls import cli


def test_list_info_table(capsys):
    cli.main(["list", "--family", "resnet"])
    assert capsys.readouterr().out.split() == ["resnet-18", "resnet-34", "resnet-50", "resnet-101", "resnet-152"]
    cli.main(["info", "EfficientNetB0"])
    info = json.loads(capsys.readouterr().out)
    assert info["params"] == 5330571 and info["resolution"] == 224
    cli.main(["table"])
    assert "| efficientnetv2-xl | efficientnet | 512 |" in capsys.readouterr().out


def test_unknown_name_exits_with_the_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["info", "resnet-51"])
    assert e.value.code == 2
    assert "did you mean resnet-50" in capsys.readouterr().err
