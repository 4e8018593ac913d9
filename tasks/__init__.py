"""The built-in tasks (MNIST, Fashion-MNIST, a tabular CSV task, Shakespeare) and their shared readers.

Each built-in is a package here, registered by name in mlprocessor.task_registry.BUILTIN; tasks
of one's own are installed packages with a `fedchain.tasks` entry point (docs/TASKS.md).
"""
