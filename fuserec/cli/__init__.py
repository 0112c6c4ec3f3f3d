"""The ``fuserec`` command line. Each sub-command lives in a module of this package."""
