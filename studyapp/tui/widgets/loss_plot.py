"""Training and validation loss over steps, drawn with plotext."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class LossPlot(PlotextPlot):
    """Holds (step, loss) points; `add_train`/`add_val` append and redraw."""

    DEFAULT_CSS = """
    LossPlot { height: 1fr; min-height: 8; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.train: list[tuple[int, float]] = []
        self.val: list[tuple[int, float]] = []

    def on_mount(self) -> None:
        self._draw()

    def clear_points(self) -> None:
        self.train.clear()
        self.val.clear()
        self._draw()

    def add_train(self, step: int, loss: float) -> None:
        self.train.append((step, loss))
        self._draw()

    def add_val(self, step: int, loss: float) -> None:
        self.val.append((step, loss))
        self._draw()

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title("loss")
        plt.xlabel("step")
        if self.train:
            plt.plot([s for s, _ in self.train], [v for _, v in self.train], label="train")
        if self.val:
            plt.plot([s for s, _ in self.val], [v for _, v in self.val], label="val",
                     marker="dot")
        self.refresh()
