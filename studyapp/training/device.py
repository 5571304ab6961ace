"""Device choice, CPU threads and seeding (imports torch: worker side only). Mixed precision
and the optimizer step are the engine's (training/engine.py, through Accelerate)."""

from __future__ import annotations

import os
import random
import time

import torch


class DeviceError(RuntimeError):
    """A device that was asked for and is not there."""


def pick_device(requested: str | None = None) -> torch.device:
    """CUDA, then Apple MPS, then CPU; `requested` ("cuda", "cuda:1", "mps", "cpu") overrides."""
    if requested and requested != "auto":
        dev = torch.device(requested)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError(f"device {requested!r} was asked for, but no CUDA GPU is "
                              "available here; use --device cpu (or leave it out)")
        if dev.type == "mps" and not _mps_available():
            raise DeviceError(f"device {requested!r} was asked for, but Apple MPS is not "
                              "available here; use --device cpu (or leave it out)")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def cpu_threads(requested: int = 0, *, busy: float | None = None) -> int:
    """CPU threads for torch: `requested` when > 0, else the cores that are free now.

    PyTorch's CPU threads spin while they wait for each other; on a machine whose cores are
    busy with other work, two threads fighting for one free core ran a MiniLM step 2-5x
    slower than one thread did (measured on the 2-core development machine). So the
    default takes the cores minus the cores busy right now (`busy`, measured over a quarter
    of a second when not given), at least one. The 1-minute load average is only the
    fallback: it lags, and right after a run it still counted that run, so the next run
    got one thread on an idle 2-core machine (measured: 0.57 s per MiniLM step instead of
    0.40).
    """
    if requested > 0:
        return requested
    cores = os.cpu_count() or 1
    if busy is None:
        busy = busy_cores()
    if busy is None:
        return cores
    return max(1, min(cores, int(cores - busy + 0.5)))


def cpu_times(stat: str) -> tuple[int, int] | None:
    """(busy, total) jiffies from the `cpu ` line of /proc/stat's text; iowait counts idle."""
    for line in stat.splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            total = sum(values[:8])             # guest time is already in user and nice
            return total - idle, total
    return None


def busy_cores(interval_s: float = 0.25) -> float | None:
    """How many cores other work keeps busy now: /proc/stat sampled over `interval_s`, or
    the 1-minute load average where there is no /proc (macOS); None when neither exists."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            first = cpu_times(fh.read())
        time.sleep(interval_s)
        with open("/proc/stat", encoding="ascii") as fh:
            second = cpu_times(fh.read())
    except OSError:
        first = second = None
    if first is not None and second is not None and second[1] > first[1]:
        share = (second[0] - first[0]) / (second[1] - first[1])
        return share * (os.cpu_count() or 1)
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def describe(device: torch.device) -> str:
    """A short name for the learner: "cpu (2 threads)", "cuda (NVIDIA H100 80GB HBM3)"."""
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        n = torch.get_num_threads()
        return f"cpu ({n} thread{'' if n == 1 else 's'})"
    return str(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy comes with torch here
        pass
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def memory_mb(device: torch.device) -> float | None:
    """Peak memory of this process on `device` (GPU) or resident memory (CPU), in MB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    except (ImportError, AttributeError):  # pragma: no cover - Windows
        return None
