"""Estimators of what data or representations hold: probes, exact BROJA PID, PID through discretisation, and
the usable-information PID of what readouts can use.

Information is in bits everywhere.
"""

from estimators.discretize import (
    Discretizer,
    JointPosteriors,
    LabelCellDiscretizer,
    default_n_clusters,
    discretization_loss_bits,
    joint_posterior_embedding,
    kl_kmeans,
    kl_kmeans_codes,
)
from estimators.information import (
    encode,
    entropy_bits,
    joint_table,
    mutual_information_bits,
    plugin_mutual_information_bits,
)
from estimators.pid import PIDResult, broja_pid, broja_pid_batch
from estimators.probes import LinearProbe, MLPProbe, ProbeScore, probe_score
from estimators.representation_pid import AtomEstimate, RepresentationPID, representation_pid, table_pid
from estimators.usable_pid import Representations, usable_pid

__all__ = [
    "AtomEstimate",
    "Discretizer",
    "JointPosteriors",
    "LabelCellDiscretizer",
    "LinearProbe",
    "MLPProbe",
    "PIDResult",
    "ProbeScore",
    "RepresentationPID",
    "Representations",
    "broja_pid",
    "broja_pid_batch",
    "default_n_clusters",
    "discretization_loss_bits",
    "encode",
    "entropy_bits",
    "joint_posterior_embedding",
    "joint_table",
    "kl_kmeans",
    "kl_kmeans_codes",
    "mutual_information_bits",
    "plugin_mutual_information_bits",
    "probe_score",
    "representation_pid",
    "table_pid",
    "usable_pid",
]
