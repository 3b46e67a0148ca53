"""The three widths reproduce the authors' release: checkpoint layout and golden outputs."""
import pytest
import torch

from models import MODEL_NAMES, build_model
from tests.seeded import GOLDEN_DIR, seeded_model

PARAMETERS = {"IFRNet": 4_959_692, "IFRNet_L": 19_699_460, "IFRNet_S": 2_803_610}


def read_layout(name):
    rows = (GOLDEN_DIR / f"{name}_state_dict.tsv").read_text().splitlines()[1:]
    return [(key, tuple(int(s) for s in shape.split(","))) for key, shape in (r.split("\t") for r in rows if r)]


@pytest.fixture(scope="module", params=MODEL_NAMES)
def variant(request):
    name = request.param
    return name, seeded_model(name), torch.load(GOLDEN_DIR / f"{name}_golden.pt")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_state_dict_matches_published_layout(name):
    model = build_model(name)
    layout = [(key, tuple(t.shape)) for key, t in model.state_dict().items()]
    assert layout == read_layout(name)
    assert sum(p.numel() for p in model.parameters()) == PARAMETERS[name]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_published_state_dict_loads_strictly(name):
    published_like = {key: torch.zeros(shape) for key, shape in read_layout(name)}
    build_model(name).load_state_dict(published_like, strict=True)


def test_authors_module_layout_still_imports():
    from models.IFRNet import Model as Base
    from models.IFRNet_L import Model as Large
    from models.IFRNet_S import Model as Small

    for cls, name in ((Base, "IFRNet"), (Large, "IFRNet_L"), (Small, "IFRNet_S")):
        assert list(cls().state_dict()) == [key for key, _ in read_layout(name)]


def test_unknown_model_name_is_refused():
    with pytest.raises(ValueError, match="IFRNet_S"):
        build_model("IFRNet_XL")


@pytest.mark.parametrize("scale, key", [(1.0, "inference"), (0.5, "inference_scale_0.5")])
def test_inference_matches_golden(variant, scale, key):
    _, model, golden = variant
    with torch.no_grad():
        pred = model.inference(golden["img0"], golden["img1"], golden["embt"], scale_factor=scale)
    torch.testing.assert_close(pred, golden[key], rtol=0, atol=1e-5)


def test_training_forward_matches_golden(variant):
    _, model, golden = variant
    with torch.no_grad():
        pred, *losses = model(golden["img0"], golden["img1"], golden["embt"], golden["imgt"], golden["flow"])
    torch.testing.assert_close(pred, golden["forward_pred"], rtol=0, atol=1e-5)
    torch.testing.assert_close(torch.stack(losses), golden["forward_losses"], rtol=1e-5, atol=0)


def test_training_forward_without_flow_matches_golden(variant):
    _, model, golden = variant
    with torch.no_grad():
        _, *losses = model(golden["img0"], golden["img1"], golden["embt"], golden["imgt"])
    torch.testing.assert_close(torch.stack(losses), golden["forward_losses_noflow"], rtol=1e-5, atol=0)
    assert losses[2].item() == 0.0
