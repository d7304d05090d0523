"""What is read back from disk is checked first: the feature cache, the synthetic data cache, and the
parameters a detector clips (recorded as they ran, or refused)."""
import os
import shutil
import warnings

import numpy as np
import pytest
import torch

from defectbook import DefectbookError
from defectbook.cli import main
from defectbook.components.backbones import FeatureExtractor
from defectbook.components.features import FEATURES, check_payload, extract, iter_embeddings, make_payload
from defectbook.data import load_split, synthetic
from defectbook.data.synthetic import MANIFEST, ensure, generate, verify_cache
from defectbook.methods import build

TINY = dict(size=48, n_train=2, n_test_good=1, n_test_defect=1, seed=0)


# --- feature cache ------------------------------------------------------------------------------

@pytest.fixture
def cache(feature_cache):
    return feature_cache


def _images(n=4, size=32, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _extractor():
    torch.manual_seed(0)
    return FeatureExtractor("efficientnet_lite0", ["layer2"], "random")


def _fresh(fe, x):
    with FEATURES.off():
        return extract(fe, x, batch_size=2)


def _only_file(cache):
    files = list(cache.folder().glob("*.pt"))
    assert len(files) == 1
    return files[0]


def test_flipped_bytes_are_refused_and_recomputed(cache):
    fe, x = _extractor(), _images()
    first = extract(fe, x, batch_size=2)
    f = _only_file(cache)
    cache.clear()                                            # the next read comes from the file
    stored = torch.load(f, weights_only=True)["tensor"]
    raw = bytearray(f.read_bytes())
    at = raw.find(stored.contiguous().numpy().tobytes()[:64])   # the tensor's bytes, stored uncompressed
    assert at > 0
    raw[at + 40] ^= 0xFF
    f.write_bytes(bytes(raw))
    damaged = torch.load(f, weights_only=True)
    assert not torch.equal(damaged["tensor"], stored)       # the flip reached the numbers
    with pytest.warns(UserWarning, match="fails its digest"):
        again = extract(fe, x, batch_size=2)
    assert torch.equal(again, first) and cache.hits == 0 and cache.misses == 2
    assert torch.equal(torch.load(f, weights_only=True)["tensor"], stored)   # rewritten intact
    assert cache.verify() == []


def test_a_file_copied_onto_another_entrys_name_is_refused(cache):
    fe, x, y = _extractor(), _images(seed=0), _images(seed=1)   # same shape, other images
    fx = extract(fe, x, batch_size=2)
    kx = cache.key(fe, x, 2)[0]
    fy = extract(fe, y, batch_size=2)
    ky = cache.key(fe, y, 2)[0]
    folder = cache.folder()
    shutil.copy(folder / f"{ky}.pt", folder / f"{kx}.pt")
    cache.clear()
    assert [(p.name, "not" in why) for p, why in cache.verify()] == [(f"{kx}.pt", True)]
    with pytest.warns(UserWarning, match="copied onto another entry's name"):
        got = extract(fe, x, batch_size=2)
    assert torch.equal(got, fx) and not torch.equal(got, fy)
    assert torch.equal(got, _fresh(fe, x))


def test_a_batch_dimension_other_than_the_images_is_refused(cache):
    fe, x = _extractor(), _images(4)
    first = extract(fe, x, batch_size=2)
    f = _only_file(cache)
    cache.clear()
    good = torch.load(f, weights_only=True)["tensor"]
    torch.save(make_payload(f.stem, torch.cat([good, good[:1]])), f)    # well formed, one row too many
    assert cache.verify() == []                              # the count is known only to a read
    with pytest.warns(UserWarning, match="features of 5 images, not of the 4"):
        assert torch.equal(extract(fe, x, batch_size=2), first)


@pytest.mark.parametrize("content", ["plain tensor", "other dict", "not a torch file", "integer tensor"])
def test_payloads_of_another_form_are_a_miss(cache, content):
    fe, x = _extractor(), _images()
    first = extract(fe, x, batch_size=2)
    f = _only_file(cache)
    cache.clear()
    good = torch.load(f, weights_only=True)["tensor"]
    if content == "plain tensor":                            # the format written before the check
        torch.save(good + 1, f)
    elif content == "other dict":
        torch.save({"tensor": good + 1}, f)
    elif content == "not a torch file":
        f.write_bytes(b"garbage" * 100)
    else:
        bad = make_payload(f.stem, good)
        bad["tensor"] = bad["tensor"].to(torch.int64)
        torch.save(bad, f)
    assert len(cache.verify()) == 1 and f.exists()           # verify reports and keeps the file
    with pytest.warns(UserWarning, match=str(f.name)):
        again = extract(fe, x, batch_size=2)
    assert torch.equal(again, first) and cache.misses == 2
    assert check_payload(torch.load(f, weights_only=True), f.stem, 4)[1] is None   # replaced by a good file


def test_verify_lists_only_the_refused_files_and_deletes_nothing(cache):
    fe = _extractor()
    for seed in range(3):
        extract(fe, _images(seed=seed), batch_size=2)
    files = sorted(cache.folder().glob("*.pt"))
    assert len(files) == 3 and cache.verify() == []
    payload = torch.load(files[0], weights_only=True)
    payload["tensor"][0, 0, 0, 0] += 1                       # a changed number, the digest kept
    torch.save(payload, files[0])
    shutil.copy(files[2], files[1])
    bad = dict(cache.verify())
    assert set(bad) == {files[0], files[1]}
    assert "digest" in bad[files[0]] and "copied" in bad[files[1]]
    assert all(f.exists() for f in files)
    assert cache.verify(cache.folder().parent / "nowhere") == []


def test_memory_level_serves_hits_and_refuses_an_entry_changed_in_place(cache):
    fe, x = _extractor(), _images()
    first = extract(fe, x, batch_size=4)
    for f in cache.folder().glob("*.pt"):
        f.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # an intact memory hit warns of nothing
        assert torch.equal(extract(fe, x, batch_size=4), first) and cache.hits == 1
    # a caller changing what the cache handed out (one batch: the cached tensor itself) in place
    handed = next(iter_embeddings(fe, x, batch_size=4, post=lambda maps: maps[0]))
    assert cache.hits == 2
    handed.mul_(0)
    with pytest.warns(UserWarning, match="changed in place"):
        again = extract(fe, x, batch_size=4)
    assert torch.equal(again, first) and cache.misses == 2


def test_methods_score_the_same_with_a_tampered_cache(cache):
    train, test = _images(6, 48, 1), _images(3, 48, 2)

    def run():
        torch.manual_seed(0)
        return build("padim", weights="random", layers=("layer1", "layer2"), d=8, batch_size=4) \
            .fit(train).predict(test).image_scores

    cold = run()
    cache.clear()
    for f in cache.folder().glob("*.pt"):                    # every entry swapped for other numbers
        p = torch.load(f, weights_only=True)
        p["tensor"].mul_(-1)
        torch.save(p, f)
    with pytest.warns(UserWarning, match="digest"):
        warm = run()
    assert np.array_equal(cold, warm)


def test_differnet_features_are_checked_the_same_way(cache):
    from defectbook.methods.differnet import MultiTransformFeatures

    x = _images(2, 32)
    f = MultiTransformFeatures("efficientnet_lite0", "layer3", weights="random", scales=[1.0], batch_size=2)
    y = f.transformed(x, [{"angle": 45.0}])
    path = _only_file(cache)
    cache.clear()
    torch.save(make_payload(path.stem, y * 0 + 7), path)     # a well-formed file is what is read back
    assert torch.equal(f.transformed(x, [{"angle": 45.0}]), torch.full_like(y, 7.0))
    cache.clear()
    torch.save(y * 0 + 7, path)                              # a bare tensor is not
    with pytest.warns(UserWarning, match="not a self-verifying"):
        assert torch.equal(f.transformed(x, [{"angle": 45.0}]), y)


# --- synthetic data cache -----------------------------------------------------------------------

def _problems(folder):
    return {p.relative_to(folder).as_posix(): why for p, why in verify_cache(folder)}


def test_manifest_lists_every_file_and_verify_names_each_problem(tmp_path):
    root = generate(tmp_path / "d", categories=["weave"], **TINY)
    assert (root / MANIFEST).is_file() and verify_cache(root) == []
    img = "weave/train/good/001.png"
    (root / img).unlink()
    mask = root / "weave/ground_truth/hole/000_mask.png"
    data = bytearray(mask.read_bytes())
    data[-20] ^= 1                                           # same size, other bytes
    mask.write_bytes(bytes(data))
    (root / "weave/train/good/extra.png").write_bytes(b"x")
    (root / "README.txt").write_text("edited\n")
    got = _problems(root)
    assert set(got) == {img, "weave/ground_truth/hole/000_mask.png", "weave/train/good/extra.png", "README.txt"}
    assert "missing" in got[img] and "content differs" in got["weave/ground_truth/hole/000_mask.png"]
    assert "not in the manifest" in got["weave/train/good/extra.png"] and "bytes" in got["README.txt"]
    (root / MANIFEST).unlink()
    assert list(_problems(root)) == [MANIFEST] and "no manifest" in _problems(root)[MANIFEST]
    # a cache folder of several data sets is checked set by set
    a = ensure(tmp_path / "cache", categories=["weave"], **TINY)
    ensure(tmp_path / "cache", categories=["wood"], **TINY)
    assert verify_cache(tmp_path / "cache") == []
    (a / "weave/test/good/000.png").unlink()
    assert [p for p, _ in verify_cache(tmp_path / "cache")] == [a / "weave/test/good/000.png"]


def test_package_cache_regenerates_a_damaged_dataset(isolated):
    s = load_split("synthetic", "pill", **TINY)
    root = s.train[0].path.parents[3]
    assert root.parent == isolated / "cache" / "synthetic"
    victim = root / "pill/train/good/001.png"
    original = victim.read_bytes()
    victim.unlink()                                          # a deleted training image
    with pytest.warns(UserWarning, match="missing"):
        again = load_split("synthetic", "pill", **TINY)
    assert len(again.train) == 2 and victim.read_bytes() == original
    assert verify_cache(root) == [] and not list(root.parent.glob(".tmp-*"))
    # a changed image (the same size) is regenerated too
    data = bytearray(victim.read_bytes())
    data[-20] ^= 1
    victim.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="content differs"):
        load_split("synthetic", "pill", **TINY)
    assert victim.read_bytes() == original


