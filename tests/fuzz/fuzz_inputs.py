"""Fuzz driver, run in its own process by ``test_fuzz_inputs.py``: ``python -m tests.fuzz.fuzz_inputs SUMMARY_JSON``.

Seeded random mutations of real PNG, JPEG, DICOM and NIfTI files (``$MONAI_DATA_DIRECTORY``) go through the image
path (the bundle's own preprocessing in :class:`~monai_tumorcls.data.FailSafeDataset`, a network,
:class:`~monai_tumorcls.handlers.PredictionWriter`) and the clinical path
(:class:`~monai_tumorcls.apps.clinical.ClinicalInferer`, one input at a time). The process caps its own address space
(``RLIMIT_AS``, ``MEMORY_HEADROOM`` above what it uses after the imports), so a reader that believes a declared
size runs out of memory here instead of on a user's machine; the summary says what became of every input.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

MEMORY_HEADROOM = 3 << 30  # bytes of address space allowed above the state after imports
SEED = 20261129
N_IMAGE_MUTANTS = 32  # per image format
N_NIFTI_MUTANTS = 14  # per NIfTI encoding (.nii, .nii.gz)
N_DICOM_FOLDERS = 8  # copies of a real series with some files mutated
N_DICOM_FILES = 4  # single mutated DICOM files given as inputs

DATA = Path(os.environ.get("MONAI_DATA_DIRECTORY", Path(__file__).resolve().parents[3] / "shared" / "data"))
SEEDS = {
    "png": DATA / "brain-tumor-mri-dataset/Training/notumor/Tr-no_1019.jpg",  # a PNG named .jpg upstream
    "jpg": DATA / "brain-tumor-mri-dataset/Testing/notumor/Te-no_0183.jpg",
    "nii.gz": DATA / "ixi-healthy-t1-2mm/t1/IXI255-HH-1882_T1.nii.gz",
    "dicom": DATA / "dicom/ge-epi-brain-small",
}


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One of: flipped bytes anywhere, flipped header bytes, a truncation, a run of 0x00/0xFF, or a large
    integer written over the header (declared sizes)."""
    b = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 32)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == 1:
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(min(len(b), 1024))] = rng.randrange(256)
    elif kind == 2:
        del b[rng.randrange(len(b)) :]
    elif kind == 3:
        start = rng.randrange(len(b))
        b[start : start + rng.randint(1, 4096)] = bytes([rng.choice((0, 255))]) * rng.randint(1, 4096)
    else:
        start = rng.randrange(min(len(b), 1024) - 4)
        b[start : start + 4] = rng.choice((b"\xff\xff\xff\x7f", b"\x7f\xff\xff\xff", b"\x00\x40\x00\x40", b"\xff\xff"))
    return bytes(b)


def declare_huge(data: bytes, fmt: str) -> bytes:
    """``data`` with its header declaring a huge image (the pixels are not there): PNG 30000x30000, JPEG
    65000x65000, NIfTI 1024x1024x128 (the volume of the issue), DICOM 65535x65535."""
    b = bytearray(data)
    if fmt == "png":
        b[16:24] = (30000).to_bytes(4, "big") * 2  # IHDR width, height
    elif fmt == "jpg":
        sof = next(i for i in range(len(b) - 1) if b[i] == 0xFF and b[i + 1] in (0xC0, 0xC1, 0xC2))
        b[sof + 5 : sof + 9] = (65000).to_bytes(2, "big") * 2  # SOF height, width
    elif fmt == "nii":
        b[42:48] = b"".join(n.to_bytes(2, "little") for n in (1024, 1024, 128))  # dim[1..3]
    else:  # DICOM, explicit VR little endian: (0028,0010) Rows and (0028,0011) Columns
        for tag in (b"\x28\x00\x10\x00US\x02\x00", b"\x28\x00\x11\x00US\x02\x00"):
            at = b.index(tag) + len(tag)
            b[at : at + 2] = b"\xff\xff"
    return bytes(b)


def write_mutants(root: Path, rng: random.Random) -> dict[str, list[Path]]:
    """The mutated files and folders, by path."""
    import gzip

    out: dict[str, list[Path]] = {"images": [], "clinical": []}
    (root / "images").mkdir(parents=True)
    for ext in ("png", "jpg"):
        seed = SEEDS[ext].read_bytes()
        out["images"].append(root / "images" / f"{ext}_huge.{ext}")
        out["images"][-1].write_bytes(declare_huge(seed, ext))
        for i in range(N_IMAGE_MUTANTS):
            out["images"].append(root / "images" / f"{ext}_{i:02d}.{ext}")
            out["images"][-1].write_bytes(mutate(seed, rng))
    gz = SEEDS["nii.gz"].read_bytes()
    (root / "nifti").mkdir()
    out["clinical"].append(root / "nifti" / "huge.nii")
    out["clinical"][-1].write_bytes(declare_huge(gzip.decompress(gz), "nii"))
    for ext, seed in (("nii", gzip.decompress(gz)), ("nii.gz", gz)):
        for i in range(N_NIFTI_MUTANTS):
            path = root / "nifti" / f"{ext.replace('.', '_')}_{i:02d}.{ext}"
            data = mutate(seed, rng)
            path.write_bytes(gzip.compress(data, 1) if ext == "nii.gz" and rng.random() < 0.5 else data)
            out["clinical"].append(path)
    series = sorted(SEEDS["dicom"].iterdir())
    for i in range(N_DICOM_FOLDERS):
        folder = root / "dicom" / f"series_{i:02d}"
        shutil.copytree(SEEDS["dicom"], folder)
        for f in rng.sample(sorted(folder.iterdir()), rng.randint(1, 4)):
            f.chmod(0o644)
            f.write_bytes(mutate(f.read_bytes(), rng))
        out["clinical"].append(folder)
    huge = root / "dicom" / "series_huge"
    shutil.copytree(SEEDS["dicom"], huge)
    for f in sorted(huge.iterdir()):
        f.chmod(0o644)
        f.write_bytes(declare_huge(f.read_bytes(), "dicom"))
    out["clinical"].append(huge)
    (root / "dicom_files").mkdir()
    for i in range(N_DICOM_FILES):
        path = root / "dicom_files" / f"file_{i:02d}.dcm"
        path.write_bytes(mutate(rng.choice(series).read_bytes(), rng))
        out["clinical"].append(path)
    return out


