"""One member of a two-process MultiWorkerMirroredStrategy cluster (TF_CONFIG from the
environment), with two logical CPU devices; run by test_distribute.

    python tests/training/multi_worker_child.py OUT [TRIALS]
"""

import json
import os
import sys

import tensorflow as tf

import tfopt

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
trials = int(sys.argv[2]) if len(sys.argv) > 2 else 2
result = tfopt.search("digits", tuner="random", max_trials=trials, epochs=2, retrain=True,
                      space={"batch_size": 128},  # 11 steps an epoch, not 41: faster
                      strategy="multi_worker", out=sys.argv[1], seed=3, verbose=0)
print(json.dumps({"run_dir": str(result.run_dir), "strategy": result.results["strategy"],
                  "test_accuracy": result.results["test_accuracy"],
                  "trial_scores": [t.score for t in result.tuner.oracle.trials.values()],
                  "local_cpus": sum("/job:localhost/" in d.name or f"/task:{task}/" in d.name
                                    for d in tf.config.list_logical_devices("CPU"))}))
