"""Download the public datasets into a data root (``defectbook data fetch NAME --root ROOT``).

Never run by the tests. Archives are verified against a SHA-256 where one is pinned; one without
is downloaded only with ``allow_unverified`` (``--allow-unverified``) and reported UNVERIFIED, and must
open as a complete zip/tar archive. A download is written to ``<name>.part`` and renamed when complete;
an archive left in ``ROOT/.downloads`` by an earlier run is reused only when it passes the same checks
(else it is deleted and downloaded again). MVTec AD is licensed CC BY-NC-SA 4.0 (non-commercial); MTD
asks to be cited; DAGM 2007 is CC BY 4.0 (Zenodo record 12750201).
"""
from __future__ import annotations

import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import DefectbookError
from ..paths import file_sha256


@dataclass(frozen=True)
class Archive:
    url: str
    filename: str
    sha256: str | None  # None: no published checksum, the download is unverified


@dataclass(frozen=True)
class Source:
    name: str
    target: str                    # folder under the data root the loader expects
    archives: tuple[Archive, ...]
    homepage: str
    license: str
    note: str = ""


SOURCES: dict[str, Source] = {
    "mtd": Source(
        "Magnetic Tile Defects", "mtd",
        (Archive("https://github.com/abin24/Magnetic-tile-defect-datasets./archive/refs/heads/master.zip",
                 "Magnetic-tile-defect-datasets.-master.zip", None),),
        "https://github.com/abin24/Magnetic-tile-defect-datasets.",
        "no license file; the authors ask to be cited (Huang, Qiu, Yuan, The Visual Computer 2020)",
        "the paper split list differnet_train_filenames.txt (DifferNet's 761 training images) is not part of "
        "this archive: place it in mtd/ for split='paper', or use split='random'"),
    "mvtec": Source(
        "MVTec AD", "mvtec",
        (Archive("https://www.mydrive.ch/shares/38536/3830184030e49fe74747669442f0f282/download/"
                 "420938113-1629952094/mvtec_anomaly_detection.tar.xz", "mvtec_anomaly_detection.tar.xz",
                 "cf4313b13603bec67abb49ca959488f7eedce2a9f7795ec54446c649ac98cd3d"),),
        "https://www.mvtec.com/company/research/datasets/mvtec-ad", "CC BY-NC-SA 4.0", "about 4.9 GB"),
    "dagm": Source(
        "DAGM 2007", "dagm",
        tuple(Archive(f"https://zenodo.org/records/12750201/files/Class{i}.zip?download=1", f"Class{i}.zip", None)
              for i in range(1, 11)),
        "https://zenodo.org/records/12750201", "CC BY 4.0"),
}


def verify(path: Path, sha256: str | None) -> bool:
    """True if ``path`` matches ``sha256``; False when there is no checksum to compare (unverified).

    A mismatch raises a :class:`DefectbookError` naming both hashes.
    """
    path = Path(path)
    if not path.is_file():
        raise DefectbookError(f"cannot verify {path}: file not found")
    if sha256 is None:
        return False
    got = file_sha256(path)
    if got.lower() != sha256.lower():
        raise DefectbookError(
            f"checksum mismatch for {path.name}: expected sha256 {sha256}, got {got}; delete it and retry"
        )
    return True


def archive_problem(path: Path, sha256: str | None, filename: str | None = None) -> str | None:
    """What is wrong with a downloaded archive, or None when it is sound (``filename``, default the
    path's name, says whether it is a zip or a tar archive).

    With a pinned ``sha256`` the file must match it; without one it must open as a complete zip or tar
    archive whose every member reads back (a download cut short fails this: a zip loses its central
    directory, a tar stream ends early), so a broken archive is never extracted or kept for reuse.
    """
    path = Path(path)
    if not path.is_file():
        return "file not found"
    if path.stat().st_size == 0:
        return "the file is empty"
    if sha256 is not None:
        got = file_sha256(path)
        return None if got.lower() == sha256.lower() else f"its sha256 {got} is not the pinned {sha256}"
    filename = filename or path.name
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
            return None if bad is None else f"member {bad} of the zip archive is corrupt"
        if ".tar" in filename:
            with tarfile.open(path) as t:
                for member in t:
                    f = t.extractfile(member) if member.isfile() else None
                    if f is not None:
                        while f.read(1 << 20):
                            pass
            return None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as e:
        return f"not a complete {'zip' if filename.endswith('.zip') else 'tar'} archive ({type(e).__name__}: {e})"
    return None


