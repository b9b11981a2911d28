"""Print the comment analysis's agreement with the hand-labelled development and held-out sets."""

from surveys.reporting.theme_quality import HELDOUT, cluster_agreement, read_labelled, report
from surveys.reporting.themes import TRAINING

if __name__ == "__main__":
    print(f"{'':50} development (330; trained: 5-fold CV)   held-out ({HELDOUT.name})")
    for name, (development, heldout) in report().items():
        print(
            f"{name:50} accuracy {development.accuracy:.3f} macro-F1 {development.macro_f1:.3f}"
            f"   accuracy {heldout.accuracy:.3f} macro-F1 {heldout.macro_f1:.3f}"
        )
    for path in (TRAINING, HELDOUT):
        ari = cluster_agreement(read_labelled(path))
        print(f"clustered themes (wordllama + k-means), {path.name}: adjusted Rand index {ari:.3f}")
