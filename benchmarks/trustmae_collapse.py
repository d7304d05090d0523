"""Does the trained TrustMAE reconstruct its inputs? The chapter's wood model (clean split,
profile settings) trained with the trust-region loss moving the encoder and the memory
(``trust_update="both"``, Eq. 6's plain gradient) and moving the memory only (``"memory"``, the default).

    python benchmarks/trustmae_collapse.py [--profile cpu] [--epochs 15 60] [--ablations] [--png DIR] [--write FILE]

``--ablations`` adds, at the last epoch count, ``"both"`` without the trust loss, without the margin
loss and with the trust loss weighted 0.1 (one change at a time).

Per run: ``var ratio`` (per-pixel variance of the reconstructions across the test images over that of
the inputs; 0 = one image for all), ``err / mean-image err`` (reconstruction MSE over the MSE of the
mean training image, the best constant prediction; >= 1 = no better than a constant), image AUROC,
and the gradient norms on the encoder's parameters at the end of training (one training batch) of the
weighted reconstruction loss (10 L1 + 10 SSIM) and of Eq. 6's trust loss with the latents attached
(the gradient ``"both"`` applies; ``"memory"`` applies none of it to the encoder). PNG grids (inputs over
reconstructions) go to ``--png``. One torch thread. Prints a markdown table (not a test).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def chapter_config(profile: str, category: str, **params) -> dict:
    """The TrustMAE chapter's clean-split config of synthetic ``category`` with ``params`` overridden."""
    from defectbook.pipeline import spec

    return spec.chapter("trustmae", profile).config("trustmae", "synthetic", category, seed=0, **params)


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="cpu")
    ap.add_argument("--category", default="wood")
    ap.add_argument("--epochs", type=int, nargs="+", default=[15, 60])
    ap.add_argument("--ablations", action="store_true")
    ap.add_argument("--png", default=None)
    ap.add_argument("--write", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    from sklearn.metrics import roc_auc_score

    from defectbook.components.losses import ssim_loss
    from defectbook.data.prepare import prepare
    from defectbook.methods.trustmae import trust_region
    from defectbook.pipeline.models import build_detector

    runs = [(e, {"trust_update": tu}) for e in a.epochs for tu in ("both", "memory")]
    if a.ablations:
        runs += [(a.epochs[-1], {"trust_update": "both", k: v})
                 for k, v in (("lambda_trust", 0.0), ("lambda_margin", 0.0), ("lambda_trust", 0.1))]
    rows = ["| run | epochs | steps | var ratio | err / mean-image err | image AUROC "
            "| encoder grad: rec | encoder grad: trust |",
            "|---|---|---|---|---|---|---|---|"]
    for epochs, params in runs:
        tu = ", ".join(f"{k}={v}" for k, v in params.items())
        cfg = chapter_config(a.profile, a.category, epochs=epochs, **params)
        prep = prepare(cfg)
        det = build_detector(cfg).fit(prep.train)
        x = prep.test
        r = det.reconstruct(x)
        var_ratio = (r.var(0).mean() / x.var(0).mean()).item()
        err = (r - x).pow(2).mean().item() / (prep.train.mean(0, keepdim=True) - x).pow(2).mean().item()
        auc = roc_auc_score(prep.labels, det.predict(x).image_scores)
        m = det.model_.train()
        xb = prep.train[:16]
        rec, aux = m(xb * 2 - 1)
        r01 = (rec + 1) / 2
        enc = list(m.encoder.parameters())
        norms = []
        for loss in (10 * (xb - r01).abs().mean() + 10 * ssim_loss(r01, xb), trust_region(aux["dist"], det.delta2)[0]):
            g = torch.autograd.grad(loss, enc, retain_graph=True, allow_unused=True)
            norms.append(sum(v.pow(2).sum() for v in g if v is not None).sqrt().item())
        m.eval()
        rows.append(f"| {tu} | {epochs} | {det.steps_} | {var_ratio:.4f} | {err:.3f} | {auc:.3f} "
                    f"| {norms[0]:.4f} | {norms[1]:.3f} |")
        print(rows[-1], flush=True)
        if a.png:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            n = 8
            idx = [j * (len(x) // n) for j in range(n)]
            fig, ax = plt.subplots(2, n, figsize=(2 * n, 4.3))
            for j, i in enumerate(idx):
                ax[0, j].imshow(x[i].permute(1, 2, 0).numpy())
                ax[1, j].imshow(r[i].permute(1, 2, 0).numpy())
                ax[0, j].set_title("normal" if prep.labels[i] == 0 else "defective", fontsize=8)
            for q in ax.flat:
                q.set_xticks([]), q.set_yticks([])
            ax[0, 0].set_ylabel("input"), ax[1, 0].set_ylabel("reconstruction")
            fig.suptitle(f"TrustMAE {a.category} ({a.profile}), {tu}, {epochs} epochs: "
                         f"var ratio {var_ratio:.3f}, err/mean-image err {err:.3f}", fontsize=9)
            plt.tight_layout()
            Path(a.png).mkdir(parents=True, exist_ok=True)
            fig.savefig(
                Path(a.png) / f"trustmae_{a.category}_{'_'.join(f'{k}{v}' for k, v in params.items())}_{epochs}ep.png",
                dpi=60,
            )
            plt.close(fig)
    out = "\n".join(rows)
    if a.write:
        Path(a.write).write_text(
            f"Output of `python benchmarks/trustmae_collapse.py {' '.join(argv or sys.argv[1:])}` "
            f"(profile {a.profile}, synthetic {a.category}, clean split, seed 0, CPU, one thread):\n\n{out}\n"
        )
    return out


if __name__ == "__main__":
    print(main())
