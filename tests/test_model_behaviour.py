"""Behaviour beyond the golden vectors: timestep batching, gradient routing, input checks."""
import pytest
import torch

from tests.seeded import seeded_model


@pytest.fixture(scope="module")
def model():
    return seeded_model("IFRNet_S")


@pytest.fixture(scope="module")
def pair():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, 32, 48, generator=generator), torch.rand(1, 3, 32, 48, generator=generator)


def test_several_timesteps_of_one_pair_equal_separate_calls(model, pair):
    img0, img1 = pair
    steps = torch.tensor([0.125, 0.5, 0.875]).view(-1, 1, 1, 1)
    with torch.no_grad():
        batched = model.inference(img0, img1, steps)
        separate = torch.cat([model.inference(img0, img1, t.view(1, 1, 1, 1)) for t in steps])
    assert batched.shape == (3, 3, 32, 48)
    torch.testing.assert_close(batched, separate, rtol=0, atol=1e-5)  # batch size changes conv rounding (~1e-6)
    assert not torch.allclose(batched[0], batched[2])  # the timestep really changes the output


def test_one_batch_may_hold_different_timesteps(model, pair):
    img0, img1 = pair
    imgs0, imgs1 = torch.cat([img0, img1]), torch.cat([img1, img0])
    embt = torch.tensor([0.25, 0.75]).view(2, 1, 1, 1)
    with torch.no_grad():
        batch = model.inference(imgs0, imgs1, embt)
        first = model.inference(img0, img1, embt[:1])
        second = model.inference(img1, img0, embt[1:])
    torch.testing.assert_close(batch, torch.cat([first, second]), rtol=0, atol=1e-5)  # batch size changes conv rounding (~1e-6)


def test_distillation_does_not_train_the_final_flow(pair):
    """The robust weight uses the final flow detached, so loss_dis leaves decoder1 untouched."""
    model = seeded_model("IFRNet_S").train()
    img0, img1 = pair
    flow = torch.randn(1, 4, 32, 48)
    _, _, _, loss_dis = model(img0, img1, torch.full((1, 1, 1, 1), 0.5), (img0 + img1) / 2, flow)
    loss_dis.backward()
    assert all(p.grad is None or not p.grad.any() for p in model.decoder1.parameters())
    assert model.decoder2.convblock[0][0].weight.grad.abs().sum() > 0


def test_bad_shapes_fail_with_a_sentence(model):
    with pytest.raises(ValueError, match="multiples of 16"):
        model.inference(torch.rand(1, 3, 30, 48), torch.rand(1, 3, 30, 48), torch.full((1, 1, 1, 1), 0.5))
    with pytest.raises(ValueError, match="img1 must have img0's shape"):
        model.inference(torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 64), torch.full((1, 1, 1, 1), 0.5))
    with pytest.raises(ValueError, match=r"embt must be \(B, 1, 1, 1\)"):
        model.inference(torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32, 48), torch.rand(1, 1))
    with pytest.raises(ValueError, match="flow labels must be"):
        x = torch.rand(1, 3, 32, 48)
        model(x, x, torch.full((1, 1, 1, 1), 0.5), x, torch.zeros(1, 2, 32, 48))


def test_training_forward_backpropagates(pair):
    """The training pass (autograd on) must not take inference-only shortcuts such as cat(out=)."""
    model = seeded_model("IFRNet_S").train()
    img0, img1 = pair
    pred, loss_rec, loss_geo, loss_dis = model(img0, img1, torch.full((1, 1, 1, 1), 0.5), (img0 + img1) / 2)
    (loss_rec + loss_geo + loss_dis).backward()
    assert all(p.grad is not None for p in model.parameters())
