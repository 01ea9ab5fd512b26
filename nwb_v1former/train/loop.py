"""The training loop shared by pretrain and finetune: sessions in, a run folder out.

One step = one batch of windows from EVERY session, each session's Poisson loss scaled by its share
of the training windows, gradients accumulated over all of them, then clipped and applied (the
published recipe). Each window is its own forward pass with its own random seed, derived from
(seed, epoch, step, session, position in the batch): a run is repeatable, a resumed run redoes the
interrupted epoch exactly, and N processes under torchrun (each taking every N-th window of the
global batch) compute the same step as one process.
"""

from __future__ import annotations

import contextlib
import math
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from nwb_v1former.data.dataset import MultiSessionDataset, RoundRobinSampler, WindowDataset
from nwb_v1former.data.store import SessionStore
from nwb_v1former.errors import ConfigError, SessionError, TrainingError
from nwb_v1former.model.checkpoint import read_checkpoint, save_checkpoint
from nwb_v1former.model.model import V1Former
from nwb_v1former.train import metrics
from nwb_v1former.train.clipping import AdaptiveClipper
from nwb_v1former.train.config import TrainConfig
from nwb_v1former.train.distributed import Distributed
from nwb_v1former.train.evaluate import evaluate_session, predict_trials, tier_trials
from nwb_v1former.train.run import BEST, EVALUATION, LAST, RunFolder

POISSON_EPS = 1e-8
MAX_WINDOW = 300