def test_package_cache_regenerates_a_dataset_without_manifest_or_for_other_parameters(isolated):
    cache = isolated / "cache" / "synthetic"
    root = ensure(cache, categories=["weave"], **TINY)
    (root / MANIFEST).unlink()                               # as written before manifests existed
    with pytest.warns(UserWarning, match="no manifest"):
        assert ensure(cache, categories=["weave"], **TINY) == root
    assert verify_cache(root) == []
    # a data set copied under another parameter set's key is not taken for it
    other = cache / synthetic.cache_key(categories=["weave"], **{**TINY, "seed": 5})
    shutil.copytree(root, other)
    with pytest.warns(UserWarning, match="manifest is for"):
        assert ensure(cache, categories=["weave"], **{**TINY, "seed": 5}) == other
    a, b = (x / "weave/train/good/000.png" for x in (root, other))
    assert a.read_bytes() != b.read_bytes()


def test_a_damaged_dataset_in_a_given_cache_folder_is_an_error(tmp_path):
    root = ensure(tmp_path, categories=["weave"], **TINY)
    (root / "weave/test/good/000.png").unlink()
    with pytest.raises(DefectbookError, match=r"weave/test/good/000.png: missing.*delete that folder"):
        ensure(tmp_path, categories=["weave"], **TINY)
    assert root.is_dir() and (root / "weave/train/good/000.png").is_file()   # nothing of the caller's deleted


