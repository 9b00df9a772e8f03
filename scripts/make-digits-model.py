#!/usr/bin/env python3
"""Trains the small CNN that ships with Octet on scikit-learn's handwritten digits
(`load_digits`: 1797 real 8x8 images, 10 classes) and exports it to ONNX.

Writes Models/digits/:
  digits_cnn.onnx     the FP32 model (input "input": N x 1 x 8 x 8, pixels / 16; output "logits": N x 10)
  calibration.npz     200 training images, "input": 200 x 1 x 1 x 8 x 8 (one sample per leading index)
  test.npz            the held-out split (fixed: train_test_split(test_size=0.3, random_state=0)):
                      "input": 540 x 1 x 1 x 8 x 8 and "labels": 540 (int64)

Needs numpy, scikit-learn, torch, onnx. Deterministic (seeded).
"""
import os
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Models", "digits")


class DigitsCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(64 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    torch.manual_seed(0)
    np.random.seed(0)
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, random_state=0, stratify=y)
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    for epoch in range(40):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean()
    print(f"held-out top-1 (PyTorch FP32): {acc * 100:.2f}% on {len(yte)} images")
    os.makedirs(OUT, exist_ok=True)
    torch.onnx.export(model, (torch.from_numpy(xte[:1]),), os.path.join(OUT, "digits_cnn.onnx"), input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)
    np.savez(os.path.join(OUT, "calibration.npz"), input=xtr[:200][:, None])
    np.savez(os.path.join(OUT, "test.npz"), input=xte[:, None], labels=yte)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
