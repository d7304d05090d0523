"""defectbook: an executable companion to four papers on unsupervised industrial defect detection.

The package is thin on purpose: one module per method under :mod:`defectbook.methods`, shared parts
(backbones, Gaussians, metrics, data) written once.  Notebooks call :func:`defectbook.pipeline.run.run`.
"""

__version__ = "0.1.0"


class DefectbookError(Exception):
    """A user-facing error: its message is one clear line saying what is wrong and what to do."""
