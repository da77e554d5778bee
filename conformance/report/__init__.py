"""Reports: results.json, HTML report and plots, JUnit view, compare."""