def test_the_check_is_memoised_per_process_and_sees_changes(tmp_path, monkeypatch):
    calls = []
    check = synthetic._check_manifest
    monkeypatch.setattr(synthetic, "_check_manifest", lambda *a: calls.append(1) or check(*a))
    root = ensure(tmp_path, categories=["weave"], **TINY)
    for _ in range(3):
        assert ensure(tmp_path, categories=["weave"], **TINY) == root
    assert calls == []                                       # written in this process: never rehashed
    synthetic._VERIFIED.clear()                              # as a new process
    for _ in range(3):
        ensure(tmp_path, categories=["weave"], **TINY)
    assert len(calls) == 1                                   # hashed once, then memoised
    f = root / "weave/train/good/000.png"
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[-20] ^= 1
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    with pytest.raises(DefectbookError, match="content differs"):
        ensure(tmp_path, categories=["weave"], **TINY)     # a change within the process
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))         # the same size and time stamp as before
    synthetic._VERIFIED.clear()                              # the next process rehashes
    with pytest.raises(DefectbookError, match="content differs"):
        ensure(tmp_path, categories=["weave"], **TINY)


def test_data_synth_refuses_a_file_path_and_absurd_sizes(tmp_path, capsys):
    target = tmp_path / "a_file"
    target.write_text("keep me")
    cases = [([str(target)], "is a file"), ([str(target / "sub")], "which is a file"),
             ([str(tmp_path / "x"), "--size", "0"], "at least 32"),
             ([str(tmp_path / "x"), "--size", "-5"], "at least 32"),
             ([str(tmp_path / "x"), "--size", "100000"], "too large")]
    for args, words in cases:
        assert main(["data", "synth", *args, "--n-train", "1", "--n-test-good", "1", "--n-test-defect", "0"]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("defectbook: error:") and len(err.splitlines()) == 1 and words in err, err
        assert "--size" in err or "folder" in err                # the fix is named
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]   # nothing written


