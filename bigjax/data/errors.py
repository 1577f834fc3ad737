"""The one exception the data readers raise for files that are missing, corrupt or malformed."""


class DataError(ValueError):
  """A dataset is missing, fails its checksum, or is not in the expected format.

  Subclasses ValueError so callers that already catch bad-input errors keep working; the message
  always names the offending file (or dataset directory) and, where there is one, the fix.
  """
