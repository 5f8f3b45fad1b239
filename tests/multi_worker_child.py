"""One member of a two-process MultiWorkerMirroredStrategy cluster (TF_CONFIG from the
environment), with two logical CPU devices; run by test_distribute.

    python tests/multi_worker_child.py OUT
"""

import json
import sys

import tensorflow as tf

import tfopt

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

result = tfopt.search("digits", tuner="random", max_trials=2, epochs=2, retrain=True,
                      strategy="multi_worker", out=sys.argv[1], seed=3, verbose=0)
print(json.dumps({"run_dir": str(result.run_dir), "strategy": result.results["strategy"],
                  "test_accuracy": result.results["test_accuracy"],
                  "logical_cpus": len(tf.config.list_logical_devices("CPU"))}))
