"""The adversary's privacy check against a brute-force loop over triplets."""

import pytest
import torch

from deid.adversary import MARGIN, Adversary, match_pairs
from reid_model import FusedEmbedder, StripeEmbedder, embed, same_embedder
from tests.conftest import TinyEmbedder


def _brute_force(concealed, originals, gallery, groups, max_match_rate, top_k, margin=MARGIN):
    """Per appearance: worst match rate and best rank over its pairs, by explicit loops (the
    original counted ``1 - margin`` times its distance)."""
    n = len(groups)
    rates, ranks = [0.0] * n, [float("inf")] * n
    for a, b in zip(*match_pairs(groups), strict=True):
        x, x_pos = concealed[a], originals[b]
        d_pos = float((x - x_pos).norm()) * (1 - margin)
        d_negs = [float((x - neg).norm()) for neg in gallery]
        holds = sum(d_pos < d_neg for d_neg in d_negs)  # condition C, concealed image as anchor
        rates[a] = max(rates[a], holds / len(gallery))
        ranks[a] = min(ranks[a], 1 + sum(d_neg < d_pos for d_neg in d_negs))
    private = [r <= max_match_rate and k > top_k for r, k in zip(rates, ranks, strict=True)]
    return rates, ranks, private


@pytest.mark.parametrize("seed", range(4))
def test_check_matches_brute_force(seed):
    g = torch.Generator().manual_seed(seed)
    groups = torch.tensor([0, 0, 1, 2, 2, 2])
    originals = torch.randn(6, 8, generator=g)
    concealed = originals + torch.randn(6, 8, generator=g) * (0.5 + seed)
    gallery = torch.randn(15, 8, generator=g)
    adversary = Adversary([TinyEmbedder()], [gallery], max_match_rate=0.5, top_k=3)
    check = adversary.check([concealed], [originals], groups)
    rates, ranks, private = _brute_force(concealed, originals, gallery, groups, 0.5, 3)
    assert check.match_rate.tolist() == pytest.approx(rates)
    assert check.rank.tolist() == ranks
    assert check.private.tolist() == private


def _points(*xs):
    """Embeddings on a line: ``(len(xs), 8)`` with the values in the first coordinate."""
    return torch.nn.functional.pad(torch.tensor(xs, dtype=torch.float32)[:, None], (0, 7))


def test_chance_target_puts_the_true_identity_in_the_worse_half():
    gallery = _points(1, 2, 3, 5, 6, 7, 8, 9, 10, 11)
    original = _points(4)
    adversary = Adversary([TinyEmbedder()], [gallery], max_match_rate=0.5, top_k=3)
    # Concealed image at 0: its original (distance 4) beats 7 of the 10 negatives.
    check = adversary.check([_points(0)], [original], torch.tensor([0]))
    assert check.match_rate.item() == pytest.approx(0.7)
    assert check.rank.item() == 4.0
    assert not bool(check.private.item())
    # At 12 the original (distance 8) beats only 3 negatives: the worse half, private.
    moved = adversary.check([_points(12)], [original], torch.tensor([0]))
    assert moved.match_rate.item() == pytest.approx(0.3)
    assert moved.rank.item() == 8.0
    assert bool(moved.private.item())


def test_a_verdict_of_private_holds_with_room_to_spare():
    """The run counts the original as ``MARGIN`` nearer: a negative a rounding nearer than the
    original would turn the verdict; ``exact`` (deid verify's judge) counts it as it is."""
    original = _points(1.0)
    concealed = _points(0.0)  # the original at distance 1
    gallery = _points(-(1 - MARGIN / 2), 2.0)  # one negative a hair nearer than the original
    run = Adversary([TinyEmbedder()], [gallery], max_match_rate=0.5, top_k=1)
    exact = run.exact()
    assert exact.margin == 0.0 and exact.models == run.models and run.exact() is not run
    assert exact.exact() is exact
    assert not bool(run.check([concealed], [original], torch.tensor([0])).private.item())
    assert bool(exact.check([concealed], [original], torch.tensor([0])).private.item())
    shared = run.check_shared([concealed], [original], torch.tensor([0]))
    assert not bool(shared.private[0, 0].item())
    with pytest.raises(ValueError, match=r"margin must be in \[0, 1\), got 1.0"):
        Adversary([TinyEmbedder()], [gallery], margin=1.0)


@pytest.mark.parametrize(("people", "negatives"), [(3, 20), (8, 300)])
def test_check_shared_matches_brute_force_with_ties(people, negatives):
    # Integer points on a line: many distances tie, where "nearer" and "farther" must stay
    # strict. Few pairs are compared directly, many looked up in the sorted negatives.
    g = torch.Generator().manual_seed(people)
    groups = torch.arange(people).repeat_interleave(5)
    originals = _points(*torch.randint(0, 30, (len(groups),), generator=g).tolist())
    shared = _points(*torch.randint(0, 30, (3,), generator=g).tolist())
    gallery = _points(*torch.randint(0, 30, (negatives,), generator=g).tolist())
    adversary = Adversary([TinyEmbedder()], [gallery], max_match_rate=0.5, top_k=3)
    check = adversary.check_shared([shared], [originals], groups)
    for k in range(len(shared)):
        rates, ranks, private = _brute_force(shared[[k] * len(groups)], originals, gallery, groups, 0.5, 3)
        assert check.match_rate[k].tolist() == pytest.approx(rates)
        assert check.rank[k].tolist() == ranks
        assert check.private[k].tolist() == private


class _WideEmbedder(TinyEmbedder):
    """The tiny embedder on 256 x 96 inputs: another model input size."""

    input_size = (256, 96)


