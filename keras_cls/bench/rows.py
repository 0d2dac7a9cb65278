"""The comparison's result as typed rows: what `compare.run` measures, what claims, report and plots read, and what
result.json holds (`Comparison.as_dict()`: one JSON object, a key per field)."""
import dataclasses
from dataclasses import dataclass, field
from typing import Dict, List, Optional


@dataclass
class ModelRow:
    """One model measured on this machine: `trained` on the user's data, or a `reference` with random weights."""
    model: str
    role: str                    # "trained" or "reference"
    family: str                  # the registry's family of the variant
    size: int                    # input resolution, px
    params: int
    gmacs: float                 # at `size`
    activation_mb: float         # per image, forward pass
    mb: Dict[str, float]         # file size per format (keras, tflite_float32, ...)
    infer_peak_mb: Optional[float]  # resident memory the first TF-graph call added (None: not measurable here)
    train_img_s: float
    train_mfu: float
    train_peak_mb: Optional[float]
    top1: Optional[float] = None               # trained rows: the Keras model on the test split
    top1_tflite_int8: Optional[float] = None   # trained rows: the int8 file on the same decoded images
    epochs_to_target: Optional[int] = None
    seconds_to_target: Optional[float] = None
    start: Optional[str] = None   # the weights it started from ("scratch", a file, "imagenet")
    recipe: Optional[str] = None


@dataclass
class LatencyRow:
    """One runtime of one model at one batch size."""
    model: str
    role: str
    runtime: str                 # tf, saved_model, tflite_float32, tflite_int8
    batch: int
    p50_ms: float
    p90_ms: float
    img_s: float
    mfu: Optional[float]         # float32 work against the float32 peak; None for int8 runtimes
    vs_tflite_float32: Optional[float] = None  # int8 runtimes: speed-up over the float32 file


@dataclass
class SweepRow:
    """Batch-1 TF-graph latency of a variant (random weights) beside its published ImageNet top-1."""
    model: str
    family: str
    size: int
    params: int
    gmacs: float
    p50_ms: float
    img_s: float
    top1_published: Optional[float]
    mfu: float
    p25_ms: float      # quartiles of the interleaved calls: the plot's error bars
    p75_ms: float


@dataclass
class Claim:
    claim: str
    measured: str
    verdict: str                 # holds, does not hold, holds in part, not measurable here, measured
    why: str


@dataclass
class DataSummary:
    name: str                    # the path, or the built-in source's name
    source: str
    image_size: Optional[int]    # None: each model at its own resolution
    train_images: Optional[int]
    skipped_inputs: int
    note: str


@dataclass
class Comparison:
    machine: dict                # keras_cls.bench.hardware.machine() and the float32 peak used for MFU
    data: DataSummary
    target_accuracy: float
    models: List[ModelRow]
    latency: List[LatencyRow]
    sweep: List[SweepRow]
    curves: Dict[str, List[dict]]  # per trained model: its epochs (epoch, seconds, accuracy, val_accuracy, ...)
    exports: Dict[str, str]        # per trained model: its SavedModel version folder
    config: dict = field(default_factory=dict)
    claims: List[Claim] = field(default_factory=list)

    def model_row(self, name, role):
        return next((r for r in self.models if r.model == name and r.role == role), None)

    def formats(self):
        """The formats whose sizes the model rows hold, in the order measure.FORMATS gives them."""
        from keras_cls.bench.measure import FORMATS

        return [f for f in FORMATS if any(f in r.mb for r in self.models)]

    def as_dict(self):
        return dataclasses.asdict(self)
