"""Reference values from scikit-learn for the Medical metric tests (run by SklearnComparisonTests at test time).

Input (argv[1]): JSON {"cases": [{"scores": [...], "labels": [0/1...], "thresholds": [...]}]}.
Output (stdout): JSON {"version": sklearn version, "cases": [{"auroc", "ap", "fpr", "tpr", "roc_thresholds",
"confusion": [[tn, fp, fn, tp] per threshold]}]}. Confusion uses the rule score >= threshold, as roc_curve does.
"""
import json
import sys

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score, roc_curve


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)["cases"]
    out = []
    for case in cases:
        y = np.asarray(case["labels"], dtype=int)
        s = np.asarray(case["scores"], dtype=np.float64)
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
        confusion = []
        for t in case["thresholds"]:
            confusion.append([int(v) for v in confusion_matrix(y, (s >= t).astype(int), labels=[0, 1]).ravel()])
        out.append({
            "auroc": float(roc_auc_score(y, s)),
            "ap": float(average_precision_score(y, s)),
            "fpr": fpr.tolist(),
            "tpr": tpr.tolist(),
            # thresholds[0] is max+1 before scikit-learn 1.3 and inf after; the tests compare from index 1.
            "roc_thresholds": [float(v) for v in thr[1:]],
            "confusion": confusion,
        })
    json.dump({"version": sklearn.__version__, "cases": out}, sys.stdout)


if __name__ == "__main__":
    main()
