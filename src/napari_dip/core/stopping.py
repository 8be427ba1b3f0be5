"""Stopping rules that need no ground truth.

A rule sees every output and decides when the run ends and which output it returns. The
windowed-moving-variance rule follows ES-WMV (Wang et al., 2023): while the network learns the
image, successive outputs change quickly; once it starts fitting the noise they change quickly
again. The variance of the last W outputs therefore has a minimum near the best iterate.
"""

from __future__ import annotations

from collections import deque

import torch


class FixedIterations:
    """Run the whole budget; return the last output."""

    name = "fixed"

    def __init__(self) -> None:
        self.metric = float("nan")
        self.best_iteration = 0
        self.best_output: torch.Tensor | None = None

    def update(self, iteration: int, output: torch.Tensor, candidate: torch.Tensor,
               loss: float | None = None) -> bool:
        self.best_iteration = iteration
        self.best_output = candidate
        return False


class WindowedVariance:
    """Stop when the windowed variance of outputs has set no new minimum for ``patience`` steps.

    Parameters
    ----------
    window : int
        Number of recent outputs whose per-pixel variance (averaged over pixels) is the metric.
    patience : int
        Iterations without a new minimum before stopping.
    min_iterations : int
        Minima before this iteration are ignored: early outputs can be briefly still before the
        network has learnt the image.
    relative_patience : float
        The patience grows with the run: the rule waits ``max(patience, relative_patience × m)``
        iterations after a minimum at iteration ``m``. The averaged output goes on improving
        after the raw outputs' variance minimum for a while that scales with how long the
        network took to get there (measured in ``benchmarks/tune.py``); 0 keeps a fixed patience.

    loss_floor : float
        Do not stop while the loss, averaged over the last ``window`` steps, is above this value
        and count no minimum until it gets there, so the patience runs from the later of the two
        (0 disables the check). Denoising sets it to the noise variance estimated from the
        input (times ``Config.stop_noise_floor``): on strongly textured images the variance
        has an early, shallow minimum while the network is still learning the texture, with the
        loss still far above the noise level; stopping there returns a blurred image. Waiting
        only for the floor was not enough: a fast-fitting network (hill, 16 skip channels) had
        its minimum at step 370 and reached the floor near 560, so it stopped at 570 while its
        averaged output was still gaining 0.05 dB per 20 steps.

    ``update(iteration, output, candidate, loss)`` takes the raw network output, whose variance is
    tracked, the candidate that would be returned (e.g. the averaged output) and the step's loss
    (``None``: no loss check); it keeps the candidate at the metric's minimum in ``best_output``.
    """

    name = "auto"

    def __init__(self, window: int = 50, patience: int = 300, min_iterations: int = 100,
                 keep_output: bool = True, relative_patience: float = 0.0,
                 loss_floor: float = 0.0):
        self.window = int(window)
        self.loss_floor = float(loss_floor)
        self._losses: deque[float] = deque(maxlen=self.window)  # the last `window` losses
        self.keep_output = keep_output  # False: the caller returns its own output; skip the copies
        self.patience = int(patience)
        self.relative_patience = float(relative_patience)
        self.min_iterations = int(min_iterations)
        self._buffer: torch.Tensor | None = None
        self._count = 0
        self.metric = float("nan")
        self.best_metric = float("inf")
        self.best_iteration = 0
        self.best_output: torch.Tensor | None = None

    def update(self, iteration: int, output: torch.Tensor, candidate: torch.Tensor,
               loss: float | None = None) -> bool:
        if loss is not None and self.loss_floor > 0:
            self._losses.append(float(loss))
        flat = output.detach().reshape(-1).float()
        if self._buffer is None:
            self._buffer = torch.empty((self.window, flat.numel()), device=flat.device)
            self._mean = torch.zeros_like(flat)
            self._m2 = torch.zeros_like(flat)
        slot = self._count % self.window
        # sliding-window Welford update: O(pixels) per step instead of O(window × pixels)
        if self._count < self.window:
            delta = flat - self._mean
            self._mean += delta / (self._count + 1)
            self._m2 += delta * (flat - self._mean)
        else:
            old = self._buffer[slot]
            new_mean = self._mean + (flat - old) / self.window
            self._m2 += (flat - old) * (flat - new_mean + old - self._mean)
            self._mean = new_mean
        self._buffer[slot] = flat
        self._count += 1
        if self._count < self.window:
            self.metric = float("nan")
            return False
        if self._count % (20 * self.window) == 0:  # wipe accumulated rounding now and then
            self._mean = self._buffer.mean(dim=0)
            self._m2 = self._buffer.var(dim=0, unbiased=False) * self.window
        self.metric = float(self._m2.clamp_min(0).mean()) / self.window
        if iteration < self.min_iterations:
            return False
        if self.above_loss_floor:
            # a variance minimum while the loss is above the noise level is a pause in learning,
            # not the onset of noise fitting: minima, and so the patience, count from the floor
            return False
        if self.metric < self.best_metric:
            self.best_metric = self.metric
            self.best_iteration = iteration
            if self.keep_output:
                self.best_output = candidate.detach().clone()
        return iteration - self.best_iteration >= self.wait

    @property
    def above_loss_floor(self) -> bool:
        """Whether the loss, averaged over the last ``window`` steps, is still above ``loss_floor``."""
        if self.loss_floor <= 0 or not self._losses:
            return False
        return sum(self._losses) / len(self._losses) > self.loss_floor

    @property
    def wait(self) -> int:
        """Iterations without a new minimum after which the rule stops."""
        return max(self.patience, int(self.relative_patience * self.best_iteration))


def make_stopping_rule(kind: str, window: int, patience: int, min_iterations: int,
                       keep_output: bool = True, relative_patience: float = 0.0,
                       loss_floor: float = 0.0):
    if kind == "fixed":
        return FixedIterations()
    if kind == "auto":
        return WindowedVariance(window, patience, min_iterations, keep_output, relative_patience,
                                loss_floor)
    raise ValueError(f"stop must be 'auto' or 'fixed', not {kind!r}.")
