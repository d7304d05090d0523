"""One figure style for the book: anomaly-map grids, metric bars, curves."""
from __future__ import annotations

import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .. import settings
from ..config import data_label
from ..evaluation.metrics import pixel_precision_recall

plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 120, "axes.spines.top": False, "axes.spines.right": False,
                     "axes.grid": True, "grid.alpha": 0.3, "font.size": 9})


def normalize_map(m: np.ndarray, lo_q: float = 0.0, hi_q: float = 1.0) -> np.ndarray:
    """Scale ``m`` to [0, 1] between its ``lo_q`` and ``hi_q`` quantiles (N-pad App. D uses 0.2-0.8). Pass
    all the maps of one method at once (``[K, H, W]``) so that they share the scale: a defect-free image
    then stays low instead of being stretched over the whole colour range."""
    lo, hi = np.quantile(m, lo_q), np.quantile(m, hi_q)
    return np.clip((m - lo) / max(hi - lo, 1e-12), 0, 1)


def anomaly_grid(examples: Sequence[dict], titles: Sequence[str] | None = None, n: int = 6,
                 vmax: float | None = None, suptitle: str = "", vmin: float | None = None,
                 label: str = "score"):
    """Columns: examples; rows: image, ground truth, anomaly map (overlay) for each method.

    ``examples`` is a list of ``Record.maps()`` dicts (one per method, same test images), each with
    ``images [K,H,W,3]``, ``masks [K,H,W]`` (optional), ``maps [K,H,W]``. Maps of one method share
    one colour scale, shown by a colour bar (``label``) beside the row: from ``vmin`` to ``vmax``, by default
    the minimum and maximum over the shown images.
    """
    base = examples[0]
    k = min(n, len(base["images"]))
    rows = 2 + len(examples)
    fig, axes = plt.subplots(rows, k, figsize=(1.6 * k + 0.9, 1.6 * rows), squeeze=False, layout="constrained")
    for j in range(k):
        axes[0, j].imshow(base["images"][j])
        if "masks" in base:
            axes[1, j].imshow(base["masks"][j], cmap="gray", vmin=0, vmax=1)
    for r, ex in enumerate(examples):
        lo = vmin if vmin is not None else float(np.min(ex["maps"][:k]))
        top = vmax if vmax is not None else float(np.max(ex["maps"][:k]))
        for j in range(k):
            axes[2 + r, j].imshow(ex["images"][j])
            im = axes[2 + r, j].imshow(ex["maps"][j].astype(np.float32), cmap="jet", alpha=0.5, vmin=lo,
                                       vmax=max(top, lo + 1e-12))
        fig.colorbar(im, ax=list(axes[2 + r, :]), fraction=0.02, pad=0.01, label=label)
    labels = ["image", "ground truth"] + list(titles or [f"method {i}" for i in range(len(examples))])
    for r in range(rows):
        axes[r, 0].set_ylabel("\n".join(textwrap.wrap(labels[r], 16)), fontsize=8)   # row height: 1.6 in
        for j in range(k):
            axes[r, j].set_xticks([]); axes[r, j].set_yticks([]); axes[r, j].grid(False)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    return fig


def _legend_outside(ax, title: str | None = None) -> None:
    """The legend to the right of the axes, where it cannot cover data."""
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend():
        ax.get_legend().remove()
    if handles:
        ax.legend(handles, labels, fontsize=7, title=title, title_fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, frameon=False)


def metric_bars(df: pd.DataFrame, x: str, y: str, hue: str | None = None, ax=None, ylim=(0.5, 1.0), title: str = "",
                legend: bool = True):
    """Grouped bars of the mean ``y`` per ``x`` (and ``hue``) from a tidy DataFrame (one row per run),
    with a 95 % bootstrap interval over the rows of each bar (seeds) where there are several (seaborn).
    The lower y limit moves down to show every bar; pass the same ``ylim`` to panels shown side by side."""
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(max(4, 0.5 * df[x].nunique() * (df[hue].nunique() if hue else 1)), 3))[1]
    sns.barplot(data=df, x=x, y=y, hue=hue, ax=ax, errorbar=("ci", 95), n_boot=1000, seed=0, capsize=0.1,
                err_kws={"linewidth": 1})
    lo = max(0.0, min(ylim[0], float(np.floor(df[y].min() * 20) / 20) - 0.05)) if df[y].notna().any() else ylim[0]
    ax.set_ylim(lo, ylim[1])
    ax.set_ylabel(y); ax.set_xlabel(x); ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=30)
    if hue and legend:
        _legend_outside(ax, hue)
    elif ax.get_legend():
        ax.get_legend().remove()
    return ax