def test_a_failed_generation_leaves_nothing(tmp_path, monkeypatch):
    real, n = synthetic.render_sample, []

    def failing(*a, **kw):
        n.append(1)
        if len(n) > 3:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(synthetic, "render_sample", failing)
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "out", categories=["weave"], **TINY)
    assert list(tmp_path.iterdir()) == []
    n.clear()
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "new" / "deeper" / "out", categories=["weave"], **TINY)
    assert list(tmp_path.iterdir()) == []                    # the parent folders it made are gone too
    (tmp_path / "empty").mkdir()                             # an empty folder given stays as it was
    n.clear()
    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path / "empty", categories=["weave"], **TINY)
    assert [p.name for p in tmp_path.iterdir()] == ["empty"] and not any((tmp_path / "empty").iterdir())
    monkeypatch.setattr(synthetic, "render_sample", real)
    out = generate(tmp_path / "empty", categories=["weave"], **TINY)
    assert verify_cache(out) == [] and [p.name for p in tmp_path.iterdir()] == ["empty"]


# --- parameters a detector would clip -----------------------------------------------------------

def test_padim_and_npad_refuse_more_channels_than_the_layers_have():
    x = _images(4, 32)
    with pytest.raises(DefectbookError, match=r"d=30 exceeds the 24 channels of efficientnet_lite0 layer1.*d <= 24"):
        build("padim", weights="random", layers=("layer1",), d=30, batch_size=4).fit(x)
    with pytest.raises(DefectbookError, match=r"npad: d=30 exceeds the 24 channels"):
        build("npad", weights="random", layers=("layer1",), d=30, shift=0, kmeans_iters=1, batch_size=4).fit(x)
    det = build("padim", weights="random", layers=("layer1",), d=24, batch_size=4).fit(x)   # all: allowed
    assert det.gaussians_ is not None


def test_spade_records_the_k_images_it_ran_with():
    train, test = _images(3, 32, 1), _images(2, 32, 2)
    params = dict(weights="random", layers=("layer1", "layer2"), global_layer="layer3", batch_size=4)
    torch.manual_seed(0)
    asked = build("spade", k_images=50, **params).fit(train)
    torch.manual_seed(0)
    ran = build("spade", k_images=3, **params).fit(train)
    assert asked.extras()["effective_params"] == {"k_images": 3}
    assert "effective_params" not in ran.extras()
    assert np.array_equal(asked.predict(test).image_scores, ran.predict(test).image_scores)


