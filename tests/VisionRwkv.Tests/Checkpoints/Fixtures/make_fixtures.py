"""Generates the real-PyTorch .pth fixtures read by PthTests.cs.

Run with a Python that has torch (these were made with Debian's python3-torch 1.13):
    /usr/bin/python3 make_fixtures.py
Values are simple closed forms (arange, small literals) so the C# tests state their expectations independently.
"""
import collections
import torch

def state_dict():
    sd = collections.OrderedDict()
    sd["f32"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5
    # Non-contiguous: the transpose of a [2,3] tensor, saved with stride (1, 3).
    sd["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    # A view with a storage offset: elements 3..6 of arange(10).
    base = torch.arange(10, dtype=torch.float32)
    sd["sliced"] = base[3:7]
    # A second view of the same storage (tied weights share one storage record).
    sd["tied"] = base
    sd["f16"] = torch.tensor([1.5, -2.25, 65504.0], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.0, -3.5], dtype=torch.bfloat16)
    sd["f64"] = torch.tensor([[1e-300, -2.0]], dtype=torch.float64)
    sd["i64"] = torch.tensor([-(2 ** 40), 0, 7], dtype=torch.int64)
    sd["i32"] = torch.tensor([-5, 6], dtype=torch.int32)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.25)
    sd["param"] = torch.nn.Parameter(torch.arange(4, dtype=torch.float32))
    return sd

if __name__ == "__main__":
    sd = state_dict()
    # mmcv layout: state_dict + meta wrapper, default pickle protocol (2).
    torch.save({"state_dict": sd, "meta": {"epoch": 3, "CLASSES": ("cat", "dog"), "note": "real torch"}},
               "torch_wrapped_p2.pth")
    # A bare state dict with pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL opcodes).
    torch.save(sd, "torch_bare_p4.pth", pickle_protocol=4)
    # An nn.Module state_dict (OrderedDict with _metadata), as model.state_dict() gives.
    lin = torch.nn.Linear(3, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.arange(6, dtype=torch.float32).reshape(2, 3))
        lin.bias.copy_(torch.tensor([-1.0, 1.0]))
    torch.save({"model": lin.state_dict(), "epoch": 1}, "torch_module_model.pth")
    # The legacy (pre-1.6, non-zip) format: a stream of pickles followed by raw storages.
    torch.save({"state_dict": sd, "meta": {"epoch": 3, "CLASSES": ("cat", "dog"), "note": "real torch"}},
               "torch_legacy_wrapped_p2.pth", _use_new_zipfile_serialization=False)
    torch.save(sd, "torch_legacy_bare_p4.pth", pickle_protocol=4, _use_new_zipfile_serialization=False)
    print("torch", torch.__version__)