def cap_memory() -> int:
    """Limit the address space to what is mapped now plus ``MEMORY_HEADROOM``; the limit in bytes."""
    mapped = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize:"))
    limit = mapped + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return limit


def image_path(files: list[Path], out: Path) -> dict:
    """Every file through the bundle's preprocessing and a network: a finite prediction or an error row each."""
    import numpy as np
    import torch
    from monai.data import DataLoader

    from monai_tumorcls.bundle import find_bundle_root, load_bundle_config
    from monai_tumorcls.data import FailSafeDataset
    from monai_tumorcls.handlers import PredictionWriter

    # the inference config's image preprocessing (checks as read included), its checkpoint's options given directly
    inference = load_bundle_config(find_bundle_root("resnet18_binary"), "inference.json",
                                   {"checkpoint_train_overrides": {"image_size": 64}})
    ds = FailSafeDataset([{"image": str(f)} for f in files], inference.get_parsed_content("preprocessing"), (3, 64, 64))
    net = tiny_network(2)
    writer = PredictionWriter(out, ["notumor", "tumor"])
    rows = []
    for batch in DataLoader(ds, batch_size=1, num_workers=0):
        with torch.no_grad():
            prob = torch.softmax(net(batch["image"].float()), dim=1)[0]
        item = {"pred": prob, "image_path": batch["image_path"][0], "error": batch["error"][0],
                "warnings": batch["warnings"][0]}
        rows.append(writer.row(item))
    writer.finalize(rows)
    table = json.loads((out / "predictions.json").read_text())["rows"]
    finite = [r["status"] == "ok" and all(np.isfinite(v) for v in r["probabilities"].values()) for r in table]
    return {"n_files": len(files), "n_rows": len(table), "files": sorted(r["file"] for r in table),
            "n_ok": sum(finite), "n_error": sum(r["status"] == "error" and bool(r["error"]) for r in table),
            "errors": sorted({r["error"].split(": ", 1)[-1][:80] for r in table if r["error"]})}


def clinical_path(inputs: list[Path], out: Path) -> dict:
    """Every input through a ClinicalInferer, one at a time: each ends ok, partial or failed with its reasons."""
    from monai.transforms import Compose

    from monai_tumorcls.bundle import find_bundle_root, load_bundle_config
    from monai_tumorcls.apps.clinical import ClinicalInferer, PredictionOptions, RunOutputs

    train = load_bundle_config(find_bundle_root("resnet18_binary"), "train.json", {"pretrained": None, "image_size": 64})
    preprocess = Compose(train.get_parsed_content("prepare") + train.get_parsed_content("normalise"))
    inferer = ClinicalInferer(tiny_network(2), preprocess, ["notumor", "tumor"], prediction=PredictionOptions(batch_size=32),
                              outputs=RunOutputs(out, run_name="fuzz"))
    results, seconds = [], []
    for i, path in enumerate(inputs):
        start = time.perf_counter()
        found = inferer.classify_input(path, i)
        seconds.append(time.perf_counter() - start)
        results.append({
            "input": path.name, "status": found.status, "n_series": len(found.series),
            "decided": [s.decision.is_tumour is not None for s in found.series],
            "reasons": [e.reason for e in found.errors],
        })
    run = inferer.run(inputs)  # the whole run writes its two files
    return {"n_inputs": len(inputs), "results": results, "max_seconds": max(seconds),
            "run_inputs": len(run.inputs), "run_exit_code": run.exit_code, "json": run.json_path.is_file()}


def tiny_network(n_classes: int):
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 5, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(4, n_classes))


def main(summary_path: str) -> None:
    import torch  # noqa: F401 - imported before the cap, as the project's own imports are

    import monai_tumorcls.apps.clinical  # noqa: F401

    torch.set_num_threads(1)
    limit = cap_memory()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        files = write_mutants(Path(tmp) / "in", random.Random(SEED))
        summary = {
            "images": image_path(files["images"], Path(tmp) / "out_images"),
            "clinical": clinical_path(files["clinical"], Path(tmp) / "out_clinical"),
        }
    summary.update(seconds=time.perf_counter() - start, address_limit=limit,
                   max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    Path(summary_path).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