def test_patchcore_records_target_dim_and_neighbours_as_they_ran():
    x = _images(2, 32)
    det = build("patchcore", weights="random", layers=("layer1", "layer2"), target_dim=1024, proj_dim=16,
                coreset_ratio=0.2, batch_size=2).fit(x)      # 26 of 128 patches
    eff = det.extras()["effective_params"]
    assert eff["target_dim"] == 64 == det.extras()["patch_dim"]            # 24 + 40 channels
    assert "proj_dim" not in eff and "num_neighbors" not in eff
    small = build("patchcore", weights="random", layers=("layer2",), target_dim=16, proj_dim=64,
                  coreset_ratio=0.01, num_neighbors=9, batch_size=2).fit(x)
    m = small.extras()["memory_size"]
    assert m < 9 and small.extras()["effective_params"] == {"proj_dim": None, "num_neighbors": m}
    exact = build("patchcore", weights="random", layers=("layer2",), target_dim=16, proj_dim=8, coreset_ratio=0.5,
                  batch_size=2).fit(x)
    assert "effective_params" not in exact.extras()


def test_nearest_neighbour_records_the_pca_it_ran_with():
    x = _images(2, 48)
    det = build("knn", pca=64, layer="layer3", weights="random", scales=[1.0], train_bank=2, test_transforms=2,
                feature_batch=4).fit(x)
    assert det.extras()["effective_params"] == {"pca": 3}                  # 4 vectors: at most 3 components
    det = build("knn", pca=2, layer="layer3", weights="random", scales=[1.0], train_bank=2, test_transforms=2,
                feature_batch=4).fit(x)
    assert det.extras() == {}


def test_trustmae_records_the_discriminator_depth_it_ran_with(one_thread):
    tiny = dict(width=4, latent=16, n_down=2, slots=8, k=3, feature_net=None, disc_width=4, epochs=1,
                batch_size=4, perceptual=False)
    det = build("trustmae", **tiny, disc_layers=6).fit(_images(4, 16))
    assert len(det.disc_.blocks) == 3 and det.extras()["effective_params"] == {"disc_layers": 3}
    det = build("trustmae", **tiny, disc_layers=2).fit(_images(4, 16))
    assert "effective_params" not in det.extras()


def test_ndpnet_refuses_a_wide_head_and_records_capped_patch_sizes(one_thread):
    tiny = dict(widths=(4, 8, 8, 16, 16), ffm_channels=8, epochs=1, epochs2=1, batch_size=4, perceptual=None)
    with pytest.raises(DefectbookError, match=r"seg_width=16 exceeds 8"):
        build("ndpnet", **tiny, seg_width=16)
    det = build("ndpnet", **tiny, seg_width=8, seed=0).fit(_images(4, 32))
    assert det.extras()["effective_params"] == {"ks": {"layer5": [2, 2]}}   # a 2 x 2 map has no 4 x 4 patch
    det = build("ndpnet", **tiny, seg_width=8, ks=(2,), seed=0).fit(_images(4, 32))
    assert "effective_params" not in det.extras()


_AT_ONCE = """
import sys, time, torch
from defectbook.methods import differnet
from defectbook.methods.differnet import MultiTransformFeatures
torch.set_num_threads(1)
calls = []
real = differnet.padded_call
differnet.padded_call = lambda *a, **k: calls.append(1) or real(*a, **k)
x = torch.rand(6, 3, 48, 48, generator=torch.Generator().manual_seed(0))
f = MultiTransformFeatures("efficientnet_lite0", "layer3", weights="random", scales=[1.0], batch_size=2)
while time.time() < float(sys.argv[1]):   # both processes ask at the same moment
    time.sleep(0.01)
y = f.transformed(x, [{"angle": a} for a in (0.0, 30.0, 60.0, 90.0)])
print(len(calls), float(y.sum()))
"""


def test_features_asked_for_by_two_processes_at_once_are_computed_once(cache, tmp_path):
    """Two processes of one build (a cluster's workers: DifferNet and OC-SVM of one page) asking for the same
    DifferNet features at the same moment: one computes them under the key's lock, the other waits and reads
    them from the cache. Both get the same numbers."""
    import subprocess
    import sys
    import time

    start = str(time.time() + 8)   # after both have imported torch and built the extractor
    env = {**os.environ, "DEFECTBOOK_FEATURE_CACHE": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", _AT_ONCE, start], stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate(timeout=180)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    calls = sorted(int(o[0]) for o in outs)
    assert calls[0] == 0 and calls[1] > 0, calls          # one process computed, the other read
    assert outs[0][1] == outs[1][1]
    assert list(cache.folder().glob("*.lock")) and len(list(cache.folder().glob("*.pt"))) == 1
