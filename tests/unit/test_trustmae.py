import dataclasses
import math

import numpy as np
import pytest
import torch

from defectbook import DefectbookError
from defectbook.methods import build
from defectbook.methods.trustmae import Memory, TrustMAE, TrustMAEGenerator, margin_loss, trust_region

TINY = dict(width=4, latent=16, n_down=2, slots=8, k=3, feature_net=None, disc_width=4, epochs=1, batch_size=4,
            perceptual=False)


def test_topk_weights_sum_to_one_with_k_nonzeros():
    torch.manual_seed(0)
    mem = Memory(slots=16, dim=8, k=3)
    w, dist = mem.address(torch.randn(50, 8))
    assert torch.allclose(w.sum(1), torch.ones(50), atol=1e-6)
    assert ((w > 0).sum(1) == 3).all()
    # the kept slots are the 3 nearest ones
    assert torch.equal(torch.sort(w.topk(3, 1).indices, 1).values,
                       torch.sort(dist.topk(3, 1, largest=False).indices, 1).values)
    dense, _ = Memory(16, 8, k=None).address(torch.randn(5, 8))
    assert ((dense > 0).sum(1) == 16).all() and torch.allclose(dense.sum(1), torch.ones(5), atol=1e-6)
    with pytest.raises(DefectbookError):
        Memory(4, 8, k=5)


def test_memory_read_is_convex_combination_of_slots():
    mem = Memory(slots=4, dim=3, k=2)
    with torch.no_grad():
        mem.weight.copy_(torch.eye(4, 3) * 5)
    z = torch.tensor([[5.0, 0.1, 0.0]]).view(1, 3, 1, 1)
    out, aux = mem(z)
    assert out.shape == (1, 3, 1, 1)
    assert aux["nearest"].item() == 0
    assert out[0, 0, 0, 0] > 2.5     # dominated by slot 0


def test_trust_region_signs_follow_eq5():
    # nearest distances 1, 2, 3 (slot 0) and 10, 30 (slot 1); fixed delta1 = 2.5, delta2 = 20
    d_near = torch.tensor([1.0, 2.0, 3.0, 10.0, 30.0])
    dist = torch.stack([d_near, d_near + 100], 1)
    loss, r, d1 = trust_region(dist, delta2=20.0, delta1=2.5)
    assert r.tolist() == [1, 1, -1, -1, 0]
    assert loss.item() == pytest.approx((1 + 2 - 3 - 10 + 0) / 5)
    # adaptive delta1: per slot, the mean nearest distance of the rows that pick it
    dist = torch.tensor([[1.0, 9.0], [3.0, 9.0], [9.0, 4.0], [9.0, 8.0], [9.0, 25.0]])
    # slot 0 picked by rows 0,1 (mean 2), slot 1 by rows 2,3 (mean 6); row 4 picks slot 0 at 9
    loss, r, d1 = trust_region(dist, delta2=20.0)
    assert d1.tolist() == pytest.approx([(1 + 3 + 9) / 3, 6.0])
    assert r.tolist() == [1, 1, 1, -1, -1]
    # a slot nobody picks has an infinite radius; beyond delta2 nothing happens
    loss, r, d1 = trust_region(torch.tensor([[1.0, 50.0], [30.0, 50.0]]), delta2=20.0)
    assert math.isinf(d1[1].item()) and d1[0].item() == pytest.approx(15.5)
    assert r.tolist() == [1, 0] and loss.item() == pytest.approx(0.5)
    # pulled features lose distance, pushed ones gain it (gradient signs of Eq. 6)
    z = torch.tensor([[0.5, 0.0], [3.0, 0.0]], requires_grad=True)
    M = torch.zeros(1, 2)
    loss, r, _ = trust_region(torch.cdist(z, M), delta2=20.0, delta1=1.0)
    loss.backward()
    assert r.tolist() == [1, -1]
    assert z.grad[0, 0] > 0 and z.grad[1, 0] < 0   # descent moves z0 towards M and z1 away


def test_margin_loss():
    dist = torch.tensor([[1.0, 5.0, 9.0], [2.0, 2.5, 7.0]])
    assert margin_loss(dist).item() == pytest.approx((0 + 0.5) / 2)


