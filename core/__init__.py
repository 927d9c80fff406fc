"""GradPlay NumPy engine: pure NumPy + stdlib, no web imports."""
