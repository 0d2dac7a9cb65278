"""Measurements: latency and throughput now; the side-by-side comparison report grows here."""
