#!/usr/bin/env python3
"""Exports a concord model directory to ONNX for the ONNX Runtime and OpenVINO baselines of
`concord bench embed --compare ort-int8,openvino`.

    python benches/export_onnx.py MODEL_DIR OUT_DIR

Writes into OUT_DIR (skipping what is already there):
  model.onnx       the encoder (input_ids, attention_mask -> last_hidden_state), fp32,
                   exported by torch.onnx from transformers' BertModel, opset 17,
                   batch and sequence axes dynamic; what OpenVINO reads.
  model.opt.onnx   ONNX Runtime's transformer optimizer with its BERT fusions
                   (attention, layer norm, GELU, embedding layer).
  model.int8.onnx  model.opt.onnx with ONNX Runtime's dynamic quantisation: int8
                   weights, per output channel (per_channel=True), signed (QInt8),
                   activations quantised at run time per tensor.
"""

import pathlib
import sys

import torch
from transformers import BertModel


class Encoder(torch.nn.Module):
    """The model with a plain signature for the exporter: ids and mask in, last hidden
    states out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def main() -> None:
    model_dir, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    fp32, opt, int8 = out / "model.onnx", out / "model.opt.onnx", out / "model.int8.onnx"
    if not fp32.exists():
        model = BertModel.from_pretrained(model_dir, add_pooling_layer=False, attn_implementation="eager").eval()
        ids = torch.tensor([[0, 100, 200, 300, 2], [0, 5, 6, 2, 1]])
        mask = (ids != 1).long()
        with torch.inference_mode():
            torch.onnx.export(
                Encoder(model),
                (ids, mask),
                str(fp32),
                input_names=["input_ids", "attention_mask"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "sequence"},
                    "attention_mask": {0: "batch", 1: "sequence"},
                    "last_hidden_state": {0: "batch", 1: "sequence"},
                },
                opset_version=17,
                dynamo=False,
            )
    if not opt.exists():
        from onnxruntime.transformers import optimizer

        config = BertModel.config_class.from_pretrained(model_dir)
        m = optimizer.optimize_model(
            str(fp32),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
        )
        m.save_model_to_file(str(opt))
    if not int8.exists():
        import onnx
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # The fused operators (com.microsoft domain) defeat shape inference; their
        # outputs are fp32.
        quantize_dynamic(
            str(opt),
            str(int8),
            weight_type=QuantType.QInt8,
            per_channel=True,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    print(f"onnx models ready in {out}")


if __name__ == "__main__":
    main()
