"""News feeds: which feeds the bot follows and what it took from them (`store`, in the shared state), one poll
of a feed (`poll`: fetch, read, add articles; synchronous, run in a worker process), the bot's poller
(`poller`), and the `qa-bot feed` commands (`cli`)."""
