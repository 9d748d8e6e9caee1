"""The long-running processes and what they need to run as services.

* :mod:`kinod.service.daemon`: the coordinator (watch -> plan -> schedule -> finalize),
  with its state lock, SIGHUP reload, executor wiring and HTTP servers beside it;
* :mod:`kinod.service.worker`: ``kinod worker``, which runs tasks from the broker with
  nothing but the broker and the shared storage;
* :mod:`kinod.service.metrics`, :mod:`kinod.service.sdnotify`, :mod:`kinod.service.logs`;
* :mod:`kinod.service.pause`: pausing intake while the output or state storage is full.
"""
