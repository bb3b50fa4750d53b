"""Processes the application starts: a worker in a child process, the supervised policy stage.
"""
