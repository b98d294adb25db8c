"""Training: one frozen ``TrainConfig`` per run, deterministic under its seed, resumable."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save
from torch import nn
from tqdm import tqdm

from reid_model.augmentation import Augmentation, augment
from reid_model.checkpoint import load_checkpoint, read_metadata, save_checkpoint
from reid_model.checks import check_choice, check_positive
from reid_model.data import Sample, dataset_kind, load_dataset
from reid_model.distributed import (
    gather_rows,
    join_from_environment,
    shard_layers,
    sharded_batch,
    sum_gradients,
)
from reid_model.embedders import StripeEmbedder, TripletEmbedder, build_embedder
from reid_model.evaluation import evaluate, evaluate_embeddings
from reid_model.inference import embed
from reid_model.io import load_images, write_bytes_atomic
from reid_model.losses import LOSSES
from reid_model.sampling import PersonBatchSampler, batch_triplets
from reid_model.splits import Split, person_ids, save_splits, seed_split, select, viper_protocol_splits

#: Architectures trained by gradient descent (ColorStripeEmbedder is fitted in closed form).
TRAINABLE = (TripletEmbedder.arch, StripeEmbedder.arch)
SELECTIONS = ("mAP", "error", "last")


@dataclass(frozen=True)
class TrainConfig:
    """All settings of one training run; each ``deid train`` flag sets one field."""

    data: str = "../shared/data/viper"
    dataset: str = "auto"
    split: str = "seed"
    split_seed: int = 0
    trial: int = 0
    arch: str = "triplet"
    arch_config: dict[str, Any] = field(default_factory=dict)
    loss: str = "softmax"
    margin: float = 0.3
    mining: str = "random"
    negatives: int = 1
    id_loss: float = 0.0
    epochs: int = 60
    persons_per_batch: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 2
    augment: bool = True
    select: str = "mAP"
    seed: int = 0
    threads: int = 0
    device: str = "cpu"
    out: str = "runs/train"

    def __post_init__(self) -> None:
        check_choice("arch", self.arch, TRAINABLE)
        check_choice("loss", self.loss, LOSSES)
        check_choice("mining", self.mining, ("random", "hard"))
        check_choice("split", self.split, ("seed", "viper316"))
        check_choice("select", self.select, SELECTIONS)
        check_positive("epochs", self.epochs)
        check_positive("negatives", self.negatives)
        if self.mining == "hard" and self.negatives != 1:
            raise ValueError(
                f"negatives must be 1 with mining='hard' (the closest one), got {self.negatives}"
            )
        check_positive("lr", self.lr)
        for name in ("margin", "id_loss", "weight_decay", "warmup_epochs"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.persons_per_batch < 2:
            raise ValueError(f"persons_per_batch must be >= 2, got {self.persons_per_batch}")


#: What a resumed run may change: more epochs, where the data lie, and how it runs.
RESUMABLE_CHANGES = frozenset({"epochs", "data", "threads", "device", "out"})


def _check_resumable(meta: dict[str, Any], config: TrainConfig, split: Split, out: Path) -> None:
    """Refuse to continue the run in ``out`` (its last checkpoint's ``meta``) with another recipe
    or split: its epochs so far were trained so, and a changed split would put persons it trained
    on among the new test persons.

    Raises:
        ValueError: a setting other than :data:`RESUMABLE_CHANGES` differs, or the split's persons do.
    """
    before = meta.get("train_config")
    if not isinstance(before, dict):
        return  # a checkpoint from before the recipe was recorded: nothing to compare
    now = asdict(config)
    changed = sorted(
        name
        for name in now
        if name not in RESUMABLE_CHANGES and name in before and before[name] != _plain(now[name])
    )
    if meta.get("split") is not None and meta["split"] != _plain(asdict(split)):
        changed.append("the split's persons")
    if changed:
        said = "; ".join(
            f"{name}: {before[name]!r} then, {now[name]!r} now" if name in now else name for name in changed
        )
        raise ValueError(
            f"{out} holds a run trained with other settings ({said}); resuming would mix them in one "
            "history: give another --out, or --no-resume to start it afresh"
        )


def check_resume(config: TrainConfig) -> None:
    """Refuse, before any work, to resume the run in ``config.out`` with another recipe or split
    (as :func:`train` does when it starts; ``deid train --nproc N`` asks before starting its
    processes, so the refusal is one message, not one per process); nothing without a run there.

    Raises:
        ValueError: see :func:`_check_resumable`.
        DatasetError: ``config.data`` cannot be read.
    """
    out = Path(config.out)
    if not _has_run(out):
        return
    samples = load_dataset(config.data, kind=dataset_kind(config.data, config.dataset))
    _check_resumable(read_metadata(out / "last.safetensors"), config, make_split(config, samples), out)


def _has_run(out: Path) -> bool:
    """Whether ``out`` holds a run to resume: its training state and last checkpoint."""
    return (out / "train_state.safetensors").is_file() and (out / "last.safetensors").is_file()


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON metadata (tuples as lists)."""
    return json.loads(json.dumps(value))


def _selection_score(config: TrainConfig, record: dict[str, float], epoch: int) -> float:
    """Higher is better: the validation measure ``config.select`` names, or the epoch (``"last"``,
    or no validation set)."""
    if config.select == "last" or "val_mAP" not in record:
        return float(epoch)
    return record["val_mAP"] if config.select == "mAP" else -record["val_error"]


def make_split(config: TrainConfig, samples: list[Sample]) -> Split:
    """The split a config asks for."""
    ids = person_ids(samples)
    if config.split == "seed":
        if len(ids) == 632:
            return seed_split(ids, seed=config.split_seed)
        # Other datasets: the seed's proportions.
        n_train = round(len(ids) * 404 / 632)
        n_val = round(len(ids) * 101 / 632)
        return seed_split(ids, seed=config.split_seed, sizes=(n_train, n_val, len(ids) - n_train - n_val))
    return viper_protocol_splits(ids, trials=config.trial + 1, seed=config.split_seed)[config.trial]


def _lr_at(config: TrainConfig, progress: float) -> float:
    """Linear warm-up, then cosine decay; ``progress`` in epochs."""
    if progress < config.warmup_epochs:
        return config.lr * (progress + 1e-3) / config.warmup_epochs
    span = max(config.epochs - config.warmup_epochs, 1e-6)
    return config.lr * 0.5 * (1 + math.cos(math.pi * (progress - config.warmup_epochs) / span))


def _save_state(
    path: Path, epoch: int, optimizer: torch.optim.Optimizer, head: nn.Module | None, best: float
) -> None:
    state = optimizer.state_dict()
    tensors = {}
    steps = {}
    for index, param_state in state["state"].items():
        for key, value in param_state.items():
            if key == "step":
                steps[str(index)] = float(value)
            else:
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
    if head is not None:
        tensors.update({f"head.{k}": v.detach().cpu().contiguous() for k, v in head.state_dict().items()})
    meta = {"epoch": epoch, "steps": steps, "best": best}
    write_bytes_atomic(path, save(tensors, metadata={"state": json.dumps(meta)}))


def _load_state(path: Path, optimizer: torch.optim.Optimizer, head: nn.Module | None) -> tuple[int, float]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads((handle.metadata() or {})["state"])
    tensors = load_file(str(path))
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, step in meta["steps"].items():
        state.setdefault(int(index), {})["step"] = torch.tensor(step)
    optimizer.load_state_dict({"state": state, "param_groups": optimizer.state_dict()["param_groups"]})
    if head is not None:
        head.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("head.")})
    return int(meta["epoch"]), float(meta["best"])


