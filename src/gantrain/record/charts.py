"""Small matplotlib figures for TensorBoard (drawn off-screen)."""

from __future__ import annotations


def offscreen():
    """matplotlib with its off-screen backend (its font-cache messages are silenced where the
    gantrain package is imported)."""
    import matplotlib

    matplotlib.use("Agg")
    return matplotlib


def class_bars(shares: list[float], title: str):
    """A bar chart of the samples' predicted-class shares (a matplotlib Figure)."""
    offscreen()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 2.5), dpi=80)
    ax = fig.add_subplot()
    ax.bar(range(len(shares)), shares, color="tab:blue")
    ax.axhline(1 / len(shares), color="grey", linestyle=":", linewidth=1)  # a uniform share
    ax.set_xticks(range(len(shares)))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("share of samples")
    ax.set_title(title)
    fig.tight_layout()
    return fig
