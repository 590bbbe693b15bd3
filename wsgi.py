"""Entry point for gunicorn and the `flask` command (FLASK_APP=wsgi.py).

A missing or wrong setting (no SECRET_KEY in production, an unreachable database) prints one line
and exits with status 2 instead of a traceback.
"""

import gc

from app.production import create_or_exit

app = create_or_exit()
# Everything loaded so far (the app, its templates, SQLAlchemy's mappers) lives as long as the process:
# moving it out of the garbage collector's generations saves a full scan of it on every collection.
gc.freeze()
