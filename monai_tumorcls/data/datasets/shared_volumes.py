"""The volumes of ``$MONAI_DATA_DIRECTORY`` with slice-level truth, as :class:`~monai_tumorcls.data.LabelledVolume`."""

from __future__ import annotations

from ..volume_slices import LabelledVolume

__all__ = ["SHARED_LABELLED_VOLUMES"]

#: The volumes of ``$MONAI_DATA_DIRECTORY`` with slice-level truth (see ``../shared/data/nifti/PROVENANCE.md`` and
#: ``dicom/PROVENANCE.md``): three glioma patients with tumour label maps and one healthy volunteer.
SHARED_LABELLED_VOLUMES: tuple[LabelledVolume, ...] = (
    LabelledVolume(
        "nifti/pyradiomics-tcga-gbm/converted_nifti/brain1_image.nii.gz",
        "TCGA-02-0003",
        "nifti/pyradiomics-tcga-gbm/converted_nifti/brain1_label.nii.gz",
        "TCGA-GBM T1 post-Gd, tumour label (pyradiomics test case)",
    ),
    LabelledVolume(
        "nifti/pyradiomics-tcga-gbm/converted_nifti/brain2_image.nii.gz",
        "TCGA-02-0006",
        "nifti/pyradiomics-tcga-gbm/converted_nifti/brain2_label.nii.gz",
        "TCGA-GBM T1 post-Gd, tumour label (pyradiomics test case)",
    ),
    *(
        LabelledVolume(
            f"nifti/tcga-lgg-TCGA-FG-6692-brats-space/OtherEXampleFromTCIA_{seq}_bet.nii.gz",
            "TCGA-FG-6692",
            "nifti/tcga-lgg-TCGA-FG-6692-brats-space/segmentation_predicted/fusion_mav.nii.gz",
            f"TCGA-LGG {name}, skull-stripped; label = BraTS-Toolkit model prediction, not ground truth",
        )
        for seq, name in (("t1c", "T1 post-Gd"), ("t1", "T1"), ("t2", "T2"), ("fla", "FLAIR"))
    ),
    LabelledVolume(
        "dicom/siemens-trio-b17-t1-mprage-brain",
        "siemens-volunteer",
        None,
        "Siemens Trio T1 MPRAGE of a healthy volunteer: every slice tumour-free",
    ),
)
