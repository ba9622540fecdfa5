"""Lambda's event source mappings, modelled: the mapping (``mapping.py``), its stream readers, filters and
on-failure destinations."""
