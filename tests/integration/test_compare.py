"""`defectbook compare` on small replica folders (MVTec and folder layouts) at the smoke profile, the layout
errors it reports before training, and `defectbook predict` with the model it saved.

Two methods (PaDiM: maps, 1-NN: image scores only) keep it fast; the notebook's kernel start is most of the
time (about 20 s a page on 2 cores)."""
import csv
import json

import numpy as np
import pytest
from helpers.toy import write_toy_folder

from defectbook.cli import main
from defectbook.pipeline.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def smoke_env(isolated, monkeypatch):
    monkeypatch.setenv("DEFECTBOOK_PROGRESS", "0")
    return isolated


def test_compare_on_an_mvtec_folder_then_predict(toy, smoke_env, capsys):
    """The whole user path on an MVTec-layout folder: compare two methods, write the report, then predict with
    the recommended model (about 30 s: two fits, the bootstrap and the saved model's reload are the point)."""
    out = smoke_env / "report"
    assert main(["compare", str(toy / "mvtec"), "--category", "toy", "--profile", "smoke", "--methods", "padim,knn",
                 "--out", str(out)]) == 0
    html = (out / "compare.html").read_text()
    for text in ("Which method for these images?", "Recommended for mvtec:toy", "image AUROC", "pixel AUROC",
                 "Every method against the best", "fit (s)", "peak RSS (MB)", "data:image/png;base64", "Provenance:"):
        assert text in html, text
    assert "{glue:md}" not in html and "Traceback" not in html
    store = Store()
    assert sorted(store.get(k).config["method"] for k in store.keys()) == ["knn", "padim"]
    meta = json.loads((out / "model" / "deploy.json").read_text())
    assert meta["method"] in ("padim", "knn") and meta["threshold"]["fpr_target"] == 0.05

    # a rerun finds every record in the store
    capsys.readouterr()
    assert main(["compare", str(toy / "mvtec" / "toy"), "--profile", "smoke", "--methods", "padim,knn",
                 "--out", str(out)]) == 0
    assert capsys.readouterr().err.count("record reused") >= 2

    images = toy / "mvtec" / "toy" / "test"
    assert main(["predict", str(out / "model"), str(images / "good"), str(images / "stain"),
                 "--out", str(smoke_env / "scored")]) == 0
    rows = list(csv.DictReader(open(smoke_env / "scored" / "scores.csv")))
    assert len(rows) == 6 and {"image", "score", "anomalous"} <= set(rows[0])
    if meta["method"] == "padim":
        maps = sorted((smoke_env / "scored" / "maps").glob("*.npy"))
        assert len(maps) == 6 and np.load(maps[0]).ndim == 2
        assert len(list((smoke_env / "scored" / "maps").glob("*.png"))) == 6
    assert "images scored" in capsys.readouterr().out


def test_compare_on_a_folder_layout(toy, smoke_env):
    root = write_toy_folder(smoke_env / "parts", toy)
    out = smoke_env / "report"
    assert main(["compare", str(root), "--profile", "smoke", "--methods", "knn", "--out", str(out)]) == 0
    html = (out / "compare.html").read_text()
    assert "Recommended for folder: 1-NN" in html and "No method of this run gives anomaly maps." in html
    (rec,) = [Store().get(k) for k in Store().keys()]
    assert rec.config["dataset"] == "folder" and rec.labels.count(1) == 3


@pytest.mark.parametrize("breakage, message", [
    ("wrong layout", "wrong layout"),
    ("too few", "too few images: 1 training image"),
    ("orphan mask", "masks do not match"),
    ("mask size", "masks do not match"),
])
def test_layout_errors_before_any_training(toy, smoke_env, capsys, breakage, message):
    from PIL import Image

    cat = toy / "mvtec" / "toy"
    if breakage == "wrong layout":
        (cat / "train").rename(cat / "training")
    elif breakage == "too few":
        for p in sorted((cat / "train" / "good").glob("*.png"))[1:]:
            p.unlink()
    elif breakage == "orphan mask":
        Image.new("L", (48, 48)).save(cat / "ground_truth" / "stain" / "099_mask.png")
    else:
        Image.new("L", (40, 48)).save(cat / "ground_truth" / "stain" / "000_mask.png")
    assert main(["compare", str(cat), "--profile", "smoke", "--methods", "knn",
                 "--out", str(smoke_env / "report")]) == 2
    err = capsys.readouterr().err
    assert message in err and str(cat) in err
    assert not list(Store().keys()), "nothing was trained"
    assert not (smoke_env / "report").exists()
