"""Tiny data and configs for the tests that run the pipeline end to end."""
import numpy as np
from PIL import Image


def write_toy_mvtec(root, n_train=8, n_good=3, n_bad=3, size=48, seed=0):
    """A tiny MVTec-layout category 'toy' with square stains and exact masks."""
    rng = np.random.default_rng(seed)
    cat = root / "mvtec" / "toy"

    def img():
        base = rng.normal(0.5, 0.05, (size // 8, size // 8))
        return np.kron(base, np.ones((8, 8)))

    def save(a, p):
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.clip(a, 0, 1) * 255).astype(np.uint8)).save(p)

    for i in range(n_train):
        save(img(), cat / "train" / "good" / f"{i:03d}.png")
    for i in range(n_good):
        save(img(), cat / "test" / "good" / f"{i:03d}.png")
    for i in range(n_bad):
        a, m = img(), np.zeros((size, size))
        y, x = rng.integers(4, size - 16, 2)
        a[y:y + 12, x:x + 12] = 0.95
        m[y:y + 12, x:x + 12] = 1
        save(a, cat / "test" / "stain" / f"{i:03d}.png")
        save(m, cat / "ground_truth" / "stain" / f"{i:03d}_mask.png")
    return root


def cfg(root, **kw):
    """A PaDiM experiment config on the toy category under ``root`` (smoke profile); ``kw`` overrides."""
    c = {"method": "padim", "params": {"d": 16, "batch_size": 8}, "dataset": "mvtec", "category": "toy",
         "transform": {"resize": 48, "crop": None}, "data_root": str(root), "profile": "smoke", "save_maps": 3}
    c.update(kw)
    return c


def write_toy_folder(root, mvtec_root):
    """The toy category of ``mvtec_root`` (:func:`write_toy_mvtec`) in the folder layout under ``root``: its
    defect-free images in ``normal/``, the defective ones in ``abnormal/``, their masks in ``masks/``."""
    import shutil

    cat = mvtec_root / "mvtec" / "toy"
    normal = sorted((cat / "train" / "good").glob("*.png")) + sorted((cat / "test" / "good").glob("*.png"))
    for i, p in enumerate(normal):
        (root / "normal").mkdir(parents=True, exist_ok=True)
        shutil.copy(p, root / "normal" / f"n{i:03d}.png")
    for sub, dest in (("test/stain", "abnormal"), ("ground_truth/stain", "masks")):
        shutil.copytree(cat / sub, root / dest)
    return root