def curves(df: pd.DataFrame, x: str, y: str, hue: str, ax=None, title: str = "", marker: str = "o",
           legend: bool = True):
    """Line per ``hue`` of the mean ``y`` against ``x``, with a band of one standard deviation over the
    other rows at each point (seeds, random subsets) where there are several (seaborn)."""
    import seaborn as sns

    ax = ax or plt.subplots(figsize=(4.5, 3))[1]
    sns.lineplot(data=df.assign(**{hue: df[hue].astype(str)}), x=x, y=y, hue=hue, ax=ax, marker=marker,
                 errorbar="sd")
    ax.set_xlabel(x); ax.set_ylabel(y); ax.set_title(title)
    if legend:
        _legend_outside(ax, hue)
    elif ax.get_legend():
        ax.get_legend().remove()
    return ax


def ours_and_paper(ours: pd.DataFrame, paper: pd.DataFrame, titles: tuple[str, str], xlabel: str, ylabel: str,
                   x_scale: float = 1.0, figsize=(10, 3.6)):
    """Two panels side by side, on one y-range: our curves and the paper's. Each frame has the x values
    as index and one column per curve (all-NaN columns are skipped); ``x_scale`` multiplies the x values
    (e.g. 100 for shares shown in %). One colour per curve name in both panels; the legend sits right of
    the second panel. Returns the figure."""
    fig, axes = plt.subplots(1, 2, figsize=figsize, sharey=True)
    names = list(dict.fromkeys([*ours.columns, *paper.columns]))
    colour = {n: f"C{i % 10}" for i, n in enumerate(names)}
    for ax, frame, title in zip(axes, (ours, paper), titles):
        for name in frame.columns:
            if frame[name].notna().any():
                ax.plot(frame.index * x_scale, frame[name], "o-", label=str(name), color=colour[name])
        ax.set_title(title); ax.set_xlabel(xlabel)
    axes[0].set_ylabel(ylabel)
    axes[1].tick_params(labelleft=True)
    handles = {}
    for ax in axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    axes[1].legend(handles.values(), handles.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                   borderaxespad=0.0, frameon=False)
    fig.tight_layout()
    return fig


def roc(labels: np.ndarray, scores: np.ndarray, ax=None, label: str = ""):
    """ROC curve of image scores."""
    from sklearn.metrics import roc_auc_score, roc_curve

    ax = ax or plt.subplots(figsize=(3.5, 3.5))[1]
    fpr, tpr, _ = roc_curve(labels, scores)
    ax.plot(fpr, tpr, label=f"{label} (AUROC {roc_auc_score(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false positive rate"); ax.set_ylabel("true positive rate"); ax.legend(fontsize=7)
    return ax


def live_or_static(fn, **options):
    """An ipywidgets control in a live notebook; a static figure in batch builds and HTML.

    ``fn(**choice)`` draws one figure; ``options`` maps each argument to its choices (a list: a
    drop-down; a ``(min, max, step)`` tuple: a slider). Under
    ``defectbook reproduce`` (``DEFECTBOOK_BATCH=1``), or without ipywidgets, ``fn`` is called once
    with ``fn``'s own default of each argument (else its first choice), so the rendered book shows a
    plain figure; the live controls start at the same defaults.
    """
    import inspect

    defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}
    first = {k: defaults.get(k, v[0] if isinstance(v, (list, tuple)) else v) for k, v in options.items()}
    if settings.batch():
        return fn(**first)
    try:
        import ipywidgets as widgets
    except ImportError:
        return fn(**first)
    return widgets.interact(fn, **options)


