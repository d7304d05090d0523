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
