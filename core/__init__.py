"""GradPlay NumPy engine: pure NumPy + stdlib, no web imports.

The engine multiplies many tiny matrices. Multi-threaded BLAS makes those calls orders of
magnitude slower (thread hand-off dominates; measured 3.3 ms vs 25 µs for a 128x64 @ 64x64
product on the 2-core CI machine), and the server runs several trainings at once anyway, so we
ask OpenBLAS for one thread unless the user chose otherwise. This only works if it runs before
NumPy is first imported; the Makefile, CLI and Dockerfile also set it.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
