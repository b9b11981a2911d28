"""Print the comment analysis's agreement with tests/data/comments_labelled.csv."""

from pathlib import Path

from surveys.reporting.theme_quality import cluster_agreement, read_labelled, report

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "comments_labelled.csv"

if __name__ == "__main__":
    for name, result in report(LABELLED).items():
        print(f"{name:45} accuracy {result.accuracy:.3f}  macro-F1 {result.macro_f1:.3f}")
    ari = cluster_agreement(read_labelled(LABELLED))
    print(f"{'clustered themes (wordllama + k-means)':45} adjusted Rand index {ari:.3f}")