def _download(url: str, dest: Path) -> None:
    """Write the body of ``url`` to ``dest`` (:func:`fetch` gives a temporary name and renames it once
    the archive is checked); a body shorter than the announced Content-Length is an error."""
    import urllib.request

    from tqdm import tqdm

    try:
        req = urllib.request.Request(url, headers={"User-Agent": "defectbook"})
        with urllib.request.urlopen(req, timeout=60) as r, open(dest, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0) or None
            done = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name) as bar:
                while True:
                    block = r.read(1 << 20)
                    if not block:
                        break
                    f.write(block)
                    done += len(block)
                    bar.update(len(block))
    except OSError as e:
        raise DefectbookError(f"download of {url} failed: {e}; run the command again to retry") from None
    if total is not None and done != total:
        raise DefectbookError(f"download of {url} ended after {done} of {total} bytes; run the command again to retry")


def _fetch_archive(a: Archive, dest: Path) -> None:
    """Make ``dest`` a sound copy of archive ``a``: an earlier copy is reused only when it passes
    :func:`archive_problem` (else it is deleted, with a line saying so); a download goes to
    ``<name>.part`` and takes the archive's name only once complete and sound."""
    if dest.is_file():
        problem = archive_problem(dest, a.sha256)
        if problem is None:
            print(f"{a.filename}: reusing the archive downloaded before ({dest})")
            return
        dest.unlink()
        print(f"{a.filename}: deleted the archive left by an earlier download ({problem}); downloading it again")
    part = dest.with_name(dest.name + ".part")
    part.unlink(missing_ok=True)
    try:
        _download(a.url, part)
        problem = archive_problem(part, a.sha256, a.filename)
        if problem is not None:
            raise DefectbookError(f"the download of {a.filename} is unusable ({problem}) and was deleted; run the "
                                  f"command again to retry, or download {a.url} yourself into {dest.parent}")
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)


def _extract(archive: Path, into: Path) -> None:
    into.mkdir(parents=True, exist_ok=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                z.extractall(into)
        elif ".tar" in archive.name:
            with tarfile.open(archive) as t:
                try:
                    t.extractall(into, filter="data")
                except TypeError:  # Python < 3.10.12 has no filter argument
                    t.extractall(into)
        else:
            raise DefectbookError(f"do not know how to extract {archive.name}")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError) as e:
        raise DefectbookError(f"cannot extract {archive}: {type(e).__name__}: {e}; delete it and run the command "
                              f"again") from None


def fetch(name: str, root, keep_archive: bool = False, allow_unverified: bool = False) -> Path:
    """Download, verify and extract dataset ``name`` (``mtd``, ``mvtec``, ``dagm``) under ``root``.

    Archives without a pinned SHA-256 (MTD: a GitHub branch archive that changes with the branch;
    DAGM: Zenodo files whose checksums are not pinned here) are refused unless ``allow_unverified``;
    then each is reported UNVERIFIED with the SHA-256 it had. Returns the dataset folder
    (``root/mtd``, ``root/mvtec`` or ``root/dagm``).
    """
    if name not in SOURCES:
        raise DefectbookError(f"unknown dataset to fetch {name!r}; known: {', '.join(SOURCES)}")
    src = SOURCES[name]
    unpinned = [a.filename for a in src.archives if a.sha256 is None]
    if unpinned and not allow_unverified:
        raise DefectbookError(f"{src.name}: no pinned checksum for {unpinned[0]}"
                              f"{f' (and {len(unpinned) - 1} more)' if len(unpinned) > 1 else ''}, so the download "
                              f"cannot be verified; rerun with --allow-unverified to download it anyway")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = root / src.target
    downloads = root / ".downloads"
    downloads.mkdir(exist_ok=True)
    print(f"{src.name}: {src.homepage} ({src.license})")
    for a in src.archives:
        dest = downloads / a.filename
        _fetch_archive(a, dest)  # sound: it matches the pinned sha256, or opens as a complete archive
        if a.sha256 is not None:
            print(f"{a.filename}: sha256 verified")
        else:
            print(f"{a.filename}: UNVERIFIED download (no pinned checksum; it has sha256 {file_sha256(dest)})")
        staging = downloads / f"extract-{name}"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            _extract(dest, staging)
            _place(name, staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if not keep_archive:
            dest.unlink(missing_ok=True)
    if src.note:
        print(f"note: {src.note}")
    return target


def _place(name: str, staging: Path, target: Path) -> None:
    """Move the extracted content into the layout the loaders read."""
    target.mkdir(parents=True, exist_ok=True)
    if name == "mtd":
        free = next(staging.rglob("MT_Free"), None)
        if free is None:
            raise DefectbookError("the MTD archive holds no MT_Free folder")
        src = free.parent
    elif name == "mvtec":
        cats = [p.parent.parent for p in staging.rglob("train/good")]
        if not cats:
            raise DefectbookError("the MVTec archive holds no CAT/train/good folders")
        src = cats[0].parent
    else:
        cls = [p for p in staging.rglob("Class*") if p.is_dir() and (p / "Train").is_dir()]
        if not cls:
            raise DefectbookError("the DAGM archive holds no ClassN/Train folder")
        src = cls[0].parent
    for item in src.iterdir():
        dest = target / item.name
        if dest.exists():
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        shutil.move(str(item), str(dest))
