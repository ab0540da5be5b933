"""Training recipes of the papers that live in configs, not in modules.

* ATMask R-CNN R101 (Sec. 4): the Faster R-CNN box head is frozen through
  ``paramwise_cfg`` (``lr_mult=0``, ``decay_mult=0``): after SGD steps with
  momentum and weight decay its parameters are bit-identical while the rest
  of the model trains.
* MaskPlus biased training: the COCO configs leave ``BiasedLossHook.end``
  unset, so the switch is half of whatever ``max_iters`` the run has.
"""
import copy
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from test_configs import (REPO_ROOT, shrink_proposals, strip_pretrained,
                          synthetic_batch)

from mmdet.registry import HOOKS, MODELS

CONFIGS = osp.join(REPO_ROOT, 'configs')


def test_atmask_paper_schedule():
    """90k iterations at 12 images, steps 60k/80k; 1x kept as variant."""
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'atmask/atmask-rcnn_r50_fpn_90k_coco.py'))
    one_x = Config.fromfile(
        osp.join(CONFIGS, 'atmask/atmask-rcnn_r50_fpn_1x_coco.py'))
    assert cfg.model == one_x.model
    assert one_x.train_cfg.type == 'EpochBasedTrainLoop'
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == 90000
    assert cfg.train_dataloader.batch_size * 4 == 12  # 4 GPUs
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    (step, ) = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert step.milestones == [60000, 80000] and not step.by_epoch
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.auto_scale_lr.base_batch_size == 12


def test_atmask_r101_recipe_freezes_the_bbox_head(tmp_path):
    recipe = Config.fromfile(
        osp.join(CONFIGS,
                 'atmask/atmask-rcnn_r101_fpn_frozen-bbox-head_50k_coco.py'))
    assert recipe.model.backbone.depth == 101
    assert 'faster-rcnn_r101' in recipe.load_from
    assert recipe.train_cfg.max_iters == 50000
    assert recipe.param_scheduler[-1].milestones == [30000, 40000]
    assert recipe.train_dataloader.batch_size * 4 == 8  # 4 GPUs
    # The recipe's optimizer on the (cheap) toy ATMask model, whose module
    # names are the COCO model's.
    toy = Config.fromfile(
        osp.join(CONFIGS, 'atmask/atmask-rcnn_r18_fpn_1x_toy.py'))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(
        shrink_proposals(strip_pretrained(copy.deepcopy(toy.model))))
    model.init_weights()
    optim_wrapper = build_optim_wrapper(model, recipe.optim_wrapper)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    model.train()
    for _ in range(2):  # the 2nd step also has momentum
        model.train_step(synthetic_batch(2, str(tmp_path)), optim_wrapper)
    frozen = [n for n in before if n.startswith('roi_head.bbox_head.')]
    assert frozen and any('fc_cls' in n for n in frozen)
    for name, param in model.named_parameters():
        if name in frozen:
            assert torch.equal(param, before[name]), name
    changed = [n for n, p in model.named_parameters()
               if n not in frozen and not torch.equal(p, before[n])]
    assert any(n.startswith('roi_head.mask_head.') for n in changed)
    assert any(n.startswith('backbone.') for n in changed)
    assert any(n.startswith('rpn_head.') for n in changed)


class _Runner:

    def __init__(self, max_iters):
        self.max_iters = max_iters
        self.max_epochs = None


def test_maskplus_biased_training_follows_the_schedule():
    for name in ('maskplus_r50_fpn_360k_coco.py',
                 'maskplus_r50_fpn_biased_360k_coco.py',
                 'maskplus-plus_r50_fpn_540k_coco.py'):
        cfg = Config.fromfile(osp.join(CONFIGS, 'maskplus', name))
        hooks = [h for h in cfg.custom_hooks if h.type == 'BiasedLossHook']
        assert len(hooks) == 1, name
        for max_iters in (cfg.train_cfg.max_iters, 1000):
            hook = HOOKS.build(copy.deepcopy(hooks[0]))
            hook._resolve_end(_Runner(max_iters))
            assert hook.end == max_iters // 2, name
            assert hook.factor_at(max_iters // 2 - 1) == 1.5
            assert hook.factor_at(max_iters // 2) == 1.0


def test_maskplus_separate_rpn_recipe_wires_the_proposals():
    """The Mask R-CNN stage has no RPN of its own and reads the proposal
    files that the separately trained RPN's configs dump."""
    rpn = Config.fromfile(
        osp.join(CONFIGS, 'maskplus/rpn_r50_fpn_360k_coco.py'))
    rpn_train = Config.fromfile(
        osp.join(CONFIGS,
                 'maskplus/rpn_r50_fpn_360k_coco-train2017-proposals.py'))
    stage = Config.fromfile(
        osp.join(CONFIGS, 'maskplus/maskplus_r50_fpn_separate-rpn_360k_coco.py'))
    joint = Config.fromfile(
        osp.join(CONFIGS, 'maskplus/maskplus_r50_fpn_360k_coco.py'))
    assert rpn.model.type == 'RPN' and stage.model.rpn_head is None
    assert joint.model.rpn_head is not None
    # the same Mask R-CNN stage and schedule as the joint-RPN row
    assert stage.model.roi_head == joint.model.roi_head
    assert stage.train_cfg == joint.train_cfg == rpn.train_cfg

    def dumped(cfg):
        (dump, ) = [e for e in cfg.test_evaluator
                    if e.type == 'DumpProposals']
        assert rpn.test_dataloader.dataset.data_root == 'data/coco/'
        return osp.join(dump.output_dir, dump.proposals_file)

    data_root = stage.train_dataloader.dataset.data_root
    assert osp.join(data_root, stage.train_dataloader.dataset.proposal_file
                    ) == dumped(rpn_train)
    assert osp.join(data_root, stage.val_dataloader.dataset.proposal_file
                    ) == dumped(rpn)
    assert rpn_train.test_dataloader.dataset.ann_file.endswith(
        'instances_train2017.json')
    for loader in (stage.train_dataloader, stage.test_dataloader):
        types = [t.type for t in loader.dataset.pipeline]
        assert types.index('LoadProposals') < types.index(
            'ProposalBroadcaster')
        assert 'Resize' not in types  # resized with the proposals
