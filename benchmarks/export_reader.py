"""Export a trained reader (``benchmarks/train_reader.py``'s output) to the ONNX file citebot
ships: fp32 first, then int8 weights (dynamic quantisation), with the tokenizer beside it.

    .venv/bin/python benchmarks/export_reader.py DIR [--target index/encode/reader_model]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.encode.reader import MODEL_DIR, MODEL_FILE  # noqa: E402

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export(trained: Path, target: Path) -> Path:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(trained).eval()

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).logits

    target.mkdir(parents=True, exist_ok=True)
    out = target / MODEL_FILE.name
    dummy = tuple(torch.ones(2, 16, dtype=torch.long) for _ in INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"logits": {0: "batch"}}
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32 = Path(tmp) / "reader.onnx"
        torch.onnx.export(Logits(), dummy, str(fp32), input_names=list(INPUTS),
                          output_names=["logits"], dynamic_axes=axes, opset_version=17,
                          dynamo=False)
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8)
    shutil.copy(trained / "tokenizer.json", target / "tokenizer.json")
    if (trained / "training.json").exists():
        shutil.copy(trained / "training.json", target / "training.json")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trained", type=Path)
    parser.add_argument("--target", type=Path, default=MODEL_DIR)
    args = parser.parse_args()
    out = export(args.trained, args.target)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
