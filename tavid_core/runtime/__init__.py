"""Device and model management: one interface (`Runtime`), a standalone implementation here, and a
ComfyUI-backed one in the node pack (the library itself never imports ComfyUI)."""
from .base import ManagedModule, Progress, Runtime
from .standalone import StandaloneRuntime, pick_device

__all__ = ["ManagedModule", "Progress", "Runtime", "StandaloneRuntime", "pick_device"]
