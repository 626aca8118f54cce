"""Training: both networks at once on pages drawn on the fly, bounded by a time (or step) budget.

One step trains the detector on page crops and the recognizer (with its font head) on string
crops; a worker process draws pages meanwhile. The learning rate follows a cosine over the
budget, checkpoints are written every few minutes (and `resume` continues from the last one),
validation runs the full pipeline on held-out challenges of every difficulty and on
tutorial-like pages, and the end of training calibrates the box decoding, exports TorchScript
weights and writes the manifest.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing as mp
import queue
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from torch.nn import functional as F

from ocr_subnet.evaluation import EngineName
from ocr_subnet.evaluation.run import load_engine
from ocr_subnet.evaluation.validation import model_validation
from ocr_subnet.evaluation.validation import record as record_real_pdfs
from ocr_subnet.model import evaluate
from ocr_subnet.model.calibrate import correction_domains, correction_record
from ocr_subnet.model.correction import Corrector
from ocr_subnet.model.data import DataConfig, Pools, produce
from ocr_subnet.model.geometry import Calibration
from ocr_subnet.model.language import CharNgram
from ocr_subnet.model.lexicon import Lexicon
from ocr_subnet.model.nets import (
    OFFSET_SCALE,
    Detector,
    DetectorConfig,
    Recognizer,
    RecognizerConfig,
    config_dict,
    exportable,
    load_exported,
)
from ocr_subnet.model.pipeline import (
    DETECTOR_FILE,
    LANGUAGE_FILE,
    LEXICON_FILE,
    MANIFEST,
    RECOGNIZER_FILE,
    OcrPipeline,
)
from ocr_subnet.model.prior import PriorConfig, fit_prior, manual_record, prior_record

CHECKPOINT = "checkpoint.pt"
INIT_BATCHES = 8  # batches of each kind that measure the rebuilt batch norms when starting from shipped weights
FONT_LOSS_WEIGHT = 0.3
OFFSET_LOSS_WEIGHT = 2.0
MIN_POOL_PAGES = 16
# Settings a resumed run may change: how long to go on, with what resources, how much to validate and calibrate.
BUDGET = frozenset(
    {"minutes", "steps", "threads", "workers", "validate_minutes", "checkpoint_minutes"}
    | {"validation_pages", "final_pages", "calibration_pages", "calibration_pdf_pages"}
    | {"prior_pages", "real_pdf_pages"}
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained weights; recorded in the manifest."""

    seed: int = 0
    minutes: float = 55.0
    steps: int = 0  # 0: the time budget alone ends training; otherwise whichever comes first
    detector_batch: int = 8
    detector_every: int = 2  # the detector converges well before the recognizer: train it every other step
    recognizer_batch: int = 64  # crops at most
    recognizer_columns: int = 10_000  # padded crop columns at most (batch x width)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 300
    threads: int = 2
    workers: int = 1
    page_pool: int = 400
    pages_per_step: int = 1  # fresh pages taken into the pools per step
    crop_pool: int = 15_000
    validate_minutes: float = 10.0
    checkpoint_minutes: float = 3.0
    validation_pages: int = 4  # per source, during training
    final_pages: int = 8  # per source, after calibration
    calibration_pages: int = 6  # per source
    calibration_pdf_pages: int = 2  # per document of the real-PDF calibration set the corrections are also fitted on
    prior_pages: int = PriorConfig.family_pages  # pages per open family whose strings join the language prior
    real_pdf_pages: int = 1  # per document of the real-PDF set, read with the exported weights (0: none)
    data: DataConfig = field(default_factory=DataConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    recognizer: RecognizerConfig = field(default_factory=RecognizerConfig)

    def as_dict(self) -> dict[str, Any]:
        nested = {"data": self.data.as_dict(), "detector": config_dict(self.detector)}
        nested["recognizer"] = config_dict(self.recognizer)
        return {**{k: v for k, v in asdict(self).items() if k not in nested}, **nested}


def learning_rate(base: float, step: int, progress: float, warmup_steps: int) -> float:
    """Linear warm-up, then a cosine from `base` to 2% of it over the budget."""
    warm = min(1.0, (step + 1) / max(warmup_steps, 1))
    return base * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def detector_loss(
    out: torch.Tensor, kernel: torch.Tensor, care: torch.Tensor, top: torch.Tensor, bottom: torch.Tensor
) -> torch.Tensor:
    """BCE + dice on the kernel (text is a few % of the cells), smooth L1 on the edge distances inside boxes; cells
    where `care` is 0 count for nothing (`data.TARGET_PX`)."""
    logits = out[:, 0]
    bce = (F.binary_cross_entropy_with_logits(logits, kernel, reduction="none") * care).sum() / care.sum().clamp(min=1)
    prob = torch.sigmoid(logits) * care
    dice = 1 - (2 * (prob * kernel).sum() + 1) / (prob.sum() + kernel.sum() + 1)
    inside = (top > 0) & (care > 0)
    if not inside.any():
        return bce + dice
    target = torch.stack([top, bottom], 1)[inside[:, None].expand(-1, 2, -1, -1)] / OFFSET_SCALE
    offsets = F.smooth_l1_loss(out[:, 1:][inside[:, None].expand(-1, 2, -1, -1)], target, beta=0.05)
    return bce + dice + OFFSET_LOSS_WEIGHT * offsets


def recognizer_loss(
    logits: torch.Tensor,
    family_logits: torch.Tensor,
    widths: torch.Tensor,
    targets: torch.Tensor,
    lengths: torch.Tensor,
    families: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """CTC over the valid columns of each crop, and the font family's cross-entropy."""
    steps = torch.div(widths + 3, 4, rounding_mode="floor").clamp(1, logits.shape[1])
    log_probs = logits.log_softmax(-1).permute(1, 0, 2)
    ctc = F.ctc_loss(log_probs, targets, steps, lengths, blank=0, zero_infinity=True)
    return ctc, F.cross_entropy(family_logits, families, label_smoothing=0.05)


class Trainer:
    """The state of one training run: networks, optimizers, counters; saved and restored as a checkpoint."""

    def __init__(self, config: TrainConfig, out: Path, device: str = "cpu") -> None:
        self.config, self.out, self.device = config, out, torch.device(device)
        torch.manual_seed(config.seed)
        # channels-last trains ~25% faster on CPU (oneDNN); exported weights are layout-free
        self.detector = Detector(config.detector).to(self.device, memory_format=torch.channels_last)
        self.recognizer = Recognizer(config.recognizer).to(self.device, memory_format=torch.channels_last)
        self.optimizers = [
            torch.optim.AdamW(m.parameters(), lr=config.lr, weight_decay=config.weight_decay)
            for m in (self.detector, self.recognizer)
        ]
        self.step = 0
        self.elapsed = 0.0
        self.history: list[dict[str, Any]] = []
        self.commands: list[str] = []  # every invocation that trained these weights, resumes included

    def progress(self) -> float:
        by_time = self.elapsed / (60.0 * self.config.minutes)
        return max(by_time, self.step / self.config.steps) if self.config.steps else by_time

    def save(self) -> None:
        state = {
            "config": self.config.as_dict(),
            "detector": self.detector.state_dict(),
            "recognizer": self.recognizer.state_dict(),
            "optimizers": [o.state_dict() for o in self.optimizers],
            "step": self.step,
            "elapsed": self.elapsed,
            "history": self.history,
            "commands": self.commands,
        }
        partial = self.out / (CHECKPOINT + ".partial")
        torch.save(state, partial)
        partial.replace(self.out / CHECKPOINT)

    def restore(self) -> None:
        state = torch.load(self.out / CHECKPOINT, map_location=self.device, weights_only=False)
        saved, wanted = (
            {k: v for k, v in c.items() if k not in BUDGET} for c in (state["config"], self.config.as_dict())
        )
        if saved != wanted:
            changed = sorted(k for k in wanted if saved.get(k) != wanted[k])
            raise ValueError(f"the checkpoint was written with another configuration ({', '.join(changed)})")
        self.detector.load_state_dict(state["detector"])
        self.recognizer.load_state_dict(state["recognizer"])
        for optimizer, saved in zip(self.optimizers, state["optimizers"], strict=True):
            optimizer.load_state_dict(saved)
        self.step, self.elapsed, self.history = state["step"], state["elapsed"], state["history"]
        self.commands = state.get("commands", [])

    def start_from(self, weights_dir: Path, pools: Pools) -> None:
        """Begin from shipped weights (`load_exported`, norms measured on pool batches) rather than from scratch;
        their manifest's commands come first in this run's, so the manifest still records every command."""
        try:
            manifest = json.loads((weights_dir / MANIFEST).read_text())
            shipped = [
                torch.jit.load(str(weights_dir / name), map_location="cpu").state_dict()
                for name in (DETECTOR_FILE, RECOGNIZER_FILE)
            ]
        except (OSError, ValueError, RuntimeError) as exc:
            raise ValueError(f"cannot start from the weights in {weights_dir}: {exc}") from exc
        config = self.config

        def detector_feed(model: torch.nn.Module) -> None:
            for _ in range(INIT_BATCHES):
                model(self.on_device(pools.detector_batch(config.detector_batch, config.data.detector_crop))[0])

        def recognizer_feed(model: torch.nn.Module) -> None:
            for _ in range(INIT_BATCHES):
                crops, widths, *_ = self.on_device(
                    pools.recognizer_batch(config.recognizer_batch, config.recognizer_columns)
                )
                model(crops, widths)

        for model, state, feed in (
            (self.detector, shipped[0], detector_feed),
            (self.recognizer, shipped[1], recognizer_feed),
        ):
            load_exported(model, {k: v.to(self.device) for k, v in state.items()}, feed)
        self.commands = list(manifest.get("commands", [manifest["command"]] if "command" in manifest else []))

    def train_step(self, pools: Pools) -> dict[str, float]:
        lr = learning_rate(self.config.lr, self.step, self.progress(), self.config.warmup_steps)
        for optimizer in self.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr
        self.detector.train()
        self.recognizer.train()
        det = torch.zeros((), device=self.device)
        # on a GPU the networks run in bf16 (autocast keeps the losses in float32); CPU training stays float32
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            if self.step % self.config.detector_every == 0:
                pages, *maps = self.on_device(
                    pools.detector_batch(self.config.detector_batch, self.config.data.detector_crop)
                )
                det = detector_loss(self.detector(pages), *maps)
            batch = pools.recognizer_batch(self.config.recognizer_batch, self.config.recognizer_columns)
            crops, widths, targets, lengths, families = self.on_device(batch)
            logits, family_logits = self.recognizer(crops, widths)
            ctc, font = recognizer_loss(logits.float(), family_logits.float(), widths, targets, lengths, families)
        for optimizer in self.optimizers:
            optimizer.zero_grad(set_to_none=True)
        (det + ctc + FONT_LOSS_WEIGHT * font).backward()
        for model in (self.detector, self.recognizer):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        for optimizer in self.optimizers:
            optimizer.step()
        self.step += 1
        return {"lr": lr, "detector": det.item(), "ctc": ctc.item(), "font": font.item()}

    def on_device(self, tensors: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        """A batch moved to the training device; images channels-last like the networks' weights."""
        moved = [t.to(self.device, non_blocking=True) for t in tensors]
        return tuple(t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t for t in moved)

    def pipeline(self, calibration: Calibration, corrector: Corrector | None = None) -> OcrPipeline:
        self.detector.eval()
        self.recognizer.eval()
        return OcrPipeline(self.detector, self.recognizer, calibration, str(self.device), corrector=corrector)


def format_metrics(metrics: dict[str, dict[str, float]]) -> str:
    return "  ".join(
        f"{src}: reward {m['reward']:.3f} cer {m['cer']:.3f} font {m['font']:.3f}" for src, m in metrics.items()
    )


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(
    networks: dict[str, torch.jit.ScriptModule],
    calibration: Calibration,
    lexicon: Lexicon,
    language: CharNgram,
    weights_dir: Path,
    manifest: dict[str, Any],
) -> dict[str, Any]:
    """The networks' TorchScript (file name -> `nets.exportable` form), the lexicon, the language model, and the
    manifest with their sha256."""
    weights_dir.mkdir(parents=True, exist_ok=True)
    for name, network in networks.items():
        torch.jit.save(network, str(weights_dir / name))
    lexicon.save(weights_dir / LEXICON_FILE)
    language.save(weights_dir / LANGUAGE_FILE)
    names = (DETECTOR_FILE, RECOGNIZER_FILE, LEXICON_FILE, LANGUAGE_FILE)
    files = {name: file_sha256(weights_dir / name) for name in names}
    sizes = {name: (weights_dir / name).stat().st_size for name in files}
    full = {**manifest, "calibration": asdict(calibration), "sha256": files, "bytes": sizes}
    (weights_dir / MANIFEST).write_text(json.dumps(full, indent=2) + "\n")
    return full


def run(
    config: TrainConfig,
    out: Path,
    weights_dir: Path,
    resume: bool,
    command: str,
    console: Console,
    on_step: Callable[[float, dict[str, float]], None] | None = None,
    device: str = "cpu",
    init_from: Path | None = None,
) -> dict[str, Any]:
    """Train within the budget on `device` (from scratch, from the checkpoint when resuming, or from the shipped
    weights in `init_from`), calibrate, evaluate, export; returns the manifest."""
    if resume and init_from is not None:
        raise ValueError("resume continues a checkpoint; init_from starts from shipped weights: give one of them")
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(config.threads)
    torch.set_flush_denormal(True)  # tiny late-training gradients must not fall onto the slow denormal path
    trainer = Trainer(config, out, device)
    if resume:
        trainer.restore()
        console.log(f"resumed at step {trainer.step} ({trainer.elapsed / 60:.1f} min trained)")
    validation = evaluate.eval_pages(evaluate.VALIDATION_BASE, config.validation_pages)
    context = mp.get_context("spawn")
    items: mp.Queue = context.Queue(maxsize=32)
    stop = context.Event()
    held_out = evaluate.held_out_seeds()
    workers = [
        context.Process(
            target=produce,
            args=(config.seed * 1_000 + 7919 * trainer.step + w, held_out, config.data, items, stop),
            daemon=True,
        )
        for w in range(config.workers)
    ]
    for worker in workers:
        worker.start()
    pools = Pools(config.page_pool, config.crop_pool, np.random.default_rng([config.seed, trainer.step]))
    try:
        while len(pools.pages) < MIN_POOL_PAGES:
            pools.add(items.get(timeout=300))
        if init_from is not None:
            trainer.start_from(init_from, pools)
            console.log(f"starting from the weights in {init_from}")
        trainer.commands.append(command)
        last_checkpoint = last_validation = last_log = trainer.elapsed
        while trainer.progress() < 1.0:
            started = time.perf_counter()
            for _ in range(config.pages_per_step):  # the worker blocks on a full queue: data costs no more than this
                try:
                    pools.add(items.get_nowait())
                except queue.Empty:
                    break
            losses = trainer.train_step(pools)
            trainer.elapsed += time.perf_counter() - started
            if on_step is not None:
                on_step(trainer.progress(), losses)
            if trainer.elapsed - last_log >= 60:
                last_log = trainer.elapsed
                losses_text = " ".join(f"{k} {v:.4g}" for k, v in losses.items())
                console.log(
                    f"step {trainer.step} {trainer.elapsed / 60:.1f} min pages {pools.pages_seen} {losses_text}"
                )
            if trainer.elapsed - last_checkpoint >= 60 * config.checkpoint_minutes:
                last_checkpoint = trainer.elapsed
                trainer.save()
            if trainer.elapsed - last_validation >= 60 * config.validate_minutes:
                last_validation = trainer.elapsed
                metrics = evaluate.evaluate(trainer.pipeline(Calibration()), validation)
                trainer.history.append({"step": trainer.step, "minutes": trainer.elapsed / 60, "validation": metrics})
                console.log(f"validation at step {trainer.step}: {format_metrics(metrics)}")
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
    trainer.save()
    console.log(f"trained {trainer.step} steps in {trainer.elapsed / 60:.1f} min; calibrating")
    record = {
        "command": command,
        "commands": trainer.commands,  # in order; more than one when training was resumed
        "device": device,  # of the last command (a resumed run may change it)
        "seed": config.seed,
        "config": config.as_dict(),
        "steps": trainer.step,
        "train_minutes": round(trainer.elapsed / 60, 2),
        "parameters": {
            "detector": sum(p.numel() for p in trainer.detector.parameters()),
            "recognizer": sum(p.numel() for p in trainer.recognizer.parameters()),
        },
        "history": trainer.history,
    }
    networks = {DETECTOR_FILE: exportable(trainer.detector), RECOGNIZER_FILE: exportable(trainer.recognizer)}
    full = finish(trainer.pipeline, networks, config, record, weights_dir, console)
    shutil.copy(weights_dir / MANIFEST, out / MANIFEST)
    return full


def finish(
    pipeline_for: Callable[[Calibration, Corrector | None], OcrPipeline],
    networks: dict[str, torch.jit.ScriptModule],
    config: TrainConfig,
    record: dict[str, Any],
    weights_dir: Path,
    console: Console,
) -> dict[str, Any]:
    """What follows training, for any networks (`pipeline_for` reads with them): calibrate the box decoding, the
    fonts and the corrections, fit the prior, validate, export with `record` leading the manifest (this machine's
    Python and torch versions after it), and read the real PDFs with the exported weights; returns the manifest."""
    command = record["command"]
    pipeline = pipeline_for(Calibration(), None)
    calibration_pages = evaluate.eval_pages(evaluate.CALIBRATION_BASE, config.calibration_pages)
    cached = [(pipeline.detector_maps([p.image])[0], p) for p in calibration_pages]
    calibration, detection_quality = evaluate.calibrate_boxes(cached, Calibration())
    pipeline = pipeline_for(calibration, None)
    readings = [(pipeline.read([p.image])[0], p) for p in calibration_pages]
    calibration, fit = evaluate.calibrate_fonts(readings, calibration)
    prior_config = PriorConfig(seed=config.seed, family_pages=config.prior_pages)
    lexicon, language, prior_fit = fit_prior(prior_config)
    pdf_pages = config.calibration_pdf_pages
    domains = correction_domains(
        pipeline, readings, pdf_pages, lambda why: console.log(f"corrections fitted on generated pages alone: {why}")
    )
    calibration, correction_fit = evaluate.calibrate_correction(domains, lexicon, language, calibration)
    correction = correction_record(command, config.calibration_pages, pdf_pages, correction_fit)
    fit |= {"detection_quality": detection_quality, "correction": correction}
    console.log(f"calibration {calibration} ({fit})")
    corrector = Corrector(lexicon, language, calibration.lexicon_penalty, calibration.language_weight)
    final_pages = evaluate.eval_pages(evaluate.VALIDATION_BASE, config.final_pages)
    metrics = evaluate.evaluate(pipeline_for(calibration, corrector), final_pages)
    console.log(f"final validation: {format_metrics(metrics)}")
    manifest = record | {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "validation": metrics,
        "validation_pages_per_source": config.final_pages,
        "calibration_fit": fit,
        "prior": prior_record(command, prior_config, prior_fit),  # `ocr-subnet fit-prior` may refit it alone
        "training_text": manual_record(),  # the real lines `prose` set on the training pages, from this machine
    }
    full = export(networks, calibration, lexicon, language, weights_dir, manifest)
    if config.real_pdf_pages:
        shipped = load_engine(EngineName.MODEL, config.threads, weights_dir)
        real = model_validation(shipped, config.real_pdf_pages)
        console.log(f"real PDFs: {real.get('skipped') or real['rows']}")
        full = record_real_pdfs(weights_dir, real, MANIFEST)
    return full


def with_overrides(config: TrainConfig, **changes: Any) -> TrainConfig:
    """`replace` that ignores None (unset command-line options keep the defaults)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
