"""What the tests and the benchmarks share: the offline Discord (`discord_harness`), the load scenario run
through it (`load_scenario`), generated corpora (`corpus`) and a local news site with a feed (`web_site`).
Not part of the installed packages."""
