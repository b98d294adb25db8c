import pytest
import torch

import reid_model.inference
from reid_model import EmbeddingMemo, TripletEmbedder, content_keys, embed


def _model() -> TripletEmbedder:
    torch.manual_seed(0)
    return TripletEmbedder().eval()


def test_memo_gives_embed_and_embeds_each_content_once():
    model = _model()
    images = torch.rand(3, 3, 128, 48, generator=torch.Generator().manual_seed(1))
    memo = EmbeddingMemo(model)
    first = memo(images)
    assert torch.allclose(first, embed(model, images), atol=1e-5)
    assert (memo.hits, memo.misses) == (0, 3)
    # the same pixels in new tensors, in another order, twice in one batch: no forward pass
    again = memo(torch.stack([images[2].clone(), images[0].clone(), images[2].clone()]))
    assert torch.equal(again, first[[2, 0, 2]])
    assert (memo.hits, memo.misses) == (3, 3)
    # one pixel changed by one level is another image
    changed = images[:1].clone()
    changed[0, 0, 0, 0] += 1 / 255
    memo(changed)
    assert memo.misses == 4
    assert memo(images[:0]).shape == (0, model.embedding_dim)


def test_memo_forgets_when_the_weights_change_and_beyond_its_capacity():
    model = _model()
    images = torch.rand(2, 3, 128, 48, generator=torch.Generator().manual_seed(2))
    memo = EmbeddingMemo(model, capacity=1)
    before = memo(images[:1])
    with torch.no_grad():
        next(model.parameters()).mul_(2.0)  # an in-place change, as an optimizer step makes
    after = memo(images[:1])
    assert memo.misses == 2
    assert not torch.allclose(before, after)
    model.load_state_dict({k: v * 0.5 for k, v in model.state_dict().items()})
    memo(images[:1])
    assert memo.misses == 3
    memo(images[1:])  # capacity 1: the first image is forgotten
    memo(images[:1])
    assert memo.misses == 5
    with pytest.raises(ValueError, match="capacity must be >= 1, got 0"):
        EmbeddingMemo(model, capacity=0)


def test_memos_given_the_keys_of_a_batch_do_not_hash_it_again(monkeypatch):
    model = _model()
    images = torch.rand(3, 3, 128, 48, generator=torch.Generator().manual_seed(3))
    keys = content_keys(images)
    hashed = []
    real = reid_model.inference._content_key
    monkeypatch.setattr(reid_model.inference, "_content_key", lambda image: hashed.append(1) or real(image))
    memos = [EmbeddingMemo(model), EmbeddingMemo(model)]
    given = [memo(images, keys) for memo in memos]
    assert hashed == []
    assert all(torch.equal(g, memo(images)) for g, memo in zip(given, memos, strict=True))
    assert len(hashed) == 6 and all(memo.misses == 3 for memo in memos)
    with pytest.raises(ValueError, match=r"keys must be one per image \(3\), got 2"):
        memos[0](images, keys[:2])
