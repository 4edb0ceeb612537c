"""The paper's baselines (Yoon et al. 2018, Sec. 4.1), one package each, beside DEN:

* `dnn`: one network fine-tuned task after task;
* `l2`: the same with an L2 pull toward the previous task's weights;
* `ewc`: elastic weight consolidation (Kirkpatrick et al. 2017);
* `progressive`: progressive networks (Rusu et al. 2016);
* `stl`: a separate network per task;
* `mtl`: one network, all heads trained jointly on all tasks.

Each package's `__init__` is the method's card (den_tf.config.registry.MethodCard): its
own settings, its memory estimate, the --paper switches it follows; it registers the
method when imported, without TensorFlow. Its `learner` module is the method itself: a
`den_tf.baselines.base.Method` on DEN's frame (`den_tf.learner.Learner`; hooks
begin_task, trainable, penalty, end_task), training through the one phase runner
(`den_tf.engine.runner`). `footprint` holds the memory estimates they share.
`python -m den_tf.experiments.select_baselines` chose their strengths and column size on
the validation split.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""

# (the order is --help's: the paper's Table 1)
from den_tf.baselines import dnn, l2, ewc, progressive, stl, mtl  # noqa: F401,I001 (register)

__all__ = ["dnn", "ewc", "l2", "mtl", "progressive", "stl"]
