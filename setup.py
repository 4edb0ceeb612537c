"""den_tf: a faithful, fast TensorFlow 2 port of Dynamically Expandable Networks."""

from setuptools import find_packages, setup

# The `dev` extra: the tools that build the docs site (mkdocs.yml, docs/). Listed once,
# here: .ci/run reads this list (with ast, without running setup) to install them by name.
# Never a runtime dependency.
DEV_REQUIREMENTS = ["mkdocs>=1.6,<2", "mkdocstrings[python]>=1.0,<2"]

setup(
    name="den_tf",
    version="0.1.0",
    description="Dynamically Expandable Networks (Yoon et al., ICLR 2018) on TensorFlow 2",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # Only den_tf is installed (no top-level modules: main.py and flags.py are thin entry
    # points of a checkout). The original's logs, kept once in logs/original, go into the
    # package as den_tf/reference_logs (den_tf.reference.compare_logs.original_logs_dir finds them).
    packages=find_packages(include=["den_tf", "den_tf.*"]) + ["den_tf.reference_logs"],
    package_dir={"den_tf.reference_logs": "logs/original"},
    package_data={"den_tf.reference_logs": ["*.log", "*.wall_s", "README.md"]},
    install_requires=["tensorflow~=2.21.0", "numpy>=1.26,<3", "absl-py>=2.1",
                      "tensorflow-datasets>=4.9", "tensorboard~=2.21.0"],
    extras_require={"plot": ["matplotlib>=3.7"], "test": ["pytest>=8"], "ray": ["ray>=2.40"],
                    "dev": DEV_REQUIREMENTS},
    entry_points={"console_scripts": ["den-tf=den_tf.cli:cli"]},
)
