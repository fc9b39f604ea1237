"""Pack what a lent GPU machine needs for ``benchmarks/device_recipes.sh`` into ``.device/`` (git-ignored).

The device tool sends the working tree plus the paths named in ``carry``: 64 MiB in all, with no access to
``../shared``. The Kaggle set is 151 MiB as shipped, so it travels re-encoded; the BraTS-2015-derived set (26 MiB)
travels as it is; the Python packages the machine lacks travel as wheels::

    python -m tools.device_pack kaggle --size 224 --quality 75   # .device/kaggle-224 (pipeline 3's size)
    python -m tools.device_pack kaggle --size 256 --quality 60   # .device/kaggle-256 (pipeline 2's size)
    python -m tools.device_pack brats2015                        # .device/brats2015 (a copy)
    python -m tools.device_pack wheels                           # .device/wheels (CPython 3.12, x86-64)
    python -m tools.device_pack lesion --size 128 --quality 75   # .device/lesion-128 (the lesion benchmark's data)
    python -m tools.device_pack --describe .device/kaggle-224    # the pack's line in a record's note

A Kaggle pack keeps every file's folder and stem (suffix ``.jpg``): each image is read with the bundles' reader,
made grey, resized to ``size`` x ``size`` with area averaging (the bundles' own resize, which then has nothing left
to do at that size) and written as an 8-bit grey JPEG whose comment holds the source's SHA-256, so that sources that
look alike once small stay distinct files. ``PACKED.json`` in the pack holds the command, the settings, one row per
source file (its SHA-256 and the packed file's) and two checks: byte-identical sources are byte-identical packed
files and no others are, and the bundles' datalists of the pack hold the same files, labels, duplicate marks and
Testing list as those of the source (the training/validation split is seeded but orders duplicate groups by their
SHA-256, so the count of files in one validation list only is recorded too). An unreadable source is listed there
and left out; the script then exits 1. The pack is written beside its destination and renamed into place when
complete.

The ``lesion`` pack is a whole data root for ``benchmarks/external_validation.py``: the Kaggle set packed as above, the
110-patient LGG set (its ``kaggle_3m`` folder, 1.1 GiB as shipped) with every slice area-resized to ``size`` (the
bundles' own resize, as for Kaggle) and stored as a 3-channel TIFF with JPEG compression (the three sequences stay
three channels: TIFF's JPEG keeps RGB planes, without the colour subsampling of a JPEG file), every mask as it is
(zlib: lossless, so the tumour areas that cut the slice lists are those of the source; its ``PACKED.json`` compares
the LGG datalists of pack and source), and the IXI volumes copied. The Siemens volunteer's DICOM series (34 MiB)
does not fit; a device run scores no other scanner (``--other_healthy "[]"``).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image

from monai.transforms import EnsureChannelFirst, LoadImage, Resize

from monai_tumorcls.config import get_brats2015_root, get_data_root, get_kaggle_root
from monai_tumorcls.data import (IXI_DIRNAME, LGG_DIRNAME, RasterImageReader, build_kaggle_datalists, file_sha256,
                                 list_images, lgg_slice_items, scan_lgg_folder)
from monai_tumorcls.utils import shell_join

ROOT = Path(__file__).resolve().parents[1]

DEVICE_DIR = ROOT / ".device"
#: what the GPU machine's image lacks among the packages a bundle run imports (its list: the device tool's KINDS.md)
DEVICE_WHEELS = ("monai", "pytorch-ignite", "nibabel", "pydicom", "fire", "termcolor")
PIP_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def grey_square(path: str | Path, size: int, load: LoadImage) -> np.ndarray:
    """``path`` read by ``load``, averaged over its colour channels and area-resized to ``size`` x ``size``."""
    image = EnsureChannelFirst()(load(path))
    grey = image[:3].mean(dim=0, keepdim=True) if image.shape[0] >= 3 else image[:1]
    resized = Resize((size, size), mode="area")(grey)
    return np.clip(np.asarray(resized[0]).round(), 0, 255).astype(np.uint8)


def jpeg_bytes(pixels: np.ndarray, quality: int, source_sha256: str) -> bytes:
    """Grey JPEG of ``pixels`` whose comment names its source: distinct sources that look alike once grey and small
    stay distinct files, so the datalists' byte-duplicate marks and groups are those of the original set."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, "JPEG", quality=quality, optimize=True,
                                           comment=f"source sha256 {source_sha256}")
    return buffer.getvalue()


