"""The training engine shared by train_vimeo90k.py and train_gopro.py.

It runs the paper's recipe in one process, on one or several GPUs, or on several machines
(``torchrun``): AdamW with weight decay 0, a cosine learning rate per iteration from ``lr_start``
to ``lr_end``, a DistributedSampler reshuffled every epoch, evaluation every ``eval_interval``
epochs on the test split (PSNR and SSIM), and ``latest``/``best`` checkpoints written atomically.
A checkpoint records the position to the step, the optimiser and every rank's RNG states, so
``--resume`` continues at the same iteration with the same learning rate and the same data.

What differs between datasets (which files, which defaults) lives in :mod:`training.recipes`.
"""
from __future__ import annotations

import argparse
import random
import re
import signal
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from models import build_model, load_checkpoint
from models.lean_inference import LeanIFRNet
from training.batches import to_model_inputs
from training.evaluate import EvalResult, evaluate_epoch
from training.flags import check_args, inherit_saved_flags
from training.weight_init import initialise_weights
from training.recipes import Recipe
from training.reporting import RunReporter
from training.run_checkpoints import (
    TrainingState,
    capture_rng_state,
    check_recipe,
    checkpoint_paths,
    load_training_checkpoint,
    restore_rng_state,
    save_training_checkpoint,
)
from training.run_folder import default_log_path, prepare_log_folder
from training.sampler import ResumableDistributedSampler
from training.schedule import cosine_lr, set_lr
from training.step_sync import LOSS_NAMES, share_step
from training.stop import StopRequest, TrainingStopped, ignore_stop_signals
from utils.device import autotune_convolutions
from training.distributed import DistributedContext, init_distributed
from utils.errors import InputError

__all__ = ["train", "Trainer"]


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _one_line(error: BaseException) -> str:
    """The original message of an error re-raised by a DataLoader worker (which adds a traceback)."""
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else type(error).__name__
    return re.sub(r"^[\w.]*(InputError|ImageError|CheckpointError): ", "", last)


class _Meter:
    """Running sums of the loss terms and the samples seen since the last report."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums = {name: 0.0 for name in LOSS_NAMES}
        self.steps = 0
        self.samples = 0
        self.started = time.perf_counter()

    def update(self, losses: Dict[str, float], samples: int) -> None:
        for name in LOSS_NAMES:
            self.sums[name] += losses[name]
        self.steps += 1
        self.samples += samples

    def means(self) -> Dict[str, float]:
        means = {name: total / max(self.steps, 1) for name, total in self.sums.items()}
        means["loss"] = sum(means[name] for name in LOSS_NAMES)
        return means

    def rate(self) -> float:
        return self.samples / max(time.perf_counter() - self.started, 1e-9)


@dataclass
class _EpochEnd:
    """How an epoch's loop ended: ``stop`` when --max_steps or a signal ended it early."""

    stop: bool = False
    signalled: bool = False


@dataclass
class _Position:
    epoch: int = 0
    epoch_step: int = 0
    iteration: int = 0


