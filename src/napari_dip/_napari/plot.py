"""A small live plot of loss, stop metric and PSNR against iteration, drawn with QPainter.

No plotting library is needed. Loss and stop metric are drawn on log scales, each fitted to its
own range (their units differ); PSNR (when a reference is set) on a linear scale. A dashed line marks
the iteration whose output the stopping rule currently prefers.
"""

from __future__ import annotations

import math

from qtpy.QtCore import QPointF, QRectF, Qt
from qtpy.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from qtpy.QtWidgets import QSizePolicy, QWidget

SERIES = {  # name: (colour, log scale, legend label)
    "loss": ("#4fc3f7", True, "loss"),
    "stop_metric": ("#ffb74d", True, "stop metric"),
    "psnr": ("#81c784", False, "PSNR dB"),
}


class LivePlot(QWidget):
    """Curves of per-iteration numbers; call :meth:`add` from the main thread."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Loss and stop metric (log scales, each fitted to its own range) and PSNR "
                        "against a reference, by iteration. The dashed line marks the iteration whose "
                        "output the automatic stop would return.")
        self.clear()

    # -- data -----------------------------------------------------------------------------------
    def clear(self) -> None:
        self.iterations: list[int] = []
        self.data: dict[str, list[float]] = {k: [] for k in SERIES}
        self.marker: int | None = None
        self.max_iteration = 1
        self.update()

    def add(self, iteration: int, **values: float | None) -> None:
        """Append one point; missing or non-finite values leave a gap in that curve."""
        self.iterations.append(int(iteration))
        for k in SERIES:
            v = values.get(k)
            self.data[k].append(float(v) if v is not None and math.isfinite(v) else math.nan)
        self.update()

    def set_marker(self, iteration: int | None) -> None:
        self.marker = iteration
        self.update()

    def set_budget(self, iterations: int) -> None:
        self.max_iteration = max(1, int(iterations))
        self.update()

    def series(self, name: str) -> list[float]:
        return list(self.data[name])

    # -- drawing --------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        fg = pal.color(pal.ColorRole.WindowText)
        bg = pal.color(pal.ColorRole.Base)
        p.fillRect(self.rect(), bg)
        font = QFont(p.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        fm = p.fontMetrics()
        lh = fm.height()
        area = QRectF(6, lh + 6, self.width() - 12, self.height() - 2 * lh - 12)
        grid = QColor(fg)
        grid.setAlpha(60)
        p.setPen(QPen(grid, 1))
        p.drawRect(area)

        xmax = max(self.max_iteration, self.iterations[-1] if self.iterations else 1)

        def x_of(it: float) -> float:
            return area.left() + area.width() * (it / xmax)

        # legend with latest values
        x_text = 6.0
        for name, (colour, _, label) in SERIES.items():
            vals = [v for v in self.data[name] if not math.isnan(v)]
            if not vals:
                continue
            last = vals[-1]
            text = f"{label} {last:.3g}" if name != "psnr" else f"{label} {last:.2f}"
            p.setPen(QColor(colour))
            p.drawText(QPointF(x_text, lh), text)
            x_text += fm.horizontalAdvance(text) + 14

        for name, (colour, log, _) in SERIES.items():
            pts = [(it, v) for it, v in zip(self.iterations, self.data[name], strict=True)
                   if not math.isnan(v) and (v > 0 or not log)]
            if len(pts) < 2:
                continue
            ys = [math.log10(v) if log else v for _, v in pts]
            lo, hi = min(ys), max(ys)
            if hi - lo < 1e-12:
                lo, hi = lo - 0.5, hi + 0.5
            path = QPainterPath()
            for i, ((it, _), y) in enumerate(zip(pts, ys, strict=True)):
                py = area.bottom() - area.height() * (y - lo) / (hi - lo)
                pt = QPointF(x_of(it), py)
                if i == 0:
                    path.moveTo(pt)
                else:
                    path.lineTo(pt)
            p.setPen(QPen(QColor(colour), 1.5))
            p.drawPath(path)

        if self.marker:
            pen = QPen(fg, 1, Qt.PenStyle.DashLine)
            p.setPen(pen)
            xm = x_of(self.marker)
            p.drawLine(QPointF(xm, area.top()), QPointF(xm, area.bottom()))
        p.setPen(fg)
        p.drawText(QPointF(area.left(), area.bottom() + lh), "0")
        label = f"iteration  {xmax}"
        p.drawText(QPointF(area.right() - fm.horizontalAdvance(label), area.bottom() + lh), label)
        p.end()
