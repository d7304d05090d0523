import pytest
import torch

from defectbook import DefectbookError
from defectbook.methods import build

SMALL = dict(layer="layer3", scales=[1.0, 0.5], feature_batch=8)


pytestmark = pytest.mark.usefixtures("one_thread")


def _textures(n, g, size=48):
    x = torch.rand(n, 1, 8, 8, generator=g).repeat(1, 3, 1, 1)
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear") * 0.2 + 0.4


@pytest.mark.parametrize("method", ["knn", "ocsvm"])
def test_baselines_separate_inserted_square(method):
    g = torch.Generator().manual_seed(0)
    train, test = _textures(20, g), _textures(8, g)
    test[4:, :, 10:26, 12:28] = 0.95
    det = build(method, train_bank=2, test_transforms=2, **SMALL).fit(train)
    pred = det.predict(test)
    assert pred.maps is None and pred.image_scores.shape == (8,)
    assert pred.image_scores[4:].min() > pred.image_scores[:4].max()


def test_nearest_neighbour_of_a_training_image_is_itself():
    g = torch.Generator().manual_seed(1)
    train = _textures(10, g)
    det = build("knn", train_transforms=False, test_transforms=1, pca=8, **SMALL).fit(train)
    other = _textures(3, g)
    s_train, s_other = det.predict(train[:3]).image_scores, det.predict(other).image_scores
    assert s_train.max() < 1e-4 < s_other.min()
    assert det.pca_.n_components_ == 8


def test_baseline_errors():
    with pytest.raises(DefectbookError, match="nu"):
        build("ocsvm", nu=0)
    with pytest.raises(DefectbookError, match="train_bank"):
        build("knn", train_bank=0)