def threshold_view(image: np.ndarray, mask: np.ndarray | None, amap: np.ndarray, threshold: float,
                   pooled: dict | None = None, title: str = ""):
    """One test image under a threshold: the image ``[H, W, 3]``, its anomaly map ``[H, W]`` (scaled to
    [0, 1]), the mask ``amap >= threshold`` against the ground truth ``mask [H, W]`` (green: defect found,
    red: false alarm, blue: defect missed), with the per-pixel precision and recall of this image (and
    ``pooled``, those of all examples, from :func:`defectbook.evaluation.metrics.pixel_precision_recall`)."""
    mask = np.zeros(amap.shape, dtype=bool) if mask is None else mask.astype(bool)
    pred = amap >= threshold
    pr = pixel_precision_recall(mask, amap, threshold)
    overlay = np.zeros(amap.shape + (3,))
    overlay[pred & mask] = (0.1, 0.7, 0.2)
    overlay[pred & ~mask] = (0.85, 0.15, 0.15)
    overlay[~pred & mask] = (0.15, 0.3, 0.9)
    fig, ax = plt.subplots(1, 3, figsize=(8.4, 3.0))
    ax[0].imshow(image); ax[0].set_title("image, ground truth outlined")
    if mask.any():
        ax[0].contour(mask, levels=[0.5], colors="lime", linewidths=0.8)
    ax[1].imshow(amap, cmap="jet", vmin=0, vmax=1); ax[1].set_title("anomaly map (scaled)")
    ax[1].contour(amap >= threshold, levels=[0.5], colors="w", linewidths=0.8)
    ax[2].imshow(overlay); ax[2].set_title(f"map >= {threshold:.2f} vs ground truth")
    for a in ax:
        a.axis("off")
    f = lambda v: "—" if np.isnan(v) else f"{v:.2f}"  # noqa: E731
    text = f"this image: precision {f(pr['precision'])}, recall {f(pr['recall'])}"
    if pooled:
        text += f" · all examples: precision {f(pooled['precision'])}, recall {f(pooled['recall'])}"
    fig.suptitle((title + "\n" if title else "") + text, fontsize=9)
    fig.text(0.5, 0.01, "green: defect found · red: false alarm · blue: defect missed", ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def map_explorer(records, names: dict | None = None, threshold: float = 0.5):
    """Pick a method and a data set among ``records`` (those with saved maps), an example image and a
    threshold: :func:`threshold_view` of that record's map, live (ipywidgets) or, in the book, the first
    method and data set, at its first defective example and ``threshold``. Each record's maps are scaled
    to [0, 1] by their minimum and maximum over its saved examples, so one threshold reads alike for
    every method."""
    names = names or {}
    by = {}
    for r in records:
        m = r.maps()
        if m and "masks" in m:
            by[(names.get(r.config["method"], r.config["method"]), data_label(r.config))] = m
    if not by:
        print("No record with saved maps and masks to explore.")
        return None
    methods = list(dict.fromkeys(k[0] for k in by))
    datas = list(dict.fromkeys(k[1] for k in by))
    m0 = by[(methods[0], datas[0])] if (methods[0], datas[0]) in by else next(iter(by.values()))
    first_defect = next((i for i in range(len(m0["masks"])) if m0["masks"][i].any()), 0)
    n = max(len(m["maps"]) for m in by.values())

    def view(method=methods[0], data=datas[0], example=first_defect, threshold=threshold):
        if (method, data) not in by:
            print(f"{method} has no saved maps on {data}.")
            return None
        m = by[(method, data)]
        maps = m["maps"].astype("float32")
        scaled = (maps - maps.min()) / max(float(maps.max() - maps.min()), 1e-12)
        i = min(example, len(maps) - 1)
        pooled = pixel_precision_recall(m["masks"], scaled, threshold)
        fig = threshold_view(m["images"][i], m["masks"][i], scaled[i], threshold, pooled,
                             title=f"{method} on {data}, example {i}")
        plt.show()
        return fig

    return live_or_static(view, method=methods, data=datas, example=(0, n - 1, 1), threshold=(0.0, 1.0, 0.05))


def differnet_roc_and_scores(records, record, names: dict) -> None:
    """DifferNet's Fig. 5 and Fig. 6 side by side: the ROC curve of each of ``records`` (labelled by
    ``names[method]``) and the histogram of ``record``'s scores (defect-free against defective; the last
    bin, at the 98th percentile, holds all above)."""
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
    for r in records:
        roc(np.array(r.labels), np.array(r.scores), ax=ax[0], label=names[r.config["method"]])
    ax[0].set_title("ROC (Fig. 5)")
    s, y = np.array(record.scores), np.array(record.labels)
    bins = np.linspace(s.min(), np.quantile(s, 0.98), 30)
    ax[1].hist(np.clip(s[y == 0], None, bins[-1]), bins, density=True, alpha=0.6, label="defect-free")
    ax[1].hist(np.clip(s[y == 1], None, bins[-1]), bins, density=True, alpha=0.6, label="defective")
    ax[1].set_xlabel("anomaly score (mean z², last bin: all above)"); ax[1].set_title("DifferNet scores (Fig. 6)")
    ax[1].legend(fontsize=7)
    plt.tight_layout(); plt.show()


def training_curve(losses, snapshots) -> None:
    """A training loss per epoch (NLL per dimension) beside the test AUROC of kept snapshots
    (``snapshots``: (epoch, AUROC) pairs, possibly empty)."""
    fig, ax = plt.subplots(1, 2, figsize=(9, 3))
    ax[0].plot(range(1, len(losses) + 1), losses); ax[0].set_xlabel("epoch"); ax[0].set_ylabel("NLL / D")
    if snapshots:
        ax[1].plot([e for e, _ in snapshots], [a for _, a in snapshots], "o-")
    ax[1].set_xlabel("epoch"); ax[1].set_ylabel("test image AUROC")
    plt.tight_layout(); plt.show()


def auroc_against_cost(cost: pd.DataFrame, paper: float) -> None:
    """Image AUROC (``image AUROC``, interval ``low``-``high``) against ``fit + predict s``, one labelled
    point per row, with the paper's AUROC as a dashed line."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.errorbar(cost["fit + predict s"], cost["image AUROC"],
                yerr=[cost["image AUROC"] - cost["low"], cost["high"] - cost["image AUROC"]], fmt="o", capsize=3)
    for label, row in cost.iterrows():
        ax.annotate(label, (row["fit + predict s"], row["image AUROC"]), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")
    ax.axhline(paper, ls="--", c="grey", lw=1, label="paper")
    ax.set_xlabel("fit + predict seconds (this build)"); ax.set_ylabel("image AUROC (last epoch)")
    ax.legend(fontsize=7); plt.tight_layout(); plt.show()


def inference_time(df: pd.DataFrame, paper: pd.DataFrame, title: str) -> None:
    """NDP-Net's Fig. 11: our methods' image AUROC against ms per image (``df``: ``model``, ``method``,
    ``ms per image``, ``image_auroc``) beside the paper's mean image AUROC per method (``paper``:
    ``method``, ``image_auroc_percent``, ``ms_per_image`` where printed)."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for _, r in df.iterrows():
        ax[0].scatter(r["ms per image"], r["image_auroc"], color="C3" if r["method"] == "ndpnet" else "C0")
        ax[0].annotate(r["model"], (r["ms per image"], r["image_auroc"]), fontsize=7, xytext=(3, 3),
                       textcoords="offset points")
    ax[0].margins(x=0.3, y=0.12)      # room for the labels of the outermost points inside the axes
    ax[0].set_xscale("log"); ax[0].set_xlabel("ms per image (this machine)"); ax[0].set_ylabel("image AUROC")
    ax[0].set_title(title, fontsize=9)
    known = paper.dropna(subset=["ms_per_image"])
    ax[1].barh(paper["method"], paper["image_auroc_percent"] / 100,
               color=["C3" if m == "NDP-Net" else "C0" for m in paper["method"]])
    for _, r in known.iterrows():
        ax[1].annotate(f"{r['ms_per_image']} ms", (r["image_auroc_percent"] / 100, r["method"]), fontsize=7)
    ax[1].set_xlim(0.4, 1.0); ax[1].set_xlabel("mean image AUROC, MVTec AD textures (Table II)")
    ax[1].set_title("paper: times only for NDP-Net are printed", fontsize=9)
    plt.show()


