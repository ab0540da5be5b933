"""Tests of tools/analysis_tools/benchmark_model.py's config rewriting."""
import os.path as osp

from tool_loader import load_tool

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
bm = load_tool('tools/analysis_tools/benchmark_model.py')


def roi_layer_types(cfg):
    types = []

    def collect(d):
        if isinstance(d.get('roi_layer'), dict):
            types.append(d['roi_layer']['type'])

    bm.visit_dicts(cfg, collect)
    return types


def test_roi_layers_swapped_everywhere_but_sara():
    def extractor(layer_type):
        return dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type=layer_type, output_size=7))

    # a cascade (lists of heads) with an MR R-CNN refining extractor
    model = dict(
        roi_head=dict(
            bbox_roi_extractor=[extractor('RoIAlign') for _ in range(2)],
            mask_roi_extractor=extractor('MMExtRoIAlign'),
            refine_bbox_roi_extractor=extractor('SaRoIAlign')))
    bm.set_roi_layers(model, 'RoIAlign')
    assert roi_layer_types(model) == [
        'RoIAlign', 'RoIAlign', 'RoIAlign', 'SaRoIAlign'
    ]
    bm.set_roi_layers(model, 'MMExtRoIAlign')
    assert roi_layer_types(model) == [
        'MMExtRoIAlign', 'MMExtRoIAlign', 'MMExtRoIAlign', 'SaRoIAlign'
    ]
    assert model['roi_head']['mask_roi_extractor']['roi_layer'] == dict(
        type='MMExtRoIAlign', output_size=7)


def test_pretrained_stripped_in_lists():
    cfg = dict(a=[dict(init_cfg=dict(type='Pretrained', checkpoint='x'))],
               b=dict(init_cfg=dict(type='Kaiming')))
    bm.strip_pretrained(cfg)
    assert cfg['a'][0]['init_cfg'] is None
    assert cfg['b']['init_cfg'] == dict(type='Kaiming')
