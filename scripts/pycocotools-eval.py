#!/usr/bin/env python3
"""Runs pycocotools' bbox evaluation on a ground-truth COCO JSON and a results JSON and writes the 12 summary numbers.

usage: pycocotools-eval.py GT.json RESULTS.json OUT.json

The reference our C# evaluator is compared with (see scripts/build-pycocotools.sh). OUT.json holds
{"names": [...12], "stats": [...12]} with full float precision. Two shims, neither of which touches the evaluation:
- cocoapi's coco.py imports matplotlib at module load only to draw annotations (showAnns); when matplotlib is absent,
  empty stand-in modules satisfy those imports.
- cocoapi's cocoeval.py (2.0 from GitHub) uses np.float, which numpy 1.24 removed; it is the builtin float (float64).
An empty results list is evaluated directly (COCO.loadRes indexes anns[0] and fails on it): the same objects
pycocotools builds, with no detections.
"""
import contextlib
import io
import json
import sys
import types

import numpy as np

if not hasattr(np, "float"):
    np.float = float  # removed in numpy 1.24; cocoeval.accumulate calls .astype(dtype=np.float)

try:
    import matplotlib  # noqa: F401
except ImportError:
    for name in ["matplotlib", "matplotlib.pyplot", "matplotlib.collections", "matplotlib.patches"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["matplotlib.collections"].PatchCollection = object
    sys.modules["matplotlib.patches"].Polygon = object

from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def main():
    gt_path, res_path, out_path = sys.argv[1:4]
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        with open(res_path) as f:
            results = json.load(f)
        if results:
            dt = gt.loadRes(res_path)
        else:
            dt = COCO()
            dt.dataset = {"images": list(gt.dataset["images"]), "categories": list(gt.dataset["categories"]), "annotations": []}
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    with open(out_path, "w") as f:
        json.dump({"names": NAMES, "stats": [float(s) for s in ev.stats]}, f)


if __name__ == "__main__":
    main()
