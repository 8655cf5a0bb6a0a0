"""Sample-rate conversion by libsoxr (python-soxr): whole clips, and a sound card's blocks.

Why: USB speakerphones often run only at 48 kHz (or 44.1 kHz) while the voice path and the
prompts are 16 kHz, and espeak-ng writes 22.05 kHz.

Whole clips use soxr's VHQ preset: it computes in double precision, so a clip comes out as the
same int16 samples on any CPU, which the prompt files' byte-for-byte re-render check relies on.

Streams use the HQ preset (20-bit, flat to ~91 % of the lower Nyquist: 7.3 kHz at 16 kHz).
soxr filters by FFT and hands its output back in bursts of a few hundred samples, after a
start-up delay; a sound-card callback must return exactly one block per block (960 samples
at 48 kHz in, 320 at 16 kHz out, every time). So a FIFO primed with silence follows soxr: as
deep as the furthest soxr falls behind the exact count, measured when the stream is made by
running soxr on silence in blocks of the stream's size (its output sizes depend on input sizes
only, never on the samples). The prime is all the latency there is, ``delay_s``: 36.6 ms for
48k<->16k, 40.1 ms for 44.1k->16k and 22.05k->16k, 57.7 ms for 16k->44.1k (20 ms blocks).
"""

from __future__ import annotations

import math

import numpy as np
import soxr

from drivers.audio import BLOCK, RATE
from drivers.audio.pcm import clip16

STREAM_QUALITY = "HQ"
CLIP_QUALITY = "VHQ"
MEASURE_S = 10.0  # of silence to find soxr's furthest lag; 20 ms blocks repeat within 5 s


class Resampler:
    """Converts int16 blocks of ``block`` samples (20 ms by default) from ``rate_in`` to
    ``rate_out``, each to exactly its share of output samples; keeps state between blocks."""

    def __init__(self, rate_in: int, rate_out: int, block: int | None = None) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise ValueError(f"sample rates must be positive, not {rate_in} -> {rate_out}")
        self.rate_in, self.rate_out = rate_in, rate_out
        self.underruns = 0  # blocks soxr fell further behind than measured; silence filled in
        self._soxr = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32",
                                         quality=STREAM_QUALITY)
        self._rem = 0  # (input samples so far * rate_out) % rate_in: the exact count's remainder
        silence = np.zeros(block or rate_in * BLOCK // RATE, np.float32)
        behind = lag = 0
        for _ in range(math.ceil(MEASURE_S * rate_in / len(silence))):
            behind += self._share(len(silence)) - len(self._soxr.resample_chunk(silence))
            lag = max(lag, behind)
        self._soxr.clear()
        self._rem = 0
        self.lag = lag  # output samples of silence before the signal
        self._fifo = np.zeros(lag, np.float32)

    @property
    def delay_s(self) -> float:
        return self.lag / self.rate_out

    def process(self, x: np.ndarray) -> np.ndarray:
        """The next input block (int16) -> exactly its share of output samples (int16)."""
        x = np.asarray(x, dtype=np.float32).reshape(-1)
        n = self._share(len(x))
        fifo = np.concatenate([self._fifo, self._soxr.resample_chunk(x)])
        if len(fifo) < n:  # never with the measured prime, unless blocks change size
            self.underruns += 1
            self.lag += n - len(fifo)
            fifo = np.concatenate([np.zeros(n - len(fifo), np.float32), fifo])
        self._fifo = fifo[n:]
        return clip16(fifo[:n])

    def _share(self, n_in: int) -> int:
        """How many output samples the next ``n_in`` input samples make, exactly."""
        n_out, self._rem = divmod(self._rem + n_in * self.rate_out, self.rate_in)
        return n_out


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """A whole clip (int16) at another rate, aligned with the input (soxr removes its delay)."""
    y = soxr.resample(np.asarray(x, dtype=np.float64).reshape(-1), rate_in, rate_out,
                      quality=CLIP_QUALITY)
    return clip16(y)
