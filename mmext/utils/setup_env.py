"""Make mmengine's distributed launch work on CPU-only machines."""
import torch
from mmengine.config import Config


def setup_distributed_backend(cfg: Config) -> None:
    """Pick gloo and a CPU-safe DDP wrapper when CUDA is absent.

    mmengine defaults to NCCL and wraps the model with
    ``device_ids=[LOCAL_RANK]``, both of which need GPUs. Without CUDA this
    switches ``env_cfg.dist_cfg.backend`` to ``'gloo'`` and, unless the config
    already names a wrapper, sets ``model_wrapper_cfg`` so that DDP is built
    without ``device_ids`` (the CPU form). With CUDA nothing changes.
    """
    if torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
