"""The shared state's tables for feeds: one migration, kept apart from the question log's."""

from __future__ import annotations

from bot.questionlog.database import StateDatabase


def v4_feeds(db: StateDatabase) -> None:
    # One row per feed. Whoever holds its lease (a process of any machine sharing this database) polls it;
    # the lease runs out if that process dies, and another takes it.
    db.execute(
        db.ddl(
            """CREATE TABLE feeds (
            url TEXT PRIMARY KEY,          -- as the moderator gave it
            title TEXT,                    -- the feed's own title
            added_at {float} NOT NULL,
            next_poll_at {float} NOT NULL, -- Unix time it is due (jittered)
            lease_owner TEXT,              -- host:pid:nonce of the process polling it now
            lease_until {float},
            etag TEXT,                     -- the last response's validators, for a conditional request
            last_modified TEXT,
            backlog INTEGER NOT NULL DEFAULT 0,  -- entries left for the next poll (FEED_MAX_NEW): no condition
            polled_at {float},
            status TEXT,                   -- the last poll's outcome, one sentence
            failures INTEGER NOT NULL DEFAULT 0, -- polls failed in a row (each waits longer)
            articles INTEGER NOT NULL DEFAULT 0  -- articles added from it so far
        )"""
        )
    )
    # One row per entry seen: an entry is fetched once, an edited one again, a failing one up to 3 times.
    db.execute(
        db.ddl(
            """CREATE TABLE feed_items (
            feed_url TEXT NOT NULL,
            link TEXT NOT NULL,            -- normalised (no tracking parameters, no fragment)
            version TEXT NOT NULL,         -- what the feed said of it: a new version is an edit
            state TEXT NOT NULL,           -- added, duplicate, failed, skipped
            article TEXT,                  -- the article's id in the seeds folder, when added
            digest TEXT,                   -- SHA-256 of the article's sentences: the same text is added once
            attempts INTEGER NOT NULL DEFAULT 0,
            reason TEXT,                   -- why it failed or was skipped
            seen_at {float} NOT NULL,
            PRIMARY KEY (feed_url, link)
        ){without_rowid}"""
        )
    )
    db.execute("CREATE INDEX feed_items_by_link ON feed_items (link)")
    db.execute("CREATE INDEX feed_items_by_digest ON feed_items (digest)")
    # Counts the polls that added articles, so every process (of every machine) knows when to reload.
    db.execute(db.ddl("CREATE TABLE feed_generation (name TEXT PRIMARY KEY, generation {int64} NOT NULL)"))
    db.execute("INSERT INTO feed_generation VALUES ('articles', 0)")
