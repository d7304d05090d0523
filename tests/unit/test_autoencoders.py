import pytest
import torch

from defectbook import DefectbookError
from defectbook.methods.autoencoders import AEL2, BergmannAE, augment_batch
from defectbook.methods.memae import MemAEMemory


def test_augment_gives_symmetries_of_the_square():
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(64, 3, 1, 1)
    y = augment_batch(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape
    ref = x[0, 0]
    syms = {tuple(torch.rot90(f, k).flatten().tolist()) for f in (ref, ref.flip(-1)) for k in range(4)}
    seen = {tuple(y[i, 0].flatten().tolist()) for i in range(64)}
    assert seen <= syms and len(seen) >= 6                 # every output is a symmetry; most of them occur
    assert torch.equal(y[:, 0], y[:, 2])                    # channels move together


def test_bergmann_ae_shapes_and_latent():
    ae = BergmannAE(64, latent=100, width=0.25)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    z = ae.encoder(x)
    assert z.shape == (2, 100, 1, 1)
    r, _ = ae(x)
    assert r.shape == x.shape
    with pytest.raises(DefectbookError):
        BergmannAE(40)


def test_memae_hard_shrink_addressing():
    torch.manual_seed(0)
    mem = MemAEMemory(slots=32, dim=8, shrink=1 / 32)   # lambda = 1/N (Gong et al.)
    w = mem.address(torch.randn(20, 8))
    assert torch.allclose(w.sum(1), torch.ones(20), atol=1e-5)
    assert (w == 0).any()                                   # weights below the threshold are cut
    dense = MemAEMemory(slots=32, dim=8, shrink=0.0).address(torch.randn(4, 8))
    assert (dense > 0).all()


def test_reconstruction_detector_checks():
    with pytest.raises(DefectbookError):
        AEL2(pooling="median")
    with pytest.raises(DefectbookError):
        AEL2(epochs=0)
    with pytest.raises(DefectbookError):
        AEL2(width=0.25, latent=8, epochs=1).fit(torch.rand(4, 3, 32, 48))
