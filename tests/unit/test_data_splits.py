"""TrustMAE's noisy training pools and few-shot subsets (pure bookkeeping: no image files)."""
from pathlib import Path

import pytest

from defectbook import DefectbookError
from defectbook.data.base import Sample, Split
from defectbook.data.splits import few_shot, noisy_split


def make_split(n_train=100, n_good=20, n_bad=40):
    tr = [Sample(Path(f"/x/train/{i:03d}.png"), 0) for i in range(n_train)]
    te = [Sample(Path(f"/x/test/good/{i:03d}.png"), 0) for i in range(n_good)]
    te += [Sample(Path(f"/x/test/bad/{i:03d}.png"), 1, "bad", Path(f"/x/gt/{i:03d}.png")) for i in range(n_bad)]
    return Split(tr, te, True, {"name": "toy"})


def paths(samples):
    return {s.path for s in samples}


def test_noisy_low_ratio_moves_defects():
    sp = make_split()
    before = (list(sp.train), list(sp.test), dict(sp.info))
    ns = noisy_split(sp, 0.1, seed=0)
    k = sum(s.label for s in ns.train)
    assert k == 11 and len(ns.train) == 111  # 11 / 111 ~ 0.099
    assert abs(ns.info["noise"]["achieved_ratio"] - 0.1) < 0.01 and ns.info["noise_ratio"] == k / 111
    assert not paths(ns.train) & paths(ns.test)
    assert len(ns.test) == 60 - 11 and sum(s.label for s in ns.test) == 29
    assert (sp.train, sp.test, sp.info) == before  # input untouched
    assert noisy_split(sp, 0.1, seed=0).train == ns.train
    assert noisy_split(sp, 0.1, seed=1).train != ns.train


def test_noisy_high_ratio_drops_normals():
    sp = make_split()
    ns = noisy_split(sp, 0.4, seed=0)
    k = sum(s.label for s in ns.train)
    assert k == 20  # at most half of the 40 defective test images
    assert len(ns.train) - k == 30 and ns.info["noise"]["n_normal_dropped"] == 70
    assert ns.info["noise"]["achieved_ratio"] == pytest.approx(0.4)
    dropped = paths(sp.train) - paths(ns.train)
    assert not dropped & paths(ns.test)  # dropped normals do not go to test
    assert not paths(ns.train) & paths(ns.test)


def test_noisy_nested_and_zero():
    sp = make_split()
    low, high = noisy_split(sp, 0.05, seed=3), noisy_split(sp, 0.15, seed=3)
    bad = lambda s: {x.path for x in s.train if x.label}  # noqa: E731
    assert bad(low) < bad(high)
    z = noisy_split(sp, 0.0)
    assert z.train == sp.train and z.test == sp.test and z.info["noise_ratio"] == 0


def test_noisy_bad_inputs():
    sp = make_split()
    for r in (-0.1, 1.0, "x"):
        with pytest.raises(DefectbookError, match="noise ratio"):
            noisy_split(sp, r)
    with pytest.raises(DefectbookError, match="none can move"):
        noisy_split(make_split(n_bad=1), 0.2)
    with pytest.raises(DefectbookError, match="clean split"):
        noisy_split(noisy_split(sp, 0.1), 0.2)


def test_few_shot():
    sp = make_split()
    f = few_shot(sp, 16, seed=0)
    assert len(f.train) == 16 and f.test == sp.test and f.info["few_shot"]["n"] == 16
    assert paths(f.train) <= paths(sp.train) and len(sp.train) == 100
    assert few_shot(sp, 16, seed=0).train == f.train and few_shot(sp, 16, seed=1).train != f.train
    assert paths(few_shot(sp, 8, seed=0).train) < paths(f.train)  # nested
    with pytest.raises(DefectbookError, match="only 100 training images"):
        few_shot(sp, 101)
    with pytest.raises(DefectbookError, match="at least 1"):
        few_shot(sp, 0)