def train(config: TrainConfig, *, resume: bool = True, progress: bool = True) -> dict[str, Any]:
    """Train an embedder as ``config`` says and write its checkpoints to ``config.out``.

    Writes ``best.safetensors`` (the epoch with the best validation mAP, the lowest validation
    seed's error with ``select="error"``, the last epoch with ``select="last"`` or without a
    validation set), ``last.safetensors`` and ``train_state.safetensors`` (for resuming),
    ``split.json`` and ``metrics.json``. With ``resume``, a run whose folder already holds a
    state continues from its last finished epoch and gives the same result as an unbroken run.

    Started by ``torchrun`` (``deid train --nproc N``), each process trains on its shard of every
    batch and the processes follow one process's training (:mod:`reid_model.distributed`); the
    first process evaluates and writes the files, the others return an empty dict.

    Returns:
        The final metrics: per-part evaluation of the best checkpoint, plus timing.

    Example:
        >>> train(TrainConfig(data="../shared/data/viper", epochs=1, out="runs/try"))  # doctest: +SKIP
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    world = join_from_environment()
    device = torch.device(config.device)
    kind = dataset_kind(config.data, config.dataset)
    if config.split == "viper316" and kind != "viper":
        raise ValueError(
            f"split 'viper316' is VIPeR's 316/316 protocol, but {config.data} is a {kind} dataset: "
            "train it with --split seed (its persons divided in the seed's proportions)"
        )
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    samples = load_dataset(config.data, kind=kind)
    split = make_split(config, samples)
    state_file = out / "train_state.safetensors"
    resumed = resume and _has_run(out)
    if resumed:  # before anything is written over
        _check_resumable(read_metadata(out / "last.safetensors"), config, split, out)
    if world.main:
        save_splits(out / "split.json", [split])

    train_samples = select(samples, split.train)
    val_samples = select(samples, split.val)
    train_images = load_images([s.path for s in train_samples])
    val_images = load_images([s.path for s in val_samples]) if val_samples else None
    id_index = {pid: i for i, pid in enumerate(sorted({s.person_id for s in train_samples}))}
    labels = torch.tensor([s.person_id for s in train_samples])
    classes = torch.tensor([id_index[s.person_id] for s in train_samples])

    torch.manual_seed(config.seed)
    model = build_embedder(config.arch, **config.arch_config).to(device)
    model = model.to(memory_format=torch.channels_last)
    if world.size > 1:  # dropout and batch norm across the processes' shards, as in one process
        shard_layers(model)
    head = nn.Linear(model.embedding_dim, len(id_index), bias=False).to(device) if config.id_loss else None
    params = list(model.parameters()) + (list(head.parameters()) if head is not None else [])
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = LOSSES[config.loss](margin=config.margin) if config.loss == "margin" else LOSSES[config.loss]()
    sampler = PersonBatchSampler(
        labels=labels.tolist(),
        cameras=[s.camera_id for s in train_samples],
        persons_per_batch=config.persons_per_batch,
        seed=config.seed,
    )
    augmentation = Augmentation() if config.augment else None

    start_epoch, best = 0, -math.inf
    if resumed:
        model.load_state_dict(load_checkpoint(out / "last.safetensors", arch=config.arch).state_dict())
        start_epoch, best = _load_state(state_file, optimizer, head)

    history: list[dict[str, float]] = []
    history_file = out / "history.json"
    if start_epoch and history_file.is_file():
        history = json.loads(history_file.read_text())[:start_epoch]
    meta_base = {"train_config": asdict(config), "split": asdict(split)}
    started = time.perf_counter()
    images_seen = 0
    bar = tqdm(
        range(start_epoch, config.epochs),
        disable=not (progress and world.main),
        desc=f"train {config.arch}" + (f" ({world.size} processes)" if world.size > 1 else ""),
        unit="epoch",
    )
    for epoch in bar:
        torch.manual_seed(config.seed * 7919 + epoch)
        generator = torch.Generator().manual_seed(config.seed * 104_729 + epoch)
        model.train()
        batches = sampler.batches(epoch=epoch)
        losses = []
        for step, batch in enumerate(batches):
            for group in optimizer.param_groups:
                group["lr"] = _lr_at(config, epoch + step / len(batches))
            images = train_images[batch]
            if augmentation is not None:
                images = augment(images, augmentation, generator=generator)
            images = images.to(device).contiguous(memory_format=torch.channels_last)
            rows = world.shard(len(batch))  # this process's rows; all of them in one process
            with sharded_batch(len(batch), rows.start):
                embeddings = gather_rows(model(images[rows]), world, len(batch))
            a, p, n = batch_triplets(
                embeddings,
                labels[batch].to(device),
                mining=config.mining,
                generator=generator,
                negatives=config.negatives,
            )
            loss = loss_fn(embeddings[a], embeddings[p], embeddings[n])
            if head is not None:
                logits = head(F.normalize(embeddings, dim=1)) * 16.0
                loss = loss + config.id_loss * F.cross_entropy(
                    logits, classes[batch].to(device), label_smoothing=0.1
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            sum_gradients(list(model.parameters()), world)  # the head saw the whole batch already
            optimizer.step()
            losses.append(float(loss.detach()))
            images_seen += len(batch)
        if not world.main:
            continue
        record = {"epoch": epoch + 1, "loss": sum(losses) / len(losses)}
        if val_images is not None:
            val = evaluate_embeddings(embed(model, val_images), val_samples, seed=config.seed)
            record.update({"val_error": val["seed_error"], "val_rank1": val["rank1"], "val_mAP": val["mAP"]})
        history.append(record)
        score = _selection_score(config, record, epoch)
        save_checkpoint(
            out / "last.safetensors", model, {**meta_base, "epoch": epoch + 1, "history": history[-1]}
        )
        if score > best:
            best = score
            save_checkpoint(
                out / "best.safetensors", model, {**meta_base, "epoch": epoch + 1, "history": history[-1]}
            )
        _save_state(state_file, epoch + 1, optimizer, head, best)
        write_bytes_atomic(history_file, json.dumps(history, indent=1).encode())
        bar.set_postfix({k: round(v, 4) for k, v in record.items() if k != "epoch"})
    elapsed = time.perf_counter() - started
    if not world.main:  # the main process evaluates and writes
        return {}

    best_model = load_checkpoint(out / "best.safetensors", device=device)
    metrics: dict[str, Any] = evaluate(best_model, samples, split, seed=config.seed)
    metrics["train_seconds"] = elapsed
    metrics["train_images_per_second"] = images_seen / elapsed if elapsed > 0 else 0.0
    best_meta = dict(getattr(best_model, "metadata", {}))
    for key in ("format", "arch", "arch_config", "input_size", "embedding_dim", "normalization"):
        best_meta.pop(key, None)
    save_checkpoint(out / "best.safetensors", best_model, {**best_meta, "metrics": metrics})
    write_bytes_atomic(out / "metrics.json", json.dumps(metrics, indent=1).encode())
    return metrics
