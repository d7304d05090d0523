import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from defectbook import plotting  # noqa: E402


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
