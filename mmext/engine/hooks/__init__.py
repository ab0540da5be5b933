from .inference_speed_hook import InferenceSpeedHook
from .biased_loss_hook import BiasedLossHook

__all__ = ['InferenceSpeedHook', 'BiasedLossHook']
