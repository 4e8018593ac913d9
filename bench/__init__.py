"""The benchmark suite behind `run.py bench`: each section runs, saves raw JSON and renders Markdown."""
