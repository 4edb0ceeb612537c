"""Every log line against the spec's formats (same words, same %.4f)."""

import os
import re

from den_tf.io import loglines

# The spec's formats, written out independently of den_tf.io.loglines.
SPEC = [
    r"\tTASK \d+ TRAINING",
    r" \[\*\] iter: \d+, val loss: \d+\.\d{4}, val perf: \d\.\d{4}",
    r" \[\*\] Selective retraining",
    r" \[\*\] Network expansion \(training\)",
    r"   \[\*\] Expanding \d+th hidden unit, \d+ unit added, \(valid, repeated: \d+\)",
    r" \[\*\] Split & Duplication",
    r"   \[\*\] split N in layer\d+: \d+ / \d+",
    r"   \[\*\] split, loss: \d+\.\d{4}, nn_perf: \d\.\d{4}\(valid\) repeated: \d+",
    r"   \[\*\] Total expansions: \[\d+(, \d+)*\]",
    r" \[\*\] task \d+, shape : \[\d+, \d+\]",
    r" \[\*\] Task: \d+, nn_test_loss: \d+\.\d{4}, test_perf: \d\.\d{4}, sparsity\(avg\): \d\.\d{4}",
    r" OVERALL EVALUATION",
    r" \[\*\] Evaluation, Task:\d+, test_acc: \d\.\d{4}",
    r"   \[\*\] avg_perf: \d\.\d{4}",
    r"",
]
SPEC_RE = [re.compile(p + r"$") for p in SPEC]


def spec_line(line):
    return any(r.match(line) for r in SPEC_RE)


def test_formats_by_hand():
    assert loglines.task_header(3) == "\n\n\tTASK 3 TRAINING\n"
    assert loglines.iteration(100, 0.05904, 0.99046) == " [*] iter: 100, val loss: 0.0590, val perf: 0.9905"
    assert loglines.iteration(431.0, 0.1, 0.2) == " [*] iter: 431, val loss: 0.1000, val perf: 0.2000"
    assert loglines.expanding(2, 7, 4300) == "   [*] Expanding 2th hidden unit, 7 unit added, (valid, repeated: 4300)"
    assert loglines.split_count(1, 0, 0) == "   [*] split N in layer1: 0 / 0"
    assert loglines.split_done(0.03391, 0.99652, 4300) == "   [*] split, loss: 0.0339, nn_perf: 0.9965(valid) repeated: 4300"
    assert loglines.total_expansions([10, 5]) == "   [*] Total expansions: [10, 5]"
    assert loglines.shape(2, [390, 198]) == " [*] task 2, shape : [390, 198]"
    assert loglines.task_result(10, 0.03362, 0.99681, 0.11664) == " [*] Task: 10, nn_test_loss: 0.0336, test_perf: 0.9968, sparsity(avg): 0.1166"
    assert loglines.evaluation(1, 0.99961) == " [*] Evaluation, Task:1, test_acc: 0.9996"
    assert loglines.avg_perf(0.99651) == "   [*] avg_perf: 0.9965"
    assert loglines.OVERALL == "\n OVERALL EVALUATION"
    assert loglines.SELECTIVE == " [*] Selective retraining"
    assert loglines.EXPANSION == " [*] Network expansion (training)"
    assert loglines.SPLIT == " [*] Split & Duplication"


def test_the_spec_regexes_cover_the_original_logs(original_logs):
    """Sanity of the list above: every line the original printed matches it."""
    for path in [os.path.join(original_logs, "den_tf1_default.log"),
                 os.path.join(original_logs, "den_tf1_max_iter200.log")]:
        bad = [l for l in open(path).read().split("\n") if not spec_line(l)]
        assert bad == [], (path, bad[:3])


def test_every_line_of_our_log_is_a_spec_line_or_prefixed(smoke_run):
    lines = smoke_run["log"].split("\n")
    ours = [l for l in lines if l.startswith(loglines.PREFIX)]
    bad = [l for l in lines if not l.startswith(loglines.PREFIX) and not spec_line(l)]
    assert bad == []
    assert ours and lines.count("\tTASK 1 TRAINING") == 1
    # the log file and stdout carry the same lines
    assert smoke_run["stdout"].split("\n")[: len(lines) - 1] == lines[: len(lines) - 1]
