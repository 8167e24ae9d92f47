"""What differs between the two ends of the test matrix (lowest declared versions vs newest).

Tests read these flags instead of comparing version strings, so each difference is named once.
"""

from __future__ import annotations

import inspect

from langchain_core.load import load

#: langchain-core >= 1.2 loads only allow-listed classes (``allowed_objects``); 1.0 and 1.1 load any
#: class in ``valid_namespaces``.
LOAD_HAS_ALLOW_LIST = "allowed_objects" in inspect.signature(load).parameters
