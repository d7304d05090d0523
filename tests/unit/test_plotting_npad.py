"""The figures of the N-pad pages drawn from their analysis tables."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from defectbook.book import plotting  # noqa: E402


def test_interval_curves_mean_per_x_with_error_bars():
    curve = pd.DataFrame({"n": [10, 10, 20], "A": [0.5, 0.7, 0.9], "A low": [0.4, 0.6, 0.8], "A high": [0.6, 0.8, 1.0]})
    fig = plotting.interval_curves(curve, "n", ["A"], "training images", "AUROC", "title")
    (ax,) = fig.axes
    assert list(ax.get_lines()[0].get_ydata()) == [0.6, 0.9]
    assert ax.get_xlabel() == "training images" and ax.get_title() == "title"
    plt.close(fig)


def test_difference_intervals_one_row_per_comparison():
    view = pd.DataFrame({"comparison": ["N-pad − PaDiM", "N-pad − PatchCore"], "data": ["ELPV mono"] * 2,
                         "image AUROC difference": [0.1, -0.2], "95 % low": [0.0, -0.3], "95 % high": [0.2, -0.1]})
    fig = plotting.difference_intervals(view, "ELPV")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["N-pad − PaDiM (ELPV mono)",
                                                            "N-pad − PatchCore (ELPV mono)"]
    plt.close(fig)


def test_sweep_panels_one_panel_per_param_and_the_reference_line():
    df = pd.DataFrame({"param": ["d", "d", "shift"], "value": [16, 32, 1], "pixel_auroc": [0.8, 0.9, 0.7],
                       "image_auroc": [0.6, 0.7, 0.5]})
    fig = plotting.sweep_panels(df, {"d": ("PatchCore pixel AUROC", 0.85)}, title="sweeps")
    d, shift = fig.axes
    assert d.get_xlabel() == "d" and shift.get_xlabel() == "shift"
    assert [line.get_label() for line in d.get_lines()] == ["pixel AUROC", "image AUROC", "PatchCore pixel AUROC"]
    assert len(shift.get_lines()) == 2 and shift.get_legend() is not None
    plt.close(fig)


def test_precision_recall_panels_one_line_per_method_and_data():
    pr = pd.DataFrame({"method": ["N-pad"] * 2 + ["PaDiM"] * 2, "data": ["synthetic:wood"] * 4,
                       "threshold": [0.1, 0.2] * 2, "precision": [0.5, 0.6, 0.4, 0.3], "recall": [1.0, 0.9, 0.8, 0.7]})
    fig = plotting.precision_recall_panels(pr)
    left, right = fig.axes
    assert [line.get_label() for line in right.get_lines()] == ["N-pad · synthetic:wood", "PaDiM · synthetic:wood"]
    assert list(left.get_lines()[1].get_ydata()) == [0.4, 0.3]
    plt.close(fig)
