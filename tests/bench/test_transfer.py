"""bench_transfer's tasks and bookkeeping: disjoint classes, few labels, a backbone file without the old head."""
import numpy as np

from keras_cls.bench import transfer


def test_tasks_share_no_class_and_take_few_labels():
    data = transfer.tasks(shots=3)
    x, y, names, test, validation = data["target"]
    assert names == ["5", "6", "7", "8", "9"] and data["pretrain"][2][:5] == ["0@0", "0@90", "0@180", "0@270", "1@0"]
    pre_x, pre_y = data["pretrain"][:2]
    assert len(pre_x) == 4 * int(np.sum(pre_y % 4 == 0)) and set(np.unique(pre_y)) == set(range(20))
    digit, turns = pre_y[len(pre_y) // 4 + 3] // 4, pre_y[len(pre_y) // 4 + 3] % 4
    np.testing.assert_array_equal(pre_x[len(pre_y) // 4 + 3], np.rot90(pre_x[3], turns, axes=(0, 1)))
    assert turns == 1 and digit == pre_y[3] // 4
    assert len(x) == 15 and np.bincount(y).tolist() == [3] * 5 and x.shape[1:] == (8, 8, 3)
    assert set(np.unique(test[1])) == set(range(5)) and len(validation[0]) > 50
    assert not any(np.array_equal(a, b) for a in x for b in pre_x[:200])  # other digits, other images


def test_gains_take_the_best_transfer_arm():
    rows = [{"model": "m", "start": start, "top1": top1, "top1_min": top1, "top1_max": top1, "seeds": 1, "epochs": 5,
             "seconds": 1.0}
            for start, top1 in (("digits 0-4 backbone, a", 0.5), ("digits 0-4 backbone, b", 0.7),
                                ("scratch (fast recipe)", 0.6))]
    gain, arm = transfer.gains(rows)["m"]
    assert abs(gain - 10.0) < 1e-9 and arm.endswith(", b")
    assert transfer.table(rows).count("\n") == 4


def test_backbone_file_leaves_the_pretrained_head_out(tmp_path):
    import keras_cls
    from keras_cls.models import weights

    model = keras_cls.build("resnet-18", num_classes=5, input_shape=(32, 32, 3))
    model.save(tmp_path / "model.keras")
    path = transfer._weights_file(str(tmp_path))
    fresh = keras_cls.build("resnet-18", num_classes=5, input_shape=(32, 32, 3))
    assert weights.load(fresh, path).endswith("a new head")  # 5 classes again, yet not digits 0-4's classifier