def poisson_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over windows, frames and neurons of pred - y log(pred + eps); (B, T, N) -> scalar.

    Targets below zero (dF/F under baseline) are taken as 0: a Poisson rate has no negative counts,
    and the unclamped term would reward predictions collapsing to 0.
    """
    target = target.clamp_min(0)
    return (prediction - target * torch.log(prediction + POISSON_EPS)).mean()


@dataclass(frozen=True)
class TrainingSession:
    """One session as training sees it: its windows, its validation trials and its loss weight."""

    store: SessionStore
    windows: WindowDataset
    validation: np.ndarray
    share: float

    @property
    def key(self) -> str:
        return self.store.key


def training_subset(store: SessionStore, fraction: float, seed: int) -> np.ndarray:
    """(n_trials,) bool: a seeded `fraction` of the train trials (at least one); nested in `fraction`."""
    train = np.flatnonzero(store.trials.tier == "train")
    order = np.random.default_rng([seed, zlib.crc32(store.key.encode())]).permutation(train)
    subset = np.zeros(len(store.trials), dtype=bool)
    subset[order[: max(1, round(fraction * len(train)))]] = True
    return subset


def resolve_window(stores: list[SessionStore], config: TrainConfig) -> int:
    """The window length: as configured, else the shortest train trial of any session (at most 300)."""
    if config.window is not None:
        return config.window
    lengths = [
        int((s.trials.stop_tick - s.trials.first_tick)[s.trials.tier == "train"].min())
        for s in stores
        if (s.trials.tier == "train").any()
    ]
    return min([MAX_WINDOW, *lengths])


def training_sessions(stores: list[SessionStore], config: TrainConfig) -> list[TrainingSession]:
    """Check every session can be trained and validated on; one clear line for the first that cannot."""
    if not stores:
        raise SessionError("no sessions to train on; pass converted sessions or NWB files")
    keys = [store.key for store in stores]
    if len(set(keys)) != len(keys):
        raise SessionError(f"session keys repeat ({', '.join(keys)}); give each session once")
    window = resolve_window(stores, config)
    built = []
    for store in stores:
        counts = {tier: int((store.trials.tier == tier).sum()) for tier in ("train", "validation")}
        if counts["train"] == 0:
            raise SessionError(
                f"{store.folder}: the training tier is empty ({len(store.trials)} trials, none 'train'); "
                "the session needs training trials (check its tier column or convert it again)"
            )
        validation = tier_trials(store, "validation")
        if not len(validation):
            raise SessionError(
                f"{store.folder}: too few trials: no validation trial longer than {metrics.SKIP_FRAMES} "
                f"ticks ({counts['validation']} validation trials); early stopping needs at least one"
            )
        subset = training_subset(store, config.train_fraction, config.seed)
        built.append(
            (store, WindowDataset(store, window=window, tiers=("train",), subset=subset), validation)
        )
    total = sum(len(windows) for _, windows, _ in built)
    return [
        TrainingSession(store, windows, validation, len(windows) / total)
        for store, windows, validation in built
    ]


@dataclass
class Progress:
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
        place: Distributed,
        provenance: dict[str, Any],
        progress: bool = True,
    ) -> None:
        if config.batch_size % place.world_size:
            raise ConfigError(
                f"batch size {config.batch_size} does not split over {place.world_size} processes; "
                "use a multiple of --nproc-per-node"
            )
        self.model = model.to(place.device)
        self.sessions = sessions
        self.config = config
        self.run = run
        self.place = place
        self.provenance = provenance
        self.show_progress = progress and place.is_main
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
        self.state = Progress()
        self.dataset = MultiSessionDataset({s.key: s.windows for s in sessions})
        self.sampler = RoundRobinSampler(self.dataset, seed=config.seed, shuffle=True)
        self.wrapped: torch.nn.Module = model
        self.core_trainable: bool | None = None
        model.core.set_gradient_checkpointing(config.gradient_checkpointing)

    # --- phases and rates -------------------------------------------------------------------------
    def _set_phase(self, epoch: int) -> None:
        """Freeze or unfreeze the core for this epoch's strategy; rebuild the DDP wrapper on a change."""
        trainable = self.config.core_rate(epoch) > 0
        if trainable == self.core_trainable:
            return
        self.core_trainable = trainable
        for parameter in self.core_parameters:
            parameter.requires_grad_(trainable)
        if self.place.enabled:
            device_ids = [self.place.device.index] if self.place.device.type == "cuda" else None
            self.wrapped = DistributedDataParallel(
                self.model, device_ids=device_ids, find_unused_parameters=True
            )

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
        size = self.config.batch_size
        steps = []
        for first in range(0, len(rounds) - size + 1, size):
            batch: dict[str, list[int]] = {}
            for round_ in rounds[first : first + size]:
                for key, index in round_:
                    batch.setdefault(key, []).append(index)
            steps.append(batch)
        return steps

    def _autocast(self) -> contextlib.AbstractContextManager:
        device = self.place.device
        use_bf16 = device.type == "cuda" and self.config.precision == "bf16"
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)

    def _train_step(self, epoch: int, index: int, batch: dict[str, list[int]]) -> float:
        """Accumulate every session's share of the loss over the global batch, clip, apply; the loss."""
        self.optimizer.zero_grad(set_to_none=True)
        place, world = self.place, self.place.world_size
        mine = [
            (number, session, position, window)
            for number, session in enumerate(self.sessions)
            for position, window in enumerate(batch[session.key])
            if position % world == place.rank
        ]
        total = 0.0
        for count, (number, session, position, window) in enumerate(mine):
            torch.manual_seed(hash_seed(self.config.seed, epoch, index, number, position))
            item = session.windows[window]
            inputs = [item[name][None].to(place.device) for name in ("video", "behavior", "pupil_center")]
            last = count == len(mine) - 1
            sync = contextlib.nullcontext() if last or not place.enabled else self.wrapped.no_sync()
            with sync:
                with self._autocast():
                    prediction = self.wrapped(*inputs, session=session.key)
                loss = poisson_loss(prediction.float(), item["responses"][None].to(place.device))
                if not torch.isfinite(loss):  # stop here: one more step would make every weight NaN
                    raise TrainingError(
                        f"session {session.key}, epoch {epoch} step {index}: the training loss is "
                        f"{loss.item()}; stopped, nothing saved from this epoch. Check the session's "
                        "responses and coordinates (convert it again), or try a longer --warmup-steps"
                    )
                weighted = loss * session.share / len(batch[session.key])
                (weighted * world).backward()
            total += weighted.item()
        self.state.history.append(self.clipper(self.model.parameters()))
        self.optimizer.step()
        self.state.step += 1
        return total

    def _validate(self) -> dict[str, float]:
        """Validation single-trial correlation of every session (mean over its neurons)."""
        scores = {}
        for session in self.sessions:
            predictions = predict_trials(self.model, session.store, session.validation)
            trials = session.store.trials
            responses = [
                np.asarray(session.store.responses[trials.first_tick[i] : trials.stop_tick[i]])
                for i in session.validation
            ]
            scores[session.key] = metrics.mean_over_neurons(
                metrics.single_trial_correlation(predictions, responses)
            )
        return scores

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        started = time.perf_counter()
        self._set_phase(epoch)
        self.model.train()
        if not self.core_trainable:
            self.model.core.eval()  # a frozen core runs as in inference: no dropout
        losses = []
        steps = self._steps(epoch)
        bar = tqdm(steps, desc=f"epoch {epoch}", unit="step", disable=not self.show_progress, leave=False)
        best = self.state.best_score
        for index, batch in enumerate(bar):
            rates = self._set_rates(epoch)
            losses.append(self._train_step(epoch, index, batch))
            bar.set_postfix(
                loss=f"{losses[-1]:.4f}", best_val_corr="-" if best == -math.inf else f"{best:.3f}"
            )
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
            "grad_norm_median": float(np.median(self.state.history[-len(steps) :])) if steps else None,
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
            self.model, self.run / LAST, extra={"provenance": self.provenance, "training": training}
        )

    def _save_best(self, epoch: int, score: float) -> None:
        extra = {"provenance": {**self.provenance, "epoch": epoch, "validation_correlation": score}}
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
        self.state = Progress(**training["progress"])

    # --- the run ----------------------------------------------------------------------------------
    def fit(self, *, resume: bool = False) -> FitResult:
        """Train until `patience` epochs without a better validation correlation, or `max_epochs`."""
        if resume:
            self.load_last()
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
            if self.place.is_main:
                if improved:
                    self._save_best(epoch, score)
                self.run.append_metrics(row, keep_epochs_below=epoch)
            self.place.barrier()
            if not improved and state.since_best % config.plateau_patience == 0:
                state.lr_scale *= config.plateau_factor
                self._restore_best()
            if self.place.is_main:
                self._save_last()
            self.place.barrier()
            if self.show_progress:
                tqdm.write(
                    f"epoch {epoch}: validation correlation {score:.4f} (best {state.best_score:.4f} "
                    f"at epoch {state.best_epoch})"
                )
        if state.since_best >= config.patience:
            stopped_early = True
        evaluation = self.evaluate_best() if self.place.is_main else {}
        self.place.barrier()
        return FitResult(state.best_score, state.best_epoch, state.epoch, stopped_early, evaluation)

    def evaluate_best(self) -> dict[str, Any]:
        """Score best.ckpt on held-out trials (test, else validation); write evaluation.json."""
        self._restore_best()
        sessions = {}
        for session in self.sessions:
            tier = "test" if len(tier_trials(session.store, "test")) else "validation"
            sessions[session.key] = evaluate_session(self.model, session.store, tier=tier).to_dict()
        summary = {
            key: {name: value for name, value in values.items() if name != "neurons"}
            for key, values in sessions.items()
        }
        evaluation = {
            "checkpoint": BEST,
            "best_epoch": self.state.best_epoch,
            "summary": summary,
            "sessions": sessions,
        }
        self.run.write_json(EVALUATION, evaluation)
        payload = read_checkpoint(self.run / BEST)
        payload["extra"]["provenance"]["evaluation"] = summary
        save_checkpoint(self.model, self.run / BEST, extra=payload["extra"])
        return evaluation


def hash_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across processes and Python versions."""
    return int(np.random.SeedSequence(list(parts)).generate_state(2, np.uint32).view(np.uint64)[0] >> 1)
