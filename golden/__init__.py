"""The golden dataset's runner: replays every scenario in `golden-dataset/` against the local
stack with the HMRC simulator in deterministic mode and compares what came out."""
