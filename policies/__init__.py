"""The policies shipped with Elava (Rego v1 + YAML definitions + test cases).

Data, not code: this file only makes the directory installable, so that
``policies.path`` unset means "these". See docs/policies.md.
"""
