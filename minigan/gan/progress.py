"""A one-line progress bar: step, losses, D(x), D(G(z)) and steps per second.

On a terminal it redraws one line; elsewhere (logs, CI) it prints a line every tenth of the run.
"""

import sys
import time


class ProgressBar:
    def __init__(self, total, start=0, stream=None, width=24):
        self.total = total
        self.start_step = start
        self.stream = stream or sys.stderr
        self.width = width
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()
        self.next_report = start

    def update(self, step, values):
        """Show progress at ``step`` (1-based count of steps done) with ``values`` {label: number}."""
        if not self.interactive and step < self.next_report and step != self.total:
            return
        self.next_report = step + max(1, self.total // 10)
        elapsed = time.perf_counter() - self.started
        rate = (step - self.start_step) / elapsed if elapsed > 0 else 0.0
        filled = int(self.width * step / max(self.total, 1))
        bar = "#" * filled + "-" * (self.width - filled)
        shown = "  ".join(f"{k} {v:.3f}" for k, v in values.items())
        line = f"step {step:>{len(str(self.total))}}/{self.total} [{bar}] {shown}  {rate:.1f} steps/s"
        if self.interactive:
            self.stream.write("\r" + line)
            if step == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self):
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
