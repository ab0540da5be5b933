from .inference_speed_hook import InferenceSpeedHook
from .biased_loss_hook import BiasedLossHook
from .non_finite_loss_hook import NonFiniteLossHook

__all__ = ['InferenceSpeedHook', 'BiasedLossHook', 'NonFiniteLossHook']