def defect_perception(detectors: dict, rows: dict, differences) -> None:
    """NDP-Net's Fig. 2: for each detector (name -> detector) and each row (what -> function of the
    detector giving images ``(a, b)``, ``[1, 3, H, W]``), the two images and ``differences(det, a, b)``
    (three maps ``[1, H, W]``, encoder layers 1-3)."""
    fig, ax = plt.subplots(len(detectors) * len(rows), 5, figsize=(11, 9))
    k = 0
    for name, det in detectors.items():
        for what, pair in rows.items():
            a, b = pair(det)
            ax[k, 0].imshow(a[0].permute(1, 2, 0).numpy())
            ax[k, 1].imshow(b[0].permute(1, 2, 0).numpy())
            for i, d in enumerate(differences(det, a, b)):
                ax[k, 2 + i].imshow(d[0].numpy(), cmap="jet")
            ax[k, 0].set_ylabel(f"{name}\n{what}", fontsize=8)
            k += 1
    for j, t in enumerate(["(a) I_o / recon", "(b) I_ad / defective", "(c) layer 1", "(d) layer 2", "(e) layer 3"]):
        ax[0, j].set_title(t, fontsize=8)
    for a in ax.flat:
        a.set_xticks([]); a.set_yticks([])
    plt.tight_layout()
    plt.show()


