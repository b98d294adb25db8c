"""Training on two processes (torchrun, gloo) gives the model one process trains; the sharded
layers equal the plain ones."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from reid_model import TrainConfig, embed, load_checkpoint, load_images, train
from reid_model.distributed import ShardedDropout, World, shard_layers, sharded_batch
from reid_model.torchrun import train_on_processes

SMALL_STRIPE = {"widths": [8, 16], "stripes": 2, "embedding_dim": 8}


def test_shards_are_contiguous_blocks_that_cover_the_batch():
    for n in (7, 8, 1):
        shards = [World(r, 3).shard(n) for r in range(3)]
        assert [i for s in shards for i in range(n)[s]] == list(range(n))
        assert max(s.stop - s.start for s in shards) - min(s.stop - s.start for s in shards) <= 1


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_the_shards_dropout_masks_are_the_rows_of_the_whole_batchs(layout):
    x = torch.rand(6, 8, 10, 5).contiguous(memory_format=layout)
    torch.manual_seed(3)
    whole = nn.Dropout(0.25).train()(x)
    parts = []
    for rank in range(2):
        rows = World(rank, 2).shard(6)
        torch.manual_seed(3)  # every process's random stream is the same
        with sharded_batch(6, rows.start):
            parts.append(ShardedDropout(0.25).train()(x[rows]))
    assert torch.equal(torch.cat(parts), whole)


def test_sharding_layers_keeps_the_state_dict_and_one_process_behaviour():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten(), nn.BatchNorm1d(4 * 6 * 6)
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sharded = shard_layers(model)
    assert sharded.state_dict().keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in sharded.state_dict().items())
    assert isinstance(sharded[2], ShardedDropout)
    x = torch.rand(5, 3, 8, 8)
    plain = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5), nn.Flatten(), nn.BatchNorm1d(4 * 6 * 6)
    )
    plain.load_state_dict(before)
    torch.manual_seed(1)
    a = plain.train()(x)
    torch.manual_seed(1)
    b = sharded.train()(x)  # no process group: the plain layers' own arithmetic
    assert torch.equal(a, b)


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch",
    [
        # the seed's network (dropout), its softmax loss and random triplets
        {"arch": "triplet", "loss": "softmax", "mining": "random", "negatives": 2},
        # the stripe network (batch norm, dropout), hard mining and the identity head
        {"arch": "stripe", "arch_config": SMALL_STRIPE, "loss": "margin", "mining": "hard", "id_loss": 0.5},
    ],
    ids=["triplet", "stripe"],
)
def test_two_processes_train_the_model_one_process_trains(fake_viper, tmp_path, arch):
    """Same losses, same distances between people, same weights. A bias the loss is blind to
    (the last layer's, which shifts every embedding alike) has gradients of rounding noise, which
    Adam's normalized step turns into differences of up to the learning rate: biases are compared
    through the distances instead."""
    common = dict(data=str(fake_viper), epochs=2, persons_per_batch=5, warmup_epochs=1, select="last", **arch)
    one = train(TrainConfig(**common, out=str(tmp_path / "one")), progress=False)
    two = train_on_processes(TrainConfig(**common, out=str(tmp_path / "two")), 2)
    runs = [tmp_path / "one", tmp_path / "two"]
    histories = [json.loads((run / "history.json").read_text()) for run in runs]
    assert [h["loss"] for h in histories[0]] == pytest.approx([h["loss"] for h in histories[1]], rel=1e-5)
    a, b = (load_file(str(run / "last.safetensors")) for run in runs)
    assert a.keys() == b.keys()
    for key in a:
        if not key.endswith("bias"):
            gap = float((a[key].float() - b[key].float()).abs().max())
            assert torch.allclose(a[key].float(), b[key].float(), rtol=1e-4, atol=1e-5), (key, gap)
    images = load_images(sorted(fake_viper.rglob("*.bmp")))
    distances = [
        torch.cdist(*(embed(load_checkpoint(run / "last.safetensors"), images),) * 2) for run in runs
    ]
    assert torch.allclose(distances[0], distances[1], atol=1e-4)
    assert two["test"]["seed_error"] == pytest.approx(one["test"]["seed_error"], abs=1e-6)
    assert (tmp_path / "two" / "ddp_config.json").is_file()


LEAVING = """
import sys, time
from pathlib import Path
from reid_model.distributed import join_from_environment, leave
world = join_from_environment()
done = Path(sys.argv[1])
if world.main:
    time.sleep(1.0)  # the main process still evaluating
    done.write_text("done")
    leave()
else:
    leave()
    sys.exit(0 if done.is_file() else 3)  # left before the main process was done
"""


@pytest.mark.slow
def test_a_process_leaves_the_group_only_when_every_process_does(tmp_path):
    script = tmp_path / "leaving.py"
    script.write_text(LEAVING)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    run = subprocess.run(
        [*command, str(script), str(tmp_path / "done")], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
