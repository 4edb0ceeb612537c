"""The paper's baselines (Yoon et al. 2018, Sec. 4.1), one module each, beside DEN:

* `dnn`: one network fine-tuned task after task;
* `l2`: the same with an L2 pull toward the previous task's weights;
* `ewc`: elastic weight consolidation (Kirkpatrick et al. 2017);
* `progressive`: progressive networks (Rusu et al. 2016);
* `stl`: a separate network per task;
* `mtl`: one network, all heads trained jointly on all tasks.

Each module names its class `METHOD` (`den_tf.api.method_class` finds it by the
--method name). They share DEN's frame: `den_tf.baselines.base.Method`, on
`den_tf.learner.Learner` (hooks: begin_task, trainable, penalty, end_task), and all
train through the one phase runner (`den_tf.engine.runner`). `python -m den_tf.experiments.select_baselines` chose their
strengths and column size on the validation split.

Imports: den_tf.errors, den_tf.config, den_tf.model, den_tf.datasets, den_tf.evaluation,
den_tf.engine, den_tf.io, den_tf.learner.
"""
