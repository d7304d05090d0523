"""defectbook.analysis.compare on hand-built records: the table, the differences against the best, the
costs, the recommendation rule and the threshold at a false-positive rate."""
import numpy as np
import pytest

from defectbook import DefectbookError
from defectbook.analysis import compare
from defectbook.data.layout import UserData
from defectbook.evaluation.metrics import image_auroc
from defectbook.pipeline.store import Record

N = 40
LABELS = [0] * N + [1] * N


def record(method, scores, seed=0, fit=1.0, speed=10.0, rss=500.0, pixel=None, hits=0):
    scores = [float(s) for s in scores]
    return Record(key=f"{method}{seed}", config={"method": method, "dataset": "folder", "category": None,
                                                 "seed": seed, "transform": {"resize": 64, "crop": None}},
                  metrics={"image_auroc": image_auroc(LABELS, scores), "pixel_auroc": pixel, "aupro": pixel},
                  timings={"fit_s": fit, "predict_images_per_s": speed},
                  memory={"peak_rss_mb": rss, "start_rss_mb": 400.0},
                  scores=scores, labels=list(LABELS), defects=["good"] * N + ["crack"] * N,
                  extras={"split": {"n_train": 20}, "feature_cache_hits": hits})


def separated(gap, seed=0):
    """Scores whose AUROC grows with ``gap``: defect-free N(0, 1), defective N(gap, 1)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, N), rng.normal(gap, 1, N)])


@pytest.fixture
def records():
    return [record("padim", separated(2.0), speed=5.0, fit=10.0),          # best, slow
            record("knn", separated(1.9, 1), speed=50.0, fit=1.0),         # close to the best, fast
            record("ae_l2", separated(0.0, 2), speed=500.0, fit=0.5)]      # chance: clearly worse, fastest


def test_table_is_best_first_with_the_first_seeds_interval(records):
    records = records + [record("padim", separated(2.5, 7), seed=1)]
    t = compare.metric_table(records, n_boot=200)
    assert t.index[0] == "PaDiM" and list(t["method"]) == ["padim", "knn", "ae_l2"]
    first = records[0].metrics["image_auroc"]
    assert t.loc["PaDiM", "image AUROC"] == pytest.approx((first + records[-1].metrics["image_auroc"]) / 2)
    assert t.loc["PaDiM", "seeds"] == 2
    assert t.loc["PaDiM", "low"] <= first <= t.loc["PaDiM", "high"], "the interval is the first seed's run's"
    assert "pixel AUROC" not in t and "PRO" not in t, "no masks: no pixel columns"


def test_pixel_columns_where_a_method_has_maps(records):
    records[0].metrics.update(pixel_auroc=0.9, aupro=0.8)
    t = compare.metric_table(records, n_boot=50)
    assert t.loc["PaDiM", "pixel AUROC"] == 0.9 and np.isnan(t.loc["1-NN", "pixel AUROC"])


def test_differences_and_verdicts(records):
    d = compare.differences(records, "padim", n_boot=500)
    assert list(d.index) == ["1-NN", "AE-MSE"]
    assert d.loc["AE-MSE", "verdict"] == "worse" and d.loc["AE-MSE", "high"] < 0
    assert d.loc["1-NN", "verdict"] == "no difference shown" and d.loc["1-NN", "low"] < 0 < d.loc["1-NN", "high"]


def test_verdict_is_the_books_rule_in_this_pages_words():
    assert compare.verdict({"difference": -0.2, "low": -0.3, "high": -0.1}) == "worse"
    assert compare.verdict({"difference": 0.2, "low": 0.1, "high": 0.3}) == "better"
    assert compare.verdict({"difference": 0.0, "low": -0.1, "high": 0.1}) == "no difference shown"
    assert compare.verdict({"difference": float("nan"), "low": float("nan"), "high": float("nan")}) == \
        "no difference shown"


def test_costs_flag_cached_features_and_keep_the_largest_memory(records):
    records = records + [record("padim", separated(4.0, 3), seed=1, fit=20.0, rss=900.0, hits=3)]
    c = compare.cost_table(records)
    assert c.loc["PaDiM", "fit (s)"] == 15.0 and c.loc["PaDiM", "peak RSS (MB)"] == 900.0
    assert c.loc["PaDiM", "RSS added (MB)"] == 500.0 and c.loc["1-NN", "RSS added (MB)"] == 100.0
    assert bool(c.loc["PaDiM", "features from cache"]) and not bool(c.loc["1-NN", "features from cache"])
    assert "GPU peak (MB)" not in c, "not recorded on a CPU"


def test_recommendation_is_the_cheapest_not_worse_than_the_best(records):
    t, c = compare.metric_table(records, 200), compare.cost_table(records)
    d = compare.differences(records, t["method"].iloc[0], 500)
    rec = compare.recommend(t, d, c)
    assert rec["best"] == "PaDiM" and rec["candidates"] == ["PaDiM", "1-NN"]
    assert rec["model"] == "1-NN" and rec["method"] == "knn", "faster than the best and not worse: AE-MSE is worse"
    assert compare.recommend(t, d, c, by="fit")["model"] == "1-NN"
    assert compare.recommend(t, d, c, by="memory")["model"] == "PaDiM", "ties: the higher AUROC"
    with pytest.raises(DefectbookError, match="unknown cost"):
        compare.recommend(t, d, c, by="price")


def test_a_lone_best_method_is_recommended_when_every_other_is_worse(records):
    records = [records[0], records[2]]
    t, c = compare.metric_table(records, 200), compare.cost_table(records)
    rec = compare.recommend(t, compare.differences(records, "padim", 500), c)
    assert rec["model"] == "PaDiM" and rec["candidates"] == ["PaDiM"]


def test_threshold_at_a_false_positive_rate():
    scores = list(range(N)) + [100 + i for i in range(N)]       # defect-free 0..39, defective 100..139
    r = record("padim", scores)
    thr = compare.threshold([r], "padim", fpr=0.05)
    assert thr["threshold"] == 37 and thr["fpr"] == pytest.approx(2 / N) and thr["tpr"] == 1.0
    assert compare.threshold([r], "padim", fpr=0.0)["threshold"] == 39, "no defect-free image above it"
    for fpr in (0.0, 0.1, 0.25):
        assert compare.threshold([r], "padim", fpr=fpr)["fpr"] <= fpr
    with pytest.raises(DefectbookError, match="false-positive rate"):
        compare.threshold([r], "padim", fpr=1.5)
    with pytest.raises(DefectbookError, match="no record of knn"):
        compare.threshold([r], "knn")


def test_recommendation_text_names_method_threshold_and_rates(records):
    t, c = compare.metric_table(records, 200), compare.cost_table(records)
    rec = compare.recommend(t, compare.differences(records, "padim", 500), c)
    thr = compare.threshold(records, rec["method"], 0.05)
    data = UserData("folder", "bracket", "/x", 20, N, N, False)
    text = compare.recommendation_text(rec, thr, t, data)
    assert text.startswith("**Recommended for folder:bracket: 1-NN**") and "not worse than the best, PaDiM" in text
    assert f"score > {thr['threshold']:.4g}" in text and "fastest prediction (50 images/s)" in text


def test_data_line_says_when_the_runs_use_fewer_images(records):
    data = UserData("mtd", None, "/x", 20, N, N, True)
    assert compare.data_text(data, records).endswith("pixel masks.")
    capped = UserData("mtd", None, "/x", 761, 191, 392, True)
    assert "the runs use 20 training and 80 test images (40 defect-free, 40 defective" in \
        compare.data_text(capped, records)


def test_configs_every_method_of_the_book_with_its_own_chapter(tmp_path):
    data = UserData("folder", None, str(tmp_path), 10, 2, 2, False)
    cfgs = compare.configs("smoke", data)
    from defectbook.pipeline import spec

    assert [c["method"] for c in cfgs] == spec.load("smoke")["benchmark"]["compare"]
    assert all(c["dataset"] == "folder" and c["data_root"] == str(tmp_path) for c in cfgs)
    assert {c["spec"]["chapter"] for c in cfgs if c["method"] == "padim"} == {"padim"}
    assert [c["seed"] for c in compare.configs("smoke", data, ["knn"], seeds=[0, 1])] == [0, 1]
    mtd = compare.configs("smoke", UserData("mtd", None, str(tmp_path), 10, 2, 2, True))
    assert {str(c["split"]) for c in mtd} == {str({"kind": "clean", "max_train": 8, "max_test": 32})}, \
        "one test set for every method, whatever its own chapter caps"
    cpu = compare.configs("cpu", UserData("mtd", None, str(tmp_path), 10, 2, 2, True), ["padim"])
    assert cpu[0]["split"] == {"kind": "clean", "max_train": 60, "max_test": 80}, "the benchmark's caps"
    with pytest.raises(DefectbookError, match="unknown method 'nope'"):
        compare.configs("smoke", data, ["knn", "nope"])


def test_on_the_books_own_data_the_profiles_methods_there(tmp_path):
    """On MTD at cpu the trained methods are left out, as the benchmark chapter leaves them out there; on
    ELPV mono (their declared data) and on a folder of one's own, every method runs."""
    from defectbook.pipeline import spec

    every = spec.load("cpu")["benchmark"]["compare"]
    trained = set(spec.load("cpu")["benchmark"]["grids"]["expensive"])
    mtd = [c["method"] for c in compare.configs("cpu", UserData("mtd", None, str(tmp_path), 10, 2, 2, True))]
    assert mtd == [m for m in every if m not in trained] and mtd
    elpv = compare.configs("cpu", UserData("elpv", "mono", str(tmp_path), 10, 2, 2, False))
    assert [c["method"] for c in elpv] == every
    own = compare.configs("cpu", UserData("folder", None, str(tmp_path), 10, 2, 2, False))
    assert [c["method"] for c in own] == every
    assert [c["method"] for c in compare.configs("cpu", UserData("mtd", None, str(tmp_path), 10, 2, 2, True),
                                                 ["ndpnet"])] == ["ndpnet"], "named methods always run"
