"""The directory a gunicorn master's workers share for Prometheus' multiprocess metrics (app/ops/metrics.py).

Imported by the gunicorn confs in the master, so it must not import prometheus_client (which reads
PROMETHEUS_MULTIPROC_DIR once, at import) nor the app.
"""

import glob
import os
import tempfile


def prepare_multiprocess_dir(subdirectory: str = "") -> str:
    """Point PROMETHEUS_MULTIPROC_DIR (inherited by the workers) at an empty directory for this master.

    Unset, it is a fresh temporary directory; set (e.g. a volume), `subdirectory` of it, emptied of the files a
    previous run left, since counters of dead processes would otherwise be added to the new ones. Each master (web,
    websocket) has its own, so one restarting never wipes the other's; Prometheus scrapes each as a target.
    """
    base = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not base:
        path = tempfile.mkdtemp(prefix=f"leadflow-metrics-{subdirectory or 'web'}-")
    else:
        path = os.path.join(base, subdirectory) if subdirectory else base
        os.makedirs(path, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path
