"""``python -m langchain_zilliz_bailian`` runs the ``zilliz-bailian`` command line."""

from langchain_zilliz_bailian.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