def image_row(panels, width: float = 2.2) -> None:
    """One row of titled panels (title, tensor): an ``[H, W, 3]`` image (clipped to 0-1) or an
    ``[H, W]`` map (viridis)."""
    fig, ax = plt.subplots(1, len(panels), figsize=(width * len(panels), 2.6))
    for a, (t, im) in zip(ax, panels):
        a.imshow(im.numpy() if im.ndim == 2 else im.clamp(0, 1).numpy(), cmap="viridis" if im.ndim == 2 else None)
        a.set_title(t, fontsize=8); a.set_xticks([]); a.set_yticks([])
    plt.tight_layout()
    plt.show()


def map_rows(images, masks, maps: dict, index, titles: Sequence[str] = ("input", "ground truth"),
             size: float = 2.0) -> None:
    """One row per test image in ``index``: the image (``images[i]``, ``[3, H, W]``), its ground truth
    (``masks[i]``, if any) and each map of ``maps`` (title -> ``[N, H, W]``, indexed like the images), jet, each
    map kind in one colour scale over the shown rows, with its colour bar below the column."""
    fig, ax = plt.subplots(len(index), 2 + len(maps), figsize=(size * (2 + len(maps)), size * len(index) + 0.6),
                           squeeze=False, layout="constrained")
    for j, i in enumerate(index):
        ax[j, 0].imshow(np.asarray(images[i].permute(1, 2, 0)))
        if masks is not None:
            ax[j, 1].imshow(np.asarray(masks[i]), cmap="gray")
    for k, m in enumerate(maps.values()):
        shown = np.stack([np.asarray(m[i], dtype=np.float32) for i in index])
        lo, hi = float(shown.min()), float(shown.max())
        for j in range(len(index)):
            im = ax[j, 2 + k].imshow(shown[j], cmap="jet", vmin=lo, vmax=max(hi, lo + 1e-12))
        fig.colorbar(im, ax=list(ax[:, 2 + k]), orientation="horizontal", fraction=0.03, pad=0.01)
    for k, t in enumerate([*titles, *maps]):
        ax[0, k].set_title(t, fontsize=8)
    for a in ax.flat:
        a.set_xticks([]); a.set_yticks([])
    plt.show()


def reconstructions(images, analysis: dict, masks, defects, index, title: str) -> None:
    """NDP-Net's Figs. 9, 10 and 12: per test image in ``index`` (a column) the input, its
    reconstruction (``analysis["recon"]``), the anomaly map (``analysis["msdsm"]``, one colour scale) and
    the ground truth; ``analysis`` holds the images of ``index`` in order."""
    fig, ax = plt.subplots(4, len(index), figsize=(2 * len(index) + 0.9, 8), squeeze=False, layout="constrained")
    for j, i in enumerate(index):
        ax[0, j].imshow(images[i].permute(1, 2, 0).numpy())
        ax[1, j].imshow(analysis["recon"][j].permute(1, 2, 0).numpy())
        im = ax[2, j].imshow(analysis["msdsm"][j].numpy(), cmap="jet", vmin=0,
                             vmax=max(1e-6, float(analysis["msdsm"].max())))
        if masks is not None:
            ax[3, j].imshow(masks[i].numpy(), cmap="gray", vmin=0, vmax=1)
        ax[0, j].set_title(str(defects[i]), fontsize=8)
    for r, name in enumerate(["input", "reconstruction", "anomaly map", "ground truth"]):
        ax[r, 0].set_ylabel(name, fontsize=8)
    fig.colorbar(im, ax=list(ax[2, :]), fraction=0.02, pad=0.01, label="score")
    for x in ax.flat:
        x.set_xticks([]); x.set_yticks([])
    fig.suptitle(title, fontsize=9)
    plt.show()


#: The colour of each word of the reproducibility report (its cells: value matches, value differs, comparable but
#: for the backbone or scale, not comparable, not computed).
VERDICT_COLOURS = {"value matches": "C2", "value differs": "C3", "comparable but for the backbone or scale": "C1",
                   "not comparable": "C7", "not computed": "0.85"}


