"""bench_scaling's projection: calibrated on the published 1- and 8-GPU figures, the ring all-reduce on top."""
import pytest

from keras_cls.bench.scaling import PUBLISHED, project


@pytest.mark.parametrize("model, params", [("efficientnet-b0", 5_288_548), ("resnet-50", 25_557_032)])
def test_projection_reproduces_the_published_figures_and_loses_efficiency_over_the_network(model, params):
    assert project(model, params, 1)[0] == pytest.approx(PUBLISHED[model][1])
    assert project(model, params, 8)[0] == pytest.approx(PUBLISHED[model][8])
    eight, sixty_four = project(model, params, 8)[1], project(model, params, 64)[1]
    assert sixty_four < eight < 1.0
    slower_network = project(model, params, 64, network_gbs=2.5)[1]
    assert slower_network < sixty_four  # more gradient bytes per second of link: a larger share of the step
