"""mmext: MMDetection 3.x extensions for instance segmentation research.

Importing this package registers every mmext module in MMDetection's
registries (``mmdet.registry``), so configs refer to them by ``type`` name
with the default ``default_scope='mmdet'``. Configs load it through
``custom_imports = dict(imports=['mmext'], allow_failed_imports=False)``.
It also allow-lists the classes mmengine stores in checkpoints so that
``torch.load(weights_only=True)`` (the default of torch >= 2.6) accepts them.
"""
from .version import __version__
from .utils import register_checkpoint_safe_globals

register_checkpoint_safe_globals()

from . import datasets, engine, evaluation, models, ops  # noqa: E402,F401

__all__ = ['__version__']
