"""Print the comment analysis's agreement with the hand-labelled development and held-out sets."""

from surveys.reporting.theme_quality import (
    HELDOUT,
    HELDOUT2,
    cluster_agreement,
    read_labelled,
    report,
)
from surveys.reporting.themes import TRAINING

if __name__ == "__main__":
    sets = (TRAINING, HELDOUT, HELDOUT2)
    sizes = [len(read_labelled(path)) for path in sets]
    print(
        f"{'':50} development ({sizes[0]}; trained: 5-fold CV)"
        f" | held-out 1 ({sizes[1]}) | held-out 2 ({sizes[2]})"
    )
    for name, figures in report().items():
        print(
            f"{name:50} "
            + " | ".join(f"accuracy {f.accuracy:.3f} macro-F1 {f.macro_f1:.3f}" for f in figures)
        )
    for path in sets:
        ari = cluster_agreement(read_labelled(path))
        print(f"clustered themes (wordllama + k-means), {path.name}: adjusted Rand index {ari:.3f}")
