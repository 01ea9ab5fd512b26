"""The training loop shared by pretrain and finetune: sessions in, a run folder out.

One step = one batch of windows from EVERY session, each session's Poisson loss scaled by its share
of the training windows, gradients accumulated over all of them, then clipped and applied (the
published recipe). Each window is its own forward pass with its own random seed, derived from
(seed, epoch, step, session, position in the batch): a run is repeatable, a resumed run redoes the
interrupted epoch exactly. Under torchrun each of N processes takes `batch_size` windows per session
(every N-th window of the global batch of N x batch_size), so N processes with batch size b compute
the same step as one process with batch size N x b.

The device is never waited for inside a step: losses, gradient norms and the check that the loss is
finite stay on it, and the host reads them every `CHECK_EVERY` steps and at the end of each epoch (a
non-finite loss then stops the run before anything of the epoch is saved). Under torchrun the main
process validates and its scores decide for every process (learning-rate cuts, best weights, early
stopping), so processes can never disagree.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from nwb_v1former import metrics
from nwb_v1former.data.dataset import INPUTS, MultiSessionDataset, RoundRobinSampler
from nwb_v1former.errors import TrainingError
from nwb_v1former.inference.evaluation import predict_trials
from nwb_v1former.model.checkpoint import read_checkpoint, save_checkpoint
from nwb_v1former.model.model import V1Former
from nwb_v1former.model.provenance import Provenance
from nwb_v1former.precision import compute_precision
from nwb_v1former.progress import QUIET, Reporter
from nwb_v1former.run_folder import BEST, FEATURE_CACHE, LAST, RunFolder
from nwb_v1former.train.clipping import AdaptiveClipper
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.distributed import Worker
from nwb_v1former.train.feature_cache import (
    CacheConfig,
    SessionCache,
    SessionPieces,
    open_caches,
    predict_cached_trials,
    session_pieces,
)
from nwb_v1former.train.final_score import score_best
from nwb_v1former.train.fit_check import check_fit
from nwb_v1former.train.loss import poisson_loss
from nwb_v1former.train.sessions import TrainingSession

CHECK_EVERY = 64
"""Steps between the host's looks at the device's losses (one wait for the GPU each)."""


@dataclass
class TrainingState:
    """What a resumed run must know besides the weights; saved in last.ckpt."""

    epoch: int = 0  # the next epoch to run
    step: int = 0
    best_score: float = -math.inf
    best_epoch: int = -1
    since_best: int = 0
    lr_scale: float = 1.0
    history: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items()}


@dataclass(frozen=True)
class FitResult:
    """How a run ended: best validation correlation and its epoch, epochs run, the evaluation."""

    best_score: float
    best_epoch: int
    epochs: int
    stopped_early: bool
    evaluation: dict[str, Any]


class Trainer:
    """Trains `model` on `sessions` into `run`; `fit(resume=...)` runs until early stop or max epochs."""

    def __init__(
        self,
        model: V1Former,
        sessions: list[TrainingSession],
        config: TrainConfig,
        run: RunFolder,
        *,
        worker: Worker,
        provenance: Provenance,
        reporter: Reporter | None = None,
        feature_cache: CacheConfig | None = None,
    ) -> None:
        self.model = model.to(worker.device)
        self.sessions = sessions
        self.config = config
        self.run = run
        self.worker = worker
        self.provenance = provenance
        self.reporter = reporter if reporter is not None and worker.is_main else QUIET
        self.core_parameters = list(model.core.parameters())
        core_ids = {id(p) for p in self.core_parameters}
        self.head_parameters = [p for p in model.parameters() if id(p) not in core_ids]
        self.optimizer = torch.optim.AdamW(
            [
                {
                    "params": self.core_parameters,
                    "weight_decay": config.core_weight_decay,
                    "lr": config.core_lr,
                },
                {
                    "params": self.head_parameters,
                    "weight_decay": config.head_weight_decay,
                    "lr": config.head_lr,
                },
            ]
        )
        self.clipper = AdaptiveClipper(config.clip_percentile, config.clip_history)
        self.state = TrainingState()
        self.dataset = MultiSessionDataset({s.key: s.windows for s in sessions})
        self.sampler = RoundRobinSampler(self.dataset, seed=config.seed, shuffle=True)
        self.wrapped: torch.nn.Module = model
        self.core_trainable: bool | None = None
        self.feature_cache = feature_cache
        self.caches: dict[str, SessionCache] | None = None
        model.core.set_gradient_checkpointing(config.gradient_checkpointing)

    @property
    def global_batch_size(self) -> int:
        """Windows per session per step over all processes: each torchrun process takes `batch_size`."""
        return self.config.batch_size * self.worker.world_size

    # --- phases and rates -------------------------------------------------------------------------
    def _set_phase(self, epoch: int) -> None:
        """Freeze or unfreeze the core for this epoch's strategy; rebuild the DDP wrapper on a change."""
        trainable = self.config.core_rate(epoch) > 0
        if trainable == self.core_trainable:
            return
        self.core_trainable = trainable
        for parameter in self.core_parameters:
            parameter.requires_grad_(trainable)
        if self.worker.enabled:
            device_ids = [self.worker.device.index] if self.worker.device.type == "cuda" else None
            self.wrapped = DistributedDataParallel(
                self.model, device_ids=device_ids, find_unused_parameters=True
            )

    def _frozen_core_cache(self) -> dict[str, SessionCache] | None:
        """The feature caches while the core is frozen and caching is on (built on first use), else None."""
        if self.core_trainable or self.feature_cache is None:
            return None
        if self.caches is None:
            sessions = [
                SessionPieces(
                    s.store,
                    session_pieces(
                        s.store,
                        s.windows.starts,
                        s.windows.window,
                        s.validation,
                        self.model.config.window,
                    ),
                )
                for s in self.sessions
            ]
            self.caches = open_caches(
                self.model,
                sessions,
                Path(self.feature_cache.directory or self.run / FEATURE_CACHE),
                self.feature_cache.dtype,
                device=self.worker.device,
                precision=compute_precision(self.config.precision, self.worker.device),
                rank=self.worker.rank,
                world_size=self.worker.world_size,
                reporter=self.reporter,
            )
        return self.caches

    def _set_rates(self, epoch: int) -> tuple[float, float]:
        """Learning rates of this step: base x plateau scale x linear warm-up."""
        warmup = (
            min(1.0, (self.state.step + 1) / self.config.warmup_steps) if self.config.warmup_steps else 1.0
        )
        scale = self.state.lr_scale * warmup
        rates = (self.config.core_rate(epoch) * scale, self.config.head_lr * scale)
        for group, rate in zip(self.optimizer.param_groups, rates, strict=True):
            group["lr"] = rate
        return rates

    # --- one epoch --------------------------------------------------------------------------------
    def _steps(self, epoch: int) -> list[dict[str, list[int]]]:
        """This epoch's steps: for each, the global batch of window indices of every session."""
        self.sampler.set_epoch(epoch)
        items = list(self.sampler)
        per_round = len(self.sessions)
        rounds = [items[i : i + per_round] for i in range(0, len(items), per_round)]
        size = self.global_batch_size
        steps = []
        for first in range(0, len(rounds) - size + 1, size):
            batch: dict[str, list[int]] = {}
            for round_ in rounds[first : first + size]:
                for key, index in round_:
                    batch.setdefault(key, []).append(index)
            steps.append(batch)
        return steps

    def _autocast(self) -> contextlib.AbstractContextManager:
        device = self.worker.device
        if device.type != "cuda" or compute_precision(self.config.precision, device) != "bf16":
            return contextlib.nullcontext()  # bf16 only where the GPU multiplies it natively (sm80+)
        return torch.autocast(device.type, dtype=torch.bfloat16)

    def _train_step(self, epoch: int, index: int, batch: dict[str, list[int]]) -> _StepRecord:
        """Accumulate every session's share of the loss over the global batch, clip, apply; what the
        host reads later (this process's part of each session's loss, the gradient norm)."""
        self.optimizer.zero_grad(set_to_none=True)
        worker, world = self.worker, self.worker.world_size
        mine = [
            (number, session, position, window)
            for number, session in enumerate(self.sessions)
            for position, window in enumerate(batch[session.key])
            if position % world == worker.rank
        ]
        losses = torch.zeros(len(self.sessions), device=worker.device)
        caches = self._frozen_core_cache()
        for count, (number, session, position, window) in enumerate(mine):
            torch.manual_seed(hash_seed(self.config.seed, epoch, index, number, position))
            if caches is None:
                item = session.windows[window]
                inputs = [item[name][None].to(worker.device) for name in INPUTS]
                core_output = None
            else:  # the frozen core's output for this window, computed once: no video read
                item = session.windows.read(window, ("pupil_center",))
                inputs = [None, None, item["pupil_center"][None].to(worker.device)]
                cache = caches[session.key]
                core_output = cache.read(item["first_tick"], session.windows.window, worker.device)
            last = count == len(mine) - 1
            sync = contextlib.nullcontext() if last or not worker.enabled else self.wrapped.no_sync()
            with sync:
                with self._autocast():
                    prediction = self.wrapped(*inputs, session=session.key, core_output=core_output)
                loss = poisson_loss(prediction.float(), item["responses"][None].to(worker.device))
                weighted = loss * session.share / len(batch[session.key])
                (weighted * world).backward()
            losses[number] += weighted.detach()
        norm = self.clipper(self.model.parameters())
        self.optimizer.step()
        self.state.step += 1
        return _StepRecord(losses, norm)

    def _read_steps(
        self, records: list[_StepRecord], epoch: int, first: int
    ) -> tuple[list[float], list[float]]:
        """The host's look at steps `first`, ...: each step's global loss and gradient norm, or a
        TrainingError naming the first session and step whose loss was not finite (before anything of
        the epoch is saved: one more step would have made every weight NaN). One wait for the device;
        under torchrun one all-reduce, so every process stops together."""
        losses = torch.stack([record.losses for record in records]).double()  # (steps, sessions)
        if self.worker.enabled:  # each process's losses are its part of the global batch: they add up
            torch.distributed.all_reduce(losses)
        values = losses.cpu()
        bad = (~torch.isfinite(values)).nonzero().tolist()
        if bad:
            step, number = bad[0]
            raise TrainingError(
                f"session {self.sessions[number].key}, epoch {epoch} step {first + step}: the training loss "
                f"is {values[step, number].item()}; stopped, nothing saved from this epoch. Check the "
                "session's responses and coordinates (convert it again), or try a longer --warmup-steps"
            )
        norms = torch.stack([record.norm for record in records]).double().cpu()
        return values.sum(dim=1).tolist(), norms.tolist()

    def _validate(self) -> dict[str, float]:
        """Validation single-trial correlation of every session (mean over its neurons): the main
        process's, in every process (the others wait for it), so all decide alike on its figures."""
        if not self.worker.is_main:
            return self.worker.from_main(None)
        scores = {}
        for session in self.sessions:
            predictions = self._predict(session, session.validation)
            trials = session.store.trials
            responses = [
                np.asarray(session.store.responses[trials.first_tick[i] : trials.stop_tick[i]])
                for i in session.validation
            ]
            scores[session.key] = metrics.mean_over_neurons(
                metrics.single_trial_correlation(predictions, responses)
            )
        return self.worker.from_main(scores)

    def _predict(self, session: TrainingSession, indices: np.ndarray) -> list[np.ndarray]:
        """Whole-trial predictions (T_i, N): from the feature cache while the core is frozen."""
        caches = self._frozen_core_cache()
        if caches is None:
            return predict_trials(self.model, session.store, indices, device=self.worker.device)
        return predict_cached_trials(
            self.model, caches[session.key], session.store, indices, self.worker.device
        )

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        self._set_phase(epoch)
        self._frozen_core_cache()  # built once, before the clock starts: epoch times and ETAs exclude it
        started = time.perf_counter()
        self.model.train()
        if not self.core_trainable:
            self.model.core.eval()  # a frozen core runs as in inference: no dropout
        losses: list[float] = []
        norms: list[float] = []
        records: list[_StepRecord] = []
        steps = self._steps(epoch)
        rates = self._set_rates(epoch)  # an epoch without steps (never planned: see recipe.py) logs these
        for index, batch in enumerate(self.reporter.loop(steps, what=f"epoch {epoch}")):
            rates = self._set_rates(epoch)
            records.append(self._train_step(epoch, index, batch))
            if len(records) == CHECK_EVERY or index == len(steps) - 1:
                read = self._read_steps(records, epoch, index + 1 - len(records))
                losses, norms = losses + read[0], norms + read[1]
                records = []
        self.state.history.extend(norms)
        scores = self._validate()
        score = float(np.mean(list(scores.values())))
        return {
            "epoch": epoch,
            "step": self.state.step,
            "train_loss": float(np.mean(losses)) if losses else None,
            "validation_correlation": score,
            "validation_correlation_per_session": scores,
            "core_lr": rates[0],
            "head_lr": rates[1],
            "grad_norm_median": float(np.median(norms)) if norms else None,
            "seconds": round(time.perf_counter() - started, 3),
        }

    # --- checkpoints ----------------------------------------------------------------------------
    def _save_last(self) -> None:
        training = {
            "progress": self.state.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "clipper": self.clipper.state(),
            "config": self.config.to_dict(),
        }
        save_checkpoint(
            self.model,
            self.run / LAST,
            extra={"provenance": self.provenance.to_dict(), "training": training},
        )

    def _save_best(self, epoch: int, score: float) -> None:
        best = dataclasses.replace(self.provenance, epoch=epoch, validation_correlation=score)
        extra = {"provenance": best.to_dict()}
        save_checkpoint(self.model, self.run / BEST, extra=extra)

    def _restore_best(self) -> None:
        self.model.load_state_dict(read_checkpoint(self.run / BEST)["state_dict"])

    def load_last(self) -> None:
        """Continue from last.ckpt: weights, optimiser, clipping history and bookkeeping."""
        payload = read_checkpoint(self.run / LAST)
        training = payload["extra"]["training"]
        self.model.load_state_dict(payload["state_dict"])
        self._set_phase(training["progress"]["epoch"])
        self.optimizer.load_state_dict(training["optimizer"])
        self.clipper.load_state(training["clipper"])
        self.state = TrainingState(**training["progress"])

    # --- the run ----------------------------------------------------------------------------------
    def fit(self, *, resume: bool = False) -> FitResult:
        """Train until `patience` epochs without a better validation correlation, or `max_epochs`.

        A new run saves its starting point as last.ckpt first, so a run stopped at any moment after it
        began (building the feature cache, in its first epoch) continues with --resume.
        """
        if resume:
            self.load_last()
        elif self.worker.is_main:
            self._save_last()
        config, state = self.config, self.state
        stopped_early = False
        while state.epoch < config.max_epochs:
            if state.since_best >= config.patience:
                stopped_early = True
                break
            epoch = state.epoch
            row = self._train_epoch(epoch)
            score = row["validation_correlation"]
            improved = score > state.best_score or state.best_epoch < 0
            if improved:
                state.best_score, state.best_epoch, state.since_best = score, epoch, 0
            else:
                state.since_best += 1
            state.epoch = epoch + 1
            row["best"] = improved
            if self.worker.is_main:
                if improved:
                    self._save_best(epoch, score)
                self.run.append_metrics(row, keep_epochs_below=epoch)
            self.worker.barrier()
            if not improved and state.since_best % config.plateau_patience == 0:
                state.lr_scale *= config.plateau_factor
                self._restore_best()
            if self.worker.is_main:
                self._save_last()
            self.worker.barrier()
            loss = "n/a (no step)" if row["train_loss"] is None else f"{row['train_loss']:.4f}"
            self.reporter.note(
                f"epoch {epoch}: train loss {loss}, validation correlation {score:.4f} "
                f"(best {state.best_score:.4f} at epoch {state.best_epoch}), {row['seconds']:.0f} s"
            )
        if state.since_best >= config.patience:
            stopped_early = True
        for cache in (self.caches or {}).values():
            cache.close()
        evaluation = {}
        if self.worker.is_main:
            self._restore_best()
            check = check_fit(state.best_score, state.best_epoch, state.epoch, stopped_early)
            evaluation = score_best(
                self.model, self.sessions, self.run, state.best_epoch, check, self.worker.device
            )
        self.worker.barrier()
        return FitResult(state.best_score, state.best_epoch, state.epoch, stopped_early, evaluation)


@dataclass(frozen=True)
class _StepRecord:
    """One step as the device holds it until the host looks: this process's part of each session's
    loss (n_sessions,) and the gradient norm before clipping (0-d)."""

    losses: torch.Tensor
    norm: torch.Tensor


def hash_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across processes and Python versions."""
    return int(np.random.SeedSequence(list(parts)).generate_state(2, np.uint32).view(np.uint64)[0] >> 1)
