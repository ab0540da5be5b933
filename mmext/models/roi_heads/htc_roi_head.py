"""mmdet's Hybrid Task Cascade RoI head, able to start from a Mask R-CNN.

The toy benchmark fine-tunes every method from one trained toy Mask R-CNN;
its cascades (MaskPlus+, the Cascade and HTC peers) start each stage from
that model's box and mask heads. mmdet's ``HybridTaskCascadeRoIHead`` cannot
take single-stage heads; this subclass adds only that.
"""
from mmdet.models.roi_heads import HybridTaskCascadeRoIHead
from mmdet.registry import MODELS
from .state_dict_init import StagesFromSingleStageMixin


@MODELS.register_module()
class MMExtHybridTaskCascadeRoIHead(StagesFromSingleStageMixin,
                                    HybridTaskCascadeRoIHead):
    """:class:`HybridTaskCascadeRoIHead` with
    ``init_stages_from_single_stage`` (see
    :class:`~.state_dict_init.StagesFromSingleStageMixin`); the stages' own
    layers (``conv_res`` of the mask information flow) keep their
    initialisation.

    Args:
        *args: :class:`HybridTaskCascadeRoIHead`'s arguments.
        init_stages_from_single_stage (bool): Copy a loaded single-stage
            model's heads into every stage. Defaults to False.
        **kwargs: :class:`HybridTaskCascadeRoIHead`'s keyword arguments.
    """

    def __init__(self,
                 *args,
                 init_stages_from_single_stage: bool = False,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.init_stages_from_single_stage = init_stages_from_single_stage
