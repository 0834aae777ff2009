"""The board's sensor recording brought to the host: fetch.py copies it,
stream.py follows it live (docs/recording.md). Reading the recording format
is host_tools/formats/recording.py."""
