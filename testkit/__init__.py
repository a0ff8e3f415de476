"""What the tests and the benchmarks share: the offline Discord (`discord_harness`), the load scenario run
through it (`load_scenario`) and generated corpora (`corpus`). Not part of the installed packages."""
