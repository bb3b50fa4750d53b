"""CloudTrail normalisation: raw records (LookupEvents, EventBridge, log files) become `TrailEvent`s.

Pure: no connector, no streams import; the sources beside it (`collectors/cloudtrail/`) and
`elava trail explain` use it, the core reads only the `TrailEvent`s it makes.
"""