def duplicate_partition(rows: list[dict], key: str) -> set[frozenset]:
    """The groups (two or more files) of ``rows`` sharing the hash ``key``, as sets of source names."""
    groups = defaultdict(set)
    for row in rows:
        groups[row[key]].add(row["source"])
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def pack_images(source: Path, dest: Path, size: int, quality: int) -> dict:
    """Re-encode every image below ``source`` into the same relative place below ``dest`` (see the module doc)."""
    rows, failed = [], []
    load = LoadImage(reader=RasterImageReader(reverse_indexing=False), image_only=True)  # the bundles' reader
    for path in list_images(source):
        rel = path.relative_to(source)
        source_sha256 = file_sha256(path)
        try:
            data = jpeg_bytes(grey_square(path, size, load), quality, source_sha256)
        except Exception as e:  # one bad file is recorded, the others are packed
            failed.append({"source": str(rel), "error": f"{type(e).__name__}: {e}".splitlines()[0]})
            continue
        out = (dest / rel).with_suffix(".jpg")
        if out.exists():  # x.png beside x.jpg
            failed.append({"source": str(rel), "error": f"packed name {out.relative_to(dest)} is another file's"})
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
        rows.append({"source": str(rel), "packed": str(out.relative_to(dest)), "source_sha256": source_sha256,
                     "sha256": hashlib.sha256(data).hexdigest()})  # the bytes just written
    same = duplicate_partition(rows, "source_sha256") == duplicate_partition(rows, "sha256")
    return {"size": size, "quality": quality, "num_packed": len(rows), "failed": failed,
            "duplicates_preserved": same, "files": rows}


def write_pack(dest: Path, fill, command: str = "") -> dict:
    """Build the pack in ``<dest>.partial`` with ``fill(folder) -> summary``, then rename it to ``dest``."""
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    summary = {"command": command, **fill(partial)}
    (partial / "PACKED.json").write_text(json.dumps(summary, indent=1) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return summary


def compare_datalists(source: Path, packed: Path) -> dict:
    """The bundles' Kaggle datalists (both tasks, default seed) of ``packed`` against those of ``source``: whether
    they list the same files with the same labels and duplicate marks, whether Testing is the same list, and how many
    files are in one validation list only. There may be some: the split shuffles duplicate groups in the order of
    their SHA-256, and packing changes every file's bytes."""

    def lists(root: Path, task: str) -> dict:
        def name(item: dict) -> str:  # the packed name of a source file: its suffix becomes .jpg
            return str(Path(item["image"]).relative_to(root.resolve()).with_suffix(".jpg"))

        return {split: [(name(it), it["label"], it["duplicate_in_training"]) for it in items]
                for split, items in build_kaggle_datalists(root, task).items()}

    result = {}
    for task in ("binary", "4class"):
        src, dst = lists(source, task), lists(packed, task)
        result[task] = {"same_files": sorted(sum(src.values(), [])) == sorted(sum(dst.values(), [])),
                        "same_testing": src["testing"] == dst["testing"],
                        "in_one_validation_list_only": len(set(src["validation"]) ^ set(dst["validation"]))}
    return result


def pack_kaggle(dest: Path, size: int, quality: int, command: str = "") -> dict:
    source = get_kaggle_root()

    def fill(folder: Path) -> dict:
        summary = pack_images(source, folder / source.name, size, quality)
        return {**summary, "datalists": compare_datalists(source, folder / source.name)}

    return write_pack(dest, fill, command)


def pack_brats2015(dest: Path, command: str = "") -> dict:
    source = get_brats2015_root()

    def copy(folder: Path) -> dict:
        shutil.copytree(source, folder / source.name)
        return {"copied_from": str(source), "failed": [], "duplicates_preserved": True}

    return write_pack(dest, copy, command)


def lgg_slice_tiff(source: Path, size: int, quality: int) -> bytes:
    """The LGG slice ``source`` (256x256x3) area-resized to ``size`` and stored as a JPEG-compressed RGB TIFF."""
    import tifffile

    pixels = tifffile.imread(source)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) slice, got shape {pixels.shape}")
    resized = Resize((size, size), mode="area")(np.moveaxis(pixels, 2, 0).astype(np.float32))
    buffer = io.BytesIO()
    rgb = np.clip(np.moveaxis(np.asarray(resized), 0, 2).round(), 0, 255).astype(np.uint8)
    Image.fromarray(rgb, mode="RGB").save(buffer, "TIFF", compression="jpeg", quality=quality)
    return buffer.getvalue()


def mask_tiff(source: Path) -> bytes:
    """The mask ``source`` as it is, zlib-compressed (lossless)."""
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, tifffile.imread(source), compression="zlib")
    return buffer.getvalue()


def pack_lgg(source: Path, dest: Path, size: int, quality: int) -> dict:
    """Every ``*.tif`` of the LGG folder ``source`` into the same place below ``dest`` (see the module doc)."""
    num_packed, failed = 0, []
    for path in sorted(source.rglob("*.tif")):
        rel = path.relative_to(source)
        try:
            data = mask_tiff(path) if path.name.endswith("_mask.tif") else lgg_slice_tiff(path, size, quality)
        except Exception as e:  # one bad file is recorded, the others are packed
            failed.append({"source": str(rel), "error": f"{type(e).__name__}: {e}".splitlines()[0]})
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes(data)
        num_packed += 1
    return {"num_packed": num_packed, "failed": failed}


