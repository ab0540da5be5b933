"""Make mmengine's distributed launch work on CPU-only machines."""
import torch
import torch.distributed as torch_dist
from mmengine.config import Config


def setup_distributed_backend(cfg: Config) -> None:
    """Use gloo and the CPU form of DDP when CUDA is absent.

    mmengine defaults to NCCL, calls ``torch.cuda.set_device`` in its
    ``pytorch`` launcher and wraps the model with ``device_ids=[LOCAL_RANK]``;
    all three need GPUs. Without CUDA this

    * switches ``env_cfg.dist_cfg.backend`` to ``'gloo'``;
    * for the ``pytorch`` launcher (torchrun), initialises the default
      process group itself from torchrun's environment variables, so that
      ``Runner.setup_env`` finds it initialised and skips the CUDA-only
      ``set_device`` call;
    * unless the config already names a wrapper, sets ``model_wrapper_cfg``
      so that DDP is built without ``device_ids``.

    With CUDA nothing changes. Call it before building the ``Runner``.
    """
    if torch.cuda.is_available():
        return
    env_cfg = cfg.setdefault('env_cfg', {})
    dist_cfg = env_cfg.setdefault('dist_cfg', {})
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    if cfg.get('model_wrapper_cfg') is None:
        # device_ids=None explicitly: mmengine would add [LOCAL_RANK]
        cfg.model_wrapper_cfg = dict(
            type='MMDistributedDataParallel',
            device_ids=None,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if cfg.get('launcher') == 'pytorch' and not torch_dist.is_initialized():
        kwargs = {k: v for k, v in dist_cfg.items() if k != 'backend'}
        torch_dist.init_process_group(backend=dist_cfg['backend'], **kwargs)


def shutdown_distributed() -> None:
    """Destroy the default process group, if any, before the process exits.

    mmengine never destroys it. Left to interpreter shutdown, gloo's
    background threads can be torn down while still joinable, and the
    process aborts with "terminate called without an active exception"
    (SIGABRT) after training has finished; torchrun then reports the whole
    job as failed. A barrier first keeps one rank from tearing its group
    down while another still talks to it. Safe to call without a group.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
