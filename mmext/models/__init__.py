from . import (detectors, mask_heads, necks, roi_extractors,  # noqa: F401
               roi_heads, task_modules)
