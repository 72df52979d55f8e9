"""Device selection in one place: nothing else hard-codes a device."""

from __future__ import annotations

import torch


def available_devices() -> list[str]:
    """The devices this machine can train on: `cpu`, then `cuda:N` for each visible GPU and `mps` where
    Apple's backend is built and usable."""
    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`"auto"` gives CUDA when available, else CPU; anything else must be a device this machine can run
    (`available_devices()`, `cuda` meaning the current GPU), else ValueError listing them."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from error
    available = available_devices()
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available (this machine has: "
                         f"auto, {', '.join(available)})")  # fmt: skip
    usable = (
        resolved.type == "cpu"
        or str(resolved) in available
        or (resolved.type == "cuda" and resolved.index is None)
    )
    if not usable:
        raise ValueError(
            f"device must be one this machine can run: auto, {', '.join(available)}, got {device!r}"
        )
    return resolved