def verdict_bars(counts: pd.DataFrame, verdicts: Sequence[str], profile: str):
    """The reproducibility report's words per paper (``counts``: paper x word), as stacked bars: left, every
    cell the pages cover; right, the cells computed in this build, as shares.
    Returns the figure."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharey=True)
    papers = list(counts.index)
    computed = counts[[v for v in verdicts if v != "not computed"]]
    shares = computed.div(computed.sum(axis=1).where(lambda n: n > 0), axis=0).fillna(0.0)
    for ax, bars, xlabel in ((axes[0], counts, "paper cells the book covers"),
                             (axes[1], shares, "share of the cells computed in this build")):
        left = np.zeros(len(papers))
        for v in [v for v in verdicts if v in bars]:
            vals = bars[v].values.astype(float)
            ax.barh(papers, vals, left=left, color=VERDICT_COLOURS[v], label=v)
            left += vals
        ax.set_xlabel(xlabel)
    axes[0].invert_yaxis()
    axes[1].set_xlim(0, 1)
    fig.suptitle(f"The report's cells per paper ({profile} profile)", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    axes[1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)


def interval_curves(curve: pd.DataFrame, x: str, names: Sequence[str], xlabel: str, ylabel: str, title: str):
    """One line per name in ``names`` against ``curve[x]``: the mean of column ``name`` per ``x`` with
    error bars to the means of ``"<name> low"`` and ``"<name> high"`` (e.g. a bootstrap interval)."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, m in enumerate(names):
        c = curve.groupby(x)[[m, f"{m} low", f"{m} high"]].mean()
        ax.errorbar(c.index, c[m], yerr=[c[m] - c[f"{m} low"], c[f"{m} high"] - c[m]], marker="o", capsize=3,
                    label=m, color=sns.color_palette()[i])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="lower right")
    plt.tight_layout()
    return fig


def difference_intervals(view: pd.DataFrame, title: str,
                         xlabel: str = "difference of image AUROC (95 % paired bootstrap)"):
    """One row per comparison of ``view`` (:func:`defectbook.book.report.differences_view` with the
    ``comparison``, ``data``, ``image AUROC difference``, ``95 % low`` and ``95 % high`` columns): the
    difference with its interval as an error bar, and a dashed line at zero."""
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6.5, 0.6 + 0.45 * len(view)))
    y = range(len(view))
    label = [f"{c} ({d})" for c, d in zip(view.comparison, view.data)]
    d, lo, hi = view["image AUROC difference"], view["95 % low"], view["95 % high"]
    ax.errorbar(d, list(y), xerr=[d - lo, hi - d], fmt="o", color=sns.color_palette()[0], capsize=3)
    ax.axvline(0, color="0.4", lw=1, ls="--")
    ax.set_yticks(list(y), label)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    plt.tight_layout()
    return fig


def sweep_panels(df: pd.DataFrame, reference: dict | None = None, title: str = ""):
    """One panel per swept ``param`` of ``df`` (columns ``param``, ``value``, ``pixel_auroc``,
    ``image_auroc``), on one y-range: the mean pixel and image AUROC per value; ``reference``
    (param -> (label, value)) adds a dotted horizontal line to that param's panel. One legend, right of
    the panels."""
    reference = reference or {}
    params = list(dict.fromkeys(df["param"]))
    fig, axes = plt.subplots(1, len(params), figsize=(3.5 * len(params), 3), sharey=True, squeeze=False)
    axes = axes[0]
    for ax, (param, g) in zip(axes, df.groupby("param", sort=False)):
        s = g.groupby("value")[["pixel_auroc", "image_auroc"]].mean()
        ax.plot(s.index, s["pixel_auroc"], "o-", label="pixel AUROC")
        ax.plot(s.index, s["image_auroc"], "s--", label="image AUROC")
        if param in reference:
            ax.axhline(reference[param][1], color="k", ls=":", label=reference[param][0])
        ax.set_xlabel(param)
        ax.tick_params(labelleft=True)
    handles = {lab: h for ax in axes for h, lab in zip(*ax.get_legend_handles_labels())}
    axes[-1].legend(handles.values(), handles.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                    frameon=False)
    fig.suptitle(title)
    plt.tight_layout()
    return fig