def test_normal_memory_cannot_reconstruct_an_inserted_defect():
    """Toy problem: 4x4 patches of a texture of two patch kinds (horizontal and vertical stripes,
    in a checkerboard of patches); the memory holds both normal prototypes and two far-away
    distractors. Sparse addressing (Eqs. 2-3) must read every normal patch back as its own
    prototype, so the error is large only under the defect."""
    H = 32
    h = torch.zeros(4, 4)
    h[::2] = 10.0                                             # horizontal stripes (values 0 / 10)
    v = h.T.clone()                                           # vertical stripes
    img = torch.zeros(1, 1, H, H)
    for i in range(0, H, 4):
        for j in range(0, H, 4):
            img[0, 0, i:i + 4, j:j + 4] = h if (i + j) // 4 % 2 == 0 else v
    defect = img.clone()
    defect[..., 12:20, 12:20] = 5.0                           # flat grey square
    patch = lambda x: torch.nn.functional.unfold(x, 4, stride=4).transpose(1, 2)[0]   # [64, 16]
    mem = Memory(slots=4, dim=16, k=2)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        mem.weight.copy_(torch.stack([h.flatten(), v.flatten(), 40 + torch.rand(16, generator=g),
                                      -40 + torch.rand(16, generator=g)]))
    z = patch(defect)
    w, _ = mem.address(z)
    assert ((w > 0).sum(1) <= 2).all() and torch.allclose(w.sum(1), torch.ones(len(w)))
    rec = torch.nn.functional.fold((w @ mem.weight).T[None], (H, H), 4, stride=4)
    err = (rec - defect).pow(2)[0, 0]
    inside, outside = err[12:20, 12:20].mean(), err[:8, :8].mean()
    assert inside > 10 and outside < 1e-3
    # normal patches are read from their own prototype: slot 0 for h, slot 1 for v
    kinds = torch.tensor([0 if (i + j) % 2 == 0 else 1 for i in range(8) for j in range(8)])
    normal = torch.tensor([not (3 <= i <= 4 and 3 <= j <= 4) for i in range(8) for j in range(8)])
    assert torch.equal(w.argmax(1)[normal], kinds[normal])


def test_generator_shapes_follow_supp_table1():
    g = TrustMAEGenerator(width=4, latent=32, n_down=5, slots=8, k=3)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    r, aux = g(x)
    assert r.shape == x.shape and r.abs().max() <= 1
    assert aux["dist"].shape == (2 * 2 * 2, 8)             # 64 / 2^5 = 2 -> 2x2 latent per image
    g3 = TrustMAEGenerator(width=4, latent=32, n_down=3, slots=8, k=3)
    assert g3(x)[1]["dist"].shape == (2 * 8 * 8, 8)


def _wood(n: int, size: int, seed: int) -> torch.Tensor:
    from defectbook.data.synthetic import render_sample

    rng = np.random.default_rng(seed)
    imgs = [
        torch.from_numpy(render_sample("wood", None, rng, size)[0]).permute(2, 0, 1).float() / 255 for _ in range(n)
    ]
    return torch.stack(imgs)


