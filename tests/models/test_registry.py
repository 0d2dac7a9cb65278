"""Names, aliases, model_info and analytic counts against the published figures (no model is built here)."""
import os

import pytest

from keras_cls.models import flops, get_spec, list_models, model_info, registry

ALL = list_models()


def test_all_26_variants_registered(reference):
    assert ALL == list(reference)
    assert len(ALL) == 26
    assert list_models("resnet") == ["resnet-18", "resnet-34", "resnet-50", "resnet-101", "resnet-152"]
    assert len(list_models("efficientnet")) == 21
    assert [n for n in ALL if "lite" in n] == [f"efficientnet-lite{i}" for i in range(5)]


@pytest.mark.parametrize("alias,name", [
    ("EfficientNetB3", "efficientnet-b3"), ("efficientnet_b3", "efficientnet-b3"), ("EFFICIENTNET-B3", "efficientnet-b3"),
    ("EfficientNetV2S", "efficientnetv2-s"), ("efficientnet_v2_b0", "efficientnetv2-b0"), ("ResNet50", "resnet-50"),
    ("resnet_152", "resnet-152"), ("efficientnetv2xl", "efficientnetv2-xl"),
])
def test_aliases(alias, name):
    assert get_spec(alias).name == name


def test_unknown_name_suggests_nearest():
    with pytest.raises(ValueError, match=r"unknown model name 'resnet-51'.*did you mean resnet-50") as e:
        get_spec("resnet-51")
    assert "Allowed: efficientnet-b0" in str(e.value)
    with pytest.raises(ValueError, match="unknown family"):
        list_models("vgg")


def test_duplicate_registration_is_loud():
    spec = get_spec("resnet-18")
    with pytest.raises(ValueError, match="duplicate model name 'resnet-18'"):
        with registry.registered(spec):
            pass
    assert registry.get_spec("resnet-18") is spec


@pytest.mark.parametrize("name", ALL)
def test_analytic_counts_equal_published(name, reference):
    ref = reference[name]
    counts = flops.count(name)
    if ref.get("keras_applications"):
        ka = ref["keras_applications"]
        assert (counts.params, counts.trainable, counts.non_trainable) == (ka["total"], ka["trainable"],
                                                                           ka["non_trainable"])
        assert flops.count(name, include_top=False).params == ka["without_top"]
    elif ref.get("torchvision") or ref.get("checkpoint"):  # torchvision's counts; the real Lite0 checkpoint's
        assert counts.trainable == (ref.get("torchvision") or ref.get("checkpoint"))["trainable"]
    else:  # EfficientNetV2-XL: automl's table, ~208.12M parameters; Lite1-4: 5.417M ... (timm counts trainable ones)
        assert abs(counts.trainable / ref["params_published_approx"] - 1) < 0.005
    if ref["gmacs"] is not None:
        assert abs(counts.macs / 1e9 / ref["gmacs"] - 1) < 0.01


def test_counts_scale_with_input_size():
    small, big = flops.count("resnet-50", 112), flops.count("resnet-50", 224)
    assert small.params == big.params
    # Conv MACs scale with the area; the classifier's do not.
    assert 3.7 < (big.macs - 2048 * 1000) / (small.macs - 2048 * 1000) < 4.1
    assert big.activations > 3.9 * small.activations
    assert flops.count("efficientnet-b0", (224, 320)).macs > big.macs / 10


def test_model_info_fields():
    info = model_info("EfficientNetB3")
    assert info["name"] == "efficientnet-b3" and info["family"] == "efficientnet"
    assert info["resolution"] == 300 and info["dropout"] == 0.3
    assert info["params"] == 12320535 and round(info["gmacs"], 3) == 1.827
    assert info["feature_channels"] == {"C2": 32, "C3": 48, "C4": 136, "C5": 384}
    assert [s["repeats"] for s in info["stages"]] == [2, 3, 3, 5, 5, 6, 2]
    assert info["imagenet_weights"] is True
    r50 = model_info("resnet-50")
    assert r50["feature_channels"] == {"C2": 256, "C3": 512, "C4": 1024, "C5": 2048}
    assert [s["repeats"] for s in r50["stages"]] == [3, 4, 6, 3] and r50["imagenet_weights"] is True  # torchvision's
    assert model_info("efficientnetv2-xl")["imagenet_weights"] is False


def test_readme_table_is_generated(tmp_path):
    """scripts/readme_table.py: --check passes on the README as committed, fails on a stale copy, which a run fixes."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[2]
    script = lambda *a: subprocess.run([sys.executable, str(root / "scripts" / "readme_table.py"), *a],  # noqa: E731
                                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)})
    current = script("--check")
    assert current.returncode == 0, f"README's variant table is stale: run `python scripts/readme_table.py`\n" \
                                    f"{current.stderr[-2000:]}"
    stale = tmp_path / "README.md"
    readme = (root / "README.md").read_text()
    stale.write_text(readme.replace("\n<!-- variants:end -->", "\n| a stale row |\n<!-- variants:end -->"))
    out = script("--check", f"--readme={stale}")
    assert out.returncode == 1 and "the variant table is stale" in out.stderr
    assert script(f"--readme={stale}").stdout.startswith("updated ") and stale.read_text() == readme
    missing = script("--check", f"--readme={tmp_path / 'none.md'}")
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_a_family_lacking_a_part_is_named_when_registered():
    import types

    from keras_cls.models import efficientnet, resnet
    from keras_cls.models.family import Family, check

    assert isinstance(efficientnet, Family) and isinstance(resnet, Family)
    partial = types.ModuleType("mobilenet")
    partial.FAMILY, partial.SPECS, partial.backbone = "mobilenet", (), lambda *a, **k: None
    with pytest.raises(TypeError, match="mobilenet lacks BLOCK_NAME, WEIGHT_SOURCES, DEFAULT_RECIPE, scaled_stages, "
                                        "feature_channels, check_weights, fetch_weights, load_weights, init_untrained"):
        check(partial)

