"""The lesion classifier trained by MONAI's SupervisedTrainer: LesionPrepareBatch + LesionOutputHandler + loss."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Events
from ignite.metrics import Accuracy
from monai.engines import SupervisedTrainer
from monai.transforms import Activationsd, Compose

from monai_tumorcls.engines import LesionInferer, LesionOutputHandler, LesionPrepareBatch
from monai_tumorcls.handlers import stack_pred_label
from monai_tumorcls.losses import LesionClassificationLoss
from monai_tumorcls.networks import LesionClassifier


def _batches(n: int = 3, size: int = 32):
    g = torch.Generator().manual_seed(0)
    out = []
    for _ in range(n):
        image = torch.randn(4, 3, size, size, generator=g)
        mask = torch.zeros(4, 1, size, size)
        mask[0, :, 8:16, 8:16] = 1
        out.append({"image": image, "label": torch.tensor([1, 1, 0, 0]), "mask": mask,
                    "mask_known": torch.tensor([1.0, 0.0, 1.0, 1.0])})
    return out


def test_prepare_batch_hands_the_targets_and_the_inferer_the_lesion_output():
    image, targets = LesionPrepareBatch()(_batches(1)[0], torch.device("cpu"))
    assert image.shape == (4, 3, 32, 32) and set(targets) == {"label", "mask", "mask_known"}
    net = LesionClassifier().eval()
    logits, lesion = LesionInferer()(image, net)
    assert logits.shape == (4, 2) and lesion.shape == (4, 1, 32, 32)
    torch.testing.assert_close(logits, net(image))  # plain forward: the same class logits, no decoder


def test_supervised_trainer_trains_the_decoder_and_reports_class_outputs():
    torch.manual_seed(0)
    net = LesionClassifier()
    before = [p.detach().clone() for p in net.decoder.parameters()]
    seen = []
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=1, train_data_loader=_batches(), network=net,
        optimizer=torch.optim.Adam(net.parameters(), 1e-3), loss_function=LesionClassificationLoss(),
        prepare_batch=LesionPrepareBatch(), inferer=LesionInferer(), postprocessing=Compose([Activationsd(keys="pred", softmax=True)]),
        key_train_metric={"train_acc": Accuracy(output_transform=stack_pred_label)},
        train_handlers=[LesionOutputHandler()],
    )
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output))
    trainer.run()
    assert 0 <= trainer.state.metrics["train_acc"] <= 1
    first = seen[0][0]  # decollated: one dict per item, a classifier's pred and label
    assert first["pred"].shape == (2,) and abs(float(first["pred"].sum()) - 1) < 1e-5  # softmax of the class logits
    assert int(first["label"]) == 1 and first["lesion"].shape == (1, 32, 32)
    assert all(torch.isfinite(torch.as_tensor(o[0]["loss"])) for o in seen)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.decoder.parameters()))


class _Thresholder(torch.nn.Module):
    """forward_lesion: a lesion wherever channel 0 of the image is positive (a parameter so it has a device)."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(10.0))

    def forward_lesion(self, image):
        return torch.zeros(len(image), 2), self.scale * torch.sign(image[:, :1])


def test_lesion_dice_handler_writes_the_validators_dice_on_known_lesions_only():
    from ignite.engine import Engine

    from monai_tumorcls.engines import LesionDiceHandler

    mask = torch.zeros(3, 1, 8, 8)
    mask[0, :, :4, :4] = 1  # predicted exactly
    mask[1, :, :4, :] = 1  # predicted on half: Dice 2*16/(16+32)
    image = -torch.ones(3, 3, 8, 8)
    image[0, :, :4, :4] = image[1, :, :4, :4] = 1
    image[2] = 1  # a tumour-free slice (empty target) with a lesion predicted everywhere: not counted
    batch = {"image": image, "label": torch.tensor([1, 1, 0]), "mask": mask, "mask_known": torch.ones(3)}
    net = _Thresholder().train()
    validator, seen = Engine(lambda e, b: None), []
    LesionDiceHandler(net, [batch]).attach(validator)
    validator.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(e.state.metrics["val_dice"]))
    validator.run([0])
    assert seen == [pytest.approx((1 + 2 / 3) / 2)] and net.training  # read by a later handler; mode restored
