"""Pictures of what the models do: ATMask's threshold maps, GrabCut pseudo
masks and the benchmark gallery (matplotlib and mmengine's visualizer)."""
from .threshold_maps import (draw_threshold_panels, has_threshold_branch,
                             paste_roi_map, save_instance_figure,
                             threshold_maps)

__all__ = [
    'draw_threshold_panels', 'has_threshold_branch', 'paste_roi_map',
    'save_instance_figure', 'threshold_maps'
]
