"""PID estimators that researchers use today, implemented from their papers for the side-by-side
comparison (`estimators.registry`); none of them is used by a grid run."""

from estimators.peers.batch import batch_pid
from estimators.peers.cluster_recipe import cluster_recipe_pid
from estimators.peers.knn_imin import knn_imin_pid

__all__ = ["batch_pid", "cluster_recipe_pid", "knn_imin_pid"]
