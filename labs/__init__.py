"""The workshop's labs: each lab's participant file is in ``labs/workbench/`` (one marked place to edit) and
``python -m labs.check N`` (``make labN-check``) says whether the change is right. See docs/labs/."""