def test_input_size_is_the_embedders_and_views_are_resized_to_it():
    gallery = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    adversary = Adversary([_WideEmbedder()], [gallery])
    assert adversary.input_size == (256, 96)
    views = adversary.views([torch.rand(3, 128, 48), torch.rand(3, 300, 100)])
    assert views.shape == (2, 3, 256, 96)
    with pytest.raises(ValueError, match=r"models must share one input size \(height, width\), got"):
        Adversary([TinyEmbedder(), _WideEmbedder()], [gallery, gallery])


def test_the_target_is_the_adversarys_and_a_contradicting_one_is_refused():
    from deid.adversary import resolve_adversary

    gallery = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    adversary = Adversary([TinyEmbedder()], [gallery], max_match_rate=0.4, top_k=3)
    assert resolve_adversary(adversary) is adversary
    assert resolve_adversary(adversary, top_k=3, max_match_rate=0.4) is adversary
    with pytest.raises(ValueError, match=r"top_k=5 contradicts the adversary's own top_k=3"):
        resolve_adversary(adversary, top_k=5)
    with pytest.raises(
        ValueError, match=r"max_match_rate=0.5 contradicts the adversary's own max_match_rate=0.4"
    ):
        resolve_adversary(adversary, max_match_rate=0.5)
    built = resolve_adversary(top_k=4, max_match_rate=0.3)
    assert (built.top_k, built.max_match_rate) == (4, 0.3)
    assert resolve_adversary().top_k == Adversary.top_k


class _Slow(TinyEmbedder):
    """A member without gradients that counts the appearances it is asked about."""

    differentiable = False

    def __init__(self):
        super().__init__()
        self.asked = 0

    def forward(self, images):
        self.asked += len(images)
        return super().forward(images).detach()


@pytest.mark.parametrize("seed", range(6))
def test_judge_asks_the_slow_member_only_about_people_the_others_let_pass(seed):
    torch.manual_seed(seed)
    fast, slow = TinyEmbedder().eval(), _Slow().eval()
    g = torch.Generator().manual_seed(seed)
    gallery_images = torch.rand(12, 3, 128, 48, generator=g)
    adversary = Adversary(
        [fast, slow], [fast(gallery_images).detach(), slow(gallery_images).detach()], top_k=2
    )
    groups = torch.tensor([0, 0, 1, 1, 2, 3, 3])
    originals_images = torch.rand(7, 3, 128, 48, generator=g)
    # Some people shown as they are (matched), some replaced by noise (perhaps private).
    views = torch.where(
        torch.tensor([1, 1, 0, 0, 1, 0, 0]).bool()[:, None, None, None],
        originals_images,
        torch.rand(7, 3, 128, 48, generator=g),
    )
    originals = adversary.embed(originals_images)
    slow.asked = 0
    memo = adversary.memos[1]
    seen = memo.hits + memo.misses
    _, judged = adversary.judge(views, originals, groups)
    asked = memo.hits + memo.misses - seen
    # the people shown as they are were embedded as originals: remembered, not run again
    assert slow.asked == memo.misses - len(originals_images) <= asked
    full = adversary.check(adversary.embed(views), originals, groups)
    fast_only = adversary.check(adversary.embed(views), originals, groups, members=[0])

    def per_person(private):
        return torch.ones(4, dtype=torch.bool).scatter_reduce(0, groups, private, "amin")

    assert torch.equal(per_person(judged.private), per_person(full.private))
    assert not bool((judged.private & ~full.private).any())  # never private where the full check is not
    assert asked == int(per_person(fast_only.private)[groups].sum())


def _counted(model):
    """The batch sizes ``model`` is run on from now on."""
    batches = []
    model.register_forward_hook(lambda module, args, out: batches.append(len(args[0])))
    return batches


def test_a_fused_member_takes_a_part_from_the_member_that_is_that_part():
    torch.manual_seed(0)
    network, other = (StripeEmbedder(widths=(8, 16), embedding_dim=16).eval() for _ in range(2))
    fitting, views, later = torch.rand(10, 3, 128, 48), torch.rand(5, 3, 128, 48), torch.rand(3, 3, 128, 48)
    fused = FusedEmbedder.fuse([network, other], fitting)
    expected, expected_later = embed(fused, views), embed(fused, later)
    adversary = Adversary([network, fused], [embed(network, fitting), embed(fused, fitting)])
    ran_network, ran_part, ran_other = _counted(network), _counted(fused.parts[0]), _counted(fused.parts[1])
    embeddings = adversary.embed(views)
    assert (ran_network, ran_part, ran_other) == ([5], [], [5])  # the network once, for both
    assert torch.equal(embeddings[1], expected)
    with torch.no_grad():  # the member changed in place: the fused model's own part runs again
        network.stem[0].weight.mul_(2.0)
    embeddings = adversary.embed(later)
    assert (ran_network, ran_part, ran_other) == ([5, 3], [3], [5, 3])
    assert torch.equal(embeddings[1], expected_later)


def test_the_bundled_strong_adversary_runs_its_network_once():
    adversary = Adversary.default()
    network, _, fused = adversary.models
    assert same_embedder(fused.parts[0], network)  # shipped so: the network part is the network
    views = torch.rand(4, 3, 128, 48)
    ran_network, ran_part = [], []
    hooks = [
        model.register_forward_hook(lambda module, args, out, ran=ran: ran.append(len(args[0])))
        for model, ran in ((network, ran_network), (fused.parts[0], ran_part))
    ]
    try:  # the bundled adversary is shared by the process: its hooks go again
        fused_rows = adversary.embed(views)[2]
    finally:
        for hook in hooks:
            hook.remove()
    assert (ran_network, ran_part) == ([4], [])
    assert torch.equal(fused_rows, embed(fused, views))
