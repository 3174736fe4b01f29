"""The course as a classroom on JupyterHub: the hub's configuration and the pieces it and its tests use.

- ``jupyterhub_config.py``: the hub (``jupyterhub -f classroom/jupyterhub_config.py``).
- ``course_homes``: each student's own copy of the notebooks, and the shared data folders (standard library
  only: the hub runs it without loading torch).
- ``local_hub``: the hub as a child process on free ports of 127.0.0.1, stopped without leftovers; the memory
  of its processes.
- ``student``: a student driven through the hub's HTTP interfaces (login form, server, notebooks, kernels).
"""
