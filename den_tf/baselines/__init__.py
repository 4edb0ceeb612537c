"""The paper's baselines (Yoon et al. 2018, Sec. 4.1), one module each, beside DEN:

* `dnn`: one network fine-tuned task after task;
* `l2`: the same with an L2 pull toward the previous task's weights;
* `ewc`: elastic weight consolidation (Kirkpatrick et al. 2017);
* `progressive`: progressive networks (Rusu et al. 2016);
* `stl`: a separate network per task;
* `mtl`: one network, all heads trained jointly on all tasks.

`base.Method` is the frame they share (hooks: begin_task, trainable, penalty,
end_task); all train through the one phase runner (`den_tf.runner`). `select` chooses
their strengths and column size on the validation split. `den_tf.methods` maps
--method names to classes.
"""
