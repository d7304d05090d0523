import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from defectbook import DefectbookError  # noqa: E402
from defectbook.book import plotting  # noqa: E402


def test_ours_and_paper_draws_each_present_curve_and_skips_empty_ones():
    ours = pd.DataFrame({"A": [0.6, 0.7], "B": [np.nan, np.nan]}, index=[0.0, 0.4])
    paper = pd.DataFrame({"A": [0.9, 0.88], "B": [0.8, 0.75]}, index=[0.05, 0.4])
    fig = plotting.ours_and_paper(ours, paper, ("ours", "paper"), "noise (%)", "AUROC", x_scale=100)
    left, right = fig.axes
    assert [l.get_label() for l in left.get_lines()] == ["A"]
    assert [l.get_label() for l in right.get_lines()] == ["A", "B"]
    assert list(left.get_lines()[0].get_xdata()) == [0.0, 40.0]
    assert left.get_title() == "ours" and right.get_xlabel() == "noise (%)"


def test_bars_and_curves_keep_legends_off_the_data_and_show_every_bar():
    import matplotlib.pyplot as plt

    df = pd.DataFrame({"cat": ["a", "a", "b", "b"] * 2, "method": ["x", "y"] * 4, "seed": [0] * 4 + [1] * 4,
                       "auroc": [0.3, 0.9, 0.7, 0.8, 0.35, 0.85, 0.72, 0.81], "n": [1, 1, 2, 2] * 2})
    fig, ax = plt.subplots(1, 2, sharey=True)
    plotting.metric_bars(df, "cat", "auroc", hue="method", ax=ax[0], ylim=(0.5, 1.0), legend=False)
    plotting.metric_bars(df, "cat", "auroc", hue="method", ax=ax[1], ylim=(0.5, 1.0))
    assert ax[0].get_ylim()[0] <= 0.3, "the lowest bar is visible"
    assert ax[0].get_legend() is None and ax[1].get_legend() is not None
    fig.canvas.draw()
    legend_box = ax[1].get_legend().get_window_extent()
    assert legend_box.x0 >= ax[1].get_window_extent().x1 - 1, "the legend sits right of the axes"
    c = plotting.curves(df, "n", "auroc", "method")
    assert c.get_legend() is not None and len(c.collections) >= 1, "a band over seeds"
    plt.close("all")


def test_pixel_precision_recall_at_a_threshold_on_a_tiny_mask():
    from defectbook.evaluation.metrics import pixel_precision_recall

    mask = np.array([[0, 0, 1], [0, 1, 1]])
    amap = np.array([[0.1, 0.6, 0.9], [0.2, 0.4, 0.8]])
    pr = pixel_precision_recall(mask, amap, 0.5)        # flagged: 0.6 (false), 0.9, 0.8 (true)
    assert pr["precision"] == pytest.approx(2 / 3) and pr["recall"] == pytest.approx(2 / 3)
    assert pr["flagged"] == pytest.approx(0.5)
    pr = pixel_precision_recall(mask, amap, 0.3)        # + 0.4 (true): all defects found
    assert pr["recall"] == 1.0 and pr["precision"] == pytest.approx(3 / 4)
    assert np.isnan(pixel_precision_recall(mask, amap, 0.95)["precision"]), "nothing flagged"
    assert np.isnan(pixel_precision_recall(np.zeros((2, 3)), amap, 0.5)["recall"]), "no defect pixel"
    with pytest.raises(DefectbookError):
        pixel_precision_recall(mask, amap[:, :2], 0.5)


def test_threshold_view_and_live_or_static_use_the_functions_defaults(monkeypatch):
    from defectbook.book import plotting

    img = np.zeros((4, 4, 3), dtype=np.uint8)
    mask = np.zeros((4, 4), dtype=bool); mask[:2, :2] = True
    amap = np.where(mask, 0.9, 0.1)
    fig = plotting.threshold_view(img, mask, amap, 0.5)
    assert "precision 1.00, recall 1.00" in fig._suptitle.get_text()
    plt.close(fig)
    monkeypatch.setenv("DEFECTBOOK_BATCH", "1")
    seen = {}
    plotting.live_or_static(lambda a="x", t=0.5: seen.update(a=a, t=t), a=["y", "x"], t=(0.0, 1.0, 0.1))
    assert seen == {"a": "x", "t": 0.5}, "the static figure uses the function's defaults"
    plotting.live_or_static(lambda a, t: seen.update(a=a, t=t), a=["y", "x"], t=(0.0, 1.0, 0.1))
    assert seen == {"a": "y", "t": 0.0}, "without defaults: the first choice"


def test_maps_scaled_together_keep_a_defect_free_map_low_and_every_map_row_has_a_colour_bar():
    g = np.random.default_rng(0)
    normal = g.normal(0, 1, (16, 16))
    defect = g.normal(0, 1, (16, 16))
    defect[4:8, 4:8] += 10
    alone = plotting.normalize_map(normal, 0.2, 0.8)
    together = plotting.normalize_map(np.stack([normal, defect]), 0.2, 0.8)
    assert alone.max() == 1.0 and together[0].mean() < alone.mean(), "scaled alone, a normal map fills the range"
    assert together[1, 4:8, 4:8].min() == 1.0
    ex = [{"images": np.zeros((2, 16, 16, 3)), "masks": np.zeros((2, 16, 16)), "maps": together}] * 2
    fig = plotting.anomaly_grid(ex, ["A", "B"], n=2, vmin=0.0, vmax=1.0, label="scaled score")
    bars = [a for a in fig.axes if a.get_ylabel() == "scaled score"]
    assert len(bars) == 2
    assert bars[0].get_ylim() == (0.0, 1.0)
    plt.close(fig)
