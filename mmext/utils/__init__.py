from .checkpoint import (AtomicLocalBackend, checkpoint_safe_globals,
                         register_checkpoint_safe_globals,
                         safe_load_checkpoint)
from .config_check import check_config_keys, load_cli_config
from .run_records import (load_metrics_records, read_train_speed,
                          write_metrics_record)
from .setup_env import setup_distributed_backend, shutdown_distributed

__all__ = [
    'AtomicLocalBackend', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals', 'safe_load_checkpoint',
    'check_config_keys', 'load_cli_config', 'setup_distributed_backend',
    'shutdown_distributed',
    'load_metrics_records', 'read_train_speed', 'write_metrics_record'
]