def precision_recall_panels(pr: pd.DataFrame):
    """Precision (left) and recall (right) against ``threshold``, one line per ``method`` and ``data`` of
    ``pr`` (:func:`defectbook.analysis.npad.precision_recall_table`'s columns); one legend, right."""
    fig, ax = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
    for (meth, data), g in pr.groupby(["method", "data"]):
        ax[0].plot(g["threshold"], g["precision"], "o-", label=f"{meth} · {data}")
        ax[1].plot(g["threshold"], g["recall"], "o-", label=f"{meth} · {data}")
    ax[0].set_title("precision"); ax[1].set_title("recall")
    for a in ax:
        a.set_xlabel("threshold (scaled map)")
    ax[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    plt.tight_layout()
    return fig


def map_panels(examples: Sequence[dict], names: Sequence[str], titles: Sequence[str], n: int = 6):
    """Columns: up to ``n`` test images (``titles``: defective or defect-free); first row the image (the ground
    truth outlined in white where there is one), then one row per method (``names``; ``examples``: their
    ``Record.maps()``, the same test images): its anomaly map in one colour scale per method, with a colour bar."""
    base = examples[0]
    k = min(n, len(base["images"]))
    fig, axes = plt.subplots(1 + len(examples), k, figsize=(1.7 * k + 0.8, 1.7 * (1 + len(examples))), squeeze=False)
    for j in range(k):
        axes[0, j].imshow(base["images"][j])
        if "masks" in base and base["masks"][j].any():
            axes[0, j].contour(base["masks"][j], levels=[0.5], colors="white", linewidths=0.8)
        axes[0, j].set_title(titles[j], fontsize=7)
    for r, ex in enumerate(examples, 1):
        lo, hi = float(np.min(ex["maps"][:k])), float(np.max(ex["maps"][:k]))
        for j in range(k):
            im = axes[r, j].imshow(ex["maps"][j].astype(np.float32), cmap="jet", vmin=lo, vmax=max(hi, lo + 1e-12))
        fig.colorbar(im, ax=list(axes[r, :]), fraction=0.02, pad=0.01, label="score")
        axes[r, 0].set_ylabel(names[r - 1], fontsize=8)
    axes[0, 0].set_ylabel("image")
    for a in axes.flat:
        a.set_xticks([]); a.set_yticks([]); a.grid(False)


def scale_curves(curves: pd.DataFrame, rungs: pd.DataFrame, paper: dict, ylabel: str, title: str, note: str):
    """The effect against the rung, one line per comparison and data set of ``curves``
    (:func:`defectbook.analysis.scale.curve_frame`) with its 95 % interval; stale rungs as hollow
    markers; the paper's value of a comparison (``paper``: comparison -> value) as a dashed line of its
    colour; zero as a grey line; the rungs' labels (``rungs``: ``rung``, ``setting``) on the x axis and
    ``note`` (where the numbers were computed) under the axes."""
    import textwrap

    import seaborn as sns

    fig, ax = plt.subplots(figsize=(7, 3.9))
    colours = dict(zip(sorted(curves["comparison"].unique()), sns.color_palette()))
    styles = dict(zip(sorted(curves["data"].unique()), ["-", ":", "-.", "--"]))
    for (comp, data), g in curves.groupby(["comparison", "data"], sort=True):
        g = g.sort_values("index")
        err = [g["difference"] - g["low"], g["high"] - g["difference"]]
        ax.errorbar(g["index"], g["difference"], yerr=err, marker="o", capsize=3, ls=styles[data],
                    color=colours[comp], label=f"{comp} ({data})", mfc="white" if g["stale"].all() else None)
        stale = g[g["stale"].astype(bool)]
        ax.plot(stale["index"], stale["difference"], "o", mfc="white", mec="black", ms=9, zorder=3)
    for comp, v in paper.items():
        if comp in colours:
            ax.axhline(v, ls="--", lw=1, color=colours[comp], label=f"paper: {comp}")
    ax.axhline(0, color="0.4", lw=0.8)
    ax.set_xticks(range(len(rungs)), list(rungs["rung"]))
    ax.set_xlim(-0.4, len(rungs) - 0.6)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _legend_outside(ax)
    lines = textwrap.wrap(note, 150)
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=6.5, color="0.3", va="bottom")
    plt.tight_layout(rect=(0, 0.035 * len(lines) + 0.01, 1, 1))
    return fig
