"""Pictures of what the models do: ATMask's threshold maps, GrabCut pseudo
masks and the benchmark gallery (matplotlib and mmengine's visualizer)."""
from .gallery import (GalleryMethod, make_gallery, pick_gallery_images,
                      pick_pseudo_mask_image)
from .pseudo_masks import (INVALID_COLOR, VALID_COLOR, draw_pseudo_masks,
                           pseudo_mask_counts, pseudo_mask_label,
                           segmentation_to_mask)
from .threshold_maps import (draw_threshold_panels, has_threshold_branch,
                             paste_roi_map, save_instance_figure,
                             threshold_maps)

__all__ = [
    'GalleryMethod', 'make_gallery', 'pick_gallery_images',
    'pick_pseudo_mask_image', 'INVALID_COLOR', 'VALID_COLOR',
    'draw_pseudo_masks', 'pseudo_mask_counts', 'pseudo_mask_label',
    'segmentation_to_mask', 'draw_threshold_panels', 'has_threshold_branch',
    'paste_roi_map', 'save_instance_figure', 'threshold_maps'
]