class Trainer:
    """One training run: built from the parsed flags and a :class:`Recipe`, started by :meth:`run`.

    ``resume_state`` is the ``--resume`` file as rank 0 read it and ``log_path`` the checked run
    folder (see :func:`train`, which prepares both).
    """

    def __init__(
        self,
        args: argparse.Namespace,
        recipe: Recipe,
        context: DistributedContext,
        resume_state: Optional[TrainingState],
        log_path: Path,
    ) -> None:
        self.args = args
        self.recipe = recipe
        self.context = context
        self.device = context.device
        self.use_flow = recipe.uses_flow(args)
        self.log_path = log_path
        self.reporter = RunReporter(self.log_path, enabled=context.is_main)
        for note in getattr(args, "notes", []):
            self.reporter.info(f"note: {note}")

        _seed_everything(args.seed)  # identical initial weights on every rank
        self.model = initialise_weights(build_model(args.model_name), args.init).to(self.device)
        self.train_set = recipe.build_train(args)
        self.test_set = recipe.build_test(args) if args.eval_interval > 0 else None
        _seed_everything(args.seed + context.rank)

        self.sampler = ResumableDistributedSampler(
            self.train_set, num_replicas=context.world_size, rank=context.rank, shuffle=True, seed=args.seed
        )
        self.iters_per_epoch = self.sampler.full_length // args.batch_size
        if self.iters_per_epoch == 0:
            raise InputError(
                f"the train split has {len(self.train_set)} samples, fewer than one batch of {args.batch_size} "
                f"per process on {context.world_size} process(es); lower --batch_size"
            )
        self.total_iterations = args.epochs * self.iters_per_epoch
        self.loader = DataLoader(
            self.train_set,
            batch_size=args.batch_size,
            sampler=self.sampler,
            num_workers=args.num_workers,
            pin_memory=self.device.type == "cuda",
            drop_last=True,
            worker_init_fn=ignore_stop_signals,
        )
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.lr_start, weight_decay=0)
        self.amp_dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda", enabled=bool(args.amp) and self.device.type == "cuda")
        self.position = _Position()
        self.best_score = float("-inf")
        self.steps_this_run = 0
        if resume_state is not None:
            self._resume(resume_state)
        self.ddp_model = (
            DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if context.initialized
            else self.model
        )
        autotune_convolutions(self.device)  # a run owns its process; crops have one size

    # ------------------------------------------------------------------------------------------
    # set-up

    def _resume(self, state: TrainingState) -> None:
        # Rank 0 reads the file (it may exist on node 0 only) and checks width and keys; the
        # others take the weights rank 0 broadcast (DDP would copy rank 0's weights anyway).
        def load_and_check() -> None:
            load_checkpoint(self.model, self.args.resume, map_location="cpu")

        self.context.on_main(load_and_check)
        if not self.context.is_main:
            self.model.load_state_dict(state.model, strict=True)
        if state.weights_only:
            self.reporter.info(f"note: {self.args.resume} holds weights only; training starts at iteration 0 from them")
            return
        self.optimizer.load_state_dict(state.optimizer)
        if state.scaler and self.scaler.is_enabled():
            self.scaler.load_state_dict(state.scaler)
        self.best_score = state.best_score
        epoch, step = state.epoch, state.epoch_step
        if state.iters_per_epoch != self.iters_per_epoch and step:
            self.reporter.info(
                f"note: an epoch now has {self.iters_per_epoch} iterations, not {state.iters_per_epoch} "
                "(batch size or process count changed); resuming at the start of the next epoch"
            )
            epoch, step = epoch + 1, 0
        self.position = _Position(epoch, step, state.iteration)
        if len(state.rng) == self.context.world_size:
            restore_rng_state(state.rng[self.context.rank])
        else:
            self.reporter.info(f"note: the checkpoint has RNG states of {len(state.rng)} process(es); reseeding")
        for key in ("epochs", "lr_start", "lr_end", "batch_size"):
            old = state.args.get(key)
            if old is not None and old != getattr(self.args, key):
                self.reporter.info(f"note: --{key} was {old} in the checkpoint and is {getattr(self.args, key)} now")

    # ------------------------------------------------------------------------------------------
    # checkpoints and evaluation (collective: every rank calls them)

    def _save(self, tag: str) -> None:
        rng_states = self.context.all_gather_objects(capture_rng_state())

        def write() -> None:  # rank 0 writes; a failure (a full disk) stops every rank with its line
            state = TrainingState(
                model={k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                optimizer=self.optimizer.state_dict(),
                scaler=self.scaler.state_dict() if self.scaler.is_enabled() else None,
                epoch=self.position.epoch,
                epoch_step=self.position.epoch_step,
                iteration=self.position.iteration,
                iters_per_epoch=self.iters_per_epoch,
                best_score=self.best_score,
                args=vars(self.args),
                rng=rng_states,
                recipe=self.recipe.name,
            )
            training_path, weights_path = save_training_checkpoint(self.log_path, self.args.model_name, tag, state)
            self.reporter.info(f"saved {training_path} and {weights_path} (iteration {self.position.iteration})")

        self.context.on_main(write)  # its broadcast also holds the other ranks until the files are there

    def _evaluate(self, epoch: int, stop_request: StopRequest) -> EvalResult:
        started = time.perf_counter()
        result = evaluate_epoch(
            # The lean path on the trained layers (no copy): a fraction of the plain path's memory at
            # GoPro's 1280x720, and the values the tools will compute with these weights.
            LeanIFRNet.sharing_weights(self.model),
            self.test_set,
            self.context,
            batch_size=self.args.eval_batch_size,
            num_workers=self.args.num_workers,
            should_stop=lambda: stop_request.requested,
        )
        if result.interrupted:
            return result
        step = self.position.iteration
        self.reporter.info(
            f"eval epoch {epoch + 1}/{self.args.epochs}: PSNR {result.psnr:.3f} dB, SSIM {result.ssim:.4f} "
            f"over {result.count} frames"
            + (f" ({result.exact_frames} predicted exactly, left out of the PSNR)" if result.exact_frames else "")
            + f" ({time.perf_counter() - started:.1f} s)"
        )
        self.reporter.scalars({"eval/psnr": result.psnr, "eval/ssim": result.ssim}, step)
        self.reporter.images("eval/img0|prediction|target", result.samples, step)
        return result

    # ------------------------------------------------------------------------------------------
    # the loop

    def _step(self, batch: List[torch.Tensor], stop_requested: bool) -> Dict[str, float]:
        inputs = to_model_inputs(batch, self.device, self.use_flow)
        lr = cosine_lr(self.position.iteration, self.total_iterations, self.args.lr_start, self.args.lr_end)
        set_lr(self.optimizer, lr)
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype) if self.args.amp else nullcontext()
        with autocast:
            _, loss_rec, loss_geo, loss_dis = self.ddp_model(*inputs)
        loss = loss_rec.float() + loss_geo.float() + loss_dis.float()
        shared = share_step(
            self.context,
            (loss_rec, loss_geo, loss_dis),
            stop_requested=stop_requested,
            iteration=self.position.iteration,
            overflow_left_to_scaler=self.scaler.is_enabled(),
        )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {**shared.losses, "lr": lr, "samples": inputs.img0.shape[0] * self.context.world_size, "stop": shared.stop}

    def _report_training(self, meter: _Meter) -> None:
        means = meter.means()
        rate = meter.rate()
        lr = self.optimizer.param_groups[0]["lr"]
        self.reporter.info(
            f"epoch {self.position.epoch + 1}/{self.args.epochs} iter {self.position.iteration}/{self.total_iterations} "
            f"lr {lr:.4e} loss {means['loss']:.4e} (rec {means['loss_rec']:.4e} geo {means['loss_geo']:.4e} "
            f"dis {means['loss_dis']:.4e}) {rate:.1f} samples/s"
        )
        scalars = {f"train/{name}": value for name, value in means.items()}
        scalars.update({"train/lr": lr, "train/samples_per_second": rate})
        self.reporter.scalars(scalars, self.position.iteration)
        meter.reset()

    def _log_start(self) -> None:
        args, context = self.args, self.context
        self.reporter.info(f"arguments: { {k: v for k, v in vars(args).items() if k not in ('notes', 'explicit_flags')} }")
        self.reporter.info(
            f"{args.model_name} on {context.world_size} process(es), device {self.device}; "
            f"{len(self.train_set)} training samples, {self.iters_per_epoch} iterations per epoch, "
            f"{self.total_iterations} in all; flow loss {'on' if self.use_flow else 'off'}; logs in {self.log_path}"
        )
        if self.position.iteration:
            self.reporter.info(
                f"resumed at epoch {self.position.epoch + 1}, iteration {self.position.iteration}, lr "
                f"{cosine_lr(self.position.iteration, self.total_iterations, args.lr_start, args.lr_end):.4e}"
            )

    def run(self) -> None:
        """Train until --epochs are done, --max_steps optimiser steps were taken in this run, or a signal.

        On SIGTERM or Ctrl-C (on any rank) every rank finishes its step, ``latest`` is saved and
        :class:`TrainingStopped` is raised.
        """
        args = self.args
        self._log_start()
        if self.position.epoch >= args.epochs:
            self.reporter.info(f"nothing to do: all {args.epochs} epochs are done (raise --epochs to train longer)")
        self.ddp_model.train()
        try:
            with StopRequest() as stop_request:
                for epoch in range(self.position.epoch, args.epochs):
                    end = self._train_epoch(epoch, stop_request)
                    self._end_epoch(epoch, end, stop_request)
                    if end.signalled:
                        self._stopped_by(stop_request.signal or signal.SIGTERM)
                    if end.stop:
                        self.reporter.info(f"stopped after --max_steps {args.max_steps} steps (iteration {self.position.iteration})")
                        break
        except InputError as error:  # bad data found by a DataLoader worker: keep the one-line message
            raise InputError(_one_line(error)) from None
        finally:
            self.reporter.close()

    def _train_epoch(self, epoch: int, stop_request: StopRequest) -> _EpochEnd:
        """Steps from the current position to the end of ``epoch``, --max_steps or a signal."""
        args = self.args
        self.position.epoch = epoch
        self.sampler.set_epoch(epoch)
        if hasattr(self.train_set, "set_epoch"):  # our datasets draw augmentations per (seed, epoch, index)
            self.train_set.set_epoch(epoch)
        self.sampler.skip_samples(self.position.epoch_step * args.batch_size)
        meter = _Meter()
        end = _EpochEnd()
        bar = self.reporter.progress(
            self.loader, total=self.iters_per_epoch, initial=self.position.epoch_step, description=f"epoch {epoch + 1}/{args.epochs}"
        )
        with bar:
            for batch in bar:
                result = self._step(batch, stop_request.requested)
                self.position.iteration += 1
                self.position.epoch_step += 1
                self.steps_this_run += 1
                meter.update(result, result["samples"])
                self._log_step(bar, meter, result)
                end.signalled = result["stop"]
                end.stop = end.signalled or (bool(args.max_steps) and self.steps_this_run >= args.max_steps)
                if end.stop:
                    break
                if args.save_interval and self.position.iteration % args.save_interval == 0 and self.position.epoch_step < self.iters_per_epoch:
                    self._save("latest")
        return end

    def _log_step(self, bar: tqdm, meter: _Meter, result: Dict[str, float]) -> None:
        """The progress bar's figures after every step; a log line and TensorBoard points every --log_interval."""
        bar.set_postfix(
            loss=f"{result['loss_rec'] + result['loss_geo'] + result['loss_dis']:.4f}",
            lr=f"{result['lr']:.2e}",
            samples_per_s=f"{meter.rate():.1f}",
            refresh=False,
        )
        if self.position.iteration % self.args.log_interval == 0:
            self._report_training(meter)

    def _end_epoch(self, epoch: int, end: _EpochEnd, stop_request: StopRequest) -> None:
        """After a complete epoch: evaluate when due (keeping ``best``) and save ``latest``; after a stop: save ``latest``.

        A signal during the evaluation ends it at the next batch (a scheduler's grace period is
        short, an evaluation can take minutes): ``latest`` is saved at the end of the epoch, before
        its evaluation, so ``--resume`` evaluates it again; ``end`` is marked signalled.
        """
        args = self.args
        if self.position.epoch_step >= self.iters_per_epoch:  # the epoch is complete
            score = None
            if (self.test_set is not None and not end.signalled  # no evaluation in a scheduler's grace period
                    and ((epoch + 1) % args.eval_interval == 0 or epoch + 1 == args.epochs)):
                result = self._evaluate(epoch, stop_request)
                if result.interrupted:
                    end.signalled = end.stop = True
                    self.reporter.info(f"evaluation of epoch {epoch + 1} stopped by a signal; it runs again on --resume")
                    self._save("latest")
                    return
                score = result.psnr
            self.position = _Position(epoch + 1, 0, self.position.iteration)
            if score is not None and score > self.best_score:
                self.best_score = score
                self._save("best")
            self._save("latest")
        elif end.stop:
            self._save("latest")

    def _stopped_by(self, number: int) -> None:
        latest = checkpoint_paths(self.log_path, self.args.model_name, "latest")[0]
        message = (f"stopped by {signal.Signals(number).name} at iteration {self.position.iteration}; "
                   f"saved {latest}: continue with --resume {latest}")
        self.reporter.info(message)
        raise TrainingStopped(message, int(number))


def train(args: argparse.Namespace, recipe: Recipe) -> None:
    """Join the process group (if launched by torchrun), prepare the run and train, leave the group.

    Before any data or model: rank 0 reads ``--resume`` and shares it (the file may exist on node
    0 only: without a shared filesystem the other nodes have no copy), the run's saved flags fill
    in those not given, and rank 0 checks the run folder. Bad input stops every rank with the
    same one-line error.
    """
    context = init_distributed(args.device)
    try:
        resume_state = context.on_main(lambda: load_training_checkpoint(args.resume)) if args.resume else None
        if resume_state is not None:
            check_recipe(resume_state, recipe.name, args.resume)
            args.notes = list(getattr(args, "notes", [])) + inherit_saved_flags(
                args, resume_state.args, getattr(args, "explicit_flags", ())
            )
            check_args(args)
        log_path = default_log_path(args, recipe)
        resuming = resume_state is not None
        args.notes = list(getattr(args, "notes", [])) + context.on_main(
            lambda: prepare_log_folder(log_path, resuming=resuming, overwrite=bool(getattr(args, "overwrite", False)))
        )
        Trainer(args, recipe, context, resume_state, log_path).run()
    finally:
        context.close()
