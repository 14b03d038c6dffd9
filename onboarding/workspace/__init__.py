"""The CSM workspace, one module per area; each area has its own URL module included by urls.py."""