def compare_lgg_datalists(source: Path, packed: Path) -> dict:
    """Whether the LGG slice items of ``packed`` (every sequence) are those of ``source``: the same slices, tumour
    areas, labels and sequences."""

    def items(root: Path) -> list[tuple]:
        return [(str(Path(it["image"]).relative_to(root.resolve())), it["tumour_area"], it["label"], it["sequence"])
                for it in lgg_slice_items(scan_lgg_folder(root))]

    return {"same_items": items(source) == items(packed)}


def pack_lesion(dest: Path, size: int, quality: int, command: str = "") -> dict:
    """The lesion benchmark's data root: Kaggle and LGG packed, IXI copied (module doc)."""
    root = get_data_root(must_exist=True)
    kaggle, lgg = get_kaggle_root(), root / LGG_DIRNAME

    def fill(folder: Path) -> dict:
        kaggle_summary = pack_images(kaggle, folder / kaggle.name, size, quality)
        lgg_summary = pack_lgg(lgg, folder / LGG_DIRNAME, size, quality)
        shutil.copytree(root / IXI_DIRNAME, folder / IXI_DIRNAME)
        return {"size": size, "quality": quality,
                "num_packed": kaggle_summary["num_packed"] + lgg_summary["num_packed"],
                "failed": kaggle_summary["failed"] + lgg_summary["failed"],
                "duplicates_preserved": kaggle_summary["duplicates_preserved"],
                "datalists": {**compare_datalists(kaggle, folder / kaggle.name),
                              "lgg": compare_lgg_datalists(lgg, folder / LGG_DIRNAME)},
                "files": kaggle_summary["files"]}

    return write_pack(dest, fill, command)


def download_wheels(dest: Path, command: str = "") -> dict:
    """The installed versions of ``DEVICE_WHEELS`` as CPython 3.12 x86-64 wheels (the GPU machine's Python)."""
    pins = [f"{name}=={version(name)}" for name in DEVICE_WHEELS]
    platforms = [arg for p in PIP_PLATFORMS for arg in ("--platform", p)]

    def download(folder: Path) -> dict:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                        "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(folder), *pins],
                       check=True)
        return {"wheels": pins, "failed": [], "duplicates_preserved": True}

    return write_pack(dest, download, command)


def describe_pack(folder: Path) -> str:
    """One line for a record's note: which pack, as what (from its ``PACKED.json``)."""
    summary = json.loads((folder / "PACKED.json").read_text())
    what = (f"{summary['size']} px JPEG q{summary['quality']} of {summary['num_packed']} images"
            if "size" in summary else "copied as shipped")
    if "lgg" in summary.get("datalists", {}):
        what = f"Kaggle grey and LGG 3-sequence {what}, IXI as shipped"
    elif "size" in summary:
        what = f"grey {what}"
    return f"data pack {folder.name}: {what} (tools/device_pack.py)"


def pack_size_mib(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", nargs="?", choices=("kaggle", "lesion", "brats2015", "wheels"))
    p.add_argument("--describe", type=Path, metavar="PACK", help="print the note line of a made pack and stop")
    p.add_argument("--size", type=int, default=224, help="kaggle, lesion: side of the packed images (pixels)")
    p.add_argument("--quality", type=int, default=75, help="kaggle, lesion: JPEG quality")
    p.add_argument("--out", type=Path, default=None, help="pack folder (default .device/<what>[-<size>])")
    args = p.parse_args(argv)
    if args.describe:
        print(describe_pack(args.describe))
        return 0
    if not args.what:
        p.error("name what to pack (kaggle, lesion, brats2015 or wheels) or --describe a pack")
    sized = args.what in ("kaggle", "lesion")
    dest = args.out or DEVICE_DIR / (f"{args.what}-{args.size}" if sized else args.what)
    command = shell_join(["python", "-m", "tools.device_pack", *argv])
    if sized:
        summary = (pack_kaggle if args.what == "kaggle" else pack_lesion)(dest, args.size, args.quality, command)
    else:
        summary = (pack_brats2015 if args.what == "brats2015" else download_wheels)(dest, command)
    for bad in summary["failed"]:
        print(f"{bad['source']}: {bad['error']}", file=sys.stderr)
    same_lists = all(v.get("same_items", v.get("same_files") and v.get("same_testing"))
                     for v in summary.get("datalists", {}).values())
    print(f"{dest}: {pack_size_mib(dest):.1f} MiB, {summary.get('num_packed', '-')} images packed, "
          f"{len(summary['failed'])} failed, duplicates preserved: {summary['duplicates_preserved']}, "
          f"datalists: {json.dumps(summary.get('datalists', '-'))}")
    return 0 if summary["duplicates_preserved"] and same_lists and not summary["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
