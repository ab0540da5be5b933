"""Carry the pseudo masks' validity flag from the dataset to the model.

:class:`~mmext.datasets.PseudoMaskCocoDataset` stores each instance's
``valid`` flag as ``instance['pseudo_valid']``.
:class:`LoadPseudoMaskAnnotations` loads it into ``results['gt_pseudo_valid']``
(bool array aligned with ``gt_bboxes``) and :class:`PackPseudoMaskInputs`
packs it as ``data_sample.gt_instances.pseudo_valid`` (bool tensor), which
:class:`~mmext.models.detectors.HybridWeakDetector` uses to route instances
to its branches.

Geometric transforms (``Resize``, ``RandomFlip``, ``RandomChoiceResize``...)
keep instances in order and need nothing. A transform that drops instances
must drop the flag too: ``FilterAnnotations`` does so when
``'gt_pseudo_valid'`` is added to its ``keys``; crops that drop instances
(``RandomCrop``) do not know the key and are not supported in these
pipelines.
"""
import numpy as np
from mmdet.datasets.transforms import LoadAnnotations, PackDetInputs
from mmdet.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadPseudoMaskAnnotations(LoadAnnotations):
    """``LoadAnnotations`` that also loads ``gt_pseudo_valid``.

    Added key: ``gt_pseudo_valid`` (np.ndarray of bool, shape (N,)), one flag
    per instance in the order of ``gt_bboxes``.
    """

    def transform(self, results: dict) -> dict:
        results = super().transform(results)
        flags = []
        for instance in results.get('instances', []):
            if 'pseudo_valid' not in instance:
                raise KeyError(
                    f'an instance of {results.get("img_path")!r} has no '
                    '"pseudo_valid" flag: LoadPseudoMaskAnnotations needs '
                    'the dataset type PseudoMaskCocoDataset')
            flags.append(bool(instance['pseudo_valid']))
        results['gt_pseudo_valid'] = np.array(flags, dtype=bool)
        return results


@TRANSFORMS.register_module()
class PackPseudoMaskInputs(PackDetInputs):
    """``PackDetInputs`` that also packs ``gt_pseudo_valid``.

    It becomes ``gt_instances.pseudo_valid`` (and
    ``ignored_instances.pseudo_valid``), a bool tensor of shape (N,).
    """

    mapping_table = dict(
        PackDetInputs.mapping_table, gt_pseudo_valid='pseudo_valid')