def test_trained_reconstructions_follow_their_inputs(trust_update="memory"):
    """A trained TrustMAE must reconstruct each input, not one flat image for all (about 30 s: the property only
    shows after real training steps, so none can be skipped). A short
    training (120 steps) on the synthetic wood texture at the cpu chapter's latent grid (64 px, 3
    down-samplings, Z = 64, M = 64): the reconstructions of unseen normal images must beat the best
    constant prediction (the mean training image) by a wide margin and vary from image to image as
    the inputs do. With ``trust_update="both"`` (Eq. 6's gradient into the encoder as well) the
    same run collapses: error ratio ~1.0, variance ratio ~0.2."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, xt = _wood(32, 64, 0), _wood(16, 64, 1)
        det = TrustMAE(width=8, latent=64, n_down=3, slots=64, k=3, feature_net=None, lambda_gan=0, lambda_feat=0,
                       perceptual=False, epochs=60, batch_size=16, lr=1e-3, trust_update=trust_update).fit(x)
        r = det.reconstruct(xt)
    finally:
        torch.set_num_threads(threads)
    err = (r - xt).pow(2).mean()
    err_mean_image = (x.mean(0, keepdim=True) - xt).pow(2).mean()
    var_ratio = r.var(0).mean() / xt.var(0).mean()     # per-pixel variance across images, reconstructions vs inputs
    assert err < 0.8 * err_mean_image, f"reconstruction error {err:.5f} vs mean-image error {err_mean_image:.5f}"
    assert var_ratio > 0.3, f"reconstructions barely vary across inputs: variance ratio {var_ratio:.3f}"
    flat = torch.full_like(xt[:2], 0.5)
    assert (det.reconstruct(flat) - flat).pow(2).mean() > 2 * err   # a flat image is not "normal"


def test_trust_update_is_validated():
    with pytest.raises(DefectbookError):
        TrustMAE(trust_update="encoder")


def _noisy_images(n=8, ratio=0.4, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = 0.5 + 0.1 * torch.sin(torch.arange(size) / 2.0).view(1, 1, 1, size).expand(n, 3, size, size).clone()
    x = x + 0.02 * torch.randn(n, 3, size, size, generator=g)
    for i in range(int(n * ratio)):
        x[i, :, 4:10, 4:10] = 1.0
    return x.clamp(0, 1)


@pytest.mark.parametrize("name,params", [
    ("trustmae", dict(TINY, lambda_gan=1.0, lambda_feat=10.0)),
    ("trustmae", dict(TINY, sparse=False, trust_region=False, lambda_gan=0, lambda_feat=0)),
    ("memae", dict(width=0.1, latent=16, slots=8, epochs=1, batch_size=4)),
    ("ae_l2", dict(width=0.25, latent=8, epochs=1, batch_size=4)),
    ("ae_ssim", dict(width=0.25, latent=8, epochs=1, batch_size=4)),
])
def test_losses_finite_under_40_percent_noise(name, params):
    x = _noisy_images()
    det = build(name, **params).fit(x)
    hist = det.extras()["history"]
    assert hist["total"] and all(np.isfinite(v).all() for v in hist.values())
    pred = det.predict(x[:3])
    assert pred.maps.shape == (3, 16, 16) and np.isfinite(pred.image_scores).all()
    sp = det.extras()["scores_by_pooling"]
    assert len(sp["max"]) == 3 and all(a >= b for a, b in zip(sp["max"], sp["mean"]))


def test_trustmae_is_deterministic_and_reports_memory_access():
    x = _noisy_images(8)
    a = TrustMAE(**TINY, seed=3).fit(x)
    b = TrustMAE(**TINY, seed=3).fit(x)
    assert np.allclose(a.predict(x[:2]).image_scores, b.predict(x[:2]).image_scores)
    mem = a.extras()["memory"]
    assert len(mem["train_usage"]) == 8 and sum(mem["train_usage"]) == pytest.approx(1, abs=1e-4)
    assert sum(v > 0 for v in mem["example_weights"]) == 3
    acc = a.memory_access(x[:2])
    assert acc["nearest_dist"].shape == (2, 4, 4)


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(DefectbookError):
        TrustMAE(feature_net="resnet")
    with pytest.raises(DefectbookError):
        TrustMAE(**dict(TINY, n_down=3)).fit(torch.rand(4, 3, 20, 20))   # 20 is not divisible by 8
    with pytest.raises(DefectbookError):
        TrustMAE(**TINY).predict(torch.rand(2, 3, 16, 16))
    with pytest.raises(DefectbookError):
        build("ae_l2", distance="l1")


@pytest.mark.parametrize("profile", ["smoke", "cpu", "paper"])
def test_chapter_configs_follow_the_profile(profile):
    from defectbook.pipeline import spec
    from defectbook.pipeline.keys import key_of

    S = spec.chapter("trustmae", profile)
    assert S.methods == ["trustmae", "memae", "ae_l2", "ae_ssim"]
    if profile != "smoke":
        assert 0.4 in S.grids["noise"]
    small = S.config("trustmae", "synthetic", "screw", split=S.noisy(0.2))
    big = S.config("trustmae", "synthetic", "wood")
    n_down = {"smoke": (1, 2), "cpu": (1, 3), "paper": (3, 5)}[profile]
    assert (small["params"]["n_down"], big["params"]["n_down"]) == n_down
    assert small["split"] == {"kind": "noisy", "ratio": 0.2, "fixed_test": True} and big["split"] == {"kind": "clean"}
    assert S.config("memae", "synthetic", "cable")["params"]["augment"] is False
    assert S.config("memae", "synthetic", "wood")["params"]["augment"] is True
    assert key_of(small) != key_of(S.config("trustmae", "synthetic", "screw", split=S.noisy(0.2), trust_region=False))
    # a method the chapter does not list is a compared one: its own chapter's params, this chapter's data
    other = S.config("padim", "synthetic", "wood")
    assert other["spec"]["chapter"] == "padim" and other["data"] == big["data"]
    with pytest.raises(DefectbookError):
        S.config("no_such_method", "synthetic", "wood")


def _noise_record(method, ratio, seed, labels, scores, data="wood"):
    from defectbook.pipeline.store import Record

    split = {"kind": "noisy", "ratio": ratio, "fixed_test": True}
    return Record(key=f"{method}{ratio}{seed}{data}", metrics={}, timings={}, memory={},
                  scores=list(map(float, scores)),
                  labels=list(map(int, labels)), defects=["good" if v == 0 else "crack" for v in labels],
                  config={"method": method, "dataset": "synthetic", "category": data, "seed": seed, "split": split})


def test_drop_difference_finds_a_known_effect_and_its_sign():
    from sklearn.metrics import roc_auc_score

    from defectbook.analysis.trustmae import drop_difference

    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(150), np.ones(150)].astype(int)
    sep = lambda shift: rng.normal(size=300) + shift * y   # noqa: E731 - AUROC grows with shift
    recs, direct = [], []
    for s in range(3):
        runs = {("trustmae", 0.0): sep(2.0), ("trustmae", 0.4): sep(1.8), ("memae", 0.0): sep(2.0),
                ("memae", 0.4): sep(0.3)}
        recs += [_noise_record(m, x, s, y, v) for (m, x), v in runs.items()]
        auc = {k: roc_auc_score(y, v) for k, v in runs.items()}
        direct.append(auc["trustmae", 0.0] - auc["trustmae", 0.4] - auc["memae", 0.0] + auc["memae", 0.4])
    recs.append(_noise_record("trustmae", 0.0, 9, y, sep(1.0)))      # a unit without its other runs: left out
    out = drop_difference(recs, "trustmae", "memae", n_boot=500, image_ids=None)
    assert out["n"] == 3 and out["difference"] == pytest.approx(np.mean(direct))   # exact AUROCs, mean over units
    assert out["high"] < -0.2 and out["low"] < out["difference"] < out["high"] and out["word"] == "agrees"
    assert drop_difference(recs, "memae", "trustmae", n_boot=500, image_ids=None)["word"] == "disagrees"
    # the same model as its own baseline: D = 0 in every resample, a zero-width interval
    same = drop_difference(recs, "trustmae", "trustmae", n_boot=200, image_ids=None)
    assert same["difference"] == 0 and same["width"] == 0 and same["word"] == "no effect"
    # a small test set and no effect: the interval holds zero and is wide
    y8 = np.r_[np.zeros(8), np.ones(8)].astype(int)
    noise = [_noise_record(m, x, 0, y8, rng.normal(size=16)) for m in ("trustmae", "memae") for x in (0.0, 0.4)]
    small = drop_difference(noise, n_boot=500, image_ids=None)
    assert small["low"] < 0 < small["high"] and small["width"] > 0.2 and small["word"] == "undecided"
    # runs scored on different test sets are not compared
    noise[1] = _noise_record("trustmae", 0.4, 0, y8[::-1], rng.normal(size=16))
    with pytest.raises(DefectbookError, match="different test sets"):
        drop_difference(noise, image_ids=None)
    # seeds that share their test images are resampled together: three copies of one unit are no more
    # precise than one, while three units of their own images narrow the interval by about sqrt(3)
    one = [_noise_record(m, x, 0, y, sep(1.0)) for m in ("trustmae", "memae") for x in (0.0, 0.4)]
    copies = one + [dataclasses.replace(r, config=dict(r.config, seed=s)) for s in (1, 2) for r in one]
    shared = drop_difference(copies, n_boot=1000, image_ids=lambda r: list(range(len(r.labels))))
    alone = drop_difference(one, n_boot=1000, image_ids=None)
    apart = drop_difference(copies, n_boot=1000, image_ids=None)
    assert shared["difference"] == pytest.approx(alone["difference"]) and shared["n"] == 3
    assert shared["width"] == pytest.approx(alone["width"], rel=0.15) and shared["width"] > 1.4 * apart["width"]
    # no effect, but an interval wider than 0.05: undecided, not "no effect"
    assert alone["low"] < 0 < alone["high"] and 0.05 < alone["width"] < 0.5 and alone["word"] == "undecided"


def test_noise_levels_share_one_test_set(isolated):
    from defectbook.data.prepare import load_split_for
    from defectbook.pipeline import spec

    S = spec.chapter("trustmae", "smoke")
    tests = [[(s.path, s.label) for s in load_split_for(S.config("trustmae", "synthetic", "washer", seed=1,
                                                                 split=S.noisy(r))).test]
             for r in (0.0, 0.2, 0.4)]
    assert tests[0] == tests[1] == tests[2] and {lab for _, lab in tests[0]} == {0, 1}
    trains = [
        load_split_for(S.config("memae", "synthetic", "washer", seed=1, split=S.noisy(r))).train for r in (0.0, 0.4)
    ]
    assert not any(s.label for s in trains[0]) and any(s.label for s in trains[1])
