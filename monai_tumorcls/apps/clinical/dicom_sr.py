"""The Comprehensive SR of a classified DICOM series: a TID 1500 Measurement Report (highdicom).

* Observation context: the algorithm as the observing device; procedure reported: imaging procedure.
* Image library: the contributing source instances.
* Measurement group "series classification" (TID 1501, finding type SNOMED CT Neoplasm at finding site Brain,
  the algorithm identification with its checkpoint SHA-256 as parameter, the contributing instances as source
  images): qualitative evaluations Neoplasm = Present / Absent (SNOMED CT) and "Predicted class" = the model's
  class (local scheme ``99TUMORCLS``, declared in CodingSchemeIdentificationSequence: no standard code names a
  model's class); measurements: the aggregated tumour probability and each class' probability (unit "1").
* Measurement group "predicted lesion" (a network with a lesion head): the lesion measurements
  (:func:`~monai_tumorcls.apps.clinical.dicom_lesion.lesion_sr_items`).
* After the template's content (TID 1500 is extensible): the provenance as text items (algorithm name and
  version, bundle name and version, checkpoint SHA-256, time of the run) and a research-use comment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pydicom

from .dicom_lesion import lesion_sr_items
from .records import SeriesResult

__all__ = ["LOCAL_SCHEME", "SR_SERIES_DESCRIPTION", "Producer", "concept", "series_report"]

LOCAL_SCHEME = "99TUMORCLS"  # local coding scheme for what no standard code names (the model's own classes)
SR_SERIES_DESCRIPTION = "Tumour classification report (research use only)"


@dataclass(frozen=True)
class Producer:
    """What produced the results: the algorithm's name, the run's provenance record
    (:meth:`~monai_tumorcls.checkpoint.Provenance.record`) and the manufacturer and software versions named in
    every file."""

    algorithm: str
    provenance: Mapping
    manufacturer: str

    @property
    def version(self) -> str:
        return str(self.provenance["package_version"])

    @property
    def software_versions(self) -> str:
        return f"{self.manufacturer} {self.version}"


def concept(value: str, meaning: str, scheme: str = LOCAL_SCHEME):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def _algorithm_id(producer: Producer):
    """TID 4019: name, version, family (artificial intelligence) and the checkpoint SHA-256 as parameter."""
    from highdicom.sr import AlgorithmIdentification
    from pydicom.sr.codedict import codes

    sha = producer.provenance.get("checkpoint_sha256")
    return AlgorithmIdentification(name=producer.algorithm, version=producer.version,
                                   parameters=[f"checkpoint_sha256={sha}"] if sha else None,
                                   family=codes.cid7162.ArtificialIntelligence, manufacturer=producer.manufacturer)


def _unitless(code: str, meaning: str, value: float):
    from highdicom.sr import Measurement

    return Measurement(name=concept(code, meaning), value=float(value), unit=concept("1", "no units", "UCUM"))


def _classification_group(series: SeriesResult, refs: Sequence, algorithm_id):
    """TID 1501 group of the series decision (see the module docstring); ``refs``: (dataset, frame) pairs."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    d = series.decision
    presence = codes.SCT.Present if d.is_tumour else codes.SCT.Absent
    measurements = [_unitless("tumour-probability", "Aggregated tumour probability", d.tumour_probability)]
    measurements += [_unitless(f"p-{c}", f"Probability of class {c}", p) for c, p in d.class_probabilities.items()]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="series classification"),
        finding_type=codes.SCT.Neoplasm, finding_sites=[hd.sr.FindingSite(codes.SCT.Brain)],
        algorithm_id=algorithm_id, measurements=measurements,
        qualitative_evaluations=[
            hd.sr.QualitativeEvaluation(codes.SCT.Neoplasm, presence),
            hd.sr.QualitativeEvaluation(concept("predicted-class", "Predicted class"),
                                        concept(d.predicted_class or d.label, f"{d.predicted_class or d.label} class")),
        ],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(
            ds, [frame + 1] if frame is not None and "NumberOfFrames" in ds else None) for ds, frame in refs],
    )


def _lesion_group(series: SeriesResult, algorithm_id):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="predicted lesion"),
        finding_type=codes.SCT.Neoplasm, finding_sites=[hd.sr.FindingSite(codes.SCT.Brain)],
        algorithm_id=algorithm_id, measurements=lesion_sr_items(series, concept))


def _provenance_items(producer: Producer) -> list:
    """Text items naming what produced the report: algorithm name (DCM 111001) and version (DCM 111003), the
    bundle, the checkpoint's SHA-256 and the time of the run (local codes: DICOM has none for them). Unknown
    values are left out."""
    from highdicom.sr import TextContentItem

    provenance = producer.provenance
    bundle = provenance.get("bundle") or {}
    named = [
        (concept("111001", "Algorithm Name", "DCM"), producer.algorithm),
        (concept("111003", "Algorithm Version", "DCM"), provenance.get("package_version")),
        (concept("bundle-name", "Bundle name"), bundle.get("name")),
        (concept("bundle-version", "Bundle version"), bundle.get("version")),
        (concept("checkpoint-sha256", "Checkpoint SHA-256"), provenance.get("checkpoint_sha256")),
        (concept("created", "Results created (UTC)"), provenance.get("created")),
    ]
    return [TextContentItem(name, str(value), relationship_type="CONTAINS") for name, value in named if value]


def series_report(series: SeriesResult, refs: Sequence[tuple[pydicom.Dataset, int | None]], producer: Producer,
                  series_uid: str):
    """The Comprehensive SR (TID 1500) of ``series``; ``refs``: the contributing source (dataset, frame) pairs."""
    import highdicom as hd
    from highdicom.sr import TextContentItem
    from pydicom.sr.codedict import codes

    images = list({ds.SOPInstanceUID: ds for ds, _ in refs}.values())
    algorithm_id = _algorithm_id(producer)
    groups = [_classification_group(series, refs, algorithm_id)]
    if series.lesion is not None:
        groups.append(_lesion_group(series, algorithm_id))
    observer = hd.sr.ObserverContext(observer_type=codes.cid270.Device,
                                     observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                                         uid=hd.UID(), name=producer.algorithm,
                                         manufacturer_name=producer.manufacturer))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.SCT.ImagingProcedure, imaging_measurements=groups, referenced_images=images)
    report[0].ContentSequence.extend([*_provenance_items(producer), TextContentItem(
        concept("121106", "Comment", "DCM"), f"series decision by {series.decision.method} over slices; research "
        "use only, not for clinical decisions", relationship_type="CONTAINS")])
    sr = hd.sr.ComprehensiveSR(
        evidence=images, content=report[0], series_instance_uid=series_uid, series_number=9001,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer=producer.manufacturer,
        software_versions=producer.software_versions, series_description=SR_SERIES_DESCRIPTION,
    )
    sr.CodingSchemeIdentificationSequence = [_local_scheme()]
    return sr


def _local_scheme() -> pydicom.Dataset:
    item = pydicom.Dataset()
    item.CodingSchemeDesignator = LOCAL_SCHEME
    item.CodingSchemeName = "monai-tumorcls local codes"
    item.CodingSchemeResponsibleOrganization = "monai-tumorcls"
    return item
